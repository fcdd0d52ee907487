"""Distiller with MiniLM / MiniLMv2 objectives, the mismatch report, the
pretraining distiller (MLM + SOP + soft MLM + intermediate) and clear errors."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_compact import CompactBackbone
from keras_compact.distill import Distiller
from keras_compact.distill import PretrainingDistiller
from keras_compact.distill import losses
from keras_compact.distill.loss_table import LOSS_NAMES
from keras_compact.models.classifier import TextClassifier
from keras_compact.models.pretrainer import AlbertPretrainer
from tests.conftest import TINY_ALBERT
from tests.conftest import random_inputs
from tests.models.test_pretrainer import pretraining_batch

pytestmark = pytest.mark.multi_backend

TEACHER = dict(TINY_ALBERT, num_heads=4, sharing="none")  # 4 layers, H=32, 4 heads
# Different depth, width and head count (3 heads of 8).
STUDENT = dict(TINY_ALBERT, num_layers=2, num_heads=3, hidden_dim=24,
               intermediate_dim=48)


def _numpy(x):
    return ops.convert_to_numpy(x)


def test_minilmv2_distiller_any_heads_matches_the_definition():
    teacher, student = CompactBackbone(**TEACHER), CompactBackbone(**STUDENT)
    distiller = Distiller(teacher, student, stage="general", objective="minilmv2",
                          relation_heads=4, relation_teacher_layer=3,
                          qq_relation_weight=2.0)
    assert distiller.enabled_losses == ("qq_relation", "kk_relation", "vv_relation")
    assert distiller.hidden_projection is None  # relations need no projection
    x = random_inputs(batch=4, length=10)
    t = teacher.compute_features(x, return_qkv_layers=[3])["qkv"][3]
    s = student.compute_features(x, return_qkv_layers=[2])["qkv"][2]
    expected = {f"{k[0]}{k[0]}_relation_loss": float(_numpy(losses.relation_loss(
        s[k], t[k], 4, x["padding_mask"]))) for k in ("queries", "keys", "values")}
    expected["loss"] = 2.0 * expected["qq_relation_loss"] + expected[
        "kk_relation_loss"] + expected["vv_relation_loss"]
    distiller.compile(optimizer="sgd")
    scores = distiller.evaluate(x, return_dict=True, verbose=0)
    for name, value in expected.items():
        np.testing.assert_allclose(scores[name], value, rtol=1e-4, err_msg=name)
    assert all(v > 0 for v in expected.values())

    report = distiller.mapping_report()
    assert "Heads: differ (3 vs 4)" in report and "relation_heads=4" in report
    assert "teacher layer 3 with student layer 2" in report
    assert "Width: differs (24 vs 32)" in report


def _peaked(backbone, factor=8.0):
    """Scales query and key kernels so attention is far from uniform."""
    for sublayer in backbone.encoder.attention_sublayers:
        for dense in (sublayer.attention.query_dense, sublayer.attention.key_dense):
            dense.kernel.assign(dense.kernel * factor)
    return backbone


def test_minilm_distiller_fits_and_lowers_its_loss():
    teacher = _peaked(CompactBackbone(**TEACHER))
    student = CompactBackbone(**dict(STUDENT, num_heads=4))  # MiniLM: equal heads
    distiller = Distiller(teacher, student, stage="general", objective="minilm")
    assert distiller.enabled_losses == ("attention_kl", "value_relation")
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = distiller.fit(random_inputs(batch=4, length=10), batch_size=4, epochs=6,
                         verbose=0).history
    assert set(logs) == {"loss", "attention_kl_loss", "value_relation_loss"}
    assert logs["loss"][-1] < 0.7 * logs["loss"][0], logs["loss"]


def test_minilm_distiller_round_trips(tmp_path):
    teacher = TextClassifier(CompactBackbone(**TEACHER), num_classes=2)
    student = TextClassifier(CompactBackbone(**STUDENT), num_classes=2)
    distiller = Distiller(teacher, student, stage="intermediate",
                          objective="minilmv2", relation_heads=8,
                          relation_teacher_layer=2)
    path = str(tmp_path / "d.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert restored.enabled_losses == distiller.enabled_losses
    assert (restored.relation_heads, restored.relation_teacher_layer) == (8, 2)


def _pretrainers(student_config=None):
    teacher = AlbertPretrainer(CompactBackbone(**TEACHER))
    student = AlbertPretrainer(CompactBackbone(**(student_config or STUDENT)))
    return teacher, student


def test_pretraining_distiller_loss_is_the_weighted_sum():
    teacher, student = _pretrainers()
    distiller = PretrainingDistiller(
        teacher, student, objective="minilmv2", relation_heads=4, mlm_weight=0.5,
        sop_weight=2.0, soft_mlm_weight=3.0, mlm_temperature=2.0)
    assert distiller.enabled_losses == (
        "qq_relation", "kk_relation", "vv_relation", "mlm", "sop", "soft_mlm")
    features, labels = pretraining_batch(batch=8, seed=2)
    features["padding_mask"][4:, 12:] = 0
    distiller.compile(optimizer="sgd")
    scores = distiller.evaluate(features, labels, batch_size=8, return_dict=True,
                                verbose=0)
    # The student's own MLM and SOP equal AlbertPretrainer's.
    student.compile(optimizer="sgd")
    own = student.evaluate(features, labels, batch_size=8, return_dict=True, verbose=0)
    for name in ("mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy"):
        np.testing.assert_allclose(scores[name], own[name], rtol=1e-4, err_msg=name)
    # Soft targets: the teacher's MLM at the masked positions.
    t_mlm = teacher(features)["mlm"]
    s_mlm = student(features)["mlm"]
    soft = float(_numpy(losses.soft_target_loss(s_mlm, t_mlm, 2.0,
                                                labels["mlm_weights"])))
    np.testing.assert_allclose(scores["soft_mlm_loss"], soft, rtol=1e-4)
    expected = (0.5 * own["mlm_loss"] + 2.0 * own["sop_loss"] + 3.0 * soft
                + sum(scores[f"{k}_relation_loss"] for k in ("qq", "kk", "vv")))
    np.testing.assert_allclose(scores["loss"], expected, rtol=1e-4)


def test_pretraining_distiller_fits_and_lowers_its_loss(tmp_path):
    teacher, student = _pretrainers()
    teacher_before = [np.array(w) for w in teacher.get_weights()]
    distiller = PretrainingDistiller(teacher, student, objective="tinybert",
                                     attention_weight=0)  # heads differ
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    features, labels = pretraining_batch(batch=8, seed=4)
    logs = distiller.fit(features, labels, batch_size=8, epochs=15, verbose=0).history
    assert {"mlm_loss", "sop_loss", "soft_mlm_loss", "hidden_loss", "embedding_loss",
            "mlm_accuracy", "sop_accuracy"} <= set(logs)
    assert logs["loss"][-1] < 0.85 * logs["loss"][0], logs["loss"]
    for a, b in zip(teacher_before, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)
    path = str(tmp_path / "student.keras")
    distiller.student.save(path)
    assert isinstance(keras.saving.load_model(path), AlbertPretrainer)


def test_clear_errors_for_relations_layers_and_features():
    teacher, student = CompactBackbone(**TEACHER), CompactBackbone(**STUDENT)
    # 5 divides neither 32 nor 24.
    with pytest.raises(ValueError, match=r"relation_heads=5 must divide both widths.*"
                       r"the teacher's 32 nor the student's 24"):
        Distiller(teacher, student, objective="minilmv2", stage="general",
                  relation_heads=5)
    # 16 divides the teacher's width but not the student's; says what it takes.
    with pytest.raises(ValueError, match=r"student's 24.*relation_heads=4.*"
                       r"takes: any depth.*head count"):
        Distiller(teacher, student, objective="minilmv2", stage="general",
                  relation_heads=16)
    with pytest.raises(ValueError, match=r"relation_teacher_layer=5 is out of range: "
                       r"the teacher has layers 1\.\.4"):
        Distiller(teacher, student, objective="minilmv2", stage="general",
                  relation_teacher_layer=5)
    with pytest.raises(ValueError, match="relation_student_layer=0"):
        Distiller(teacher, student, objective="minilmv2", stage="general",
                  relation_student_layer=0)
    with pytest.raises(ValueError, match=r"attention_kl loss \(MiniLM\) compares heads"
                       r".*objective='minilmv2'.*takes: .*NOT head count"):
        Distiller(teacher, student, objective="minilm", stage="general")
    with pytest.raises(ValueError, match="soft_mlm loss needs mlm from the teacher, "
                       "which a CompactBackbone cannot give"):
        Distiller(teacher, AlbertPretrainer(student), soft_mlm_weight=1.0)
    with pytest.raises(ValueError, match="needs AlbertPretrainer teacher and student"):
        PretrainingDistiller(teacher, AlbertPretrainer(student))
    with pytest.raises(ValueError, match="Unknown objective='minilm3'"):
        Distiller(teacher, student, objective="minilm3")
    with pytest.raises(ValueError, match="Unknown loss weight qr_relation_weight"):
        Distiller(teacher, student, qr_relation_weight=1.0)
    other_vocab = AlbertPretrainer(CompactBackbone(**dict(STUDENT, vocabulary_size=50)))
    with pytest.raises(ValueError, match="vocabulary_size=100 and the student 50"):
        PretrainingDistiller(AlbertPretrainer(teacher), other_vocab, objective="none")
    # A deeper student is fine for MiniLMv2 (one layer pair, no mapping).
    deeper = CompactBackbone(**dict(STUDENT, num_layers=6))
    d = Distiller(teacher, deeper, objective="minilmv2", stage="general",
                  relation_heads=4)
    assert d.teacher_layers is None and d.relation_student_layer == 6
    assert set(LOSS_NAMES) >= {"qq_relation", "attention_kl", "soft_mlm"}


def test_qkv_request_keeps_outputs_and_adds_only_the_requested_layers():
    backbone = CompactBackbone(**TEACHER)
    x = random_inputs(batch=2, length=8)
    plain = backbone(x)["sequence_output"]
    features = backbone.compute_features(x, return_hidden_states=False,
                                         return_attention_scores=False,
                                         return_qkv_layers=[2])
    assert set(features["qkv"]) == {2}
    np.testing.assert_allclose(_numpy(features["sequence_output"]), _numpy(plain),
                               atol=1e-5)
    q = features["qkv"][2]["queries"]
    assert tuple(q.shape) == (2, 8, 4, 8)
    # The queries are the layer's own projection of its input.
    hidden = backbone.compute_features(x)["hidden_states"][1]
    attention = backbone.encoder.attention_sublayers[1].attention
    np.testing.assert_allclose(_numpy(q), _numpy(attention.query_dense(hidden)),
                               atol=1e-5)
    with pytest.raises(ValueError, match="Layer 5 is out of range"):
        backbone.compute_features(x, return_qkv_layers=[5])
