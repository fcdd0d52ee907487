"""MiniLM / MiniLMv2 and pretraining-distillation losses: the same numbers on
TensorFlow, JAX and torch, and on one device and MirroredStrategy over two
logical CPUs (same global batch, uneven padding and masked positions)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.models.test_pretrainer import pretraining_batch
from tests.training.minilm_loss_run import NEW_LOSSES
from tests.training.minilm_loss_run import build_distiller

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _run(backend, *args, tag="SCORES "):
    result = subprocess.run(
        [sys.executable, "-m", "tests.training.minilm_loss_run", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith(tag)][0]
    return json.loads(line[len(tag):])


@pytest.fixture
def saved(tmp_path):
    distiller = build_distiller()
    distiller.save_weights(str(tmp_path / "weights.weights.h5"))
    features, labels = pretraining_batch(batch=8, length=16, seed=9)
    # Uneven padding and masked positions: replicas hold different counts.
    features["padding_mask"][3:, 10:] = 0
    features["padding_mask"][6:, 6:] = 0
    features["mask_positions"] = np.minimum(features["mask_positions"], 5)
    labels["mlm_weights"][:4, 1:] = 0.0
    rng = np.random.default_rng(3)
    normal = lambda *shape: rng.normal(size=shape).astype("float32")  # noqa: E731
    np.savez(
        tmp_path / "batch.npz",
        **{f"x_{k}": v for k, v in features.items()},
        **{f"y_{k}": v for k, v in labels.items()},
        t_mask=features["padding_mask"], t_s=normal(8, 16, 2, 12), t_t=normal(8, 16, 6, 8),
        t_s4=normal(8, 16, 4, 4), t_t4=normal(8, 16, 4, 8), t_zs=normal(8, 4, 30),
        t_zt=normal(8, 4, 30), t_w=labels["mlm_weights"],
    )
    return tmp_path


def test_minilm_losses_agree_across_backends(saved):
    args = (saved / "weights.weights.h5", saved / "batch.npz")
    reference = _run("tensorflow", *args)
    names = [f"{n}_loss" for n in NEW_LOSSES] + ["loss"] + [
        f"direct_{n}" for n in ("attention_kl", "value_relation", "relation", "soft_mlm")]
    assert all(reference[n] > 0 for n in names), reference
    for backend in ("jax", "torch"):
        scores = _run(backend, *args)
        assert scores.pop("backend") == backend
        for name in names:
            assert scores[name] == pytest.approx(reference[name], rel=1e-4), (
                backend, name, scores[name], reference[name])


def test_two_replicas_match_one_device(saved):
    import keras

    from keras_compact import CompactBackbone
    from keras_compact.models.pretrainer import AlbertPretrainer
    from tests.conftest import TINY_ALBERT

    runs = {}
    for devices in (1, 2):
        out = saved / f"student_{devices}.weights.h5"
        runs[devices] = (_run("tensorflow", "mirrored", devices,
                              saved / "weights.weights.h5", saved / "batch.npz", out,
                              tag="HISTORY "), out)
    single, mirrored = runs[1][0], runs[2][0]
    for name in ["loss"] + [f"{n}_loss" for n in NEW_LOSSES] + ["mlm_accuracy"]:
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    models = []
    for devices in (1, 2):
        model = AlbertPretrainer(CompactBackbone(**dict(
            TINY_ALBERT, num_layers=2, hidden_dim=16, intermediate_dim=32)))
        model.load_weights(str(runs[devices][1]))
        models.append(model)
    for a, b in zip(models[0].weights, models[1].weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a),
                                   keras.ops.convert_to_numpy(b), atol=1e-5,
                                   err_msg=a.path)
