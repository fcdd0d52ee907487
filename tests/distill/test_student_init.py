"""Students that start from the teacher (`keras_compact.distill.student_init`):
copied weights, the SVD table against numpy's, hidden states of a copied
student, the PCA start, and each bad spec's message."""

import keras
import numpy as np
import pytest

from keras_compact.distill.student_init import init_student_from_teacher
from keras_compact.models import CompactBackbone
from keras_compact.models import TextClassifier

pytestmark = pytest.mark.multi_backend

TEACHER = dict(vocabulary_size=120, num_layers=4, num_heads=2, hidden_dim=16,
               intermediate_dim=32, max_sequence_length=16, use_embedding_projection=False,
               sharing="none")


def _teacher():
    teacher = CompactBackbone(**TEACHER)
    # Non-trivial layer norms, so copying and folding them is tested.
    rng = np.random.default_rng(0)
    gamma, beta = teacher.embeddings.layer_norm.get_weights()
    teacher.embeddings.layer_norm.set_weights(
        [gamma + rng.normal(0, 0.1, gamma.shape), rng.normal(0, 0.1, beta.shape)])
    return teacher


def _student(**overrides):
    return CompactBackbone(**{**TEACHER, **overrides})


def _inputs(length=10):
    rng = np.random.default_rng(1)
    return {"token_ids": rng.integers(0, 120, (3, length)).astype("int32"),
            "segment_ids": np.zeros((3, length), "int32"),
            "padding_mask": np.ones((3, length), "int32")}


def _weights(layer):
    return [np.asarray(w) for w in layer.get_weights()]


def test_layers_copy_the_chosen_teacher_layers_and_embeddings():
    teacher, student = _teacher(), _student(num_layers=2)
    message = init_student_from_teacher(student, teacher, "layers:1,3")
    assert "teacher layers [1, 3]" in message
    for target, source in ((0, 1), (1, 3)):
        for part in ("attention_sublayers", "feedforward_sublayers"):
            for a, b in zip(_weights(getattr(student.encoder, part)[target]),
                            _weights(getattr(teacher.encoder, part)[source])):
                np.testing.assert_array_equal(a, b)
    for a, b in zip(_weights(student.embeddings), _weights(teacher.embeddings)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_weights(student.pooler), _weights(teacher.pooler)):
        np.testing.assert_array_equal(a, b)


def test_a_student_of_the_first_layers_gives_the_teachers_hidden_states():
    teacher, student = _teacher(), _student(num_layers=2)
    init_student_from_teacher(student, teacher, "layers:0,1")
    inputs = _inputs()
    ours = student.compute_features(inputs, return_attention_scores=False)
    theirs = teacher.compute_features(inputs, return_attention_scores=False)
    for k in range(3):  # the embedding output and the two copied layers
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours["hidden_states"][k]),
                                   keras.ops.convert_to_numpy(theirs["hidden_states"][k]),
                                   atol=1e-5)


def test_a_shared_student_takes_one_teacher_layer_and_every_other_takes_0_2():
    teacher = _teacher()
    shared = _student(num_layers=3, sharing="all")
    init_student_from_teacher(shared, teacher, "layers:2")
    for a, b in zip(_weights(shared.encoder.attention_sublayers[0]),
                    _weights(teacher.encoder.attention_sublayers[2])):
        np.testing.assert_array_equal(a, b)
    half = _student(num_layers=2)
    assert "[0, 2]" in init_student_from_teacher(half, teacher, "every-other")
    for a, b in zip(_weights(half.encoder.feedforward_sublayers[1]),
                    _weights(teacher.encoder.feedforward_sublayers[2])):
        np.testing.assert_array_equal(a, b)


def test_a_classifier_student_gets_the_teachers_head():
    teacher = TextClassifier(_teacher(), num_classes=3)
    student = TextClassifier(_student(num_layers=2), num_classes=3)
    assert "output head" in init_student_from_teacher(student, teacher, "every-other")
    for a, b in zip(_weights(student.output_dense), _weights(teacher.output_dense)):
        np.testing.assert_array_equal(a, b)


