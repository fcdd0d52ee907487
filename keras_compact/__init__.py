"""keras-compact: compact BERT-family language models for Keras 3.

ALBERT (factorized embeddings, cross-layer parameter sharing, sentence-order
prediction) and TinyBERT (transformer distillation), on the TensorFlow, JAX
and torch backends.

The top-level names are imported on first use (PEP 562), so that importing a
submodule that does not need Keras (the command line's `--help`, the file
readers of `keras_compact.tasks`) does not start TensorFlow. When Keras is
already imported, the models are imported (and registered for
`keras.saving.load_model`) at once, as before; otherwise touch any top-level
name (or `import keras_compact.models`) before loading a `.keras` file.
"""

import importlib
import sys

from keras_compact.version import __version__

_LAZY = {
    "AttentionSublayer": "keras_compact.layers",
    "FactorizedEmbedding": "keras_compact.layers",
    "FeedForwardSublayer": "keras_compact.layers",
    "SharedTransformerEncoder": "keras_compact.layers",
    "TransformerBlock": "keras_compact.layers",
    "AlbertPretrainer": "keras_compact.models",
    "CompactBackbone": "keras_compact.models",
    "TextClassifier": "keras_compact.models",
    "TextEmbedder": "keras_compact.models",
    "TextRegressor": "keras_compact.models",
    "TextClassifierPreprocessor": "keras_compact.preprocessing",
    "PRESETS": "keras_compact.models",
    "SentencePieceTokenizer": "keras_compact.tokenizers",
    "WordPieceTokenizer": "keras_compact.tokenizers",
    "load_tokenizer": "keras_compact.tokenizers",
}
# Modules whose Keras classes must be registered before `load_model`.
_REGISTERING = ("keras_compact.models", "keras_compact.tokenizers",
                "keras_compact.preprocessing")

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_compact' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def register_keras_classes():
    """Imports every module whose Keras classes `keras.saving.load_model` needs."""
    for module in _REGISTERING:
        importlib.import_module(module)


if "keras" in sys.modules:  # Keras is loaded anyway: register the classes now.
    register_keras_classes()
