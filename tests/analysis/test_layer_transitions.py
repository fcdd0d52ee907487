import numpy as np
import pytest
from keras import ops

from keras_compact import CompactBackbone
from keras_compact.analysis import layer_transitions
from keras_compact.analysis import plot_layer_transitions
from tests.conftest import TINY_ALBERT
from tests.conftest import random_inputs

pytestmark = pytest.mark.multi_backend


def test_transitions_match_a_direct_computation_over_real_tokens():
    backbone = CompactBackbone(**dict(TINY_ALBERT, sharing="none"))
    inputs = random_inputs(batch=3, length=12)
    stats = layer_transitions(backbone, inputs)
    states = [ops.convert_to_numpy(h) for h in backbone.compute_features(
        inputs, return_hidden_states=True)["hidden_states"]]
    real = inputs["padding_mask"].astype(bool)
    for layer in range(TINY_ALBERT["num_layers"]):
        before, after = states[layer][real], states[layer + 1][real]
        l2 = np.linalg.norm(after - before, axis=-1).mean()
        cosine = ((before * after).sum(-1) / (np.linalg.norm(before, axis=-1)
                                                * np.linalg.norm(after, axis=-1))).mean()
        np.testing.assert_allclose(stats["l2_distance"][layer], l2, rtol=1e-4)
        np.testing.assert_allclose(stats["cosine_similarity"][layer], cosine, rtol=1e-4)
    assert stats["angle_degrees"].shape == (TINY_ALBERT["num_layers"],)
    assert ((stats["angle_degrees"] >= 0) & (stats["angle_degrees"] <= 180)).all()


def test_plot_compares_albert_and_bert_style_models(tmp_path):
    inputs = random_inputs(batch=2, length=12)
    stats = {
        "ALBERT": layer_transitions(CompactBackbone(**TINY_ALBERT), inputs),
        "BERT": layer_transitions(
            CompactBackbone(**dict(TINY_ALBERT, sharing="none")), inputs),
    }
    path = plot_layer_transitions(stats, str(tmp_path / "transitions.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
