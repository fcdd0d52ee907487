"""Loss normalisation across tf.distribute replicas.

Keras sums the replicas' gradients, and scales its own losses by
1 / num_replicas; a loss written by hand in `compute_loss` must do the same.
On JAX and torch (and TensorFlow without a strategy) these are identities: a
JAX `keras.distribution` works on global arrays, so means are already global.
"""

import keras


def _replica_context():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        # No strategy, or cross-replica context (Keras' symbolic build).
        return None
    return context


def num_replicas():
    """Replicas taking part in the current step (1 outside tf.distribute)."""
    context = _replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def sum_over_replicas(value):
    """All-reduce sum of `value` across replicas; identity with one replica."""
    context = _replica_context()
    if context is None:
        return value
    return context.all_reduce("sum", value)
