"""Checks shared by the layer and model tests, so each test states what it
builds and the harness states what "round trip" means, once.

- `check_layer_serialization`: Keras serialization (registered name, config)
  rebuilds the object, and with the same weights it computes the same.
- `check_saved_keras_round_trip`: a `.keras` file reloads to the same class
  and outputs.
- `check_mixed_precision`: built under the global `mixed_bfloat16` policy,
  variables stay float32, computation runs in bfloat16, outputs are finite.
- `check_export_round_trip`: `model.export` (SavedModel, TensorFlow only),
  reloaded by `tf.saved_model.load`, serves the same outputs.

`inputs` is what the object is called with: one array or dict, or a tuple of
positional arguments. Outputs may be a tensor, a dict or a list of them.
"""

import keras
import numpy as np
import pytest
from keras import ops


def _call(layer, inputs, **kwargs):
    if isinstance(inputs, tuple):
        return layer(*inputs, **kwargs)
    return layer(inputs, **kwargs)


def _numpy(outputs):
    return keras.tree.map_structure(lambda x: np.asarray(ops.convert_to_numpy(x)), outputs)


def _assert_same(expected, got, atol):
    keras.tree.assert_same_structure(expected, got)
    for a, b in zip(keras.tree.flatten(expected), keras.tree.flatten(got)):
        np.testing.assert_allclose(np.asarray(b, "float64"), np.asarray(a, "float64"),
                                   atol=atol, rtol=0)


def check_layer_serialization(layer, inputs, atol=1e-6, **call_kwargs):
    """Serializes `layer` (registered name + `get_config`), rebuilds it, copies
    the weights and checks the clone's config and outputs equal the layer's.

    Args:
        layer: a Keras layer or model (built or not).
        inputs: what the layer is called with (a tuple: positional arguments).
        atol: absolute tolerance on the outputs.
        **call_kwargs: keyword arguments of both calls (e.g. `padding_mask`).

    Returns:
        The rebuilt clone.
    """
    expected = _numpy(_call(layer, inputs, **call_kwargs))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    _call(clone, inputs, **call_kwargs)  # builds the clone's variables
    clone.set_weights(layer.get_weights())
    _assert_same(expected, _numpy(_call(clone, inputs, **call_kwargs)), atol)
    return clone


def check_saved_keras_round_trip(model, inputs, tmp_path, atol=0.0):
    """Saves `model` as `.keras`, loads it with `keras.saving.load_model` and
    checks the class and the outputs (exactly equal by default).

    Returns:
        The reloaded model.
    """
    expected = _numpy(_call(model, inputs))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    _assert_same(expected, _numpy(_call(restored, inputs)), atol)
    return restored


def check_mixed_precision(build_fn, inputs, output_dtype="bfloat16"):
    """Builds with `build_fn()` under the global `mixed_bfloat16` policy and
    calls it on `inputs`: every floating variable is float32, every floating
    output has `output_dtype` (None: not checked) and is finite. The previous
    global policy is restored, also on failure.

    Returns:
        The outputs, as numpy arrays (bfloat16 ones as float32).
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_fn()
        outputs = _call(model, inputs)
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.dtype_policy.name == "mixed_bfloat16", model.dtype_policy
    floating = [v for v in model.weights if "float" in str(v.dtype)]
    assert floating and all(v.dtype == "float32" for v in floating), (
        sorted({str(v.dtype) for v in floating}))
    result = []
    for output in keras.tree.flatten(outputs):
        dtype = keras.backend.standardize_dtype(output.dtype)
        if "float" not in dtype:
            continue
        if output_dtype is not None:
            assert dtype == output_dtype, dtype
        value = ops.convert_to_numpy(ops.cast(output, "float32"))
        assert np.isfinite(value).all()
        result.append(value)
    assert result, "no floating output"
    return result


def check_export_round_trip(model, inputs, tmp_path, atol=1e-5):
    """`model.export` as a SavedModel, reloaded with `tf.saved_model.load` (no
    Keras objects), serves what the model computes. TensorFlow backend only:
    skips the calling test on the others.

    Returns:
        The reloaded SavedModel object.
    """
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel export needs the TensorFlow backend")
    import tensorflow as tf

    expected = _numpy(_call(model, inputs))
    path = str(tmp_path / "saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(path)
    _assert_same(expected, _numpy(_call(reloaded.serve, inputs)), atol)
    return reloaded
