"""Hugging Face ALBERT / BERT `config.json` <-> `CompactBackbone` arguments.

Which transformers config fields map to which backbone argument, the class
defaults for fields a config.json omits, and the layout (BERT, or ALBERT with
its number of groups) a backbone exports as. Weight names live in
`keras_compact.convert.huggingface`.
"""

from keras_compact.convert.weight_layout import num_blocks

# transformers' ACT2FN name -> CompactBackbone activation. "gelu_new",
# "gelu_fast" and "gelu_pytorch_tanh" are all the tanh approximation.
ACTIVATIONS_FROM_HF = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_fast": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
}
ACTIVATIONS_TO_HF = {
    "gelu": "gelu",
    "gelu_approximate": "gelu_new",
    "relu": "relu",
    "silu": "silu",
    "tanh": "tanh",
}

# Class defaults of transformers' configs, for fields a config.json omits.
_HF_DEFAULTS = {
    "albert": dict(
        vocab_size=30000,
        embedding_size=128,
        hidden_size=4096,
        num_hidden_layers=12,
        num_hidden_groups=1,
        num_attention_heads=64,
        intermediate_size=16384,
        inner_group_num=1,
        hidden_act="gelu_new",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
    ),
    "bert": dict(
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
    ),
}

def _field(config, model_type, name):
    return config.get(name, _HF_DEFAULTS[model_type].get(name))


def backbone_config_from_hf(config, source="config.json"):
    """Maps a Hugging Face ALBERT/BERT config dict to `CompactBackbone` args.

    Args:
        config: the parsed config.json.
        source: where it came from, for error messages.

    Returns:
        dict of `CompactBackbone` keyword arguments.

    Raises:
        ValueError: naming the config field and value that cannot be
            represented.

    Example:
    ```python
    kwargs = backbone_config_from_hf({"model_type": "bert", "hidden_size": 64,
                                      "num_attention_heads": 2})
    kwargs["sharing"]  # "none"
    ```
    """
    model_type = config.get("model_type")
    if model_type not in _HF_DEFAULTS:
        raise ValueError(
            f"{source}: model_type={model_type!r} is not supported; "
            "from_huggingface reads 'albert' and 'bert' checkpoints."
        )
    position = config.get("position_embedding_type", "absolute")
    if position != "absolute":
        raise ValueError(
            f"{source}: position_embedding_type={position!r} is not supported; "
            "CompactBackbone has learned absolute positions only."
        )
    for flag in ("is_decoder", "add_cross_attention"):
        if config.get(flag):
            raise ValueError(
                f"{source}: {flag}={config[flag]!r} is not supported; "
                "CompactBackbone is a bidirectional encoder without "
                "cross-attention."
            )
    hidden_act = _field(config, model_type, "hidden_act")
    if hidden_act not in ACTIVATIONS_FROM_HF:
        raise ValueError(
            f"{source}: hidden_act={hidden_act!r} is not supported; use one of "
            f"{', '.join(sorted(ACTIVATIONS_FROM_HF))}."
        )
    type_vocab_size = _field(config, model_type, "type_vocab_size")
    if not isinstance(type_vocab_size, int) or type_vocab_size < 1:
        raise ValueError(
            f"{source}: type_vocab_size={type_vocab_size!r} is not supported; "
            "CompactBackbone needs at least one segment embedding."
        )
    num_layers = _field(config, model_type, "num_hidden_layers")
    kwargs = dict(
        vocabulary_size=_field(config, model_type, "vocab_size"),
        num_layers=num_layers,
        num_heads=_field(config, model_type, "num_attention_heads"),
        hidden_dim=_field(config, model_type, "hidden_size"),
        intermediate_dim=_field(config, model_type, "intermediate_size"),
        activation=ACTIVATIONS_FROM_HF[hidden_act],
        dropout=float(_field(config, model_type, "hidden_dropout_prob")),
        attention_dropout=float(
            _field(config, model_type, "attention_probs_dropout_prob")
        ),
        max_sequence_length=_field(config, model_type, "max_position_embeddings"),
        num_segments=type_vocab_size,
        layer_norm_epsilon=float(_field(config, model_type, "layer_norm_eps")),
        initializer_range=float(_field(config, model_type, "initializer_range")),
    )
    if model_type == "bert":
        return dict(kwargs, sharing="none", embedding_dim=None,
                    use_embedding_projection=False)
    num_groups = _field(config, model_type, "num_hidden_groups")
    if not isinstance(num_groups, int) or num_groups < 1 or num_layers % num_groups:
        raise ValueError(
            f"{source}: num_hidden_groups={num_groups!r} does not divide "
            f"num_hidden_layers={num_layers}; CompactBackbone needs every group "
            "to cover the same number of layers."
        )
    return dict(
        kwargs,
        sharing="all",
        embedding_dim=_field(config, model_type, "embedding_size"),
        num_hidden_groups=num_groups,
        inner_group_num=_field(config, model_type, "inner_group_num"),
        # HF ALBERT always maps E -> H, even when E == H.
        use_embedding_projection=True,
    )


def hf_layout(backbone):
    """(model_type, num_hidden_groups) a backbone exports as.

    sharing="none" without projection and with one block per layer is BERT;
    everything else that pairs sublayers into blocks is ALBERT, sharing="none"
    becoming one group per layer.

    Raises:
        ValueError: for sharing "attention" / "ffn".
    """
    num_blocks(backbone)  # Rejects sharing modes HF cannot hold.
    if (
        backbone.sharing == "none"
        and not backbone.use_embedding_projection
        and backbone.inner_group_num == 1
    ):
        return "bert", backbone.num_layers
    if backbone.sharing == "none":
        return "albert", backbone.num_layers
    return "albert", backbone.num_hidden_groups


def hf_config_from_backbone(backbone, model_type, num_groups, architecture):
    """The config.json dict for `backbone` exported as `model_type`."""
    if backbone.activation not in ACTIVATIONS_TO_HF:
        raise ValueError(
            f"activation={backbone.activation!r} has no Hugging Face "
            f"equivalent; use one of {', '.join(ACTIVATIONS_TO_HF)}."
        )
    config = {
        "architectures": [architecture],
        "model_type": model_type,
        "vocab_size": backbone.vocabulary_size,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": ACTIVATIONS_TO_HF[backbone.activation],
        "hidden_dropout_prob": backbone.dropout,
        "attention_probs_dropout_prob": backbone.attention_dropout,
        "max_position_embeddings": backbone.max_sequence_length,
        "type_vocab_size": backbone.num_segments,
        "initializer_range": backbone.initializer_range,
        "layer_norm_eps": backbone.layer_norm_epsilon,
        "tie_word_embeddings": True,
        "dtype": "float32",
    }
    if model_type == "albert":
        config.update(
            embedding_size=backbone.embedding_dim,
            num_hidden_groups=num_groups,
            inner_group_num=backbone.inner_group_num,
        )
    return config
