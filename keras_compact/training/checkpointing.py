"""Resume-after-kill checkpoints and history for `model.fit`, written atomically."""

import csv
import io
import json
import math
import os
import shutil

import keras
import numpy as np

from keras_compact.distribution import is_chief
from keras_compact.utils.atomic import atomic_directory
from keras_compact.utils.atomic import atomic_file
from keras_compact.utils.atomic import clean_stale_temporaries

_POINTER = "latest.json"
_WEIGHTS = "state.weights.h5"
_RANDOM_STATE = "random_state.json"


def random_state_variables(model):
    """The model's state that `save_weights` leaves out: the states of its
    `SeedGenerator`s (dropout masks on TensorFlow and JAX, and on torch for
    seeded layers), in the model's own variable order."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _torch_generators():
    """Torch's global generators (CPU, then each GPU): with an unseeded
    `SeedGenerator` Keras' torch backend draws dropout masks from them."""
    import torch

    generators = [torch.random]
    if torch.cuda.is_available():
        generators += [torch.cuda.default_generators[i]
                       for i in range(torch.cuda.device_count())]
    return generators


def save_random_state(model, path):
    """Writes the model's random state as JSON (exact integers): its
    `random_state_variables` and, on torch, torch's global generators."""
    state = {"seed_generators": [
        {"path": v.path, "value": keras.ops.convert_to_numpy(v.value).tolist()}
        for v in random_state_variables(model)]}
    if keras.backend.backend() == "torch":
        state["torch_generators"] = [g.get_rng_state().tolist() for g in _torch_generators()]
    with open(path, "w") as handle:
        json.dump(state, handle)


def load_random_state(model, path):
    """Restores what `save_random_state` wrote, matched by position."""
    with open(path) as handle:
        state = json.load(handle)
    saved = state["seed_generators"]
    variables = random_state_variables(model)
    if len(saved) != len(variables):
        raise ValueError(
            f"{path} holds {len(saved)} random-generator states but the model has "
            f"{len(variables)}; it was written for another model. Start a new run "
            "(another output directory, or --overwrite).")
    for variable, entry in zip(variables, saved):
        variable.assign(np.asarray(entry["value"], dtype=variable.dtype))
    if keras.backend.backend() == "torch" and "torch_generators" in state:
        import torch

        for generator, values in zip(_torch_generators(), state["torch_generators"]):
            generator.set_rng_state(torch.tensor(values, dtype=torch.uint8))


def resumed_input(dataset, batches):
    """`dataset` without its first `batches` elements (an infinite tf.data stream).

    Keras keeps one iterator across the epochs of a fit, so a fit resumed
    after `batches` steps sees exactly the batches the uninterrupted run saw
    from that step on. Finite datasets restart every epoch anyway and are
    returned as they are, and so is anything that is not a `tf.data.Dataset`.
    """
    if not batches or dataset is None or not hasattr(dataset, "skip"):
        return dataset
    import tensorflow as tf

    if dataset.cardinality() != tf.data.INFINITE_CARDINALITY:
        return dataset
    return dataset.skip(batches)


