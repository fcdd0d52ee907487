"""Helper process for test_mirrored_strategy.py: trains 3 steps, one device or
MirroredStrategy over 2 logical CPUs, from given weights on a given batch."""

import json
import sys

import numpy as np


def main(devices, init_weights, batch_file, out_weights, jit_compile="false"):
    import tensorflow as tf

    from keras_compact.distribute import split_cpu

    logical = split_cpu(2)  # both runs see the same devices; only one uses 2
    import keras

    from keras_compact import CompactBackbone
    from keras_compact.models.pretrainer import AlbertPretrainer
    from keras_compact.optimizers import make_lamb_optimizer
    from tests.conftest import TINY_ALBERT

    arrays = np.load(batch_file)
    features = {k[2:]: arrays[k] for k in arrays if k.startswith("x_")}
    labels = {k[2:]: arrays[k] for k in arrays if k.startswith("y_")}
    dataset = tf.data.Dataset.from_tensors((features, labels)).repeat()

    def build():
        model = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
        model.compile(optimizer=make_lamb_optimizer(8, total_steps=3, learning_rate=1e-2,
                                                    global_clipnorm=None),
                      jit_compile=jit_compile == "jit")
        model.load_weights(init_weights)
        return model

    if devices == 2:
        strategy = tf.distribute.MirroredStrategy([d.name for d in logical])
        with strategy.scope():
            model = build()
        assert strategy.num_replicas_in_sync == 2
    else:
        model = build()
    history = model.fit(dataset, epochs=3, steps_per_epoch=1, verbose=0)
    model.save_weights(out_weights)
    print("HISTORY " + json.dumps(history.history))
    assert keras.backend.backend() == "tensorflow"


if __name__ == "__main__":
    main(int(sys.argv[1]), *sys.argv[2:6])
