"""Weight initialisation shared by every layer of the package."""

import keras


def truncated_normal(stddev):
    """BERT/ALBERT initialiser: truncated normal with the config's range."""
    return keras.initializers.TruncatedNormal(stddev=stddev)
