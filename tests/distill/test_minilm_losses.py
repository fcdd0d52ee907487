"""MiniLM / MiniLMv2 relation losses and soft MLM targets against numpy,
with padding, different widths and different head counts."""

import numpy as np
import pytest
from keras import ops

from keras_compact.distill import losses
from tests.conftest import random_inputs
from tests.distill.loss_refs import normal, scalar, softmax

pytestmark = pytest.mark.multi_backend

RNG = np.random.default_rng(0)
MASK = random_inputs(batch=3, length=7)["padding_mask"]  # rows of 7, 5, 3 tokens


def _normal(*shape):
    return normal(RNG, *shape)


def _relation(a, b):
    """softmax(a b^T / sqrt(d)) over the real keys of one example, one head."""
    return softmax(a @ b.T / np.sqrt(a.shape[-1]))


def _mean_kl(student_rel, teacher_rel):
    """Per-example lists of (heads) relation matrices over real tokens ->
    KL(teacher || student) averaged over heads and real queries."""
    total, count = 0.0, 0
    for s_heads, t_heads in zip(student_rel, teacher_rel):
        for s, t in zip(s_heads, t_heads):
            total += (t * (np.log(t) - np.log(s))).sum()
            count += t.shape[0]
    return total / count


def _reference(student, teacher, pair, split=None):
    """student / teacher: (batch, seq, heads, d). pair: which two to relate."""
    s_rel, t_rel = [], []
    for b in range(student[0].shape[0]):
        n = MASK[b].sum()  # real tokens come first
        per_model = []
        for model in (student, teacher):
            x_a, x_b = model[pair[0]][b, :n], model[pair[1]][b, :n]
            if split:
                x_a = x_a.reshape(n, split, -1)  # concatenate heads, re-split
                x_b = x_b.reshape(n, split, -1)
            per_model.append([_relation(x_a[:, h], x_b[:, h])
                              for h in range(x_a.shape[1])])
        s_rel.append(per_model[0])
        t_rel.append(per_model[1])
    return _mean_kl(s_rel, t_rel)


def _qkv(heads, head_dim, batch=3, length=7):
    return tuple(_normal(batch, length, heads, head_dim) for _ in range(3))


def test_attention_distribution_kl_matches_numpy_with_padding_and_widths():
    student = _qkv(heads=4, head_dim=8)  # width 32
    teacher = _qkv(heads=4, head_dim=16)  # width 64
    expected = _reference(student, teacher, (0, 1))
    got = losses.attention_distribution_loss(
        student[0], student[1], teacher[0], teacher[1], MASK)
    np.testing.assert_allclose(scalar(got), expected, rtol=1e-5)
    # Padding changes nothing; identical inputs give 0.
    moved = [x.copy() for x in teacher]
    for x in moved:
        x[2, 3:] += 30.0
    np.testing.assert_allclose(scalar(losses.attention_distribution_loss(
        student[0], student[1], moved[0], moved[1], MASK)), expected, rtol=1e-5)
    assert abs(scalar(losses.attention_distribution_loss(
        teacher[0], teacher[1], teacher[0], teacher[1], MASK))) < 1e-6


def test_value_relation_kl_matches_numpy():
    student = _qkv(heads=2, head_dim=8)
    teacher = _qkv(heads=2, head_dim=24)
    expected = _reference(student, teacher, (2, 2))
    got = losses.value_relation_loss(student[2], teacher[2], MASK)
    np.testing.assert_allclose(scalar(got), expected, rtol=1e-5)


def test_minilm_losses_need_equal_heads():
    with pytest.raises(ValueError, match="4 heads and the teacher 12"):
        losses.value_relation_loss(_normal(3, 7, 4, 8), _normal(3, 7, 12, 8), MASK)


@pytest.mark.parametrize("student_heads,student_dim,teacher_heads,teacher_dim,split", [
    (4, 12, 12, 8, 12),  # widths 48 / 96, heads 4 / 12, 12 relation heads
    (2, 12, 6, 16, 8),  # widths 24 / 96, 8 relation heads
    (3, 8, 3, 8, 4),  # same model shape, relation heads != model heads
])
def test_minilmv2_relation_kl_any_heads_and_widths(student_heads, student_dim,
                                                   teacher_heads, teacher_dim, split):
    student = _qkv(student_heads, student_dim)
    teacher = _qkv(teacher_heads, teacher_dim)
    for index in range(3):  # Q-Q, K-K, V-V
        expected = _reference(student, teacher, (index, index), split=split)
        got = losses.relation_loss(student[index], teacher[index], split, MASK)
        np.testing.assert_allclose(scalar(got), expected, rtol=1e-5)
    # (batch, seq, width) inputs are the concatenated heads.
    flat_s = student[0].reshape(3, 7, -1)
    flat_t = teacher[0].reshape(3, 7, -1)
    np.testing.assert_allclose(
        scalar(losses.relation_loss(flat_s, flat_t, split, MASK)),
        _reference(student, teacher, (0, 0), split=split), rtol=1e-5)


def test_relation_loss_without_mask_counts_every_position():
    student, teacher = _normal(2, 5, 16), _normal(2, 5, 32)
    s = student.reshape(2, 5, 4, 4)
    t = teacher.reshape(2, 5, 4, 8)
    expected = np.mean([
        (_relation(t[b, :, h], t[b, :, h]) * (
            np.log(_relation(t[b, :, h], t[b, :, h]))
            - np.log(_relation(s[b, :, h], s[b, :, h])))).sum(-1).mean()
        for b in range(2) for h in range(4)])
    np.testing.assert_allclose(
        scalar(losses.relation_loss(student, teacher, 4)), expected, rtol=1e-5)


def test_relation_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="relation_heads=5 does not divide the width 32"):
        losses.relation_loss(_normal(2, 5, 32), _normal(2, 5, 40), 5)


def test_soft_target_loss_at_masked_positions():
    student, teacher = _normal(3, 4, 11), _normal(3, 4, 11)
    weights = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], "float32")
    t = 2.0
    targets = softmax(teacher / t)
    log_s = np.log(softmax(student / t))
    per = -(targets * log_s).sum(-1)
    expected = (per * weights).sum() / weights.sum()
    np.testing.assert_allclose(
        scalar(losses.soft_target_loss(student, teacher, t, weights)), expected,
        rtol=1e-5)


def test_relation_losses_are_float32_for_bfloat16():
    s = ops.cast(_normal(2, 5, 4, 8), "bfloat16")
    value = losses.relation_loss(s, s, 4, MASK[:2, :5])
    assert "float32" in str(ops.convert_to_tensor(value).dtype)
