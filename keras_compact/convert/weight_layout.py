"""A framework-neutral naming of a backbone's and its heads' weights.

Checkpoint converters translate a foreign checkpoint into this one flat
dict of numpy arrays and back, so each converter only deals with names and
transposes. Kernels are in Keras `Dense` layout, (inputs, outputs); the
per-head attention kernels are flattened to 2D, heads major, which is how
BERT, ALBERT and Hugging Face split their projections into heads.

Names (`u` is a transformer block's index among the encoder's sublayers:
`group * inner_group_num + inner` with sharing "all", `layer *
inner_group_num + inner` with sharing "none"):

- embeddings.token (V, E), embeddings.position (P, E),
  embeddings.segment (T, E), embeddings.norm.{gamma,beta} (E,),
  embeddings.projection.{kernel (E, H), bias (H,)}
- block.u.{query,key,value}.{kernel (H, H), bias (H,)},
  block.u.attention_output.{kernel (H, H), bias (H,)},
  block.u.attention_norm.{gamma,beta},
  block.u.intermediate.{kernel (H, F), bias (F,)},
  block.u.output.{kernel (F, H), bias (H,)}, block.u.output_norm.{gamma,beta}
- pooler.{kernel (H, H), bias (H,)}
- mlm.dense.{kernel (H, E), bias (E,)}, mlm.norm.{gamma,beta} (E,),
  mlm.bias (V,)
- sentence.{kernel (H, 2), bias (2,)}
"""

import warnings

import keras
import numpy as np


# Weights a checkpoint may lack: keep the fresh initialisation and warn.
# (Hugging Face's *ForMaskedLM models are saved without a pooler.)
OPTIONAL_PREFIXES = ("pooler.",)


def _dense(prefix, layer, flatten=None):
    """Slots for a Dense/EinsumDense; `flatten` gives the 2D kernel shape."""
    kernel_shape = tuple(layer.kernel.shape)
    if flatten == "inputs_first":
        kernel_shape = (kernel_shape[0], int(np.prod(kernel_shape[1:])))
    elif flatten == "outputs_last":
        kernel_shape = (int(np.prod(kernel_shape[:-1])), kernel_shape[-1])
    bias_shape = (int(np.prod(layer.bias.shape)),)
    return {
        f"{prefix}.kernel": (layer.kernel, kernel_shape),
        f"{prefix}.bias": (layer.bias, bias_shape),
    }


def _norm(prefix, layer):
    return {
        f"{prefix}.gamma": (layer.gamma, tuple(layer.gamma.shape)),
        f"{prefix}.beta": (layer.beta, tuple(layer.beta.shape)),
    }


def _embedding(name, variable):
    return {name: (variable, tuple(variable.shape))}


def num_blocks(backbone):
    """Number of distinct transformer blocks of a backbone.

    Raises:
        ValueError: with sharing "attention" or "ffn", where attention and
            feed-forward sublayers do not pair up into blocks.

    Example:
    ```python
    num_blocks(CompactBackbone.from_preset("albert_base"))  # 1
    ```
    """
    encoder = backbone.encoder
    if len(encoder.attention_sublayers) != len(encoder.feedforward_sublayers):
        raise ValueError(
            f"sharing={backbone.sharing!r} shares attention and feed-forward "
            "sublayers differently, which BERT and ALBERT checkpoints cannot "
            "hold: they need sharing='all' (ALBERT) or sharing='none' (BERT)."
        )
    return len(encoder.attention_sublayers)


