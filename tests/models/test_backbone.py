import numpy as np
import pytest
from keras import ops

from keras_compact import CompactBackbone
from tests.conftest import TINY_ALBERT
from tests.conftest import random_inputs
from tests.harness import check_export_round_trip
from tests.harness import check_layer_serialization
from tests.harness import check_mixed_precision
from tests.harness import check_saved_keras_round_trip

pytestmark = pytest.mark.multi_backend


def _numpy(outputs):
    return {k: ops.convert_to_numpy(v) for k, v in outputs.items()}


@pytest.mark.parametrize("sharing", ["all", "attention", "ffn", "none"])
def test_outputs_have_expected_shapes(sharing):
    backbone = CompactBackbone(**dict(TINY_ALBERT, sharing=sharing))
    outputs = backbone(random_inputs())
    assert tuple(outputs["sequence_output"].shape) == (3, 12, 32)
    assert tuple(outputs["pooled_output"].shape) == (3, 32)


def test_padding_does_not_change_real_positions():
    backbone = CompactBackbone(**TINY_ALBERT)
    inputs = random_inputs()
    first = _numpy(backbone(inputs))
    changed = dict(inputs)
    changed["token_ids"] = np.where(
        inputs["padding_mask"] > 0, inputs["token_ids"], 77
    ).astype("int32")
    second = _numpy(backbone(changed))
    real = inputs["padding_mask"].astype(bool)
    np.testing.assert_allclose(
        first["sequence_output"][real], second["sequence_output"][real], atol=1e-5
    )


def test_keras_file_round_trip_gives_identical_outputs(tmp_path):
    backbone = CompactBackbone(
        **dict(TINY_ALBERT, num_hidden_groups=2, inner_group_num=2)
    )
    check_saved_keras_round_trip(backbone, random_inputs(), tmp_path)


def test_saved_model_export_round_trip(tmp_path):
    backbone = CompactBackbone(**dict(TINY_ALBERT, num_layers=2))
    check_export_round_trip(backbone, random_inputs(), tmp_path)


def test_config_round_trip():
    backbone = CompactBackbone(**dict(TINY_ALBERT, sharing="ffn", dropout=0.1))
    clone = check_layer_serialization(backbone, random_inputs())
    assert clone.count_params() == backbone.count_params()


def test_compute_features_for_distillation():
    backbone = CompactBackbone(**TINY_ALBERT)
    inputs = random_inputs()
    features = backbone.compute_features(inputs)
    assert len(features["hidden_states"]) == TINY_ALBERT["num_layers"] + 1
    assert len(features["attention_scores"]) == TINY_ALBERT["num_layers"]
    assert tuple(features["attention_scores"][0].shape) == (3, 4, 12, 12)
    plain = _numpy(backbone(inputs))
    np.testing.assert_allclose(
        ops.convert_to_numpy(features["sequence_output"]),
        plain["sequence_output"],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(features["pooled_output"]),
        plain["pooled_output"],
        atol=1e-5,
    )


def test_bert_style_backbone_has_no_projection():
    backbone = CompactBackbone(
        **dict(TINY_ALBERT, embedding_dim=None, sharing="none", activation="gelu")
    )
    assert backbone.embeddings.projection is None
    assert backbone.embedding_dim == backbone.hidden_dim


def test_mixed_precision_backbone_runs():
    check_mixed_precision(lambda: CompactBackbone(**TINY_ALBERT), random_inputs())


def test_preset_overrides_and_unknown_preset():
    backbone = CompactBackbone.from_preset(
        "tinybert_4", vocabulary_size=100, max_sequence_length=16
    )
    assert backbone.num_layers == 4 and backbone.hidden_dim == 312
    with pytest.raises(ValueError, match="Unknown preset 'albert_huge'.*albert_base"):
        CompactBackbone.from_preset("albert_huge")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(num_heads=5), "hidden_dim=32 is not divisible by num_heads=5"),
        (dict(sharing="half"), "sharing='half'"),
        (dict(num_hidden_groups=3), "num_hidden_groups=3 must divide num_layers=4"),
        (dict(vocabulary_size=0), "vocabulary_size=0"),
        (dict(activation="swish2"), "activation='swish2'"),
        (dict(dropout=1.5), "dropout=1.5"),
    ],
)
def test_bad_configurations_name_the_value(overrides, message):
    with pytest.raises(ValueError, match=message):
        CompactBackbone(**dict(TINY_ALBERT, **overrides))
