"""keras-compact: compact BERT-family language models for Keras 3.

ALBERT (factorized embeddings, cross-layer parameter sharing, sentence-order
prediction) and TinyBERT (transformer distillation), on the TensorFlow, JAX
and torch backends.

`import keras_compact` imports the Keras modules and so registers every class
a saved `.keras` file can name. Only the `keras-compact` console script
imports them lazily (see the comment at the end), to keep `--help` fast.
"""

import importlib
import os
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
    "WarmupPolynomialDecay": "keras_compact.optimizers",
    "Distiller": "keras_compact.distill",
}
# Everything a saved .keras file can name must be registered on import
# (`keras.saving.load_model` looks classes up by their registered name): the
# optimizer schedule of a saved pretrainer and the distillation model live
# outside layers/ and models/, so their packages are listed too (and the
# whole-set metrics of a compiled task model, and RelationFeatures of the
# keras.distillation interop).
_REGISTERING = ("keras_compact.layers", "keras_compact.models",
                "keras_compact.tokenizers", "keras_compact.preprocessing",
                "keras_compact.optimizers", "keras_compact.distill",
                "keras_compact.distill.keras_interop", "keras_compact.metrics")

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


def _is_console_script():
    """True when this process is the `keras-compact` command itself."""
    return os.path.basename(sys.argv[0] if sys.argv else "") in (
        "keras-compact", "keras-compact.exe")


# Two promises meet here. `import keras_compact` registers every class a saved
# file can name (issue 14: `load_model` works after only this import), so the
# package imports its Keras modules eagerly. `keras-compact --help` must answer
# in under 2 s without starting TensorFlow (issue 13), so the `keras-compact`
# console script alone skips the eager imports: its `main()` calls
# `register_keras_classes()` once the arguments parse (never for `--help` or a
# usage error), and the top-level names above load on first use (PEP 562).
if not _is_console_script():
    register_keras_classes()
