"""Copy weights from keras-hub's `AlbertBackbone` / `BertBackbone`.

Both keras-hub backbones use the same post-LayerNorm `TransformerEncoder` and
the same einsum attention layout as `ScoredMultiHeadAttention`, so every
weight copies over as it is; only the names differ.
"""

import keras_hub

from keras_compact.models.backbone import CompactBackbone


def _config_from_keras_hub(source):
    is_albert = isinstance(source, keras_hub.models.AlbertBackbone)
    if not (is_albert or isinstance(source, keras_hub.models.BertBackbone)):
        raise ValueError(
            f"Cannot convert a {type(source).__name__}: from_keras_hub takes a "
            "keras_hub.models.AlbertBackbone or keras_hub.models.BertBackbone."
        )
    config = dict(
        vocabulary_size=source.vocabulary_size,
        num_layers=source.num_layers,
        num_heads=source.num_heads,
        hidden_dim=source.hidden_dim,
        intermediate_dim=source.intermediate_dim,
        # keras-hub's TransformerEncoder uses the tanh approximation.
        activation="gelu_approximate",
        dropout=source.dropout,
        max_sequence_length=source.max_sequence_length,
        num_segments=source.num_segments,
        layer_norm_epsilon=1e-12,
    )
    if is_albert:
        return dict(
            config,
            embedding_dim=source.embedding_dim,
            sharing="all",
            num_hidden_groups=source.num_groups,
            inner_group_num=source.num_inner_repetitions,
            use_embedding_projection=True,
        )
    return dict(config, sharing="none", use_embedding_projection=False)


def _copy(target_layer, source_layer):
    target_layer.set_weights(source_layer.get_weights())


def _copy_transformer_encoder(source, attention_sublayer, feedforward_sublayer):
    """One keras-hub TransformerEncoder -> our two sublayers."""
    source_attention = source._self_attention_layer
    target_attention = attention_sublayer.attention
    _copy(target_attention.query_dense, source_attention._query_dense)
    _copy(target_attention.key_dense, source_attention._key_dense)
    _copy(target_attention.value_dense, source_attention._value_dense)
    _copy(target_attention.output_dense, source_attention._output_dense)
    _copy(attention_sublayer.layer_norm, source._self_attention_layer_norm)
    _copy(
        feedforward_sublayer.intermediate_dense,
        source._feedforward_intermediate_dense,
    )
    _copy(feedforward_sublayer.output_dense, source._feedforward_output_dense)
    _copy(feedforward_sublayer.layer_norm, source._feedforward_layer_norm)


def from_keras_hub(source, dtype=None):
    """Builds a `CompactBackbone` carrying the weights of a keras-hub backbone.

    Args:
        source: a `keras_hub.models.AlbertBackbone` (groups and inner
            repetitions included) or `keras_hub.models.BertBackbone`.
        dtype: optional dtype policy of the new backbone.

    Returns:
        A `CompactBackbone` whose outputs equal the source's.

    Example:
    ```python
    hub = keras_hub.models.AlbertBackbone(
        vocabulary_size=1000, num_layers=4, num_heads=4, embedding_dim=32,
        hidden_dim=64, intermediate_dim=256, num_groups=2,
    )
    backbone = from_keras_hub(hub)
    ```
    """
    config = _config_from_keras_hub(source)
    target = CompactBackbone(**config, dtype=dtype)
    embeddings = target.embeddings
    _copy(embeddings.token_embedding, source.token_embedding)
    _copy(embeddings.position_embedding, source.position_embedding)
    _copy(embeddings.segment_embedding, source.segment_embedding)
    _copy(embeddings.layer_norm, source.embeddings_layer_norm)
    encoder = target.encoder
    if isinstance(source, keras_hub.models.AlbertBackbone):
        _copy(embeddings.projection, source.embeddings_projection)
        # keras-hub: transformer_layers[group][inner]; ours: flat list of
        # shared units, index group * inner_group_num + inner.
        for group, inner_layers in enumerate(source.transformer_layers):
            for inner, layer in enumerate(inner_layers):
                unit = group * source.num_inner_repetitions + inner
                _copy_transformer_encoder(
                    layer,
                    encoder.attention_sublayers[unit],
                    encoder.feedforward_sublayers[unit],
                )
    else:
        for index, layer in enumerate(source.transformer_layers):
            _copy_transformer_encoder(
                layer,
                encoder.attention_sublayers[index],
                encoder.feedforward_sublayers[index],
            )
    _copy(target.pooler, source.pooled_dense)
    return target
