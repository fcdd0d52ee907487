"""Hugging Face import/export against transformers' own ALBERT and BERT."""

import json
import os
import sys

import numpy as np
import pytest

from keras_compact.convert import from_huggingface
from keras_compact.convert import to_huggingface
from keras_compact.convert.checkpoint_files import load_weights
from keras_compact.models import AlbertPretrainer
from keras_compact.models import CompactBackbone
from tests.conftest import random_inputs
from tests.convert.hf_reference import SEQUENCE_LENGTH
from tests.convert.hf_reference import TINY_ALBERT_HF
from tests.convert.hf_reference import TINY_BERT_HF
from tests.convert.hf_reference import VOCABULARY_SIZE
from tests.convert.hf_reference import assert_close
from tests.convert.hf_reference import hf_outputs
from tests.convert.hf_reference import keras_outputs
from tests.convert.hf_reference import randomize

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.multi_backend


@pytest.fixture(scope="module")
def inputs():
    return random_inputs(
        batch=3, length=SEQUENCE_LENGTH, vocabulary_size=VOCABULARY_SIZE
    )


@pytest.fixture(scope="module")
def albert(tmp_path_factory):
    """(HF AlbertForPreTraining, its save_pretrained directory)."""
    torch.manual_seed(0)
    model = randomize(
        transformers.AlbertForPreTraining(
            transformers.AlbertConfig(**TINY_ALBERT_HF)
        )
    )
    directory = tmp_path_factory.mktemp("hf") / "albert"
    model.save_pretrained(directory)
    return model, directory


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    torch.manual_seed(1)
    model = randomize(
        transformers.BertForPreTraining(transformers.BertConfig(**TINY_BERT_HF)),
        seed=1,
    )
    directory = tmp_path_factory.mktemp("hf") / "bert"
    model.save_pretrained(directory)
    return model, directory


def _load_exported(hf_class, directory):
    model, info = hf_class.from_pretrained(directory, output_loading_info=True)
    assert not info["missing_keys"], info
    assert not info["unexpected_keys"], info
    assert not info["mismatched_keys"], info
    return model.eval()


@pytest.mark.parametrize("family", ["albert", "bert"])
def test_round_trip_with_heads(family, albert, bert, inputs, tmp_path):
    hf_model, directory = albert if family == "albert" else bert
    expected = hf_outputs(hf_model, inputs)

    # Import: backbone and both heads agree with transformers.
    ours = from_huggingface(directory, with_heads=True)
    assert isinstance(ours, AlbertPretrainer)
    assert ours.sentence_task == ("sop" if family == "albert" else "nsp")
    if family == "albert":
        assert ours.backbone.num_hidden_groups == 2
        assert ours.backbone.inner_group_num == 2
    else:
        assert ours.backbone.sharing == "none"
    assert_close(expected, keras_outputs(ours, inputs))

    # Export: transformers loads every weight, and computes the same.
    exported = tmp_path / "exported"
    assert to_huggingface(ours, exported) == family
    reloaded = _load_exported(type(hf_model), exported)
    assert_close(expected, hf_outputs(reloaded, inputs))

    # Re-import the export.
    again = from_huggingface(exported, with_heads=True)
    assert_close(expected, keras_outputs(again, inputs))


def test_backbone_export_is_a_base_model(albert, inputs, tmp_path):
    hf_model, directory = albert
    backbone = from_huggingface(directory)
    assert isinstance(backbone, CompactBackbone)
    expected = hf_outputs(hf_model.albert, inputs)
    assert_close(expected, keras_outputs(backbone, inputs))

    to_huggingface(backbone, tmp_path / "base")
    config = json.loads((tmp_path / "base" / "config.json").read_text())
    assert config["architectures"] == ["AlbertModel"]
    reloaded = _load_exported(transformers.AlbertModel, tmp_path / "base")
    assert_close(expected, hf_outputs(reloaded, inputs))
    with pytest.raises(ValueError, match=r"no MLM head weights \(predictions"):
        from_huggingface(tmp_path / "base", with_heads=True)


def test_pytorch_bin_with_tied_decoder(bert, inputs, tmp_path):
    # transformers 5 always writes safetensors; torch.save of the state dict
    # is what save_pretrained(safe_serialization=False) wrote, tied decoder
    # matrix and buffers included.
    hf_model, _ = bert
    hf_model.config.save_pretrained(tmp_path)
    torch.save(hf_model.state_dict(), tmp_path / "pytorch_model.bin")
    assert "cls.predictions.decoder.weight" in hf_model.state_dict()
    ours = from_huggingface(tmp_path / "pytorch_model.bin", with_heads=True)
    assert_close(hf_outputs(hf_model, inputs), keras_outputs(ours, inputs))


