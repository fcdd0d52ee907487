"""Import and export Hugging Face ALBERT and BERT checkpoints.

A checkpoint is a directory with `config.json` and `model.safetensors` (or
`pytorch_model.bin`, read only when torch is installed). Weights go through
numpy only, so this works under every Keras backend.

Layout facts used here (transformers' `AlbertModel` / `BertModel`):
`torch.nn.Linear` stores its weight as (outputs, inputs), the transpose of a
Keras kernel; attention projections split their outputs into heads, heads
major; ALBERT always has the E -> H `embedding_hidden_mapping_in` layer and
keeps its shared blocks as `albert_layer_groups.{group}.albert_layers.{inner}`
(layer `l` runs group `l * G // L`, as `CompactBackbone` does); the MLM
decoder is tied to the word embeddings, so only its bias is stored.
"""

import collections
import json
import os

import numpy as np

from keras_compact.convert.checkpoint_files import CONFIG_NAME
from keras_compact.convert.checkpoint_files import SAFETENSORS_NAME
from keras_compact.convert.checkpoint_files import find_weight_file
from keras_compact.convert.checkpoint_files import load_weights
from keras_compact.convert.checkpoint_files import read_json
from keras_compact.convert.checkpoint_files import save_safetensors
from keras_compact.convert.huggingface_config import backbone_config_from_hf
from keras_compact.convert.huggingface_config import hf_config_from_backbone
from keras_compact.convert.huggingface_config import hf_layout
from keras_compact.convert.weight_layout import OPTIONAL_PREFIXES
from keras_compact.convert.weight_layout import assign_weights
from keras_compact.convert.weight_layout import backbone_slots
from keras_compact.convert.weight_layout import head_slots
from keras_compact.convert.weight_layout import read_weights
from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.pretrainer import AlbertPretrainer
from keras_compact.utils.atomic import atomic_directory

# Head weights live outside the base model's prefix ("albert." / "bert.").
_HEAD_PREFIXES = ("predictions.", "sop_classifier.", "cls.")
_BASE_PREFIXES = ("embeddings.", "encoder.", "pooler.")
# Non-persistent buffers that old pytorch_model.bin files still contain.
_BUFFER_SUFFIXES = (".position_ids", "embeddings.token_type_ids")


# === Names ===


def _linear(hf_name, neutral_name):
    return [
        (f"{hf_name}.weight", f"{neutral_name}.kernel", True),
        (f"{hf_name}.bias", f"{neutral_name}.bias", False),
    ]


def _layer_norm(hf_name, neutral_name):
    return [
        (f"{hf_name}.weight", f"{neutral_name}.gamma", False),
        (f"{hf_name}.bias", f"{neutral_name}.beta", False),
    ]


def _albert_block(hf, block):
    return (
        _linear(f"{hf}.attention.query", f"{block}.query")
        + _linear(f"{hf}.attention.key", f"{block}.key")
        + _linear(f"{hf}.attention.value", f"{block}.value")
        + _linear(f"{hf}.attention.dense", f"{block}.attention_output")
        + _layer_norm(f"{hf}.attention.LayerNorm", f"{block}.attention_norm")
        + _linear(f"{hf}.ffn", f"{block}.intermediate")
        + _linear(f"{hf}.ffn_output", f"{block}.output")
        + _layer_norm(f"{hf}.full_layer_layer_norm", f"{block}.output_norm")
    )


def _bert_block(hf, block):
    return (
        _linear(f"{hf}.attention.self.query", f"{block}.query")
        + _linear(f"{hf}.attention.self.key", f"{block}.key")
        + _linear(f"{hf}.attention.self.value", f"{block}.value")
        + _linear(f"{hf}.attention.output.dense", f"{block}.attention_output")
        + _layer_norm(f"{hf}.attention.output.LayerNorm", f"{block}.attention_norm")
        + _linear(f"{hf}.intermediate.dense", f"{block}.intermediate")
        + _linear(f"{hf}.output.dense", f"{block}.output")
        + _layer_norm(f"{hf}.output.LayerNorm", f"{block}.output_norm")
    )


def _base_name_table(model_type, num_groups, inner_group_num, num_layers):
    """[(HF name without "albert."/"bert.", neutral name, transposed)].

    Example:
    ```python
    _base_name_table("albert", num_groups=2, inner_group_num=1, num_layers=4)[0]
    # ("embeddings.word_embeddings.weight", "embeddings.token", False)
    ```
    """
    table = [
        ("embeddings.word_embeddings.weight", "embeddings.token", False),
        ("embeddings.position_embeddings.weight", "embeddings.position", False),
        ("embeddings.token_type_embeddings.weight", "embeddings.segment", False),
    ] + _layer_norm("embeddings.LayerNorm", "embeddings.norm")
    if model_type == "albert":
        table += _linear("encoder.embedding_hidden_mapping_in", "embeddings.projection")
        for group in range(num_groups):
            for inner in range(inner_group_num):
                table += _albert_block(
                    f"encoder.albert_layer_groups.{group}.albert_layers.{inner}",
                    f"block.{group * inner_group_num + inner}",
                )
        return table + _linear("pooler", "pooler")
    for layer in range(num_layers):
        table += _bert_block(f"encoder.layer.{layer}", f"block.{layer}")
    return table + _linear("pooler.dense", "pooler")


