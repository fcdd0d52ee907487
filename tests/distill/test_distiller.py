import keras
import numpy as np
import pytest
from keras import ops

from keras_compact import CompactBackbone
from keras_compact.distill import Distiller
from keras_compact.distill import distilbert_distiller
from keras_compact.distill import distilbert_student_from_teacher
from keras_compact.distill import losses
from keras_compact.models.classifier import TextClassifier
from tests.conftest import TINY_ALBERT
from tests.conftest import random_inputs

pytestmark = pytest.mark.multi_backend

TEACHER = dict(TINY_ALBERT, dropout=0.1)  # 4 layers, H=32, 4 heads
STUDENT = dict(
    TINY_ALBERT, num_layers=2, hidden_dim=16, intermediate_dim=32, sharing="none"
)
BERT_TEACHER = dict(TINY_ALBERT, sharing="none", embedding_dim=None)


def _inputs(batch=4):
    return random_inputs(batch=batch, length=10)


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def _assert_same(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def _numpy(x):
    return ops.convert_to_numpy(x)


def test_general_distillation_fit_lowers_loss_and_keeps_teacher(tmp_path):
    teacher = CompactBackbone(**TEACHER)
    student = CompactBackbone(**STUDENT)
    distiller = Distiller(teacher, student, stage="general")
    assert distiller.teacher_layers == (2, 4)
    # W_e, W_h are the Distiller's; the student has no extra weights.
    assert distiller.hidden_projection.kernel.shape == (16, 32)
    assert student.count_params() == CompactBackbone(**STUDENT).count_params()
    teacher_before = _weights(teacher)
    student_before = _weights(student)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = distiller.fit(_inputs(), batch_size=4, epochs=8, verbose=0)
    logs = history.history
    assert set(logs) == {"loss", "embedding_loss", "hidden_loss", "attention_loss"}
    assert logs["loss"][-1] < 0.7 * logs["loss"][0], logs["loss"]
    assert logs["hidden_loss"][-1] < logs["hidden_loss"][0]
    _assert_same(teacher_before, _weights(teacher))
    assert not teacher.trainable_weights
    assert any(
        not np.array_equal(a, b) for a, b in zip(student_before, _weights(student))
    )

    # The extracted student is a plain backbone file that reloads alone.
    path = str(tmp_path / "student.keras")
    distiller.student.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, CompactBackbone)
    x = _inputs()
    expected, got = student(x), restored(x)
    for key in expected:
        np.testing.assert_allclose(_numpy(expected[key]), _numpy(got[key]), atol=1e-6)


def test_loss_matches_the_definition():
    teacher = CompactBackbone(**TEACHER)
    student = CompactBackbone(**STUDENT)
    distiller = Distiller(
        teacher, student, layer_mapping="top", hidden_weight=2.0, attention_weight=3.0
    )
    distiller.compile(optimizer="sgd")
    x = _inputs()
    mask = x["padding_mask"]
    t = teacher.compute_features(x)
    s = student.compute_features(x)
    w_e, w_h = distiller.embedding_projection, distiller.hidden_projection
    embedding = losses.embedding_loss(w_e(s["hidden_states"][0]), t["hidden_states"][0])
    # "top": student layers 1, 2 learn from teacher layers 3, 4.
    hidden = sum(
        losses.hidden_loss(w_h(s["hidden_states"][m]), t["hidden_states"][n])
        for m, n in ((1, 3), (2, 4))
    )
    attention = sum(
        losses.attention_loss(s["attention_scores"][m], t["attention_scores"][n], mask)
        for m, n in ((0, 2), (1, 3))
    )
    expected = {
        "embedding_loss": float(_numpy(embedding)),
        "hidden_loss": float(_numpy(hidden)),
        "attention_loss": float(_numpy(attention)),
    }
    expected["loss"] = (
        expected["embedding_loss"]
        + 2.0 * expected["hidden_loss"]
        + 3.0 * expected["attention_loss"]
    )
    scores = distiller.evaluate(x, return_dict=True, verbose=0)
    for name, value in expected.items():
        np.testing.assert_allclose(scores[name], value, rtol=1e-4, err_msg=name)


