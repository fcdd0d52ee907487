"""Distributed training: one module per backend's mechanism.

- `tf_strategies` (TensorFlow only): `tf.distribute` strategies by name
  (`make_strategy`), CPU splitting for tests (`split_cpu`) and `is_chief`,
  the one check every writer of checkpoints, models and logs asks.
- `jax` (JAX only): Keras' `keras.distribution` API over a device mesh
  (`data_parallel`, `model_parallel`, `backbone_layout_map`).

Both modules import without their backend; their functions raise a clear
error when called on the wrong one.
"""

from keras_compact.distribution.jax import backbone_layout_map
from keras_compact.distribution.jax import data_parallel
from keras_compact.distribution.jax import model_parallel
from keras_compact.distribution.tf_strategies import STRATEGIES
from keras_compact.distribution.tf_strategies import is_chief
from keras_compact.distribution.tf_strategies import make_strategy
from keras_compact.distribution.tf_strategies import split_cpu

__all__ = ["STRATEGIES", "backbone_layout_map", "data_parallel", "is_chief",
           "make_strategy", "model_parallel", "split_cpu"]
