"""Reference models from transformers' own code, and output comparisons."""

import keras
import numpy as np

SEQUENCE_LENGTH = 12
VOCABULARY_SIZE = 100

# Tiny, but with everything the converters must place: E != H, two groups
# of two inner blocks over four layers.
TINY_ALBERT_HF = dict(
    vocab_size=VOCABULARY_SIZE,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=4,
    num_hidden_groups=2,
    inner_group_num=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=32,
    type_vocab_size=2,
    hidden_act="gelu_new",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
TINY_BERT_HF = dict(
    vocab_size=VOCABULARY_SIZE,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=32,
    type_vocab_size=2,
    hidden_act="gelu",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
TOLERANCE = 1e-4


def randomize(model, seed=0, scale=0.05):
    """Adds noise to every parameter so biases and LayerNorms are not 0/1.

    Freshly initialised HF models have zero biases and unit LayerNorm
    gammas, which would hide a swapped or dropped weight.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)
    return model.eval()


def hf_outputs(model, inputs):
    """Runs an HF model (base or *ForPreTraining); returns numpy outputs."""
    import torch

    kwargs = dict(
        input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
        token_type_ids=torch.tensor(inputs["segment_ids"], dtype=torch.long),
        attention_mask=torch.tensor(inputs["padding_mask"], dtype=torch.long),
    )
    with torch.no_grad():
        base = model.base_model(**kwargs)
        outputs = {
            "sequence_output": base.last_hidden_state.numpy(),
            "pooled_output": base.pooler_output.numpy(),
        }
        if model.base_model is not model:
            heads = model(**kwargs)
            outputs["mlm"] = heads.prediction_logits.numpy()
            sentence = getattr(heads, "sop_logits", None)
            if sentence is None:
                sentence = heads.seq_relationship_logits
            outputs["sentence"] = sentence.numpy()
    return outputs


def keras_outputs(model, inputs):
    """Runs a CompactBackbone or AlbertPretrainer on every position."""
    backbone = getattr(model, "backbone", model)
    base = backbone(inputs)
    outputs = {
        key: keras.ops.convert_to_numpy(base[key])
        for key in ("sequence_output", "pooled_output")
    }
    if backbone is not model:
        batch, length = inputs["token_ids"].shape
        positions = np.tile(np.arange(length, dtype="int32"), (batch, 1))
        heads = model(dict(inputs, mask_positions=positions))
        outputs["mlm"] = keras.ops.convert_to_numpy(heads["mlm"])
        outputs["sentence"] = keras.ops.convert_to_numpy(heads[model.sentence_task])
    return outputs


def max_differences(expected, got):
    """{output: max |expected - got|} over the outputs both have."""
    return {
        key: float(np.abs(np.asarray(expected[key]) - np.asarray(got[key])).max())
        for key in expected
        if key in got
    }


def assert_close(expected, got, tolerance=TOLERANCE):
    differences = max_differences(expected, got)
    print(f"max |difference|: {differences}")  # Shown with pytest -s.
    assert differences, "no outputs in common"
    assert max(differences.values()) <= tolerance, differences
    return differences
