"""The same weights and batch give the same pretraining losses on every backend."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_compact import CompactBackbone
from keras_compact.models.pretrainer import AlbertPretrainer
from tests.conftest import TINY_ALBERT
from tests.models.test_pretrainer import pretraining_batch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _scores(backend, tmp_path, module="tests.training.backend_loss_run"):
    result = subprocess.run(
        [sys.executable, "-m", module,
         str(tmp_path / "weights.weights.h5"), str(tmp_path / "batch.npz")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith("SCORES ")][0]
    scores = json.loads(line[len("SCORES "):])
    assert scores.pop("backend") == backend
    return scores


def test_losses_agree_across_backends(tmp_path):
    model = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
    model.save_weights(str(tmp_path / "weights.weights.h5"))
    features, labels = pretraining_batch(batch=8, seed=5)
    features["padding_mask"][2:, 12:] = 0  # real padding in most rows
    np.savez(
        tmp_path / "batch.npz",
        **{f"x_{k}": v for k, v in features.items()},
        **{f"y_{k}": v for k, v in labels.items()},
    )
    reference = _scores("tensorflow", tmp_path)
    for backend in ("jax", "torch"):
        scores = _scores(backend, tmp_path)
        for name in ("loss", "mlm_loss", "sop_loss"):
            assert scores[name] == pytest.approx(reference[name], rel=1e-4), (
                backend, name, scores[name], reference[name])


def test_distillation_losses_agree_across_backends(tmp_path):
    """The Distiller's five losses (and the loss functions on fixed tensors,
    masked positions included) give the same numbers on every backend."""
    from tests.conftest import random_inputs
    from tests.training.distill_loss_run import build_distiller

    distiller = build_distiller()
    distiller.save_weights(str(tmp_path / "weights.weights.h5"))
    rng = np.random.default_rng(7)
    inputs = random_inputs(batch=8, length=12, vocabulary_size=100, seed=3)
    mask = inputs["padding_mask"]
    np.savez(
        tmp_path / "batch.npz",
        **{f"x_{k}": v for k, v in inputs.items()},
        t_hs=rng.normal(size=(8, 12, 16)).astype("float32"),
        t_ht=rng.normal(size=(8, 12, 16)).astype("float32"),
        t_as=rng.normal(size=(8, 4, 12, 12)).astype("float32"),
        t_at=rng.normal(size=(8, 4, 12, 12)).astype("float32"),
        t_zs=rng.normal(size=(8, 3)).astype("float32"),
        t_zt=rng.normal(size=(8, 3)).astype("float32"),
        t_mask=mask,
    )
    module = "tests.training.distill_loss_run"
    reference = _scores("tensorflow", tmp_path, module)
    names = [f"{n}_loss" for n in ("embedding", "hidden", "attention", "prediction",
                                   "cosine")] + ["loss"]
    names += [f"direct_{n}" for n in ("embedding", "hidden", "attention", "prediction",
                                      "cosine")]
    assert all(reference[n] > 0 for n in names), reference
    for backend in ("jax", "torch"):
        scores = _scores(backend, tmp_path, module)
        for name in names:
            assert scores[name] == pytest.approx(reference[name], rel=1e-4), (
                backend, name, scores[name], reference[name])
