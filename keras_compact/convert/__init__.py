"""Converters between keras_compact and other implementations' weights."""

from keras_compact.convert.keras_hub import from_keras_hub
