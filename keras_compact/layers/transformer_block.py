"""Post-LayerNorm (BERT/ALBERT) transformer block and its two sublayers.

The block is split into an attention sublayer and a feed-forward sublayer so
that the encoder can share either one across layers independently, which is
what the ALBERT paper's "shared-attention" and "shared-FFN" ablations need.
"""

import keras

from keras_compact.layers.attention import ScoredMultiHeadAttention
from keras_compact.layers.initializers import truncated_normal

ACTIVATIONS = ("gelu", "gelu_approximate", "relu", "silu", "tanh")


def resolve_activation(name):
    """Maps a config string to a function; "gelu_approximate" is ALBERT's."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"Unknown activation={name!r}. Use one of {', '.join(ACTIVATIONS)}."
        )
    if name == "gelu_approximate":
        return lambda x: keras.activations.gelu(x, approximate=True)
    if name == "gelu":
        return lambda x: keras.activations.gelu(x, approximate=False)
    return keras.activations.get(name)


@keras.saving.register_keras_serializable(package="keras_compact")
class AttentionSublayer(keras.layers.Layer):
    """Self-attention, dropout, residual add, then LayerNorm.

    Args:
        num_heads: int. Number of heads; must divide the input width.
        dropout: float. Dropout on the attention output.
        attention_dropout: float. Dropout on the attention probabilities.
        layer_norm_epsilon: float. Epsilon of the LayerNorm.
        initializer_range: float. Stddev of the truncated normal initialiser.
        **kwargs: Standard `keras.layers.Layer` arguments.

    Example:
    ```python
    sublayer = AttentionSublayer(num_heads=4)
    y, scores = sublayer(
        np.random.rand(2, 8, 64).astype("float32"), return_scores=True
    )
    ```
    """

    def __init__(
        self,
        num_heads,
        dropout=0.0,
        attention_dropout=0.0,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"The hidden size ({hidden_dim}) must be divisible by the "
                f"number of attention heads (num_heads={self.num_heads}). "
                "Pick num_heads among the divisors of the hidden size."
            )
        policy = self.dtype_policy
        self.attention = ScoredMultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=hidden_dim // self.num_heads,
            dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
            dtype=policy,
            name="attention",
        )
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=policy, name="dropout"
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="layer_norm"
        )
        self.attention.build(input_shape)
        self.layer_norm.build(input_shape)
        self.built = True

    def call(self, x, padding_mask=None, training=None, return_scores=False,
             return_qkv=False):
        attended = self.attention(
            x,
            padding_mask=padding_mask,
            training=training,
            return_scores=return_scores,
            return_qkv=return_qkv,
        )
        extras = ()
        if return_scores or return_qkv:
            attended, *extras = attended
        attended = self.dropout_layer(attended, training=training)
        output = self.layer_norm(x + attended)
        return (output, *extras) if extras else output

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_compact")
class FeedForwardSublayer(keras.layers.Layer):
    """Dense H -> F, activation, Dense F -> H, dropout, residual, LayerNorm.

    Args:
        intermediate_dim: int. Width of the inner layer, F (4H in BERT).
        activation: str. One of "gelu", "gelu_approximate", "relu", "silu",
            "tanh".
        dropout: float. Dropout on the output.
        layer_norm_epsilon: float. Epsilon of the LayerNorm.
        initializer_range: float. Stddev of the truncated normal initialiser.
        **kwargs: Standard `keras.layers.Layer` arguments.

    Example:
    ```python
    sublayer = FeedForwardSublayer(intermediate_dim=256)
    y = sublayer(np.random.rand(2, 8, 64).astype("float32"))
    ```
    """

    def __init__(
        self,
        intermediate_dim,
        activation="gelu",
        dropout=0.0,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.activation_fn = resolve_activation(activation)
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        init = truncated_normal(self.initializer_range)
        policy = self.dtype_policy
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            kernel_initializer=init,
            dtype=policy,
            name="intermediate_dense",
        )
        self.output_dense = keras.layers.Dense(
            hidden_dim, kernel_initializer=init, dtype=policy, name="output_dense"
        )
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=policy, name="dropout"
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="layer_norm"
        )
        self.intermediate_dense.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.layer_norm.build(input_shape)
        self.built = True

    def call(self, x, training=None):
        h = self.activation_fn(self.intermediate_dense(x))
        h = self.dropout_layer(self.output_dense(h), training=training)
        return self.layer_norm(x + h)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_compact")
class TransformerBlock(keras.layers.Layer):
    """One post-LayerNorm transformer layer: attention then feed-forward.

    `call(..., return_attention_scores=True)` also returns the attention
    scores before the softmax, shape (batch, heads, queries, keys), which
    TinyBERT's attention loss compares between teacher and student;
    `return_qkv=True` also returns the dict of projected "queries", "keys"
    and "values" (batch, sequence, heads, key_dim) for MiniLM's relations.

    Args:
        num_heads: int. Number of attention heads.
        intermediate_dim: int. Width of the feed-forward inner layer.
        activation: str. Feed-forward activation name.
        dropout: float. Dropout on both sublayer outputs.
        attention_dropout: float or None. Dropout on attention probabilities;
            `None` means the same as `dropout`.
        layer_norm_epsilon: float. Epsilon of both LayerNorms.
        initializer_range: float. Stddev of the truncated normal initialiser.
        **kwargs: Standard `keras.layers.Layer` arguments.

    Example:
    ```python
    block = TransformerBlock(num_heads=4, intermediate_dim=256)
    x = np.random.rand(2, 8, 64).astype("float32")
    mask = np.array([[1] * 8, [1] * 5 + [0] * 3])
    y, scores = block(x, padding_mask=mask, return_attention_scores=True)
    ```
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        activation="gelu",
        dropout=0.0,
        attention_dropout=None,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = (
            dropout if attention_dropout is None else attention_dropout
        )
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.attention_sublayer = AttentionSublayer(
            num_heads=num_heads,
            dropout=dropout,
            attention_dropout=self.attention_dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range,
            dtype=self.dtype_policy,
            name="attention_sublayer",
        )
        self.feedforward_sublayer = FeedForwardSublayer(
            intermediate_dim=intermediate_dim,
            activation=activation,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range,
            dtype=self.dtype_policy,
            name="feedforward_sublayer",
        )

    def build(self, input_shape):
        self.attention_sublayer.build(input_shape)
        self.feedforward_sublayer.build(input_shape)
        self.built = True

    def call(
        self,
        x,
        padding_mask=None,
        training=None,
        return_attention_scores=False,
        return_qkv=False,
    ):
        return apply_transformer_layer(
            self.attention_sublayer,
            self.feedforward_sublayer,
            x,
            padding_mask=padding_mask,
            training=training,
            return_attention_scores=return_attention_scores,
            return_qkv=return_qkv,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config


def apply_transformer_layer(
    attention_sublayer,
    feedforward_sublayer,
    x,
    padding_mask=None,
    training=None,
    return_attention_scores=False,
    return_qkv=False,
):
    """Runs one transformer layer from its two (possibly shared) sublayers.

    Returns the output, or a tuple `(output, scores)`, `(output, qkv)` or
    `(output, scores, qkv)` for what was requested (qkv: dict of
    "queries", "keys", "values", each (batch, sequence, heads, key_dim)).
    """
    x = attention_sublayer(
        x,
        padding_mask=padding_mask,
        training=training,
        return_scores=return_attention_scores,
        return_qkv=return_qkv,
    )
    extras = ()
    if return_attention_scores or return_qkv:
        x, *extras = x
    x = feedforward_sublayer(x, training=training)
    return (x, *extras) if extras else x