def _head_name_table(model_type):
    """[(HF name, neutral name, transposed)] of the pretraining heads."""
    if model_type == "albert":
        return (
            _linear("predictions.dense", "mlm.dense")
            + _layer_norm("predictions.LayerNorm", "mlm.norm")
            + [("predictions.bias", "mlm.bias", False)]
            + _linear("sop_classifier.classifier", "sentence")
        )
    return (
        _linear("cls.predictions.transform.dense", "mlm.dense")
        + _layer_norm("cls.predictions.transform.LayerNorm", "mlm.norm")
        + [("cls.predictions.bias", "mlm.bias", False)]
        + _linear("cls.seq_relationship", "sentence")
    )


def _mlm_prefix(model_type):
    return "predictions" if model_type == "albert" else "cls.predictions"


# === Import ===


def _normalise_names(weights, model_type):
    """Strips the "albert."/"bert." prefix; renames legacy gamma/beta."""
    prefix = f"{model_type}."
    normalised = {}
    for name, value in weights.items():
        if name.startswith(prefix):
            name = name[len(prefix):]
        if name.endswith(_BUFFER_SUFFIXES):
            continue
        if name.endswith(".gamma"):
            name = name[: -len("gamma")] + "weight"
        elif name.endswith(".beta"):
            name = name[: -len("beta")] + "bias"
        normalised[name] = value
    return normalised


def _to_neutral(weights, table):
    """Applies a name table; returns (neutral weights, neutral->HF names)."""
    neutral, sources = {}, {}
    for hf_name, neutral_name, transposed in table:
        sources[neutral_name] = hf_name
        if hf_name in weights:
            value = weights[hf_name]
            neutral[neutral_name] = value.T if transposed else value
    return neutral, sources


def _check_decoder(weights, model_type, source):
    """Uses the decoder bias if needed; rejects an untied decoder matrix."""
    mlm = _mlm_prefix(model_type)
    decoder, bias_name = f"{mlm}.decoder", f"{mlm}.bias"
    if bias_name not in weights and f"{decoder}.bias" in weights:
        weights[bias_name] = weights[f"{decoder}.bias"]
    matrix = weights.get(f"{decoder}.weight")
    table = weights.get("embeddings.word_embeddings.weight")
    if matrix is not None and table is not None and not np.array_equal(matrix, table):
        raise ValueError(
            f"{source}: {decoder}.weight differs from the word embeddings "
            "(tie_word_embeddings=False); AlbertPretrainer ties its MLM "
            "output to the token table. Load with with_heads=False."
        )


HFCheckpoint = collections.namedtuple(
    "HFCheckpoint", ["config", "weights", "config_path", "weights_path"])


def read_checkpoint(path_or_dir):
    """Reads a Hugging Face checkpoint once: its config and its weights.

    Returns:
        An `HFCheckpoint`: the config dict, the weights by name with the
        "albert."/"bert." prefix stripped, and the two file paths.
    """
    config_path, weights_path = find_weight_file(path_or_dir)
    config = read_json(config_path)
    weights = _normalise_names(load_weights(weights_path), config["model_type"])
    return HFCheckpoint(config, weights, config_path, weights_path)


def backbone_from_checkpoint(checkpoint, dtype=None):
    """The `CompactBackbone` of an `HFCheckpoint` (see `from_huggingface`)."""
    config, weights = checkpoint.config, checkpoint.weights
    config_path, weights_path = checkpoint.config_path, checkpoint.weights_path
    kwargs = backbone_config_from_hf(config, source=config_path)
    model_type = config["model_type"]

    table = _base_name_table(
        model_type,
        kwargs.get("num_hidden_groups", 1),
        kwargs.get("inner_group_num", 1),
        kwargs["num_layers"],
    )
    used = {hf_name for hf_name, _, _ in table}
    unexpected = sorted(
        name for name in weights
        if name.startswith(_BASE_PREFIXES) and name not in used
    )
    if unexpected:
        raise ValueError(
            f"{weights_path}: weights {', '.join(unexpected)} do not fit the "
            f"architecture in {config_path} (or are parts CompactBackbone "
            "does not have)."
        )
    neutral, sources = _to_neutral(weights, table)
    backbone = CompactBackbone(**kwargs, dtype=dtype)
    assign_weights(
        backbone_slots(backbone),
        neutral,
        describe=lambda name: sources.get(name, name),
        optional_prefixes=OPTIONAL_PREFIXES,
    )
    return backbone