def test_classifier_prediction_distillation_and_round_trip(tmp_path):
    teacher = TextClassifier(CompactBackbone(**TEACHER), num_classes=3)
    student = TextClassifier(CompactBackbone(**STUDENT), num_classes=3, dropout=0.0)
    # Make the teacher's predictions confident enough to be worth learning.
    kernel, bias = teacher.output_dense.get_weights()
    teacher.output_dense.set_weights([kernel * 100.0, bias])
    teacher_before = _weights(teacher)
    distiller = Distiller(teacher, student, stage="prediction", temperature=2.0)
    assert distiller.hidden_projection is None  # no intermediate losses
    distiller.compile(optimizer=keras.optimizers.Adam(3e-2))
    x = _inputs(batch=8)
    history = distiller.fit(x, batch_size=8, epochs=8, verbose=0)
    logs = history.history
    assert set(logs) == {"loss", "prediction_loss"}
    assert logs["prediction_loss"][-1] < logs["prediction_loss"][0], logs
    _assert_same(teacher_before, _weights(teacher))

    # The whole Distiller also round-trips (teacher, student, projections).
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.student, TextClassifier)
    assert restored.distillation_weights["prediction"] == 1.0
    np.testing.assert_allclose(
        _numpy(restored.student(x)), _numpy(distiller.student(x)), atol=1e-6
    )

    # The head the Distiller uses is the classifier's own.
    features = student.backbone.compute_features(x, return_hidden_states=False)
    np.testing.assert_allclose(
        _numpy(student.compute_logits(features["pooled_output"])),
        _numpy(student(x)),
        atol=1e-5,
    )


def test_default_stage_on_classifiers_uses_every_loss():
    teacher = TextClassifier(CompactBackbone(**TEACHER), num_classes=2)
    student = TextClassifier(CompactBackbone(**STUDENT), num_classes=2)
    distiller = Distiller(teacher, student)
    assert distiller.enabled_losses == (
        "embedding", "hidden", "attention", "prediction"
    )
    intermediate = Distiller(teacher, student, stage="intermediate")
    assert intermediate.enabled_losses == ("embedding", "hidden", "attention")


def test_distilbert_student_copies_every_other_layer_and_trains():
    teacher_backbone = CompactBackbone(**BERT_TEACHER)
    student_backbone = distilbert_student_from_teacher(teacher_backbone)
    assert student_backbone.num_layers == 2
    assert student_backbone.hidden_dim == teacher_backbone.hidden_dim
    for m, n in ((0, 0), (1, 2)):
        for kind in ("attention_sublayers", "feedforward_sublayers"):
            _assert_same(
                _weights(getattr(teacher_backbone.encoder, kind)[n]),
                _weights(getattr(student_backbone.encoder, kind)[m]),
            )
    _assert_same(
        _weights(teacher_backbone.embeddings), _weights(student_backbone.embeddings)
    )
    # The student's layer 1 equals the teacher's layer 1 (both copies of it).
    x = _inputs()
    t = teacher_backbone.compute_features(x, return_attention_scores=False)
    s = student_backbone.compute_features(x, return_attention_scores=False)
    np.testing.assert_allclose(
        ops.convert_to_numpy(s["hidden_states"][1]),
        ops.convert_to_numpy(t["hidden_states"][1]),
        atol=1e-5,
    )

    teacher = TextClassifier(teacher_backbone, num_classes=2)
    distiller = distilbert_distiller(teacher, temperature=2.0)
    assert distiller.student.backbone.num_layers == 2
    assert distiller.enabled_losses == ("prediction", "cosine")
    assert distiller.distillation_weights["prediction"] == 4.0
    distiller.compile(optimizer="adam")
    logs = distiller.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert set(logs) == {"loss", "prediction_loss", "cosine_loss"}


def test_clear_errors():
    teacher = CompactBackbone(**TEACHER)
    student = CompactBackbone(**STUDENT)
    two_heads = CompactBackbone(**dict(STUDENT, num_heads=2))
    with pytest.raises(ValueError, match="Set attention_weight=0 or match num_heads"):
        Distiller(teacher, two_heads)
    # Fine once the attention loss is off.
    Distiller(teacher, two_heads, attention_weight=0)
    with pytest.raises(ValueError, match="prediction loss needs logits"):
        Distiller(teacher, student, stage="prediction")
    with pytest.raises(ValueError, match="stage='final'"):
        Distiller(teacher, student, stage="final")
    with pytest.raises(ValueError, match="more layers"):
        Distiller(student, CompactBackbone(**dict(TEACHER, num_layers=6)))
    with pytest.raises(ValueError, match="Every loss weight is 0"):
        Distiller(teacher, student, stage="general", embedding_weight=0,
                  hidden_weight=0, attention_weight=0)
    with pytest.raises(ValueError, match="hidden_weight=-1"):
        Distiller(teacher, student, hidden_weight=-1)
    with pytest.raises(ValueError, match="use_projection=False needs equal widths"):
        Distiller(teacher, student, use_projection=False)
    with pytest.raises(ValueError, match="different numbers of classes"):
        Distiller(
            TextClassifier(teacher, num_classes=2),
            TextClassifier(student, num_classes=3),
            stage="prediction",
        )
    with pytest.raises(ValueError, match="sharing='all'"):
        distilbert_student_from_teacher(teacher)
    with pytest.raises(ValueError, match="num_classes=0"):
        TextClassifier(student, num_classes=0)
