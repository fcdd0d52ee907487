"""Transformer encoder with ALBERT's cross-layer parameter sharing."""

import keras

from keras_compact.layers.transformer_block import AttentionSublayer
from keras_compact.layers.transformer_block import FeedForwardSublayer
from keras_compact.layers.transformer_block import apply_transformer_layer

# sharing mode -> (attention shared, feed-forward shared)
SHARING_MODES = {
    "all": (True, True),
    "attention": (True, False),
    "ffn": (False, True),
    "none": (False, False),
}


def validate_sharing(sharing, num_layers, num_hidden_groups, inner_group_num):
    """Raises a ValueError naming the bad value if the layout is impossible."""
    if sharing not in SHARING_MODES:
        raise ValueError(
            f"Unknown sharing={sharing!r}. Use one of "
            f"{', '.join(repr(m) for m in SHARING_MODES)} ('all' is ALBERT, "
            "'none' is BERT)."
        )
    for arg, value in (
        ("num_layers", num_layers),
        ("num_hidden_groups", num_hidden_groups),
        ("inner_group_num", inner_group_num),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{arg}` must be a positive integer, got {arg}={value!r}."
            )
    if num_hidden_groups > num_layers or num_layers % num_hidden_groups:
        raise ValueError(
            f"num_hidden_groups={num_hidden_groups} must divide "
            f"num_layers={num_layers} so every group covers the same number "
            "of layers. Pick a divisor of num_layers."
        )
    if sharing == "none" and num_hidden_groups != 1:
        raise ValueError(
            f"num_hidden_groups={num_hidden_groups} has no effect with "
            "sharing='none' (every layer has its own weights). Use "
            "num_hidden_groups=1, or a sharing mode such as 'all'."
        )


@keras.saving.register_keras_serializable(package="keras_compact")
class SharedTransformerEncoder(keras.layers.Layer):
    """Applies L post-LayerNorm transformer layers with shared parameters.

    Layer `l` (0-based) belongs to group `g = l * G // L`. Each group holds
    `inner_group_num` blocks applied in sequence. What is shared across the
    layers of a group depends on `sharing`:

    - "all": attention and feed-forward (ALBERT; G = 1 is one reused block),
    - "attention": attention only, each layer has its own feed-forward,
    - "ffn": feed-forward only, each layer has its own attention,
    - "none": nothing (BERT).

    Args:
        num_layers: int. Number of layers L.
        num_heads: int. Attention heads per layer.
        intermediate_dim: int. Feed-forward inner width.
        sharing: str. One of "all", "attention", "ffn", "none".
        num_hidden_groups: int. Number of groups G; must divide L.
        inner_group_num: int. Blocks applied in sequence inside each layer.
        activation: str. Feed-forward activation name.
        dropout: float. Dropout on sublayer outputs.
        attention_dropout: float or None. Dropout on attention probabilities;
            `None` means the same as `dropout`.
        layer_norm_epsilon: float. LayerNorm epsilon.
        initializer_range: float. Stddev of the truncated normal initialiser.
        **kwargs: Standard `keras.layers.Layer` arguments.

    Call arguments:
        x: float tensor (batch, sequence, hidden).
        padding_mask: int or bool tensor (batch, sequence); 0 marks padding.
        return_hidden_states: bool. Also return the L + 1 hidden states
            (the input, then each layer's output).
        return_attention_scores: bool. Also return each layer's pre-softmax
            attention scores (batch, heads, sequence, sequence); with
            `inner_group_num > 1`, those of the layer's last inner block.
        return_qkv_layers: optional iterable of 1-based layer numbers whose
            projected queries, keys and values to return (MiniLM); only
            those layers pay for keeping them, and every layer keeps the
            fused attention kernel.

    Returns:
        The final hidden states, or a dict with "sequence_output" and the
        requested "hidden_states" / "attention_scores" lists, and "qkv": a
        list of {"queries", "keys", "values"} dicts (batch, sequence, heads,
        key_dim), one per requested layer in increasing order.

    Example:
    ```python
    encoder = SharedTransformerEncoder(
        num_layers=12, num_heads=12, intermediate_dim=3072, sharing="all"
    )
    x = np.random.rand(2, 16, 768).astype("float32")
    outputs = encoder(x, return_hidden_states=True)
    # len(outputs["hidden_states"]) == 13, one block's weights in total
    ```
    """

    def __init__(
        self,
        num_layers,
        num_heads,
        intermediate_dim,
        sharing="all",
        num_hidden_groups=1,
        inner_group_num=1,
        activation="gelu",
        dropout=0.0,
        attention_dropout=None,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        validate_sharing(sharing, num_layers, num_hidden_groups, inner_group_num)
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.sharing = sharing
        self.num_hidden_groups = num_hidden_groups
        self.inner_group_num = inner_group_num
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = (
            dropout if attention_dropout is None else attention_dropout
        )
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

        attention_shared, feedforward_shared = SHARING_MODES[sharing]
        shared_units = num_hidden_groups * inner_group_num
        unshared_units = num_layers * inner_group_num
        policy = self.dtype_policy
        self.attention_sublayers = [
            AttentionSublayer(
                num_heads=num_heads,
                dropout=dropout,
                attention_dropout=self.attention_dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                initializer_range=initializer_range,
                dtype=policy,
                name=f"attention_{i}",
            )
            for i in range(shared_units if attention_shared else unshared_units)
        ]
        self.feedforward_sublayers = [
            FeedForwardSublayer(
                intermediate_dim=intermediate_dim,
                activation=activation,
                dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                initializer_range=initializer_range,
                dtype=policy,
                name=f"feedforward_{i}",
            )
            for i in range(
                shared_units if feedforward_shared else unshared_units
            )
        ]
        # (attention index, feed-forward index) for every block, in order.
        schedule = []
        for layer_index in range(num_layers):
            group = layer_index * num_hidden_groups // num_layers
            layer_blocks = []
            for inner in range(inner_group_num):
                shared = group * inner_group_num + inner
                own = layer_index * inner_group_num + inner
                layer_blocks.append(
                    (
                        shared if attention_shared else own,
                        shared if feedforward_shared else own,
                    )
                )
            schedule.append(tuple(layer_blocks))
        self.schedule = tuple(schedule)

    def build(self, input_shape):
        for sublayer in self.attention_sublayers + self.feedforward_sublayers:
            sublayer.build(input_shape)
        self.built = True

    def call(
        self,
        x,
        padding_mask=None,
        training=None,
        return_hidden_states=False,
        return_attention_scores=False,
        return_qkv_layers=None,
    ):
        qkv_layers = self.check_qkv_layers(return_qkv_layers)
        hidden_states = [x]
        attention_scores = []
        qkv = []
        for layer_number, layer_blocks in enumerate(self.schedule, start=1):
            last_inner = len(layer_blocks) - 1
            for inner, (attention_index, feedforward_index) in enumerate(
                layer_blocks
            ):
                # q/k/v of the layer's last inner block, like the scores.
                want_qkv = inner == last_inner and layer_number in qkv_layers
                x = apply_transformer_layer(
                    self.attention_sublayers[attention_index],
                    self.feedforward_sublayers[feedforward_index],
                    x,
                    padding_mask=padding_mask,
                    training=training,
                    return_attention_scores=return_attention_scores,
                    return_qkv=want_qkv,
                )
                if return_attention_scores or want_qkv:
                    x, *extras = x
                    if return_attention_scores:
                        scores = extras.pop(0)
                    if want_qkv:
                        qkv.append(extras.pop(0))
            if return_attention_scores:
                attention_scores.append(scores)
            hidden_states.append(x)
        if not (return_hidden_states or return_attention_scores or qkv_layers):
            return x
        outputs = {"sequence_output": x}
        if return_hidden_states:
            outputs["hidden_states"] = hidden_states
        if return_attention_scores:
            outputs["attention_scores"] = attention_scores
        if qkv_layers:
            # One dict per requested layer, in increasing layer order.
            outputs["qkv"] = qkv
        return outputs

    def check_qkv_layers(self, layers):
        """Sorted tuple of 1-based layer numbers; raises on a bad one."""
        if not layers:
            return ()
        layers = tuple(sorted(set(layers)))
        for n in layers:
            if isinstance(n, bool) or not isinstance(n, int) or not (
                1 <= n <= self.num_layers
            ):
                raise ValueError(
                    f"Layer {n!r} is out of range for queries/keys/values: "
                    f"this encoder has layers 1..{self.num_layers}."
                )
        return layers

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "sharing": self.sharing,
                "num_hidden_groups": self.num_hidden_groups,
                "inner_group_num": self.inner_group_num,
                "activation": self.activation,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config