class AtomicBackupAndRestore(keras.callbacks.Callback):
    """`keras.callbacks.BackupAndRestore`, but crash-safe at any instant.

    Keras' own callback overwrites `latest.weights.h5` in place, so a SIGKILL
    during the write leaves a truncated file that cannot be restored. Here
    each backup (model and optimizer weights, plus the epoch reached) goes to
    a new directory `epoch-NNNNNN` that is renamed into place only when
    complete, and a small pointer file, itself replaced atomically, names the
    newest one. Older backups are deleted after the pointer moves.

    A fit that is killed and run again with the same callback restores the
    weights, the optimizer state (so the learning-rate schedule continues),
    the states of the model's random seed generators (which `save_weights`
    leaves out: without them a resumed run draws other dropout masks) and
    the epoch counter, and carries on from there. For step-level resume,
    train with `steps_per_epoch=checkpoint_every` over a repeating dataset
    (`resumed_input` skips the batches the restored epochs consumed): every
    "epoch" is then one checkpoint interval.

    Under MultiWorkerMirroredStrategy every worker restores from
    `backup_dir` (which must be on storage they share) but only the chief
    (`keras_compact.distribution.is_chief()`) writes to it.

    Args:
        backup_dir: str. Directory of the backups.
        delete_on_success: bool. Remove the backups when training finishes.
        write: bool or None. Write backups; None means "if this process is
            the chief" (always true outside a multi-worker cluster).

    Example:
    ```python
    model.fit(
        dataset.repeat(), epochs=total_steps // 200, steps_per_epoch=200,
        callbacks=[AtomicBackupAndRestore("runs/exp1/backup")],
    )
    ```
    """

    def __init__(self, backup_dir, delete_on_success=False, write=None):
        super().__init__()
        if not backup_dir:
            raise ValueError("backup_dir must be a non-empty path.")
        self.backup_dir = os.path.abspath(backup_dir)
        self.delete_on_success = delete_on_success
        self.write = is_chief() if write is None else bool(write)
        self.restored_epoch = 0

    def _pointer_path(self):
        return os.path.join(self.backup_dir, _POINTER)

    def latest(self):
        """The newest complete backup as {"epoch", "path"}, or None."""
        pointer = self._pointer_path()
        if not os.path.exists(pointer):
            return None
        with open(pointer) as handle:
            latest = json.load(handle)
        latest["path"] = os.path.join(self.backup_dir, latest["directory"])
        return latest

    def on_train_begin(self, logs=None):
        if self.write:  # hidden .epoch-* directories of a killed run
            clean_stale_temporaries(self.backup_dir)
        latest = self.latest()
        if latest is None:
            return
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(latest["path"], _WEIGHTS))
        random_state = os.path.join(latest["path"], _RANDOM_STATE)
        if os.path.exists(random_state):
            load_random_state(model, random_state)
        else:
            print(f"Note: {latest['path']} has no {_RANDOM_STATE} (written by an older "
                  "keras-compact); dropout masks after the resume differ from an "
                  "uninterrupted run's.")
        self.restored_epoch = latest["epoch"]
        # The same hook Keras' BackupAndRestore uses to skip finished epochs.
        model._initial_epoch = latest["epoch"]
        print(f"Resumed from backup at epoch {latest['epoch']}: {latest['path']}")

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        directory = f"epoch-{epoch + 1:06d}"
        final = os.path.join(self.backup_dir, directory)
        if os.path.exists(final):  # left by a run killed after the rename
            shutil.rmtree(final)
        with atomic_directory(final) as temp:
            self.model.save_weights(os.path.join(temp, _WEIGHTS))
            save_random_state(self.model, os.path.join(temp, _RANDOM_STATE))
        previous = self.latest()
        with atomic_file(self._pointer_path()) as temp:
            with open(temp, "w") as handle:
                json.dump({"epoch": epoch + 1, "directory": directory}, handle)
        if previous is not None and previous["directory"] != directory:
            shutil.rmtree(previous["path"], ignore_errors=True)

    def on_train_end(self, logs=None):
        if self.delete_on_success and self.write:
            shutil.rmtree(self.backup_dir, ignore_errors=True)


def read_history_rows(path):
    """{epoch (0-based): {metric: float}} from a history CSV; the last row of
    an epoch wins. Reads files of `EpochHistoryLogger` and of Keras'
    `CSVLogger` ("NA" or empty cells are skipped)."""
    rows = {}
    if not os.path.exists(path):
        return rows
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            epoch = int(row.get("epoch") or number)
            values = {}
            for key, value in row.items():
                if key == "epoch" or key is None or value in ("", None, "NA"):
                    continue
                values[key] = float(value)
            rows[epoch] = values
    return rows


class EpochHistoryLogger(keras.callbacks.Callback):
    """`keras.callbacks.CSVLogger` with rows keyed by epoch, replaced atomically.

    Each epoch's logs replace that epoch's row (a run resumed from a
    checkpoint redoes the epoch after it and writes the row again instead
    of appending a duplicate), and the whole file is rewritten through
    `atomic_file`, so a kill never leaves half a row. Put it before the
    checkpoint callback: then no epoch can be checkpointed without its row.
    The columns are CSVLogger's: "epoch" (0-based) then the metrics, sorted.

    Example:
    ```python
    model.fit(data, epochs=10, callbacks=[EpochHistoryLogger("run/history.csv"),
                                          AtomicBackupAndRestore("run/backup")])
    ```
    """

    def __init__(self, path):
        super().__init__()
        self.path = os.path.abspath(path)
        self.rows = {}

    def on_train_begin(self, logs=None):
        self.rows = read_history_rows(self.path)

    def on_epoch_end(self, epoch, logs=None):
        values = {}
        for key, value in (logs or {}).items():
            try:
                values[key] = float(value)
            except (TypeError, ValueError):
                continue
        self.rows[epoch] = values
        keys = sorted({k for row in self.rows.values() for k in row})
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["epoch", *keys])
        for number in sorted(self.rows):
            row = self.rows[number]
            writer.writerow([number, *(_cell(row.get(k)) for k in keys)])
        with atomic_file(self.path) as temp:
            with open(temp, "w", newline="") as handle:
                handle.write(text.getvalue())


def _cell(value):
    if value is None:
        return "NA"
    return "nan" if math.isnan(value) else repr(value)
