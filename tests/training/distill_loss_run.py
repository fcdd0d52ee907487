"""Helper process for test_backend_agreement.py: the distillation losses of
given weights on a given batch, and the loss functions on given tensors,
under the active KERAS_BACKEND."""

import json
import sys

import numpy as np


def build_distiller():
    """Teacher and student classifiers, every loss on (cosine too)."""
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.distill import Distiller
    from tests.conftest import TINY_ALBERT

    teacher = TextClassifier(CompactBackbone(**dict(TINY_ALBERT, sharing="none")), 3)
    student = TextClassifier(CompactBackbone(**dict(
        TINY_ALBERT, num_layers=2, hidden_dim=16, intermediate_dim=32)), 3)
    return Distiller(teacher, student, stage=None, cosine_weight=1.0, temperature=2.0)


def main(weights_path, batch_file):
    import keras

    from keras_compact.distill import losses

    arrays = np.load(batch_file)
    distiller = build_distiller()
    distiller.compile(optimizer="sgd")
    distiller.load_weights(weights_path)
    features = {k[2:]: arrays[k] for k in arrays if k.startswith("x_")}
    scores = distiller.evaluate(features, batch_size=8, return_dict=True, verbose=0)
    mask = arrays["t_mask"]
    direct = {
        "embedding": losses.embedding_loss(arrays["t_hs"], arrays["t_ht"], mask),
        "hidden": losses.hidden_loss(arrays["t_hs"], arrays["t_ht"]),
        "attention": losses.attention_loss(arrays["t_as"], arrays["t_at"], mask),
        "prediction": losses.prediction_loss(arrays["t_zs"], arrays["t_zt"], 2.0),
        "cosine": losses.cosine_hidden_loss(arrays["t_hs"], arrays["t_ht"], mask),
    }
    scores.update({f"direct_{k}": float(keras.ops.convert_to_numpy(v))
                   for k, v in direct.items()})
    print("SCORES " + json.dumps({"backend": keras.backend.backend(), **scores}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
