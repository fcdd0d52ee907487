"""Helper process for test_jax_parallel.py (KERAS_BACKEND=jax, 4 forced
host devices): 3 training steps single-device, data-parallel and
model-parallel from the same weights on the same batches."""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"

import keras  # noqa: E402
import numpy as np  # noqa: E402


def train(initial_weights, features, labels):
    from keras_compact import CompactBackbone
    from keras_compact.models.pretrainer import AlbertPretrainer
    from tests.conftest import TINY_ALBERT

    model = AlbertPretrainer(CompactBackbone(**dict(TINY_ALBERT, sharing="none", dropout=0.0)))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    if initial_weights is None:
        return model
    model.set_weights(initial_weights)
    model.fit(features, labels, batch_size=8, epochs=3, shuffle=False, verbose=0)
    return model


def main(batch_file):
    from keras_compact.distribution import data_parallel
    from keras_compact.distribution import model_parallel

    arrays = np.load(batch_file)
    features = {k[2:]: arrays[k] for k in arrays if k.startswith("x_")}
    labels = {k[2:]: arrays[k] for k in arrays if k.startswith("y_")}
    keras.utils.set_random_seed(0)
    initial = train(None, features, labels).get_weights()
    reference = train(initial, features, labels).get_weights()
    report = {"devices": len(keras.distribution.list_devices())}
    for name, distribution in (("data_parallel", data_parallel()),
                               ("model_parallel", model_parallel(model_devices=2))):
        keras.distribution.set_distribution(distribution)
        model = train(initial, features, labels)
        query = next(v for v in model.weights if v.path.endswith("attention_0/attention/query/kernel"))
        report[name] = {
            "max_abs_diff": max(float(np.max(np.abs(a - b)))
                                for a, b in zip(reference, model.get_weights())),
            "query_kernel_sharding": str(query.value.sharding.spec),
            "moved": max(float(np.max(np.abs(a - b)))
                         for a, b in zip(initial, model.get_weights())),
        }
        keras.distribution.set_distribution(None)
    print("REPORT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
