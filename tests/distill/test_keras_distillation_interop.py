"""Our MiniLM / MiniLMv2 losses inside keras.distillation.Distiller give the
same numbers as our Distiller, and train the student."""

import keras
import numpy as np
import pytest

from keras_compact import CompactBackbone
from keras_compact.distill import Distiller
from keras_compact.distill.keras_interop import MiniLMAttentionLoss
from keras_compact.distill.keras_interop import MiniLMv2RelationLoss
from keras_compact.distill.keras_interop import RelationFeatures
from tests.conftest import TINY_ALBERT
from tests.conftest import random_inputs

pytestmark = pytest.mark.multi_backend

TEACHER = dict(TINY_ALBERT, sharing="none")  # 4 layers, H=32, 4 heads
STUDENT = dict(TINY_ALBERT, num_layers=2, num_heads=2, hidden_dim=16,
               intermediate_dim=32)


def test_minilmv2_loss_in_keras_distiller_matches_ours():
    teacher, student = CompactBackbone(**TEACHER), CompactBackbone(**STUDENT)
    x = random_inputs(batch=4, length=10)
    ours = Distiller(teacher, student, stage="general", objective="minilmv2",
                     relation_heads=4, relation_teacher_layer=3)
    ours.compile(optimizer="sgd")
    expected = ours.evaluate(x, return_dict=True, verbose=0)["loss"]

    theirs = keras.distillation.Distiller(
        RelationFeatures(teacher, layer=3), RelationFeatures(student),
        MiniLMv2RelationLoss(relation_heads=4), student_loss_weight=0.0)
    theirs.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    got = theirs.evaluate(x, return_dict=True, verbose=0)
    np.testing.assert_allclose(got["distillation_loss"], expected, rtol=1e-4)
    before = [np.array(w) for w in student.get_weights()]
    theirs.fit(x, batch_size=4, epochs=2, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, student.get_weights()))
    assert not teacher.trainable


def test_minilm_loss_in_keras_distiller_matches_ours():
    teacher = CompactBackbone(**TEACHER)
    student = CompactBackbone(**dict(STUDENT, num_heads=4))
    x = random_inputs(batch=4, length=10)
    ours = Distiller(teacher, student, stage="general", objective="minilm")
    ours.compile(optimizer="sgd")
    expected = ours.evaluate(x, return_dict=True, verbose=0)["loss"]
    theirs = keras.distillation.Distiller(
        RelationFeatures(teacher), RelationFeatures(student), MiniLMAttentionLoss(),
        student_loss_weight=0.0)
    theirs.compile(optimizer="sgd", loss="mse")
    got = theirs.evaluate(x, return_dict=True, verbose=0)["distillation_loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    with pytest.raises(ValueError, match="Layer 7 is out of range"):
        RelationFeatures(teacher, layer=7)
