"""int8 weights through Keras' Model.quantize: every projection of our layers
is reached, the float model is untouched, a layer Keras cannot quantize is
named; an int8 SavedModel (slower than float32) is refused."""

import os

import numpy as np
import pytest

import keras

from keras_compact import CompactBackbone
from keras_compact import TextClassifier
from keras_compact.export import export_for_serving
from keras_compact.export.quantize import quantize_model
from keras_compact.export.quantize import quantized_layer_paths
from tests.conftest import TINY_ALBERT
from tests.conftest import random_inputs


def test_every_projection_and_table_is_int8_and_outputs_stay_close():
    backbone = CompactBackbone(**dict(TINY_ALBERT, sharing="none", num_hidden_groups=1))
    model = TextClassifier(backbone, num_classes=3)
    inputs = random_inputs(batch=3, length=12, vocabulary_size=100)
    before = keras.ops.convert_to_numpy(model(inputs))
    int8 = quantize_model(model)
    paths = quantized_layer_paths(int8)
    # 4 layers x (query, key, value, attention_output, 2 feed-forward Dense),
    # the E -> H projection, the pooler, the head and both embedding tables.
    kernels = [p for p in paths if p.split("/")[-1] in (
        "query", "key", "value", "attention_output", "intermediate_dense", "output_dense",
        "projection", "pooler", "logits")]
    assert len(kernels) == 4 * 6 + 3, paths
    assert {"token_embedding", "segment_embedding"} <= {p.split("/")[-1] for p in paths}
    for layer in int8._flatten_layers():
        if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense)):
            assert layer.kernel.dtype == "int8", layer.name
    # The float model is not modified.
    assert not quantized_layer_paths(model)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(inputs)), before)
    after = keras.ops.convert_to_numpy(int8(inputs))
    assert np.abs(after - before).max() < 0.05 * np.abs(before).max() + 1e-3


def test_skip_keeps_named_layers_float():
    model = TextClassifier(CompactBackbone(**TINY_ALBERT), num_classes=2)
    int8 = quantize_model(model, skip=["logits$", "embedding"])
    paths = quantized_layer_paths(int8)
    assert "logits" not in paths and not any("embedding" in p.split("/")[-1] for p in paths)
    assert any(p.endswith("query") for p in paths)


@keras.saving.register_keras_serializable(package="keras_compact_tests")
class OwnKernel(keras.layers.Layer):
    """A projection with its own add_weight kernel: no quantization hooks."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4), name="kernel")

    def call(self, x):
        return keras.ops.matmul(x, self.kernel)


def test_a_layer_with_its_own_kernel_is_named_with_the_fix():
    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(4, name="fine")(OwnKernel(name="custom_proj")(inputs))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match=r"(?s)custom_proj \(OwnKernel\).*'kernel'.*"
                                         r"shape \(8, 4\).*EinsumDense.*skip="):
        quantize_model(model)
    assert "fine" in quantized_layer_paths(quantize_model(model, skip=["custom_proj"]))


def test_bad_mode_and_double_quantization_are_refused():
    model = TextClassifier(CompactBackbone(**TINY_ALBERT), num_classes=2)
    with pytest.raises(ValueError, match="mode='int4'.*int8"):
        quantize_model(model, "int4")
    int8 = quantize_model(model)
    with pytest.raises(ValueError, match="already quantized"):
        quantize_model(int8)


def test_an_int8_saved_model_is_refused_with_the_faster_formats(tmp_path):
    from keras_compact.export import ExportError
    from keras_compact.export import export

    model = TextClassifier(CompactBackbone(**TINY_ALBERT), num_classes=2)
    for call in (lambda: export(model, str(tmp_path / "m"), quantize="int8"),
                 lambda: export_for_serving(model, base_dir=str(tmp_path),
                                            model_name="m", quantize="int8")):
        with pytest.raises(ExportError, match=r"slower than float32.*format='litert', "
                                              r"quantize='int8'.*format='onnx'"):
            call()
    assert not os.path.exists(tmp_path / "m")
