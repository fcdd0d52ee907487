"""MirroredStrategy on 2 logical CPUs equals one device on the same batch;
the XLA-compiled train step (jit_compile=True) computes the same."""

import json
import os
import subprocess
import sys

import keras
import numpy as np

from keras_compact import CompactBackbone
from keras_compact.models.pretrainer import AlbertPretrainer
from tests.conftest import TINY_ALBERT
from tests.models.test_pretrainer import pretraining_batch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _train(devices, tmp_path, jit_compile=False):
    out = str(tmp_path / f"final_{devices}_{int(jit_compile)}.weights.h5")
    result = subprocess.run(
        [sys.executable, "-m", "tests.distribution.mirrored_run", str(devices),
         str(tmp_path / "init.weights.h5"), str(tmp_path / "batch.npz"), out,
         "jit" if jit_compile else "nojit"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith("HISTORY ")][0]
    return json.loads(line[len("HISTORY "):]), out


def test_two_replicas_match_one_device(tmp_path):
    model = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
    model.save_weights(str(tmp_path / "init.weights.h5"))
    features, labels = pretraining_batch(batch=8, seed=3)
    # Uneven masked positions per example, so each replica holds a different
    # share of the MLM weights: the loss must still be the global mean.
    labels["mlm_weights"][:4, 1:] = 0.0
    np.savez(
        tmp_path / "batch.npz",
        **{f"x_{k}": v for k, v in features.items()},
        **{f"y_{k}": v for k, v in labels.items()},
    )
    single, single_weights = _train(1, tmp_path)
    mirrored, mirrored_weights = _train(2, tmp_path)
    # The train step compiles with XLA (static shapes, as TPUs need) and
    # computes the same. (XLA under MirroredStrategy cannot be tested here:
    # logical CPUs share one XLA device, so variables "live on another
    # device"; on GPUs and TPUs each replica has its own.)
    compiled, compiled_weights = _train(1, tmp_path, jit_compile=True)
    for name in ("loss", "mlm_loss", "sop_loss"):
        np.testing.assert_allclose(compiled[name], single[name], rtol=1e-4)
    for name in ("loss", "mlm_loss", "sop_loss", "mlm_accuracy"):
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-5, atol=1e-6)
    a = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
    b = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
    a.load_weights(single_weights)
    b.load_weights(mirrored_weights)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(wa), keras.ops.convert_to_numpy(wb),
            atol=1e-5, err_msg=wa.path,
        )
