"""tf.distribute helpers (TensorFlow-only).

Keras 3's `fit` runs inside `strategy.scope()` with the TensorFlow backend.
MirroredStrategy (one machine, several GPUs or logical CPUs) works out of
the box. MultiWorkerMirroredStrategy (several machines, `TF_CONFIG`) needs
the package's models, which work around two Keras 3 failures under it
(`keras_compact.models.model_mixins.MultiWorkerFitMixin`), and only the
chief may write files: `is_chief()` says which worker that is.
"""

import json
import os

STRATEGIES = ("mirrored", "multi_worker")


def is_chief():
    """Whether this process writes checkpoints, models and logs.

    Without `TF_CONFIG` (one process) it is always the chief. With a cluster
    in `TF_CONFIG`, the chief is the task of type "chief", or worker 0 when
    the cluster has no "chief" task (TensorFlow's convention).
    """
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    cluster = config.get("cluster") or {}
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def split_cpu(num_devices):
    """Splits the CPU into `num_devices` logical devices.

    Must run before TensorFlow initialises its devices (before any op). Lets
    a CPU-only machine test MirroredStrategy as if it had several devices.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices
    )
    return tf.config.list_logical_devices("CPU")


def make_strategy(name, devices=None):
    """Returns a tf.distribute strategy by name.

    Args:
        name: "mirrored": all local GPUs, else all logical CPUs;
            "multi_worker": MultiWorkerMirroredStrategy over the cluster in
            `TF_CONFIG` (each worker's local GPUs, or its CPU).
        devices: optional explicit device list ("mirrored" only).
    """
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"--strategy {name} needs KERAS_BACKEND=tensorflow (active: "
            f"{keras.backend.backend()}); on JAX use keras.distribution."
        )
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; use one of {STRATEGIES}.")
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "--strategy multi_worker needs TF_CONFIG: a JSON cluster spec and "
                "this process's task, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
                "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": "
                "\"worker\", \"index\": 0}}', set on every worker.")
        # Reads TF_CONFIG; must be created before any other TensorFlow op.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)
