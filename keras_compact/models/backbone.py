"""`CompactBackbone`: the ALBERT / BERT / TinyBERT encoder network."""

import difflib
import inspect
import os

import keras
from keras_hub.models import Backbone

from keras_compact.layers.factorized_embedding import FactorizedEmbedding
from keras_compact.layers.initializers import truncated_normal
from keras_compact.layers.shared_encoder import SharedTransformerEncoder
from keras_compact.layers.shared_encoder import validate_sharing
from keras_compact.layers.transformer_block import resolve_activation
from keras_compact.models.presets import PRESETS
from keras_compact.models.presets import get_preset_config


# Keyword arguments of keras.Model that a backbone config may carry
# (`get_config` writes name and trainable; dtype is an explicit argument).
MODEL_KEYWORDS = ("name", "trainable")


def backbone_argument_names():
    """Every key a `CompactBackbone` config may hold, sorted."""
    parameters = inspect.signature(CompactBackbone.__init__).parameters
    names = [name for name, p in parameters.items()
             if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return sorted(set(names) | set(MODEL_KEYWORDS))


def check_config_keys(config, source="config"):
    """Raises ValueError for a key that is no `CompactBackbone` argument.

    The one check behind `CompactBackbone(...)`, `CompactBackbone.from_preset`,
    the jobs' `config` / `student_config` and every CLI `--config` /
    `--student-config`: a misspelt key is an error naming the key and the
    closest valid one, never silently ignored.

    Args:
        config: dict (or iterable of keys) to check.
        source: how the message names where the keys came from, e.g.
            "--student-config".

    Example:
    ```python
    check_config_keys({"num_layerz": 4}, "--config")
    # ValueError: --config has an unknown key 'num_layerz'; did you mean 'num_layers'? ...
    ```
    """
    valid = backbone_argument_names()
    for key in config:
        if key in valid:
            continue
        close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "it is not a backbone argument."
        raise ValueError(f"{source} has an unknown key {key!r}; {hint} Valid keys: "
                         f"{', '.join(valid)}.")


def validate_backbone_config(
    vocabulary_size,
    num_layers,
    num_heads,
    hidden_dim,
    intermediate_dim,
    embedding_dim,
    sharing,
    num_hidden_groups,
    inner_group_num,
    activation,
    dropout,
):
    """Checks a configuration before any weight is made; names the bad value."""
    for arg, value in (
        ("vocabulary_size", vocabulary_size),
        ("num_heads", num_heads),
        ("hidden_dim", hidden_dim),
        ("intermediate_dim", intermediate_dim),
        ("embedding_dim", embedding_dim),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"`{arg}` must be a positive integer, got {arg}={value!r}."
            )
    if hidden_dim % num_heads:
        raise ValueError(
            f"hidden_dim={hidden_dim} is not divisible by "
            f"num_heads={num_heads}. Pick num_heads among the divisors of "
            f"hidden_dim (BERT and ALBERT use hidden_dim // 64)."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got dropout={dropout!r}.")
    validate_sharing(sharing, num_layers, num_hidden_groups, inner_group_num)
    resolve_activation(activation)


@keras.saving.register_keras_serializable(package="keras_compact")
class CompactBackbone(Backbone):
    """Encoder network of ALBERT, BERT and TinyBERT in one configurable class.

    Factorized embeddings (V x E table projected to H), then L post-LayerNorm
    transformer layers with ALBERT's cross-layer parameter sharing (see
    `SharedTransformerEncoder`), then a tanh pooler on the first ([CLS])
    token. `sharing="none"` with `embedding_dim=None` is BERT;
    `sharing="all"` with `embedding_dim=128` is ALBERT.

    Inputs are a dict of "token_ids", "segment_ids" and "padding_mask"
    (batch, sequence) int tensors; outputs a dict of "sequence_output"
    (batch, sequence, H) and "pooled_output" (batch, H).

    Args:
        vocabulary_size: int. Number of token ids, V.
        num_layers: int. Number of transformer layers, L.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        hidden_dim: int. Transformer width, H.
        intermediate_dim: int. Feed-forward inner width (4H in the papers).
        embedding_dim: int or None. Token table width, E; `None` means H.
        sharing: str. "all", "attention", "ffn" or "none".
        num_hidden_groups: int. ALBERT's groups of shared layers; divides L.
        inner_group_num: int. Blocks applied in sequence inside each layer.
        activation: str. "gelu_approximate" (ALBERT), "gelu" (BERT), ...
        dropout: float. Dropout on embeddings and sublayer outputs.
        attention_dropout: float or None. Dropout on attention probabilities;
            `None` means the same as `dropout`.
        max_sequence_length: int. Number of learned positions.
        num_segments: int. Number of segment ids.
        layer_norm_epsilon: float. LayerNorm epsilon.
        initializer_range: float. Stddev of the truncated normal initialiser.
        use_embedding_projection: bool or None. Apply the E -> H projection;
            `None` means "only when E != H".
        dtype: str or `keras.DTypePolicy`. Weights and compute dtype, e.g.
            "mixed_bfloat16".
        **kwargs: Standard `keras.Model` arguments (name, trainable).

    Example:
    ```python
    backbone = CompactBackbone.from_preset("albert_base")
    backbone.count_params()  # 11,683,584

    tiny = CompactBackbone(
        vocabulary_size=1000, num_layers=4, num_heads=4, hidden_dim=64,
        intermediate_dim=256, embedding_dim=32, sharing="all",
    )
    outputs = tiny({
        "token_ids": np.array([[2, 15, 27, 3, 0]]),
        "segment_ids": np.zeros((1, 5), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0]]),
    })
    outputs["pooled_output"].shape  # (1, 64)
    ```
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        embedding_dim=None,
        sharing="all",
        num_hidden_groups=1,
        inner_group_num=1,
        activation="gelu_approximate",
        dropout=0.0,
        attention_dropout=None,
        max_sequence_length=512,
        num_segments=2,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        use_embedding_projection=None,
        dtype=None,
        **kwargs,
    ):
        check_config_keys(kwargs, f"{type(self).__name__}(...)")
        if embedding_dim is None:
            embedding_dim = hidden_dim
        validate_backbone_config(
            vocabulary_size,
            num_layers,
            num_heads,
            hidden_dim,
            intermediate_dim,
            embedding_dim,
            sharing,
            num_hidden_groups,
            inner_group_num,
            activation,
            dropout,
        )
        # === Layers ===
        self.embeddings = FactorizedEmbedding(
            vocabulary_size=vocabulary_size,
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            use_projection=use_embedding_projection,
            initializer_range=initializer_range,
            dtype=dtype,
            name="embeddings",
        )
        self.encoder = SharedTransformerEncoder(
            num_layers=num_layers,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            sharing=sharing,
            num_hidden_groups=num_hidden_groups,
            inner_group_num=inner_group_num,
            activation=activation,
            dropout=dropout,
            attention_dropout=attention_dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range,
            dtype=dtype,
            name="encoder",
        )
        self.pooler = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=truncated_normal(initializer_range),
            dtype=dtype,
            name="pooler",
        )

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(
            shape=(None,), dtype="int32", name="segment_ids"
        )
        padding_mask = keras.Input(
            shape=(None,), dtype="int32", name="padding_mask"
        )
        x = self.embeddings(token_ids, segment_ids)
        sequence_output = self.encoder(x, padding_mask=padding_mask)
        pooled_output = self.pooler(sequence_output[:, 0, :])
        super().__init__(
            inputs={
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
            },
            outputs={
                "sequence_output": sequence_output,
                "pooled_output": pooled_output,
            },
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.embedding_dim = embedding_dim
        self.sharing = sharing
        self.num_hidden_groups = num_hidden_groups
        self.inner_group_num = inner_group_num
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = self.encoder.attention_dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.use_embedding_projection = self.embeddings.use_projection
        self.token_embedding = self.embeddings.token_embedding

    # What `compute_features` can hand to a distillation loss.
    DISTILLATION_FEATURES = (
        "hidden_states", "attention_scores", "qkv", "pooled_output"
    )

    def compute_features(
        self,
        inputs,
        training=False,
        return_hidden_states=True,
        return_attention_scores=True,
        return_qkv_layers=None,
    ):
        """Runs the backbone and returns its internals for distillation.

        Args:
            inputs: dict with "token_ids", "segment_ids", "padding_mask".
            training: bool. Whether dropout is active.
            return_hidden_states: bool. Include the L + 1 hidden states
                (embedding output first).
            return_attention_scores: bool. Include the L pre-softmax
                attention score tensors (batch, heads, sequence, sequence).
            return_qkv_layers: optional iterable of 1-based layer numbers
                whose projected queries, keys and values to include
                (MiniLM / MiniLMv2 relations).

        Returns:
            dict with "sequence_output", "pooled_output", the requested
            "hidden_states" / "attention_scores" lists and, with
            `return_qkv_layers`, "qkv": {layer number: {"queries", "keys",
            "values"}}, each (batch, sequence, heads, key_dim).
        """
        x = self.embeddings(
            inputs["token_ids"], inputs["segment_ids"], training=training
        )
        features = self.encoder(
            x,
            padding_mask=inputs["padding_mask"],
            training=training,
            return_hidden_states=return_hidden_states,
            return_attention_scores=return_attention_scores,
            return_qkv_layers=return_qkv_layers,
        )
        if not isinstance(features, dict):
            features = {"sequence_output": features}
        if "qkv" in features:
            layers = self.encoder.check_qkv_layers(return_qkv_layers)
            features["qkv"] = dict(zip(layers, features["qkv"]))
        features["pooled_output"] = self.pooler(
            features["sequence_output"][:, 0, :]
        )
        return features

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "embedding_dim": self.embedding_dim,
                "sharing": self.sharing,
                "num_hidden_groups": self.num_hidden_groups,
                "inner_group_num": self.inner_group_num,
                "activation": self.activation,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
                "use_embedding_projection": self.use_embedding_projection,
            }
        )
        return config

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Builds a backbone from a preset name or a saved preset directory.

        A name from `CompactBackbone.presets` ("albert_base", "tinybert_4",
        ...) gives the paper's architecture with fresh weights; keyword
        arguments override its config. A directory written by
        `save_to_preset` (or a keras-hub handle) is loaded by keras-hub.

        Example:
        ```python
        student = CompactBackbone.from_preset("tinybert_4", dropout=0.0)
        ```
        """
        if preset in PRESETS:
            check_config_keys(kwargs, f"from_preset({preset!r}, ...)")
            return cls(**{**get_preset_config(preset), **kwargs})
        if os.path.isdir(preset) or "://" in str(preset):
            return super().from_preset(preset, load_weights=load_weights, **kwargs)
        # Raises with the list of names.
        get_preset_config(preset)

    @classmethod
    def preset_names(cls):
        """Names accepted by `from_preset`."""
        return sorted(PRESETS)