def from_huggingface(path_or_dir, with_heads=False, dtype=None):
    """Builds a model carrying a Hugging Face ALBERT or BERT checkpoint.

    Args:
        path_or_dir: a directory written by `save_pretrained` (config.json
            plus model.safetensors, pytorch_model.bin or a sharded index), or
            the path of its weight file.
        with_heads: bool. `False` returns the `CompactBackbone`; `True`
            returns an `AlbertPretrainer` with the checkpoint's MLM head and
            its sentence head: SOP for ALBERT (`sop_classifier`), NSP for BERT
            (`cls.seq_relationship`). A checkpoint without a sentence head
            (e.g. `AlbertForMaskedLM`) keeps a fresh one, with a warning.
        dtype: optional dtype policy of the new model, e.g. "mixed_bfloat16".

    Returns:
        A `CompactBackbone`, or an `AlbertPretrainer` when `with_heads`.

    Raises:
        ValueError: the config cannot be represented (the message names the
            field), or weights are missing, unexpected or mis-shaped.
        FileNotFoundError: no config.json or weight file.
        ImportError: pytorch_model.bin without torch installed.

    Example:
    ```python
    backbone = from_huggingface("checkpoints/albert-base-v2")
    pretrainer = from_huggingface("checkpoints/albert-base-v2", with_heads=True)
    ```
    """
    checkpoint = read_checkpoint(path_or_dir)
    backbone = backbone_from_checkpoint(checkpoint, dtype=dtype)
    weights, model_type = checkpoint.weights, checkpoint.config["model_type"]
    weights_path = checkpoint.weights_path
    if not with_heads:
        return backbone

    _check_decoder(weights, model_type, weights_path)
    heads, sources = _to_neutral(weights, _head_name_table(model_type))
    if not any(name.startswith("mlm.") for name in heads):
        raise ValueError(
            f"{weights_path} has no MLM head weights "
            f"({_mlm_prefix(model_type)}.*); it was saved from a base model. "
            "Use with_heads=False."
        )
    sentence_task = "sop" if model_type == "albert" else "nsp"
    pretrainer = AlbertPretrainer(backbone, sentence_task=sentence_task)
    assign_weights(
        head_slots(pretrainer),
        heads,
        describe=lambda name: sources.get(name, name),
        optional_prefixes=("sentence.",),
    )
    return pretrainer


# === Export ===


def _split_model(model):
    if isinstance(model, AlbertPretrainer) and isinstance(
        model.backbone, CompactBackbone
    ):
        return model.backbone, model
    if isinstance(model, CompactBackbone):
        return model, None
    raise ValueError(
        f"Cannot export a {type(model).__name__}: to_huggingface takes a "
        "CompactBackbone or an AlbertPretrainer built on one."
    )


def to_huggingface(model, output_dir):
    """Writes a model as a Hugging Face checkpoint (config.json + safetensors).

    A `CompactBackbone` becomes `AlbertModel` or `BertModel` weights; an
    `AlbertPretrainer` becomes `AlbertForPreTraining` or
    `BertForPreTraining` (its SOP or NSP head goes to `sop_classifier` /
    `cls.seq_relationship`; HF does not record which task it was trained
    on). sharing="none" without an embedding projection and with
    inner_group_num=1 is written as BERT; sharing="all" as ALBERT, and
    sharing="none" otherwise as ALBERT with one group per layer. An ALBERT
    backbone without projection gets an identity `embedding_hidden_mapping_in`.
    The directory is written under a temporary name and renamed, so it is
    never seen half-written.

    Args:
        model: a `CompactBackbone` or an `AlbertPretrainer`.
        output_dir: str. Directory to create; it must not exist.

    Returns:
        The model type written, "albert" or "bert".

    Raises:
        ValueError: sharing "attention" / "ffn" or an activation HF lacks.
        FileExistsError: `output_dir` exists.

    Example:
    ```python
    to_huggingface(pretrainer, "export/albert_hf")
    hf = transformers.AlbertForPreTraining.from_pretrained("export/albert_hf")
    ```
    """
    backbone, pretrainer = _split_model(model)
    model_type, num_groups = hf_layout(backbone)
    family = "Albert" if model_type == "albert" else "Bert"
    architecture = f"{family}ForPreTraining" if pretrainer else f"{family}Model"
    config = hf_config_from_backbone(backbone, model_type, num_groups, architecture)

    neutral = read_weights(backbone_slots(backbone))
    if model_type == "albert" and "embeddings.projection.kernel" not in neutral:
        neutral["embeddings.projection.kernel"] = np.eye(
            backbone.embedding_dim, dtype=np.float32
        )
        neutral["embeddings.projection.bias"] = np.zeros(
            backbone.hidden_dim, dtype=np.float32
        )
    table = _base_name_table(
        model_type, num_groups, backbone.inner_group_num, backbone.num_layers
    )
    # HF saves a base model's weights unprefixed and a model with heads'
    # base weights under "albert." / "bert.".
    prefix = f"{model_type}." if pretrainer else ""
    weights = {
        prefix + hf_name: neutral[name].T if transposed else neutral[name]
        for hf_name, name, transposed in table
    }
    if pretrainer is not None:
        heads = read_weights(head_slots(pretrainer))
        weights.update(
            {
                hf_name: heads[name].T if transposed else heads[name]
                for hf_name, name, transposed in _head_name_table(model_type)
            }
        )
    with atomic_directory(output_dir) as temp:
        with open(os.path.join(temp, CONFIG_NAME), "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2, sort_keys=True)
            handle.write("\n")
        save_safetensors(weights, os.path.join(temp, SAFETENSORS_NAME))
    return model_type
