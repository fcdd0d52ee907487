"""Each distillation loss against a direct numpy computation."""

import numpy as np
import pytest
from keras import ops

from keras_compact.distill import losses
from tests.conftest import random_inputs
from tests.distill.loss_refs import log_softmax, normal, scalar

pytestmark = pytest.mark.multi_backend

RNG = np.random.default_rng(0)
MASK = random_inputs(batch=3, length=6)["padding_mask"]  # rows of 6, 4, 3 tokens


def _pair(*shape):
    return normal(RNG, *shape), normal(RNG, *shape)


def test_mask_has_padding():
    assert MASK.sum(1).tolist() == [6, 4, 3]


def test_hidden_and_embedding_loss_without_mask_count_every_position():
    s, t = _pair(3, 6, 5)
    expected = np.mean((s - t) ** 2)
    np.testing.assert_allclose(scalar(losses.hidden_loss(s, t)), expected, rtol=1e-5)
    np.testing.assert_allclose(scalar(losses.embedding_loss(s, t)), expected, rtol=1e-5)


def test_hidden_loss_with_mask_averages_over_real_tokens():
    s, t = _pair(3, 6, 5)
    real = MASK.astype(bool)
    expected = np.mean((s[real] - t[real]) ** 2)
    got = scalar(losses.hidden_loss(s, t, MASK))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Changing padded positions changes nothing.
    t2 = t.copy()
    t2[~real] += 100.0
    np.testing.assert_allclose(scalar(losses.hidden_loss(s, t2, MASK)), got, rtol=1e-5)
    np.testing.assert_allclose(
        scalar(losses.embedding_loss(s, t2, MASK)), got, rtol=1e-5
    )


def test_attention_loss_is_head_mean_of_mse_over_real_pairs():
    heads = 2
    s, t = _pair(3, heads, 6, 6)
    per_head = []
    for h in range(heads):
        squared = []
        for b in range(3):
            n = MASK[b].sum()  # real tokens come first
            squared.append(((s[b, h, :n, :n] - t[b, h, :n, :n]) ** 2).ravel())
        per_head.append(np.concatenate(squared).mean())
    expected = np.mean(per_head)  # (1/h) * sum over heads
    got = scalar(losses.attention_loss(s, t, MASK))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Padded queries and keys are both excluded.
    t2 = t.copy()
    t2[1, :, 4:, :] += 50.0
    t2[2, :, :, 3:] -= 50.0
    np.testing.assert_allclose(
        scalar(losses.attention_loss(s, t2, MASK)), got, rtol=1e-5
    )
    np.testing.assert_allclose(
        scalar(losses.attention_loss(s, t)), np.mean((s - t) ** 2), rtol=1e-5
    )


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_prediction_loss_is_soft_cross_entropy(temperature):
    s, t = _pair(4, 3)
    targets = np.exp(log_softmax(t / temperature))
    expected = np.mean(-(targets * log_softmax(s / temperature)).sum(-1))
    got = scalar(losses.prediction_loss(s, t, temperature))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Minimised (equal to the teacher's entropy) when the logits agree.
    entropy = np.mean(-(targets * np.log(targets)).sum(-1))
    np.testing.assert_allclose(
        scalar(losses.prediction_loss(t, t, temperature)), entropy, rtol=1e-5
    )


def test_prediction_loss_rejects_bad_temperature():
    s, t = _pair(2, 3)
    with pytest.raises(ValueError, match="temperature=0"):
        losses.prediction_loss(s, t, temperature=0)


def test_cosine_hidden_loss_over_real_tokens():
    s, t = _pair(3, 6, 5)
    cosine = (s * t).sum(-1) / (np.linalg.norm(s, axis=-1) * np.linalg.norm(t, axis=-1))
    real = MASK.astype(bool)
    np.testing.assert_allclose(
        scalar(losses.cosine_hidden_loss(s, t, MASK)),
        np.mean(1 - cosine[real]),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        scalar(losses.cosine_hidden_loss(s, t)), np.mean(1 - cosine), rtol=1e-5
    )
    # Scale-invariant, and zero for parallel vectors.
    np.testing.assert_allclose(
        scalar(losses.cosine_hidden_loss(3.0 * t, t, MASK)), 0.0, atol=1e-6
    )


def test_losses_are_float32_for_low_precision_inputs():
    s, t = _pair(2, 4, 8)
    s16, t16 = ops.cast(s, "bfloat16"), ops.cast(t, "bfloat16")
    for value in (
        losses.hidden_loss(s16, t16, MASK[:2, :4]),
        losses.cosine_hidden_loss(s16, t16, MASK[:2, :4]),
        losses.prediction_loss(s16[:, 0], t16[:, 0]),
    ):
        assert "float32" in str(ops.convert_to_tensor(value).dtype)