def test_svd_table_reproduces_the_teachers_within_the_truncation_error():
    teacher, width = _teacher(), 6
    student = _student(embedding_dim=width, num_layers=2, sharing="all",
                       use_embedding_projection=None)
    message = init_student_from_teacher(student, teacher, "svd")
    assert "truncated SVD to E=6" in message and "teacher layers [0]" in message
    table = np.asarray(teacher.embeddings.token_embedding.embeddings, dtype="float64")
    u, s, vt = np.linalg.svd(table, full_matrices=False)
    reference = (u[:, :width] * s[:width]) @ vt[:width]
    gamma = np.asarray(teacher.embeddings.layer_norm.get_weights()[0], dtype="float64")
    kernel, bias = (np.asarray(w, dtype="float64") for w in
                    student.embeddings.projection.get_weights())
    # The projection is V_E^T, scaled by sqrt(H / E) and the teacher's gamma.
    directions = kernel / (np.sqrt(16 / width) * gamma[None, :])
    ours = np.asarray(student.embeddings.token_embedding.embeddings, "float64") @ directions
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(table - ours),
                               np.sqrt(np.sum(s[width:] ** 2)), rtol=1e-4)
    np.testing.assert_allclose(bias, teacher.embeddings.layer_norm.get_weights()[1],
                               atol=1e-7)


def test_svd_with_other_block_widths_starts_the_table_only():
    student = _student(embedding_dim=4, intermediate_dim=24, num_layers=1,
                       use_embedding_projection=None)
    message = init_student_from_teacher(student, _teacher(), "svd")
    assert "SVD" in message and "blocks" not in message


def test_pca_start_gives_the_principal_component_scores():
    teacher = CompactBackbone(vocabulary_size=200, num_layers=1, num_heads=2, hidden_dim=32,
                              intermediate_dim=64, embedding_dim=32, max_sequence_length=16,
                              use_embedding_projection=False)
    student = CompactBackbone(vocabulary_size=200, num_layers=1, num_heads=2, hidden_dim=16,
                              intermediate_dim=32, embedding_dim=8, max_sequence_length=8)
    init_student_from_teacher(student, teacher, "pca")
    table = np.asarray(teacher.token_embedding.embeddings, dtype="float64")
    scores = np.asarray(student.token_embedding.embeddings, dtype="float64")
    # Principal-component scores: uncorrelated, with the covariance's top
    # eigenvalues as variances (eigh of the covariance, not the SVD used).
    covariance = np.cov(scores, rowvar=False)
    top = np.sort(np.linalg.eigvalsh(np.cov(table, rowvar=False)))[::-1][:8]
    np.testing.assert_allclose(np.diag(covariance), top, rtol=1e-4)
    off_diagonal = covariance - np.diag(np.diag(covariance))
    assert np.abs(off_diagonal).max() < 1e-4 * top[0]


@pytest.mark.parametrize("spec, student, message", [
    ("layers:0,9", dict(num_layers=2), r"teacher layer 9 is out of range; the teacher has "
                                        r"layers 0\.\.3"),
    ("layers:0", dict(num_layers=2), "lists 1 teacher layers, but the student has 2"),
    ("layers:0,1", dict(num_layers=2, hidden_dim=8, num_heads=2),
     r"needs the teacher's hidden_dim \(16\), but the student has 8"),
    ("layers:0,a", dict(num_layers=2), "0-based teacher layer numbers"),
    ("svd", dict(embedding_dim=20, use_embedding_projection=None),
     r"E \(embedding_dim=20\) is above H=16"),
    ("svd", dict(hidden_dim=8, embedding_dim=4, use_embedding_projection=None),
     "needs the student's hidden_dim equal"),
    ("pca", dict(vocabulary_size=100), "needs the teacher's vocabulary"),
    ("copy", dict(), r"Unknown student_init='copy'; use one of random, layers:I,J"),
    ("every-other", dict(num_layers=3), "teacher layer 4 is out of range"),
])
def test_bad_specs_are_one_line_errors(spec, student, message):
    with pytest.raises(ValueError, match=message) as error:
        init_student_from_teacher(_student(**student), _teacher(), spec)
    assert "\n" not in str(error.value) and repr(spec)[1:-1] in str(error.value)
