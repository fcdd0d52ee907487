"""Resume is the run it replaces (issue 14 item 8): kill -9 mid-run and a
rerun give the uninterrupted run's per-epoch losses, and history rows are
keyed by epoch (never lost, never duplicated)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

TINY = '{"num_layers": 1, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32, ' \
       '"embedding_dim": 8}'
EPOCHS = 8


def _command(output_dir, vocab, corpus):
    return [sys.executable, "-m", "keras_compact.cli.main", "pretrain",
            "--output-dir", output_dir, "--vocab", vocab, "--corpus", corpus,
            "--config", TINY, "--steps", str(2 * EPOCHS), "--checkpoint-every", "2",
            "--batch-size", "4", "--seq-len", "16", "--eval-steps", "0"]


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def faq_text(tmp_path_factory):
    from keras_compact.data import load_default_corpus
    from keras_compact.data import write_text_corpus

    folder = tmp_path_factory.mktemp("resume")
    return write_text_corpus(load_default_corpus(sections=["faq"]), str(folder / "faq.txt"))


@pytest.mark.slow
def test_kill_9_and_resume_gives_the_uninterrupted_runs_losses(tmp_path, spm_model,
                                                               faq_text):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    whole = str(tmp_path / "whole")
    # The uninterrupted run goes alongside the one that gets killed.
    uninterrupted = subprocess.Popen(_command(whole, spm_model, faq_text), env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
    killed = str(tmp_path / "killed")
    pointer = os.path.join(killed, "backup", "latest.json")
    first = subprocess.Popen(_command(killed, spm_model, faq_text), env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and first.poll() is None:
        if os.path.exists(pointer):
            with open(pointer) as handle:
                if json.load(handle)["epoch"] >= 3:
                    break
        time.sleep(0.05)
    assert first.poll() is None, "training finished before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    with open(pointer) as handle:
        killed_at = json.load(handle)["epoch"]
    assert 3 <= killed_at < EPOCHS
    second = subprocess.run(_command(killed, spm_model, faq_text), env=env,
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"Resumed from backup at epoch {killed_at}" in second.stdout

    assert uninterrupted.wait(timeout=600) == 0, uninterrupted.stderr.read()[-3000:]
    expected = _rows(os.path.join(whole, "history.csv"))
    resumed = _rows(os.path.join(killed, "history.csv"))
    # One row per epoch, in order: none lost at the kill, none duplicated.
    assert [r["epoch"] for r in resumed] == [str(e) for e in range(EPOCHS)]
    assert [r["epoch"] for r in expected] == [str(e) for e in range(EPOCHS)]
    for key in ("loss", "mlm_loss", "sop_loss", "mlm_accuracy"):
        np.testing.assert_allclose([float(r[key]) for r in resumed],
                                   [float(r[key]) for r in expected], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def test_history_rows_are_keyed_by_epoch(tmp_path):
    """A killed run wrote epoch 2's row but not its checkpoint; the resumed
    run redoes epoch 2 and its row replaces the old one."""
    from keras_compact.training.checkpointing import EpochHistoryLogger
    from keras_compact.training.pretrain import read_history_csv

    path = str(tmp_path / "history.csv")
    first = EpochHistoryLogger(path)
    first.on_train_begin()
    for epoch in range(3):
        first.on_epoch_end(epoch, {"loss": 1.0 - 0.1 * epoch})
    second = EpochHistoryLogger(path)  # resumed from the checkpoint of epoch 2
    second.on_train_begin()
    second.on_epoch_end(2, {"loss": 0.75})
    second.on_epoch_end(3, {"loss": 0.5, "val_loss": 0.6})
    assert read_history_csv(path) == {"loss": [1.0, 0.9, 0.75, 0.5], "val_loss": [0.6]}
    assert [r["epoch"] for r in _rows(path)] == ["0", "1", "2", "3"]