def backbone_slots(backbone):
    """Maps every neutral name of a `CompactBackbone` to its variable.

    Args:
        backbone: a `CompactBackbone` with sharing "all" or "none".

    Returns:
        {neutral name: (Keras variable, neutral shape)}; the neutral shape
        differs from the variable's only for the flattened attention kernels.

    Example:
    ```python
    slots = backbone_slots(backbone)
    variable, shape = slots["block.0.query.kernel"]  # shape (H, H)
    ```
    """
    embeddings = backbone.embeddings
    slots = {}
    slots.update(_embedding("embeddings.token", embeddings.token_embedding.embeddings))
    slots.update(
        _embedding(
            "embeddings.position",
            embeddings.position_embedding.position_embeddings,
        )
    )
    slots.update(
        _embedding("embeddings.segment", embeddings.segment_embedding.embeddings)
    )
    slots.update(_norm("embeddings.norm", embeddings.layer_norm))
    if embeddings.projection is not None:
        slots.update(_dense("embeddings.projection", embeddings.projection))
    encoder = backbone.encoder
    for unit in range(num_blocks(backbone)):
        attention_sublayer = encoder.attention_sublayers[unit]
        attention = attention_sublayer.attention
        prefix = f"block.{unit}"
        for name in ("query", "key", "value"):
            slots.update(
                _dense(
                    f"{prefix}.{name}",
                    getattr(attention, f"{name}_dense"),
                    flatten="inputs_first",
                )
            )
        slots.update(
            _dense(
                f"{prefix}.attention_output",
                attention.output_dense,
                flatten="outputs_last",
            )
        )
        slots.update(_norm(f"{prefix}.attention_norm", attention_sublayer.layer_norm))
        feedforward = encoder.feedforward_sublayers[unit]
        slots.update(_dense(f"{prefix}.intermediate", feedforward.intermediate_dense))
        slots.update(_dense(f"{prefix}.output", feedforward.output_dense))
        slots.update(_norm(f"{prefix}.output_norm", feedforward.layer_norm))
    slots.update(_dense("pooler", backbone.pooler))
    return slots


def head_slots(pretrainer):
    """Maps the neutral names of an `AlbertPretrainer`'s heads to variables.

    The MLM output matrix is the backbone's token table, so only the head's
    transform, LayerNorm and output bias appear here.

    Example:
    ```python
    slots = head_slots(AlbertPretrainer(backbone))
    sorted(slots)[0]  # "mlm.bias"
    ```
    """
    head = pretrainer.mlm_head
    slots = {}
    slots.update(_dense("mlm.dense", head._intermediate_dense))
    slots.update(_norm("mlm.norm", head._intermediate_layer_norm))
    slots["mlm.bias"] = (head._bias, tuple(head._bias.shape))
    slots.update(_dense("sentence", pretrainer.sentence_head))
    return slots


def assign_weights(slots, weights, describe=None, optional_prefixes=()):
    """Copies neutral `weights` into the variables of `slots`.

    Args:
        slots: from `backbone_slots` / `head_slots`.
        weights: {neutral name: numpy array}.
        describe: optional function mapping a neutral name to the
            checkpoint's own name, used in error messages.
        optional_prefixes: names starting with these may be missing; the
            variable keeps its initial value and a warning says so.

    Raises:
        ValueError: a required weight is missing, or a shape disagrees; the
            message names the checkpoint's weight.

    Example:
    ```python
    neutral = read_weights(backbone_slots(source_backbone))
    assign_weights(backbone_slots(target_backbone), neutral)
    ```
    """
    describe = describe or (lambda name: name)
    missing = [name for name in slots if name not in weights]
    required = [m for m in missing if not m.startswith(tuple(optional_prefixes))]
    if required:
        raise ValueError(
            "The checkpoint lacks weights the model needs: "
            f"{', '.join(describe(name) for name in required)}."
        )
    if missing:
        warnings.warn(
            "The checkpoint has no "
            f"{', '.join(describe(name) for name in missing)}; those weights "
            "keep their random initialisation.",
            stacklevel=3,
        )
    present = {name: slot for name, slot in slots.items() if name in weights}
    # Check every shape before assigning anything.
    for name, (_, shape) in present.items():
        value_shape = np.shape(weights[name])
        if value_shape != shape:
            raise ValueError(
                f"Weight {describe(name)} has shape {value_shape}, but the "
                f"model built from the config expects {shape}."
            )
    for name, (variable, _) in present.items():
        value = np.asarray(weights[name]).reshape(tuple(variable.shape))
        variable.assign(value.astype(variable.dtype))


def read_weights(slots):
    """Returns {neutral name: float32 numpy array} of the slots' variables.

    Example:
    ```python
    weights = read_weights(backbone_slots(backbone))
    weights["embeddings.token"].shape  # (V, E)
    ```
    """
    return {
        name: np.asarray(
            keras.ops.convert_to_numpy(variable.value), dtype=np.float32
        ).reshape(shape)
        for name, (variable, shape) in slots.items()
    }
