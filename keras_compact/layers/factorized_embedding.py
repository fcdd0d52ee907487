"""ALBERT's factorized embedding: a V x E token table projected to H."""

import keras
from keras_hub.layers import PositionEmbedding

from keras_compact.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="keras_compact")
class FactorizedEmbedding(keras.layers.Layer):
    """Token, position and segment embeddings of size E, then E -> H.

    Token ids look up a V x E table (a `keras.layers.ReversibleEmbedding`, so
    an MLM head can reuse it as its output projection); position and segment
    embeddings of size E are added; LayerNorm and dropout follow; a Dense
    layer projects E -> H. This cuts embedding parameters from O(V*H) to
    O(V*E + E*H). With E == H (BERT) the projection is skipped unless
    `use_projection=True`.

    Args:
        vocabulary_size: int. Number of token ids, V.
        embedding_dim: int. Width of the token table, E.
        hidden_dim: int. Width of the transformer, H.
        max_sequence_length: int. Number of learned positions.
        num_segments: int. Number of segment (token type) ids.
        dropout: float. Dropout rate after the LayerNorm.
        layer_norm_epsilon: float. Epsilon of the LayerNorm.
        use_projection: bool or None. Whether to apply the E -> H Dense.
            `None` means "only when E != H".
        initializer_range: float. Stddev of the truncated normal initialiser.
        **kwargs: Standard `keras.layers.Layer` arguments.

    Example:
    ```python
    layer = FactorizedEmbedding(
        vocabulary_size=30000, embedding_dim=128, hidden_dim=768
    )
    x = layer(np.ones((2, 16), "int32"), np.zeros((2, 16), "int32"))
    # x.shape == (2, 16, 768)
    ```
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        hidden_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.0,
        layer_norm_epsilon=1e-12,
        use_projection=None,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value in (
            ("vocabulary_size", vocabulary_size),
            ("embedding_dim", embedding_dim),
            ("hidden_dim", hidden_dim),
            ("max_sequence_length", max_sequence_length),
            ("num_segments", num_segments),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{arg}` must be a positive integer, got {arg}={value!r}."
                )
        if use_projection is None:
            use_projection = embedding_dim != hidden_dim
        if not use_projection and embedding_dim != hidden_dim:
            raise ValueError(
                "Without a projection the embedding width must equal the "
                f"hidden width, got embedding_dim={embedding_dim} and "
                f"hidden_dim={hidden_dim}. Set use_projection=True (or None) "
                "or make them equal."
            )
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.use_projection = bool(use_projection)
        self.initializer_range = initializer_range

        init = truncated_normal(initializer_range)
        policy = self.dtype_policy
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=init,
            dtype=policy,
            name="token_embedding",
        )
        self.position_embedding = PositionEmbedding(
            sequence_length=max_sequence_length,
            initializer=init,
            dtype=policy,
            name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments,
            embedding_dim,
            embeddings_initializer=init,
            dtype=policy,
            name="segment_embedding",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="layer_norm"
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=policy, name="dropout"
        )
        self.projection = None
        if self.use_projection:
            self.projection = keras.layers.Dense(
                hidden_dim,
                kernel_initializer=init,
                dtype=policy,
                name="projection",
            )

    def build(self, token_ids_shape, segment_ids_shape=None):
        embedded_shape = tuple(token_ids_shape) + (self.embedding_dim,)
        self.token_embedding.build(token_ids_shape)
        self.position_embedding.build(embedded_shape)
        self.segment_embedding.build(token_ids_shape)
        self.layer_norm.build(embedded_shape)
        if self.projection is not None:
            self.projection.build(embedded_shape)
        self.built = True

    def call(self, token_ids, segment_ids=None, training=None):
        tokens = self.token_embedding(token_ids)
        x = tokens + self.position_embedding(tokens)
        if segment_ids is None:
            segment_ids = keras.ops.zeros_like(token_ids)
        x = x + self.segment_embedding(segment_ids)
        x = self.layer_norm(x)
        x = self.dropout_layer(x, training=training)
        if self.projection is not None:
            x = self.projection(x)
        return x

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "use_projection": self.use_projection,
                "initializer_range": self.initializer_range,
            }
        )
        return config
