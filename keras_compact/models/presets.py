"""Named configurations of the papers' models (architecture only, no weights).

ALBERT and BERT follow Table 1 of the ALBERT paper (vocabulary 30,000,
FFN = 4H, heads = H/64, E = 128 for ALBERT); TinyBERT follows the TinyBERT
paper, with the 30,522-piece vocabulary of its BERT-base teacher.
"""

_ALBERT = dict(
    vocabulary_size=30000,
    embedding_dim=128,
    sharing="all",
    activation="gelu_approximate",
    # Released ALBERT v2 models train without dropout (the paper found
    # removing it improves MLM accuracy and downstream scores).
    dropout=0.0,
    max_sequence_length=512,
)
_BERT = dict(
    vocabulary_size=30000,
    sharing="none",
    activation="gelu",
    dropout=0.1,
    max_sequence_length=512,
)
_TINYBERT = dict(_BERT, vocabulary_size=30522)


def _preset(description, paper_parameters, **config):
    return {
        "description": description,
        "paper_parameters": paper_parameters,
        "config": config,
    }


PRESETS = {
    "albert_base": _preset(
        "ALBERT-base: 12 layers, H=768, E=128, all layers shared.",
        12e6,
        **_ALBERT,
        num_layers=12,
        hidden_dim=768,
        num_heads=12,
        intermediate_dim=3072,
    ),
    "albert_large": _preset(
        "ALBERT-large: 24 layers, H=1024, E=128, all layers shared.",
        18e6,
        **_ALBERT,
        num_layers=24,
        hidden_dim=1024,
        num_heads=16,
        intermediate_dim=4096,
    ),
    "albert_xlarge": _preset(
        "ALBERT-xlarge: 24 layers, H=2048, E=128, all layers shared.",
        60e6,
        **_ALBERT,
        num_layers=24,
        hidden_dim=2048,
        num_heads=32,
        intermediate_dim=8192,
    ),
    "albert_xxlarge": _preset(
        "ALBERT-xxlarge: 12 layers, H=4096, E=128, 64 heads, FFN 16384, "
        "all layers shared.",
        235e6,
        **_ALBERT,
        num_layers=12,
        hidden_dim=4096,
        num_heads=64,
        intermediate_dim=16384,
    ),
    "bert_base": _preset(
        "BERT-base: 12 layers, H=768, no sharing, no factorisation.",
        108e6,
        **_BERT,
        num_layers=12,
        hidden_dim=768,
        num_heads=12,
        intermediate_dim=3072,
    ),
    "bert_large": _preset(
        "BERT-large: 24 layers, H=1024, no sharing, no factorisation.",
        334e6,
        **_BERT,
        num_layers=24,
        hidden_dim=1024,
        num_heads=16,
        intermediate_dim=4096,
    ),
    "tinybert_4": _preset(
        "TinyBERT4: 4 layers, d=312, d_ff=1200, 12 heads (student of "
        "BERT-base, vocabulary 30,522).",
        14.5e6,
        **_TINYBERT,
        num_layers=4,
        hidden_dim=312,
        num_heads=12,
        intermediate_dim=1200,
    ),
    "tinybert_6": _preset(
        "TinyBERT6: 6 layers, d=768, d_ff=3072, 12 heads (vocabulary 30,522).",
        67e6,
        **_TINYBERT,
        num_layers=6,
        hidden_dim=768,
        num_heads=12,
        intermediate_dim=3072,
    ),
}


def get_preset_config(name):
    """Returns a copy of the named preset's constructor arguments."""
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Available presets: "
            f"{', '.join(sorted(PRESETS))}."
        )
    return dict(PRESETS[name]["config"])
