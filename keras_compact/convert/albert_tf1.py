"""Import google-research/albert TF1 checkpoints (needs TensorFlow).

The original ALBERT release (github.com/google-research/albert) ships
`albert_config.json` and a TF1 checkpoint (`model.ckpt-*.index` / `.data-*`).
Its variables, as created by that repository's `modeling.py` and
`run_pretraining.py`:

- `bert/embeddings/{word,position,token_type}_embeddings`,
  `bert/embeddings/LayerNorm/{gamma,beta}`
- `bert/encoder/embedding_hidden_mapping_in/{kernel,bias}` (only if E != H)
- `bert/encoder/transformer/group_{g}/inner_group_{i}/` +
  `attention_1/self/{query,key,value}/{kernel,bias}`,
  `attention_1/output/dense/{kernel,bias}`, `LayerNorm/{gamma,beta}`,
  `ffn_1/intermediate/dense/{kernel,bias}`,
  `ffn_1/intermediate/output/dense/{kernel,bias}`, `LayerNorm_1/{gamma,beta}`
- `bert/pooler/dense/{kernel,bias}`
- `cls/predictions/transform/dense/{kernel,bias}`,
  `cls/predictions/transform/LayerNorm/{gamma,beta}`,
  `cls/predictions/output_bias`
- `cls/seq_relationship/output_weights` (2, H), `cls/seq_relationship/output_bias`

Kernels are (inputs, outputs) like Keras; 3D attention kernels are stored
flattened, heads major. In that code "gelu" is the tanh approximation and
LayerNorm's epsilon is 1e-12. TF-Hub exports put everything under `module/`.
"""

import json

from keras_compact.convert.weight_layout import OPTIONAL_PREFIXES
from keras_compact.convert.weight_layout import assign_weights
from keras_compact.convert.weight_layout import backbone_slots
from keras_compact.convert.weight_layout import head_slots
from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.pretrainer import AlbertPretrainer

# google-research/albert's get_activation names -> CompactBackbone's.
ACTIVATIONS_FROM_TF1 = {
    "gelu": "gelu_approximate",
    "relu": "relu",
    "tanh": "tanh",
}
_PARAMETER_NAMES = ("kernel", "bias", "gamma", "beta", "output_weights",
                    "output_bias", "word_embeddings", "position_embeddings",
                    "token_type_embeddings")


def _pair(tf1_scope, neutral_name, names=("kernel", "bias")):
    return [
        (f"{tf1_scope}/{names[0]}", f"{neutral_name}.{names[0]}"),
        (f"{tf1_scope}/{names[1]}", f"{neutral_name}.{names[1]}"),
    ]


def _norm(tf1_scope, neutral_name):
    return _pair(tf1_scope, neutral_name, ("gamma", "beta"))


def _tf1_name_table(num_groups, inner_group_num):
    """[(TF1 variable name, neutral name)] of the backbone.

    Example:
    ```python
    dict(_tf1_name_table(1, 1))["bert/pooler/dense/kernel"]  # "pooler.kernel"
    ```
    """
    table = [
        ("bert/embeddings/word_embeddings", "embeddings.token"),
        ("bert/embeddings/position_embeddings", "embeddings.position"),
        ("bert/embeddings/token_type_embeddings", "embeddings.segment"),
    ]
    table += _norm("bert/embeddings/LayerNorm", "embeddings.norm")
    table += _pair("bert/encoder/embedding_hidden_mapping_in", "embeddings.projection")
    for group in range(num_groups):
        for inner in range(inner_group_num):
            scope = f"bert/encoder/transformer/group_{group}/inner_group_{inner}"
            block = f"block.{group * inner_group_num + inner}"
            for name in ("query", "key", "value"):
                table += _pair(f"{scope}/attention_1/self/{name}", f"{block}.{name}")
            table += _pair(
                f"{scope}/attention_1/output/dense", f"{block}.attention_output"
            )
            table += _norm(f"{scope}/LayerNorm", f"{block}.attention_norm")
            table += _pair(
                f"{scope}/ffn_1/intermediate/dense", f"{block}.intermediate"
            )
            table += _pair(
                f"{scope}/ffn_1/intermediate/output/dense", f"{block}.output"
            )
            table += _norm(f"{scope}/LayerNorm_1", f"{block}.output_norm")
    return table + _pair("bert/pooler/dense", "pooler")


def _tf1_head_table():
    """[(TF1 variable name, neutral name)] of the pretraining heads."""
    return (
        _pair("cls/predictions/transform/dense", "mlm.dense")
        + _norm("cls/predictions/transform/LayerNorm", "mlm.norm")
        + [
            ("cls/predictions/output_bias", "mlm.bias"),
            # (2, H): transposed relative to a Dense kernel.
            ("cls/seq_relationship/output_weights", "sentence.kernel"),
            ("cls/seq_relationship/output_bias", "sentence.bias"),
        ]
    )


