"""Shared by the helper processes of the MirroredStrategy and multi-worker
tests: one batch from an .npz file, joining a loopback worker cluster, and 3
training steps on one device or MirroredStrategy over 2 logical CPUs."""

import json
import os

import numpy as np


def join_workers(task_index, ports):
    """The MultiWorkerMirroredStrategy of worker `task_index` of a loopback
    cluster on `ports` ("p1,p2"), or None for a single process (index < 0).

    Sets TF_CONFIG and makes the strategy before any other TensorFlow op, as
    MultiWorkerMirroredStrategy needs: call it first in the process.
    """
    task_index = int(task_index)
    if task_index < 0:
        return None
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"localhost:{p}" for p in ports.split(",")]},
        "task": {"type": "worker", "index": task_index}})
    from keras_compact.distribution import make_strategy

    return make_strategy("multi_worker")


def load_batch(batch_file):
    """(features, labels) of an .npz holding `x_*` features and `y_*` labels."""
    arrays = np.load(batch_file)
    features = {k[2:]: arrays[k] for k in arrays if k.startswith("x_")}
    labels = {k[2:]: arrays[k] for k in arrays if k.startswith("y_")}
    return features, labels


def fit_three_steps(devices, build, batch_file):
    """Builds a compiled model with `build()` (in a MirroredStrategy scope over
    2 logical CPUs when `devices == 2`), fits it 3 steps on the batch repeated,
    prints `HISTORY <json>` and returns the model.

    Splits the CPU before anything else touches TensorFlow's devices; `build`
    runs after that.
    """
    import tensorflow as tf

    from keras_compact.distribution import split_cpu

    logical = split_cpu(2)  # both runs see the same devices; only one uses 2
    dataset = tf.data.Dataset.from_tensors(load_batch(batch_file)).repeat()
    if int(devices) == 2:
        strategy = tf.distribute.MirroredStrategy([d.name for d in logical])
        with strategy.scope():
            model = build()
        assert strategy.num_replicas_in_sync == 2
    else:
        model = build()
    history = model.fit(dataset, epochs=3, steps_per_epoch=1, verbose=0)
    print("HISTORY " + json.dumps(history.history))
    return model
