"""tf.distribute helpers (TensorFlow-only).

Keras 3's `fit` runs unchanged inside `strategy.scope()` with the TensorFlow
backend. MirroredStrategy (one machine, several GPUs or logical CPUs) works
out of the box; see the README for the state of MultiWorkerMirroredStrategy
and TPUStrategy.
"""

STRATEGIES = ("mirrored",)


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
        name: "mirrored": all local GPUs, else all logical CPUs.
        devices: optional explicit device list.
    """
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"--strategy {name} needs KERAS_BACKEND=tensorflow (active: "
            f"{keras.backend.backend()}); on JAX use keras.distribution."
        )
    if name != "mirrored":
        raise ValueError(f"Unknown strategy {name!r}; use one of {STRATEGIES}.")
    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)
