"""compile(jit_compile="auto") on a CPU-only machine: XLA for float32,
oneDNN (no XLA) for bfloat16 on TensorFlow; Keras' own choice elsewhere."""

import keras
import numpy as np
import pytest

from keras_compact import CompactBackbone
from keras_compact.distill import Distiller
from keras_compact.models.classifier import TextClassifier
from keras_compact.models.pretrainer import AlbertPretrainer

pytestmark = pytest.mark.multi_backend

TINY = dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
            intermediate_dim=32, embedding_dim=8, max_sequence_length=16)


def keras_default(model):
    return keras.Model._resolve_auto_jit_compile(model)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_auto_picks_the_faster_cpu_path(policy):
    backbone = CompactBackbone(**TINY, dtype=policy)
    models = [
        AlbertPretrainer(backbone),
        TextClassifier(backbone, num_classes=3),
        Distiller(CompactBackbone(**TINY), CompactBackbone(**TINY, dtype=policy)),
    ]
    for model in models:
        model.compile(optimizer="adam")
        if keras.backend.backend() == "tensorflow":
            assert model.jit_compile is (policy == "float32"), type(model).__name__
        else:  # JAX always compiles; torch stays eager
            assert model.jit_compile == keras_default(model)


def test_explicit_choice_and_run_eagerly_are_kept():
    classifier = TextClassifier(CompactBackbone(**TINY), num_classes=3)
    classifier.compile(optimizer="adam", jit_compile=False)
    assert classifier.jit_compile is False
    classifier.compile(optimizer="adam", run_eagerly=True)
    assert classifier.jit_compile is False and classifier.run_eagerly


def test_xla_choice_trains_and_predicts_like_the_graph_executor():
    x = {
        "token_ids": np.random.default_rng(0).integers(5, 64, (4, 16)).astype("int32"),
        "segment_ids": np.zeros((4, 16), "int32"),
        "padding_mask": np.ones((4, 16), "int32"),
    }
    y = np.array([0, 1, 2, 1])
    results = []
    for jit_compile in ("auto", False):
        keras.utils.set_random_seed(7)
        classifier = TextClassifier(CompactBackbone(**TINY, dropout=0.0), num_classes=3,
                                    dropout=0.0)
        classifier.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=jit_compile,
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = classifier.fit(x, y, batch_size=4, epochs=2, verbose=0)
        results.append((history.history["loss"], classifier.predict(x, verbose=0)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-4)
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-4)
