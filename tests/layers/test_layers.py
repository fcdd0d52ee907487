import keras
import numpy as np
import pytest
from keras import ops

from keras_compact.layers import FactorizedEmbedding
from keras_compact.layers import ScoredMultiHeadAttention
from keras_compact.layers import TransformerBlock
from tests.harness import check_layer_serialization

pytestmark = pytest.mark.multi_backend


def test_factorized_embedding_projects_to_hidden():
    layer = FactorizedEmbedding(
        vocabulary_size=50, embedding_dim=8, hidden_dim=24, max_sequence_length=16
    )
    ids = np.arange(20, dtype="int32").reshape(2, 10)
    out = layer(ids, np.zeros_like(ids))
    assert tuple(out.shape) == (2, 10, 24)
    assert tuple(layer.token_embedding.embeddings.shape) == (50, 8)
    assert tuple(layer.projection.kernel.shape) == (8, 24)
    # V*E + P*E + S*E + LayerNorm + E*H + H
    assert layer.count_params() == 50 * 8 + 16 * 8 + 2 * 8 + 2 * 8 + 8 * 24 + 24
    check_layer_serialization(layer, (ids, np.zeros_like(ids)))


def test_factorized_embedding_skips_projection_when_widths_match():
    layer = FactorizedEmbedding(vocabulary_size=50, embedding_dim=24, hidden_dim=24)
    layer(np.ones((1, 4), "int32"))
    assert layer.projection is None
    kept = FactorizedEmbedding(
        vocabulary_size=50, embedding_dim=24, hidden_dim=24, use_projection=True
    )
    kept(np.ones((1, 4), "int32"))
    assert kept.projection is not None


def test_factorized_embedding_rejects_missing_projection():
    with pytest.raises(ValueError, match="embedding_dim=8 and hidden_dim=24"):
        FactorizedEmbedding(
            vocabulary_size=50, embedding_dim=8, hidden_dim=24, use_projection=False
        )


def _explicit_attention(layer, x, mask):
    """Direct numpy attention from the layer's weights."""
    wq, bq = [np.asarray(w) for w in layer.query_dense.weights]
    wk, bk = [np.asarray(w) for w in layer.key_dense.weights]
    wv, bv = [np.asarray(w) for w in layer.value_dense.weights]
    wo, bo = [np.asarray(w) for w in layer.output_dense.weights]
    q = np.einsum("btc,cnd->btnd", x, wq) + bq
    k = np.einsum("btc,cnd->btnd", x, wk) + bk
    v = np.einsum("btc,cnd->btnd", x, wv) + bv
    scores = np.einsum("btnd,bsnd->bnts", q, k) / np.sqrt(q.shape[-1])
    logits = np.where(mask[:, None, None, :] > 0, scores, -1e9)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = np.einsum("bnts,bsnd->btnd", probs, v)
    return np.einsum("btnd,ndc->btc", context, wo) + bo, scores


def test_attention_scores_are_pre_softmax_and_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 16)).astype("float32")
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2], "int32")
    layer = ScoredMultiHeadAttention(num_heads=4, key_dim=4)
    output, scores = layer(x, padding_mask=mask, return_scores=True)
    expected_output, expected_scores = _explicit_attention(layer, x, mask)
    assert tuple(scores.shape) == (2, 4, 6, 6)
    np.testing.assert_allclose(ops.convert_to_numpy(scores), expected_scores, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(output), expected_output, atol=1e-5)
    # The fused path (no scores requested) computes the same output.
    fused = layer(x, padding_mask=mask)
    np.testing.assert_allclose(
        ops.convert_to_numpy(fused), expected_output, atol=1e-5
    )


def test_block_ignores_padded_positions():
    rng = np.random.default_rng(1)
    block = TransformerBlock(num_heads=2, intermediate_dim=32)
    x = rng.normal(size=(1, 8, 16)).astype("float32")
    mask = np.array([[1] * 5 + [0] * 3], "int32")
    y1 = ops.convert_to_numpy(block(x, padding_mask=mask))
    x2 = x.copy()
    x2[:, 5:] = rng.normal(size=(1, 3, 16))
    y2 = ops.convert_to_numpy(block(x2, padding_mask=mask))
    np.testing.assert_allclose(y1[:, :5], y2[:, :5], atol=1e-5)


def test_block_returns_scores_and_round_trips_config():
    block = TransformerBlock(num_heads=2, intermediate_dim=32, dropout=0.1)
    x = np.random.rand(2, 5, 16).astype("float32")
    y, scores = block(x, return_attention_scores=True)
    assert tuple(y.shape) == (2, 5, 16)
    assert tuple(scores.shape) == (2, 2, 5, 5)
    check_layer_serialization(block, x, padding_mask=np.array([[1] * 5, [1] * 3 + [0] * 2]))


def test_block_rejects_heads_that_do_not_divide_width():
    block = TransformerBlock(num_heads=5, intermediate_dim=32)
    with pytest.raises(ValueError, match="hidden size \\(16\\).*num_heads=5"):
        block(np.zeros((1, 3, 16), "float32"))


def test_dropout_only_in_training():
    block = TransformerBlock(num_heads=2, intermediate_dim=32, dropout=0.5)
    x = np.random.rand(2, 5, 16).astype("float32")
    a = ops.convert_to_numpy(block(x, training=False))
    b = ops.convert_to_numpy(block(x, training=False))
    np.testing.assert_array_equal(a, b)
    c = ops.convert_to_numpy(block(x, training=True))
    assert np.abs(a - c).max() > 1e-3
    assert keras.backend.backend() in ("tensorflow", "jax", "torch")
