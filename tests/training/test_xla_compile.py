"""The training steps compile with XLA (jit_compile=True) at static shapes and
compute what the uncompiled steps do: what TPUs and `jit_compile="auto"` on
GPUs need. TensorFlow backend here; JAX always compiles its train step."""

import keras
import numpy as np
import pytest

from keras_compact import CompactBackbone
from keras_compact import TextClassifier
from keras_compact.distill import Distiller
from tests.conftest import TINY_ALBERT
from tests.conftest import random_inputs


def _losses(build, jit_compile, x, y=None):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=jit_compile,
                  **({"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
                     if y is not None else {}))
    return model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history["loss"]


@pytest.mark.parametrize("kind", ["distiller", "classifier"])
def test_jit_compiled_training_matches(kind):
    inputs = random_inputs(batch=4, length=12, seed=1)
    no_dropout = dict(TINY_ALBERT, dropout=0.0)

    def build():
        teacher = TextClassifier(CompactBackbone(**dict(no_dropout, sharing="none")), 3,
                                 dropout=0.0)
        if kind == "classifier":
            return teacher
        student = TextClassifier(CompactBackbone(**dict(
            no_dropout, num_layers=2, hidden_dim=16, intermediate_dim=32)), 3, dropout=0.0)
        return Distiller(teacher, student, stage=None, cosine_weight=1.0)

    labels = np.array([0, 1, 2, 1]) if kind == "classifier" else None
    eager = _losses(build, False, inputs, labels)
    compiled = _losses(build, True, inputs, labels)
    assert eager[-1] != eager[0]
    np.testing.assert_allclose(compiled, eager, rtol=1e-4)
