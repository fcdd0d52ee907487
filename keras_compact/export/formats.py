"""`export(model, path, format=...)`: the one library entry point for every
export format (TensorFlow-only, as every writer it calls).

| format        | writes `path` as                           | writer                           |
|---------------|--------------------------------------------|----------------------------------|
| `saved_model` | TF Serving's PATH/VERSION/ (raw text in)   | `saved_model.export_for_serving` |
| `litert`      | one .tflite file (tokenizer inside)        | `litert.export_litert`           |
| `onnx`        | a folder: model.onnx, tokenizer, README.md | `onnx.export_onnx`               |

Every format serves the outputs of one table, `keras_compact.export.heads`.
`export` only checks the format and its options and calls the writer; the
CLI (`keras-compact export`) maps its flags to these arguments. Adding a
format is one `Format` entry here plus its writer module
(docs/how-to/add-export-format.md).

Example:
```python
from keras_compact.export import export
export(classifier, "/srv/models/sections")                         # .../sections/1
export(classifier, "apps/sections.int8.tflite", format="litert", quantize="int8")
export(classifier, "onnx/sections", format="onnx", quantize="int8")
```
"""

import dataclasses
import os

from keras_compact.export.heads import ExportError


@dataclasses.dataclass(frozen=True)
class Format:
    """One export format.

    Attributes:
        name: the `format=` value (and the CLI's `--format`).
        writer: called as `writer(model, path, **options)`; imports the
            format's module only when used.
        options: the keyword options the writer takes.
        path: what `path` names, for messages.
    """

    name: str
    writer: object
    options: tuple
    path: str


def _saved_model(model, path, vocab=None, version=None, **options):
    from keras_compact.export.saved_model import export_for_serving

    path = os.path.abspath(os.fspath(path))
    return export_for_serving(model, vocab, os.path.dirname(path), os.path.basename(path),
                              version=version, **options)


def _litert(model, path, vocab=None, **options):
    from keras_compact.export.litert import export_litert

    return export_litert(model, vocab, path, **options)


def _onnx(model, path, **options):
    from keras_compact.export.onnx import export_onnx

    return export_onnx(model, path, **options)


FORMATS = (
    Format("saved_model", _saved_model,
           ("vocab", "sequence_length", "label_names", "pair", "trim_padding", "version",
            "quantize"),
           "the model's directory in TF Serving's layout (PATH/VERSION is written)"),
    Format("litert", _litert,
           ("vocab", "sequence_length", "pair", "quantize", "raw_text", "lowercase"),
           "the .tflite file"),
    Format("onnx", _onnx,
           ("vocab", "sequence_length", "label_names", "pair", "quantize"),
           "the folder to create (model.onnx, tokenizer files, README.md)"),
)


def export_format(name):
    """The `Format` called `name`, or a one-line `ExportError` listing them."""
    for entry in FORMATS:
        if entry.name == name:
            return entry
    raise ExportError(f"format={name!r} is not an export format; use one of "
                      f"{', '.join(f.name for f in FORMATS)}.")


def export(model, path, format="saved_model", **options):  # noqa: A002 - the documented name
    """Exports `model` to `path` in `format`.

    Args:
        model: a `TextClassifier`, `TextRegressor`, `TextEmbedder` or
            `CompactBackbone` (TensorFlow backend; a model trained on JAX
            or torch exports from its .keras file in a TensorFlow process).
        path: see the table in the module docstring.
        format: "saved_model" (default), "litert" or "onnx".
        **options: the format's options (unknown ones are refused):
            vocab: the vocabulary (.model / vocab.txt / Hugging Face folder)
                for a model without a preprocessor.
            sequence_length: tokens per example (default: the preprocessor's).
            label_names: class names (saved_model: a "labels" output;
                onnx: written to README.md).
            pair: two texts per example.
            quantize: None or "int8" (litert: dynamic-range; onnx: a
                model.int8.onnx beside model.onnx; saved_model: refused,
                it would be slower than float32).
            trim_padding, version: saved_model only, see
                `export_for_serving`.
            raw_text, lowercase: litert only, see `export_litert`.

    Returns:
        The path written (for saved_model, the version directory).

    Raises:
        ExportError: an unknown format or option, or a model, tokenizer or
            option the format cannot hold (the message names it and the fix).
        ValueError: a bad argument value.

    Example:
    ```python
    export(classifier, "exports/sections", format="onnx")
    ```
    """
    entry = export_format(format)
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        raise ExportError(f"{unknown[0]}= is not an option of format={entry.name!r}; its "
                          f"options are {', '.join(entry.options)}.")
    if path is None or not str(path):
        raise ExportError(f"path is required: {entry.path}.")
    return entry.writer(model, path, **options)
