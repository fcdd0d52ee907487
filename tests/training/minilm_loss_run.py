"""Helper process for test_minilm_agreement.py: the MiniLM / MiniLMv2 and
pretraining-distillation losses of given weights on a given batch, and the
loss functions on given tensors, under the active KERAS_BACKEND (and, with
`mirrored`, 3 training steps on one device or MirroredStrategy over 2
logical CPUs)."""

import json
import sys

import numpy as np

from tests.distribution.strategy_run import fit_three_steps
from tests.distribution.strategy_run import load_batch

NEW_LOSSES = ("attention_kl", "value_relation", "qq_relation", "kk_relation",
              "vv_relation", "mlm", "sop", "soft_mlm")


def build_distiller():
    """AlbertPretrainer teacher and student of different depth and width,
    every MiniLM / MiniLMv2 and pretraining loss on."""
    from keras_compact import CompactBackbone
    from keras_compact.distill import PretrainingDistiller
    from keras_compact.models.pretrainer import AlbertPretrainer
    from tests.conftest import TINY_ALBERT

    teacher = AlbertPretrainer(CompactBackbone(**dict(TINY_ALBERT, sharing="none")))
    student = AlbertPretrainer(CompactBackbone(**dict(
        TINY_ALBERT, num_layers=2, hidden_dim=16, intermediate_dim=32)))
    return PretrainingDistiller(
        teacher, student, objective="minilmv2", relation_heads=8,
        relation_teacher_layer=3, attention_kl_weight=1.0, value_relation_weight=0.5,
        soft_mlm_weight=2.0, mlm_temperature=2.0)


def evaluate(weights_path, batch_file):
    import keras

    from keras_compact.distill import losses

    arrays = np.load(batch_file)
    distiller = build_distiller()
    distiller.compile(optimizer="sgd")
    distiller.load_weights(weights_path)
    features, labels = load_batch(batch_file)
    scores = distiller.evaluate(features, labels, batch_size=8, return_dict=True,
                                verbose=0)
    mask = arrays["t_mask"]
    s, t = arrays["t_s"], arrays["t_t"]  # (batch, seq, heads, d), heads differ
    s4, t4 = arrays["t_s4"], arrays["t_t4"]  # equal heads, widths differ
    direct = {
        "attention_kl": losses.attention_distribution_loss(s4, s4[..., ::-1], t4,
                                                           t4[..., ::-1], mask),
        "value_relation": losses.value_relation_loss(s4, t4, mask),
        "relation": losses.relation_loss(s, t, 6, mask),
        "soft_mlm": losses.soft_target_loss(arrays["t_zs"], arrays["t_zt"], 2.0,
                                            arrays["t_w"]),
    }
    scores.update({f"direct_{k}": float(keras.ops.convert_to_numpy(v))
                   for k, v in direct.items()})
    print("SCORES " + json.dumps({"backend": keras.backend.backend(), **scores}))


def mirrored(devices, weights_path, batch_file, out_weights):
    def build():
        import keras

        distiller = build_distiller()
        distiller.compile(optimizer=keras.optimizers.SGD(0.1))
        distiller.load_weights(weights_path)
        return distiller

    distiller = fit_three_steps(devices, build, batch_file)
    distiller.student.save_weights(out_weights)


if __name__ == "__main__":
    if sys.argv[1] == "mirrored":
        mirrored(*sys.argv[2:6])
    else:
        evaluate(*sys.argv[1:3])
