"""Multi-head self-attention that can hand back its pre-softmax scores."""

import math

import keras
from keras import ops

from keras_compact.layers.initializers import truncated_normal

# Added to the scores of padded keys before the softmax (in float32).
_MASK_ADDER = -1e9


def _qkv(query, key, value):
    # Projections as computed for the attention itself: no extra work.
    return {"queries": query, "keys": key, "values": value}


@keras.saving.register_keras_serializable(package="keras_compact")
class ScoredMultiHeadAttention(keras.layers.Layer):
    """Self-attention returning, on request, the scores before the softmax.

    Written here rather than taken from `keras.layers.MultiHeadAttention` or
    keras-hub's `CachedMultiHeadAttention` because those return at most the
    post-softmax probabilities, and TinyBERT distils the unnormalised scores
    `Q K^T / sqrt(d)`. The weight layout matches keras-hub's (query, key and
    value kernels of shape (H, heads, head_dim), output kernel of shape
    (heads, head_dim, H)) so checkpoints convert one to one.

    When the scores are not requested and no attention dropout is active, the
    layer calls `keras.ops.dot_product_attention`, which each backend lowers to
    its fused kernel. `return_qkv=True` also hands back the projected queries,
    keys and values, each (batch, sequence, heads, key_dim), which MiniLM's
    relation losses need; they are the tensors the attention uses anyway, so
    asking for them keeps the fused path and adds no computation. Call
    outputs: `output`, then `scores` if `return_scores`, then the dict
    {"queries", "keys", "values"} if `return_qkv` (a tuple when either is on).

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Width of one head.
        dropout: float. Dropout rate on the attention probabilities.
        initializer_range: float. Stddev of the truncated normal initialiser.
        **kwargs: Standard `keras.layers.Layer` arguments.

    Example:
    ```python
    attention = ScoredMultiHeadAttention(num_heads=12, key_dim=64)
    x = np.random.rand(2, 16, 768).astype("float32")
    mask = np.ones((2, 16), "int32")
    output, scores = attention(x, padding_mask=mask, return_scores=True)
    # output.shape == (2, 16, 768); scores.shape == (2, 12, 16, 16)
    ```
    """

    def __init__(
        self, num_heads, key_dim, dropout=0.0, initializer_range=0.02, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.initializer_range = initializer_range
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="attention_dropout"
        )

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        init = truncated_normal(self.initializer_range)
        policy = self.dtype_policy

        def projection(name):
            return keras.layers.EinsumDense(
                "btc,cnd->btnd",
                output_shape=(None, self.num_heads, self.key_dim),
                bias_axes="nd",
                kernel_initializer=init,
                dtype=policy,
                name=name,
            )

        self.query_dense = projection("query")
        self.key_dense = projection("key")
        self.value_dense = projection("value")
        self.output_dense = keras.layers.EinsumDense(
            "btnd,ndc->btc",
            output_shape=(None, hidden_dim),
            bias_axes="c",
            kernel_initializer=init,
            dtype=policy,
            name="attention_output",
        )
        for layer in (self.query_dense, self.key_dense, self.value_dense):
            layer.build(input_shape)
        heads_shape = tuple(input_shape[:-1]) + (self.num_heads, self.key_dim)
        self.output_dense.build(heads_shape)
        self.built = True

    def call(
        self, x, padding_mask=None, training=None, return_scores=False,
        return_qkv=False,
    ):
        query = self.query_dense(x)
        key = self.key_dense(x)
        value = self.value_dense(x)
        scale = 1.0 / math.sqrt(self.key_dim)
        key_mask = None
        if padding_mask is not None:
            # (batch, keys) -> (batch, 1, 1, keys): every head and query.
            key_mask = ops.cast(padding_mask, "bool")[:, None, None, :]

        dropout_active = training and self.dropout > 0
        if not return_scores and not dropout_active:
            context = ops.dot_product_attention(
                query, key, value, mask=key_mask, scale=scale
            )
            output = self.output_dense(context)
            if return_qkv:
                return output, _qkv(query, key, value)
            return output

        scores = ops.einsum("btnd,bsnd->bnts", query * scale, key)
        logits = ops.cast(scores, "float32")
        if key_mask is not None:
            logits = ops.where(key_mask, logits, _MASK_ADDER)
        probs = ops.cast(ops.softmax(logits, axis=-1), self.compute_dtype)
        probs = self.dropout_layer(probs, training=training)
        context = ops.einsum("bnts,bsnd->btnd", probs, value)
        output = self.output_dense(context)
        extras = (scores,) if return_scores else ()
        if return_qkv:
            extras += (_qkv(query, key, value),)
        return (output, *extras) if extras else output

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "dropout": self.dropout,
                "initializer_range": self.initializer_range,
            }
        )
        return config
