"""google-research/albert TF1 checkpoint import, against HF's ALBERT."""

import json

import numpy as np
import pytest

from keras_compact.convert import from_albert_tf1_checkpoint
from keras_compact.models import AlbertPretrainer
from tests.conftest import random_inputs
from tests.convert.hf_reference import SEQUENCE_LENGTH
from tests.convert.hf_reference import TINY_ALBERT_HF
from tests.convert.hf_reference import VOCABULARY_SIZE
from tests.convert.hf_reference import assert_close
from tests.convert.hf_reference import hf_outputs
from tests.convert.hf_reference import keras_outputs
from tests.convert.hf_reference import randomize
from tests.convert.tf1_reference import tf1_variables
from tests.convert.tf1_reference import write_albert_config
from tests.convert.tf1_reference import write_tf1_checkpoint

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tensorflow")

# Reading TF1 checkpoints needs TensorFlow, not the TensorFlow backend.
pytestmark = pytest.mark.multi_backend


@pytest.fixture(scope="module")
def inputs():
    return random_inputs(
        batch=3, length=SEQUENCE_LENGTH, vocabulary_size=VOCABULARY_SIZE
    )


@pytest.fixture(scope="module")
def albert_tf1(tmp_path_factory):
    """(HF model, TF1 checkpoint prefix, albert_config.json path)."""
    torch.manual_seed(0)
    config = transformers.AlbertConfig(**TINY_ALBERT_HF)
    hf_model = randomize(transformers.AlbertForPreTraining(config))
    directory = tmp_path_factory.mktemp("tf1")
    prefix = write_tf1_checkpoint(
        tf1_variables(hf_model), directory / "model.ckpt-1000"
    )
    config_path = write_albert_config(config, directory / "albert_config.json")
    return hf_model, prefix, config_path


def test_matches_hugging_face(albert_tf1, inputs):
    hf_model, prefix, config_path = albert_tf1
    ours = from_albert_tf1_checkpoint(prefix, config_path, with_heads=True)
    assert isinstance(ours, AlbertPretrainer)
    assert ours.backbone.activation == "gelu_approximate"
    assert (ours.backbone.num_hidden_groups, ours.backbone.inner_group_num) == (2, 2)
    assert_close(hf_outputs(hf_model, inputs), keras_outputs(ours, inputs))


def test_transformers_own_loader_agrees(albert_tf1):
    # Checks the test checkpoint's names independently of our importer.
    albert_module = pytest.importorskip("transformers.models.albert.modeling_albert")
    loader = getattr(albert_module, "load_tf_weights_in_albert", None)
    if loader is None:
        pytest.skip("this transformers version has no load_tf_weights_in_albert")
    hf_model, prefix, _ = albert_tf1
    fresh = transformers.AlbertForPreTraining(hf_model.config)
    loader(fresh, hf_model.config, prefix)
    expected = hf_model.state_dict()
    for name, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), expected[name].numpy(), name)


def test_equal_widths_and_tf_hub_prefix(inputs, tmp_path):
    # With E == H the release's code has no embedding_hidden_mapping_in; HF
    # always has one, so the reference uses an identity mapping.
    torch.manual_seed(2)
    config = transformers.AlbertConfig(**dict(TINY_ALBERT_HF, embedding_size=32))
    hf_model = randomize(transformers.AlbertForPreTraining(config), seed=2)
    mapping = hf_model.albert.encoder.embedding_hidden_mapping_in
    with torch.no_grad():
        mapping.weight.copy_(torch.eye(32))
        mapping.bias.zero_()
    prefix = write_tf1_checkpoint(
        tf1_variables(hf_model, with_projection=False),
        tmp_path / "model.ckpt",
        scope="module/",
    )
    albert_config = json.loads(
        write_albert_config(config, tmp_path / "albert_config.json").read_text()
    )
    backbone = from_albert_tf1_checkpoint(prefix, albert_config)
    assert backbone.embeddings.projection is None
    assert_close(hf_outputs(hf_model.albert, inputs), keras_outputs(backbone, inputs))


def test_rejects_mismatched_config(albert_tf1, tmp_path):
    _, prefix, config_path = albert_tf1
    config = json.loads(config_path.read_text())
    with pytest.raises(ValueError, match="hidden_act='swish'"):
        from_albert_tf1_checkpoint(prefix, dict(config, hidden_act="swish"))
    with pytest.raises(ValueError, match="group_1.* do not fit"):
        from_albert_tf1_checkpoint(prefix, dict(config, num_hidden_groups=1))
    with pytest.raises(ValueError, match="num_hidden_groups=3"):
        from_albert_tf1_checkpoint(prefix, dict(config, num_hidden_groups=3))
