"""Training loops around `model.fit` (TensorFlow-only parts say so)."""

from keras_compact.training.checkpointing import AtomicBackupAndRestore
