"""Helper process for test_backend_agreement.py: evaluates the pretraining
losses of given weights on a given batch under the active KERAS_BACKEND."""

import json
import sys

import numpy as np


def main(weights_path, batch_file):
    import keras

    from keras_compact import CompactBackbone
    from keras_compact.models.pretrainer import AlbertPretrainer
    from tests.conftest import TINY_ALBERT

    arrays = np.load(batch_file)
    features = {k[2:]: arrays[k] for k in arrays if k.startswith("x_")}
    labels = {k[2:]: arrays[k] for k in arrays if k.startswith("y_")}
    model = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
    model.compile(optimizer="sgd")
    model.load_weights(weights_path)
    scores = model.evaluate(features, labels, batch_size=8, return_dict=True, verbose=0)
    print("SCORES " + json.dumps({"backend": keras.backend.backend(), **scores}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
