import numpy as np
import pytest
from keras import ops

from keras_compact.layers import SharedTransformerEncoder
from tests.harness import check_layer_serialization

pytestmark = pytest.mark.multi_backend


def _encoder(**overrides):
    config = dict(num_layers=6, num_heads=2, intermediate_dim=32)
    config.update(overrides)
    encoder = SharedTransformerEncoder(**config)
    encoder(np.zeros((1, 4, 16), "float32"))
    return encoder


@pytest.mark.parametrize(
    "sharing, attention_count, feedforward_count",
    [("all", 1, 1), ("attention", 1, 6), ("ffn", 6, 1), ("none", 6, 6)],
)
def test_sharing_modes_own_the_right_number_of_sublayers(
    sharing, attention_count, feedforward_count
):
    encoder = _encoder(sharing=sharing)
    assert len(encoder.attention_sublayers) == attention_count
    assert len(encoder.feedforward_sublayers) == feedforward_count
    attention_params = encoder.attention_sublayers[0].count_params()
    feedforward_params = encoder.feedforward_sublayers[0].count_params()
    assert encoder.count_params() == (
        attention_count * attention_params + feedforward_count * feedforward_params
    )


def test_groups_follow_albert_assignment():
    # Layer l uses group floor(l * G / L); each group has inner_group_num blocks.
    encoder = _encoder(num_layers=6, num_hidden_groups=3, inner_group_num=2)
    assert len(encoder.attention_sublayers) == 6
    expected = [[(2 * (l * 3 // 6) + i,) * 2 for i in range(2)] for l in range(6)]
    assert [list(blocks) for blocks in encoder.schedule] == expected
    # Groups and inner groups survive serialization (a 2-layer twin: fewer calls).
    small = _encoder(num_layers=2, num_hidden_groups=2, inner_group_num=2)
    clone = check_layer_serialization(small, np.random.rand(2, 5, 16).astype("float32"))
    assert clone.schedule == small.schedule


def test_all_shared_reuses_one_block():
    encoder = _encoder(sharing="all")
    x = np.random.rand(2, 5, 16).astype("float32")
    out = encoder(x, return_hidden_states=True, return_attention_scores=True)
    assert len(out["hidden_states"]) == 7
    assert len(out["attention_scores"]) == 6
    # Applying the single block by hand six times gives the same output.
    attention = encoder.attention_sublayers[0]
    feedforward = encoder.feedforward_sublayers[0]
    y = x
    for _ in range(6):
        y = feedforward(attention(y))
    np.testing.assert_allclose(
        ops.convert_to_numpy(out["sequence_output"]),
        ops.convert_to_numpy(y),
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(sharing="everything"), "sharing='everything'"),
        (dict(num_hidden_groups=4), "num_hidden_groups=4 must divide num_layers=6"),
        (dict(num_hidden_groups=7), "num_hidden_groups=7"),
        (dict(sharing="none", num_hidden_groups=2), "num_hidden_groups=2 has no effect"),
        (dict(inner_group_num=0), "inner_group_num=0"),
        (dict(num_layers=0), "num_layers=0"),
    ],
)
def test_bad_sharing_layouts_name_the_value(overrides, message):
    config = dict(num_layers=6, num_heads=2, intermediate_dim=32)
    config.update(overrides)
    with pytest.raises(ValueError, match=message):
        SharedTransformerEncoder(**config)
