"""int8 weights through Keras' own `Model.quantize` (any backend), for Keras
inference (`model.predict`) on an int8 copy.

Exports do not use it: a SavedModel of such a model serves slower than
float32 (tools/benchmarks/DEPLOY_BENCHMARKS.md, which times it with
`tools/benchmarks/bench_deploy.py`), so int8 exports go through LiteRT's or
ONNX Runtime's quantizers (`keras_compact.export.formats`).

keras_compact's layers build every projection from `keras.layers.Dense` and
`keras.layers.EinsumDense` sublayers (attention query/key/value/output,
feed-forward, embedding projection, pooler, classifier head) and their
lookup tables from `keras.layers.Embedding`, so `Model.quantize("int8")`
reaches all of them: kernels become int8 with one float scale per output
channel, activations are quantized per token at call time. Nothing here
quantizes a tensor itself.

`quantize_model` adds what `Model.quantize` leaves to the caller:

- it refuses, before touching the model, a model with a layer that owns a
  float matrix `Model.quantize` would silently leave float (a custom layer
  with its own `add_weight` kernel and no quantization hooks), naming the
  layer, the weight and the fix;
- it works on a copy by default, so the float model stays usable;
- it checks afterwards that every layer it meant to quantize was.

Example:
```python
from keras_compact.export.quantize import quantize_model
int8_classifier = quantize_model(classifier)          # a quantized copy
int8_classifier.save("classifier.int8.keras")
```
"""

import re
import warnings

import keras

QUANTIZE_MODES = ("int8",)

# Layers whose own matrices are lookup tables read by index, not kernels of
# a matmul: leaving them float costs memory only, never speed.
_TABLE_LAYERS = ("PositionEmbedding",)


def _own_weights(layer):
    """Weights the layer created itself (not those of its sublayers)."""
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def _implements_quantize(layer):
    return type(layer).quantize is not keras.layers.Layer.quantize


def _layer_paths(model):
    """(path, layer) for every layer under `model`, depth first, except the
    preprocessor's (tokenizer and packer hold no weights to quantize)."""
    paths = []
    preprocessor = getattr(model, "preprocessor", None)

    def visit(layer, prefix):
        for child in layer._flatten_layers(include_self=False, recursive=False):
            if preprocessor is not None and child is preprocessor:
                continue
            path = f"{prefix}/{child.name}" if prefix else child.name
            paths.append((path, child))
            visit(child, path)

    visit(model, "")
    return paths


def _skipped(path, skip):
    return any(re.search(pattern, path) for pattern in skip)


def unquantizable_layers(model, skip=()):
    """Layers owning a float matrix that `Model.quantize` would not convert.

    Args:
        model: a built Keras model.
        skip: regular expressions on layer paths ("encoder/attention_0/...")
            of layers to leave float on purpose.

    Returns:
        A list of (layer path, class name, weight name, weight shape).
    """
    found = []
    for path, layer in _layer_paths(model):
        if _skipped(path, skip) or type(layer).__name__ in _TABLE_LAYERS:
            continue
        is_leaf = len(list(layer._flatten_layers())) == 1
        for weight in _own_weights(layer):
            if len(weight.shape) < 2 or "float" not in str(weight.dtype):
                continue
            # Model.quantize only calls quantize() on leaf layers.
            if is_leaf and _implements_quantize(layer):
                continue
            found.append((path, type(layer).__name__, weight.name, tuple(weight.shape)))
    return found


def _copy(model):
    """A full copy through a .keras file: weights and assets (a preprocessor's
    vocabulary) included."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as temp:
        path = os.path.join(temp, "model.keras")
        model.save(path)
        return keras.saving.load_model(path, compile=False)


def quantize_model(model, mode="int8", skip=(), copy=True):
    """int8 weights for every Dense / EinsumDense / Embedding of `model`.

    Args:
        model: a built Keras model (a `TextClassifier`, `CompactBackbone`,
            or any model whose matrices sit in Keras' quantizable layers).
        mode: "int8" (Keras' per-channel weights, per-token activations).
        skip: regular expressions on layer paths to keep float, e.g.
            `skip=["logits"]` for the classifier head.
        copy: bool. Quantize a copy (default) or `model` in place.

    Returns:
        The quantized model.

    Raises:
        ValueError: an unknown mode, an unbuilt or already quantized model,
            or a layer with a float matrix Keras cannot quantize (the message
            names the layer, the weight and the fix).

    Example:
    ```python
    classifier = keras.saving.load_model("classifier.keras")
    int8_classifier = quantize_model(classifier)
    int8_classifier(features)   # close to classifier(features)
    ```
    """
    if mode not in QUANTIZE_MODES:
        raise ValueError(f"Unknown quantization mode={mode!r}; use one of "
                         f"{', '.join(QUANTIZE_MODES)}.")
    if isinstance(skip, str):
        skip = [skip]
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built; call it on one batch (or "
                         "build it) before quantizing.")
    for path, layer in _layer_paths(model):
        if getattr(layer, "_is_quantized", False):
            raise ValueError(f"Layer {path!r} is already quantized "
                             f"(dtype_policy={layer.dtype_policy.name!r}); quantize the "
                             "float model instead.")
    blocking = unquantizable_layers(model, skip)
    if blocking:
        lines = "\n".join(f"  {path} ({cls}): weight {name!r} of shape {shape}"
                          for path, cls, name, shape in blocking)
        raise ValueError(
            f"Model.quantize({mode!r}) cannot quantize these layers' float matrices; "
            f"they would stay float32:\n{lines}\n"
            "Fix: compute the projection with keras.layers.Dense / EinsumDense "
            "sublayers (as keras_compact's layers do), or implement Keras' quantization "
            "hooks on the layer (quantize(), _int8_call()); or keep them float on purpose "
            "with skip=[<layer path regex>].")
    target = _copy(model) if copy else model
    # Model.quantize warns once per weightless layer (LayerNormalization, Dropout,
    # InputLayer ...) that it has no quantize(); that is expected here.
    paths = {id(layer): path for path, layer in _layer_paths(target)}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*does not have a `quantize` method.*")
        target.quantize(mode, filters=lambda layer: id(layer) in paths and not _skipped(
            paths[id(layer)], skip))
    missed = [path for path, layer in _layer_paths(target)
              if _implements_quantize(layer) and len(list(layer._flatten_layers())) == 1
              and _own_weights(layer) and not _skipped(path, skip)
              and layer.dtype_policy.quantization_mode != mode]
    if missed:  # pragma: no cover - a Keras change would land here
        raise ValueError(f"Model.quantize({mode!r}) left these layers float: "
                         f"{', '.join(missed)}.")
    return target


def quantized_layer_paths(model):
    """Paths of the layers holding quantized weights (for reports and tests)."""
    return [path for path, layer in _layer_paths(model)
            if layer.dtype_policy.quantization_mode is not None]
