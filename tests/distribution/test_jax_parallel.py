"""keras.distribution on JAX: DataParallel and ModelParallel (dense kernels
sharded by `backbone_layout_map`) reach the single-device weights after 3
steps, on 4 forced host CPU devices in a subprocess."""

import json
import os
import subprocess
import sys

import numpy as np

from tests.models.test_pretrainer import pretraining_batch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def test_data_and_model_parallel_match_one_device(tmp_path):
    features, labels = pretraining_batch(batch=8, seed=2)
    features["padding_mask"][4:, 10:] = 0
    np.savez(tmp_path / "batch.npz", **{f"x_{k}": v for k, v in features.items()},
             **{f"y_{k}": v for k, v in labels.items()})
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2",
               XLA_FLAGS="--xla_force_host_platform_device_count=4")
    result = subprocess.run(
        [sys.executable, "-m", "tests.distribution.jax_parallel_run", str(tmp_path / "batch.npz")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith("REPORT ")][0]
    report = json.loads(line[len("REPORT "):])
    assert report["devices"] == 4
    for name in ("data_parallel", "model_parallel"):
        assert report[name]["moved"] > 1e-3, report  # the steps did change the weights
        assert report[name]["max_abs_diff"] < 1e-5, report
    # Heads split over the "model" axis; replicated under data parallelism.
    assert "model" in report["model_parallel"]["query_kernel_sharding"], report
    assert "model" not in report["data_parallel"]["query_kernel_sharding"], report
