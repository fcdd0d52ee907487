import keras_hub
import numpy as np
import pytest
from keras import ops

from keras_compact.convert import from_keras_hub
from tests.conftest import random_inputs

pytestmark = pytest.mark.multi_backend


def _max_abs_difference(source, target, inputs):
    expected = source(inputs)
    got = target(inputs)
    return {
        key: float(
            np.abs(
                ops.convert_to_numpy(expected[key]) - ops.convert_to_numpy(got[key])
            ).max()
        )
        for key in ("sequence_output", "pooled_output")
    }


@pytest.mark.parametrize(
    "num_layers, num_groups, num_inner_repetitions",
    [(12, 1, 1), (12, 3, 1), (12, 2, 2), (4, 4, 1)],
)
def test_albert_parity(num_layers, num_groups, num_inner_repetitions):
    # Base-shaped (12 layers, head width 64 ratio kept small) but tiny.
    source = keras_hub.models.AlbertBackbone(
        vocabulary_size=200,
        num_layers=num_layers,
        num_heads=2,
        embedding_dim=16,
        hidden_dim=64,
        intermediate_dim=256,
        num_groups=num_groups,
        num_inner_repetitions=num_inner_repetitions,
        max_sequence_length=32,
    )
    target = from_keras_hub(source)
    assert target.count_params() == source.count_params()
    diffs = _max_abs_difference(source, target, random_inputs(length=20, vocabulary_size=200))
    assert diffs["sequence_output"] <= 1e-5, diffs
    assert diffs["pooled_output"] <= 1e-5, diffs


def test_bert_parity():
    source = keras_hub.models.BertBackbone(
        vocabulary_size=200,
        num_layers=3,
        num_heads=2,
        hidden_dim=64,
        intermediate_dim=256,
        max_sequence_length=32,
    )
    target = from_keras_hub(source)
    assert target.count_params() == source.count_params()
    diffs = _max_abs_difference(source, target, random_inputs(length=20, vocabulary_size=200))
    assert max(diffs.values()) <= 1e-5, diffs


def test_rejects_other_models():
    with pytest.raises(ValueError, match="AlbertBackbone or keras_hub.models.BertBackbone"):
        from_keras_hub(object())
