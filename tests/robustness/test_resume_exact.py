"""Resume is the run it replaces: a `pretrain` killed with SIGKILL after a
checkpoint, rerun, killed again at a later checkpoint and rerun, logs the
uninterrupted run's per-epoch losses and ends with its weights (shared
layers, dropout on); history rows are keyed by epoch (never lost, never
duplicated)."""

import csv
import json
import os
import subprocess

import h5py
import numpy as np
import pytest

from tests.resume_helpers import kill_after_checkpoint
from tests.resume_helpers import pretrain_command
from tests.resume_helpers import tensorflow_env

EPOCHS = 8
# The README's tolerance for resumed losses and weights.
RTOL, ATOL = 1e-5, 1e-6
# One case covers both hard parts: ALBERT's shared block (one set of weights
# updated by every layer) with dropout 0.1 on embeddings, attention and
# sublayer outputs, so every step draws masks from the layers' seed generators.
CASES = {
    "albert_shared_dropout": ("albert_base", {"num_layers": 2, "hidden_dim": 16,
                                              "num_heads": 2, "intermediate_dim": 32,
                                              "embedding_dim": 8, "dropout": 0.1}),
}


def _command(case, output_dir, vocab, corpus):
    preset, config = CASES[case]
    return pretrain_command(output_dir, vocab, json.dumps(config), corpus=corpus,
                            preset=preset, steps=2 * EPOCHS, checkpoint_every=2,
                            batch_size=4, seq_len=16)


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _final_state(output_dir):
    """Every array of the last checkpoint (model and optimizer) by its path."""
    with open(os.path.join(output_dir, "backup", "latest.json")) as handle:
        latest = json.load(handle)
    assert latest["epoch"] == EPOCHS
    arrays = {}
    path = os.path.join(output_dir, "backup", latest["directory"], "state.weights.h5")
    with h5py.File(path, "r") as weights:
        weights.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                           if isinstance(item, h5py.Dataset) else None)
    return arrays


@pytest.fixture(scope="module")
def faq_text(tmp_path_factory):
    from keras_compact.data import load_default_corpus
    from keras_compact.data import write_text_corpus

    folder = tmp_path_factory.mktemp("resume")
    return write_text_corpus(load_default_corpus(sections=["faq"]), str(folder / "faq.txt"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_killed_twice_and_resumed_gives_the_uninterrupted_run(case, tmp_path, spm_model,
                                                              faq_text):
    env = tensorflow_env()
    whole = str(tmp_path / "whole")
    # The uninterrupted run goes alongside the one that gets killed.
    uninterrupted = subprocess.Popen(_command(case, whole, spm_model, faq_text), env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
    killed = str(tmp_path / "killed")
    command = _command(case, killed, spm_model, faq_text)
    first = kill_after_checkpoint(command, killed, env, epoch=2, timeout=600, poll=0.05)
    log = str(tmp_path / "second.log")
    second = kill_after_checkpoint(command, killed, env, epoch=first + 2, timeout=600,
                                   poll=0.05, log=log)
    assert 2 <= first < second < EPOCHS
    with open(log) as handle:
        assert f"Resumed from backup at epoch {first}" in handle.read()
    third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-3000:]
    assert f"Resumed from backup at epoch {second}" in third.stdout
    # It trained only the remaining epochs: Keras numbers them from the resume.
    assert f"Epoch {second + 1}/{EPOCHS}" in third.stdout
    assert "Epoch 1/" not in third.stdout
    for name in ("pretrainer.keras", "backbone.keras", "curves.png"):
        assert os.path.exists(os.path.join(killed, name)), name

    assert uninterrupted.wait(timeout=600) == 0, uninterrupted.stderr.read()[-3000:]
    expected = _rows(os.path.join(whole, "history.csv"))
    resumed = _rows(os.path.join(killed, "history.csv"))
    # One row per epoch, in order: none lost at the kills, none duplicated.
    assert [r["epoch"] for r in resumed] == [str(e) for e in range(EPOCHS)]
    assert [r["epoch"] for r in expected] == [str(e) for e in range(EPOCHS)]
    for key in ("loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy"):
        np.testing.assert_allclose([float(r[key]) for r in resumed],
                                   [float(r[key]) for r in expected], rtol=RTOL, atol=ATOL,
                                   err_msg=key)
    expected_state, resumed_state = _final_state(whole), _final_state(killed)
    assert sorted(resumed_state) == sorted(expected_state)
    for name, value in expected_state.items():
        np.testing.assert_allclose(resumed_state[name], value, rtol=RTOL, atol=ATOL,
                                   err_msg=name)


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
    assert [r["epoch"] for r in _rows(path)] == [str(e) for e in range(4)]


@pytest.mark.multi_backend
def test_a_resumed_fit_draws_the_uninterrupted_runs_dropout_masks(tmp_path):
    """The checkpoint holds the seed generators' states, which `save_weights`
    leaves out: a fit resumed from it continues the dropout masks."""
    import keras

    from keras_compact.training.checkpointing import AtomicBackupAndRestore

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    def fit(epochs, backup=None):
        keras.utils.set_random_seed(0)  # the same initial weights and dropout seed
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8),
                                  keras.layers.Dropout(0.5), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        callbacks = [AtomicBackupAndRestore(backup)] if backup else []
        return model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0,
                         callbacks=callbacks).history["loss"]

    uninterrupted = fit(4)
    backup = str(tmp_path / "backup")
    fit(2, backup)  # stops after the checkpoint of epoch 2
    np.testing.assert_allclose(fit(4, backup), uninterrupted[2:], rtol=RTOL, atol=ATOL)
