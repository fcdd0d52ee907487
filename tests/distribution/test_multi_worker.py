"""MultiWorkerMirroredStrategy: two worker processes on loopback ports train
through `run_pretraining`; both finish, only the chief writes, and losses and
weights match a single process on the same global batch."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from keras_compact import CompactBackbone
from keras_compact.models.pretrainer import AlbertPretrainer
from tests.conftest import TINY_ALBERT
from tests.models.test_pretrainer import pretraining_batch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(index, ports, tmp_path):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.distribution.multi_worker_run", str(index),
         ",".join(map(str, ports)), str(tmp_path / "init.weights.h5"),
         str(tmp_path / "batch.npz"), str(tmp_path / f"run_{index}")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2"))


def _result(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    line = [l for l in out.splitlines() if l.startswith("RESULT ")][0]
    return json.loads(line[len("RESULT "):])


def test_two_workers_match_one_process_and_only_the_chief_writes(tmp_path):
    AlbertPretrainer(CompactBackbone(**dict(TINY_ALBERT, dropout=0.0))).save_weights(
        str(tmp_path / "init.weights.h5"))
    features, labels = pretraining_batch(batch=8, seed=4)
    labels["mlm_weights"][:4, 1:] = 0.0  # workers hold different shares of the MLM weights
    np.savez(tmp_path / "batch.npz", **{f"x_{k}": v for k, v in features.items()},
             **{f"y_{k}": v for k, v in labels.items()})
    ports = _free_ports(2)
    workers = [_start(i, ports, tmp_path) for i in (0, 1)]
    single = _result(_start(-1, ports, tmp_path))
    chief, other = (_result(w) for w in workers)

    assert chief["chief"] and not other["chief"] and single["chief"]
    np.testing.assert_allclose(chief["losses"], single["losses"], rtol=1e-5)
    np.testing.assert_allclose(other["losses"], single["losses"], rtol=1e-5)
    reference = np.load(tmp_path / "weights_-1.npy")
    for index in (0, 1):
        np.testing.assert_allclose(np.load(tmp_path / f"weights_{index}.npy"), reference,
                                   atol=1e-5)
    written = sorted(os.listdir(tmp_path / "run_0"))
    for name in ("backup", "pretrainer.keras", "backbone.keras", "history.csv"):
        assert name in written, written
    assert not os.path.exists(tmp_path / "run_1")  # the other worker wrote nothing


def test_two_workers_distil_like_one_process(tmp_path):
    from tests.conftest import random_inputs
    from tests.training.distill_loss_run import build_distiller

    build_distiller().save_weights(str(tmp_path / "weights.weights.h5"))
    inputs = random_inputs(batch=8, length=12, seed=5)
    np.savez(tmp_path / "batch.npz", **{f"x_{k}": v for k, v in inputs.items()})
    ports = _free_ports(2)

    def start(index):
        return subprocess.Popen(
            [sys.executable, "-m", "tests.distribution.multi_worker_distill_run", str(index),
             ",".join(map(str, ports)), str(tmp_path / "weights.weights.h5"),
             str(tmp_path / "batch.npz")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2"))

    workers = [start(i) for i in (0, 1)]
    single = _result(start(-1))
    for worker in workers:
        result = _result(worker)
        assert single["losses"][-1] < single["losses"][0]
        np.testing.assert_allclose(result["losses"], single["losses"], rtol=1e-5)
        np.testing.assert_allclose(result["hidden"], single["hidden"], rtol=1e-5)
