"""Training loops around `model.fit` (TensorFlow-only parts say so).

`AtomicBackupAndRestore` is imported on first use, so that reading a job's
defaults (the command line's `--help`) does not start Keras.
"""


def __getattr__(name):
    if name == "AtomicBackupAndRestore":
        from keras_compact.training.checkpointing import AtomicBackupAndRestore

        return AtomicBackupAndRestore
    raise AttributeError(f"module 'keras_compact.training' has no attribute {name!r}")