def test_masked_lm_checkpoint_keeps_fresh_pooler_and_sentence_head(
    inputs, tmp_path
):
    # BertForMaskedLM is saved without pooler and NSP head.
    torch.manual_seed(3)
    hf_model = randomize(
        transformers.BertForMaskedLM(transformers.BertConfig(**TINY_BERT_HF)),
        seed=3,
    )
    hf_model.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match="pooler.dense.weight.*random"):
        with pytest.warns(UserWarning, match="cls.seq_relationship.weight"):
            ours = from_huggingface(tmp_path, with_heads=True)
    with torch.no_grad():
        expected = hf_model(
            input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(inputs["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(inputs["padding_mask"], dtype=torch.long),
            output_hidden_states=True,
        )
    got = keras_outputs(ours, inputs)
    assert_close(
        {
            "sequence_output": expected.hidden_states[-1].numpy(),
            "mlm": expected.logits.numpy(),
        },
        got,
    )


def test_pytorch_bin_without_torch_is_a_clear_error(bert, tmp_path, monkeypatch):
    hf_model, _ = bert
    hf_model.config.save_pretrained(tmp_path)
    torch.save(hf_model.state_dict(), tmp_path / "pytorch_model.bin")
    # A None entry makes `import torch` raise ImportError.
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pytorch_model.bin needs PyTorch"):
        from_huggingface(tmp_path)


def test_sharded_safetensors(bert, inputs, tmp_path):
    hf_model, _ = bert
    hf_model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    ours = from_huggingface(tmp_path, with_heads=True)
    assert_close(hf_outputs(hf_model, inputs), keras_outputs(ours, inputs))


def test_sharing_none_with_projection_exports_as_albert(inputs, tmp_path):
    # No BERT holds a projection: one ALBERT group per layer does.
    backbone = CompactBackbone(
        vocabulary_size=VOCABULARY_SIZE, num_layers=2, num_heads=2,
        hidden_dim=32, intermediate_dim=64, embedding_dim=16, sharing="none",
        max_sequence_length=32,
    )
    assert to_huggingface(backbone, tmp_path / "out") == "albert"
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["num_hidden_groups"] == 2
    reloaded = _load_exported(transformers.AlbertModel, tmp_path / "out")
    assert_close(keras_outputs(backbone, inputs), hf_outputs(reloaded, inputs))


def test_albert_without_projection_exports_identity_mapping(inputs, tmp_path):
    backbone = CompactBackbone(
        vocabulary_size=VOCABULARY_SIZE, num_layers=2, num_heads=2,
        hidden_dim=32, intermediate_dim=64, embedding_dim=32, sharing="all",
        max_sequence_length=32,
    )
    assert backbone.embeddings.projection is None
    to_huggingface(backbone, tmp_path / "out")
    reloaded = _load_exported(transformers.AlbertModel, tmp_path / "out")
    assert_close(keras_outputs(backbone, inputs), hf_outputs(reloaded, inputs))


def test_reads_bfloat16_safetensors(tmp_path):
    from safetensors.torch import save_file

    value = torch.randn(3, 5).to(torch.bfloat16)
    save_file({"w": value}, str(tmp_path / "model.safetensors"))
    loaded = load_weights(tmp_path / "model.safetensors")["w"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, value.float().numpy())


def _checkpoint_with_config(source_directory, tmp_path, **changes):
    config = json.loads((source_directory / "config.json").read_text())
    config.update(changes)
    (tmp_path / "config.json").write_text(json.dumps(config))
    os.symlink(source_directory / "model.safetensors", tmp_path / "model.safetensors")
    return tmp_path


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"position_embedding_type": "relative_key"},
         "position_embedding_type='relative_key'"),
        ({"hidden_act": "quick_gelu"}, "hidden_act='quick_gelu'"),
        ({"model_type": "roberta"}, "model_type='roberta'"),
        ({"num_hidden_groups": 3}, "num_hidden_groups=3"),
        ({"type_vocab_size": 0}, "type_vocab_size=0"),
        ({"num_hidden_groups": 1}, "do not fit the architecture"),
        ({"hidden_size": 16}, "has shape"),
    ],
)
def test_rejects_unsupported_checkpoints(albert, tmp_path, changes, message):
    directory = _checkpoint_with_config(albert[1], tmp_path, **changes)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        from_huggingface(directory)


def test_rejects_untied_decoder(bert, tmp_path):
    hf_model, _ = bert
    hf_model.config.save_pretrained(tmp_path)
    state = dict(hf_model.state_dict())
    state["cls.predictions.decoder.weight"] = state[
        "cls.predictions.decoder.weight"
    ] + 1.0
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="differs from the word embeddings"):
        from_huggingface(tmp_path, with_heads=True)
    # The backbone does not need the decoder.
    from_huggingface(tmp_path)


@pytest.mark.parametrize("sharing", ["attention", "ffn"])
def test_export_rejects_partial_sharing(sharing, tmp_path):
    backbone = CompactBackbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, embedding_dim=8, sharing=sharing,
        max_sequence_length=16,
    )
    with pytest.raises(ValueError, match=f"sharing='{sharing}'"):
        to_huggingface(backbone, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_refuses_existing_directory(tmp_path):
    backbone = CompactBackbone(
        vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16, sharing="none",
    )
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        to_huggingface(backbone, tmp_path / "out")


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="No weights"):
        from_huggingface(tmp_path)