def _backbone_config_from_tf1(config, source="albert_config.json"):
    """Maps google-research/albert's `albert_config.json` to backbone args.

    Raises:
        ValueError: naming the field and value that cannot be represented.

    Example:
    ```python
    kwargs = _backbone_config_from_tf1(json.load(open("albert_config.json")))
    ```
    """
    hidden_act = config.get("hidden_act", "gelu")
    if hidden_act not in ACTIVATIONS_FROM_TF1:
        raise ValueError(
            f"{source}: hidden_act={hidden_act!r} is not supported; use one "
            f"of {', '.join(ACTIVATIONS_FROM_TF1)}."
        )
    num_layers = config.get("num_hidden_layers", 12)
    num_groups = config.get("num_hidden_groups", 1)
    if not isinstance(num_groups, int) or num_groups < 1 or num_layers % num_groups:
        raise ValueError(
            f"{source}: num_hidden_groups={num_groups!r} does not divide "
            f"num_hidden_layers={num_layers}; CompactBackbone needs every group "
            "to cover the same number of layers."
        )
    if "vocab_size" not in config:
        raise ValueError(f"{source}: vocab_size is missing.")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=num_layers,
        num_heads=config.get("num_attention_heads", 64),
        hidden_dim=config.get("hidden_size", 4096),
        intermediate_dim=config.get("intermediate_size", 16384),
        embedding_dim=config.get("embedding_size", 128),
        sharing="all",
        num_hidden_groups=num_groups,
        inner_group_num=config.get("inner_group_num", 1),
        activation=ACTIVATIONS_FROM_TF1[hidden_act],
        dropout=float(config.get("hidden_dropout_prob", 0.0)),
        attention_dropout=float(config.get("attention_probs_dropout_prob", 0.0)),
        max_sequence_length=config.get("max_position_embeddings", 512),
        num_segments=config.get("type_vocab_size", 2),
        # tf.contrib.layers.layer_norm's fixed epsilon.
        layer_norm_epsilon=1e-12,
        initializer_range=float(config.get("initializer_range", 0.02)),
    )


def _read_checkpoint(checkpoint_prefix):
    """{variable name: numpy array}, without a TF-Hub "module/" prefix."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(checkpoint_prefix)
    names = reader.get_variable_to_shape_map()
    strip = "module/" if any(n.startswith("module/bert/") for n in names) else ""
    return {
        name[len(strip):]: reader.get_tensor(name)
        for name in names
        if name.startswith(strip)
    }


def from_albert_tf1_checkpoint(
    checkpoint_prefix, albert_config_json, with_heads=False, dtype=None
):
    """Builds a model from a google-research/albert TF1 checkpoint.

    Needs TensorFlow (it reads the checkpoint with `tf.train.load_checkpoint`);
    the model it returns works under any Keras backend. Optimizer slots and
    other variables outside the model are ignored.

    Args:
        checkpoint_prefix: str. The checkpoint prefix (e.g.
            "albert_base/model.ckpt-best") or its directory.
        albert_config_json: path of the release's `albert_config.json`, or
            the parsed dict.
        with_heads: bool. Return an `AlbertPretrainer` with the MLM and SOP
            heads (`cls/...`) instead of the backbone.
        dtype: optional dtype policy of the new model.

    Returns:
        A `CompactBackbone`, or an `AlbertPretrainer` when `with_heads`.

    Raises:
        ValueError: an unsupported config value (named), or missing,
            unexpected or mis-shaped weights.

    Example:
    ```python
    backbone = from_albert_tf1_checkpoint(
        "albert_base/model.ckpt-best", "albert_base/albert_config.json"
    )
    ```
    """
    source = "albert_config"
    if not isinstance(albert_config_json, dict):
        source = str(albert_config_json)
        with open(albert_config_json, encoding="utf-8") as handle:
            albert_config_json = json.load(handle)
    kwargs = _backbone_config_from_tf1(albert_config_json, source=source)
    variables = _read_checkpoint(checkpoint_prefix)
    table = _tf1_name_table(kwargs["num_hidden_groups"], kwargs["inner_group_num"])
    # The release's code maps E -> H only when the widths differ.
    kwargs["use_embedding_projection"] = (
        "bert/encoder/embedding_hidden_mapping_in/kernel" in variables
        or kwargs["embedding_dim"] != kwargs["hidden_dim"]
    )
    known = {name for name, _ in table}
    unexpected = sorted(
        name for name in variables
        if name.startswith("bert/")
        and name.rsplit("/", 1)[-1] in _PARAMETER_NAMES
        and name not in known
    )
    if unexpected:
        raise ValueError(
            f"{checkpoint_prefix}: variables {', '.join(unexpected)} do not fit "
            f"the architecture in {source}."
        )
    backbone = CompactBackbone(**kwargs, dtype=dtype)
    sources = {neutral: name for name, neutral in table}
    assign_weights(
        backbone_slots(backbone),
        {neutral: variables[name] for name, neutral in table if name in variables},
        describe=lambda neutral: sources.get(neutral, neutral),
        optional_prefixes=OPTIONAL_PREFIXES,
    )
    if not with_heads:
        return backbone

    heads = {
        neutral: variables[name]
        for name, neutral in _tf1_head_table()
        if name in variables
    }
    if "sentence.kernel" in heads:
        heads["sentence.kernel"] = heads["sentence.kernel"].T
    sources = {neutral: name for name, neutral in _tf1_head_table()}
    pretrainer = AlbertPretrainer(backbone, sentence_task="sop")
    assign_weights(
        head_slots(pretrainer),
        heads,
        describe=lambda neutral: sources.get(neutral, neutral),
    )
    return pretrainer
