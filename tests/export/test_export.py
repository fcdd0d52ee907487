"""Raw-text SavedModels for TF Serving: what a clean server process sees,
the session loader, the op set, the versioned layout and fuzzed inputs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_compact import CompactBackbone
from keras_compact import TextClassifier
from keras_compact.cli.main import main
from keras_compact.data.labelled_task import make_classification_dataset
from keras_compact.export import TextPacker
from keras_compact.export import export_for_serving
from keras_compact.export import ops_outside_tf_serving
from keras_compact.export import saved_model_ops

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SEQ_LEN = 32
LABELS = ["c-api", "library", "tutorial"]
TEXTS = ["Lists are mutable sequences, typically used to store collections.",
         "The asyncio module runs coroutines concurrently.", "Py_INCREF(obj);"]
TINY = dict(vocabulary_size=4000, num_layers=2, num_heads=2, hidden_dim=32,
            intermediate_dim=64, embedding_dim=16, max_sequence_length=SEQ_LEN)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, spm_model):
    """A small classifier and its export as version 1 of "sections"."""
    import keras

    keras.utils.set_random_seed(3)
    model = TextClassifier(CompactBackbone(**TINY), num_classes=3)
    base = tmp_path_factory.mktemp("serving")
    path = export_for_serving(model, spm_model, str(base), "sections", seq_len=SEQ_LEN,
                              label_names=LABELS)
    return model, path, base


def _keras_logits(model, texts, spm_model):
    features, _ = next(iter(make_classification_dataset(
        [(t, 0) for t in texts], spm_model, batch_size=len(texts), seq_len=SEQ_LEN)))
    return model.predict(features, verbose=0)


def _clean_process(loader, path, texts, tmp_path):
    texts_file = tmp_path / f"texts_{loader}.json"
    texts_file.write_text(json.dumps(texts))
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "export", "serving_client.py"), loader,
         path, str(texts_file)], capture_output=True, text=True, timeout=300,
        cwd=str(tmp_path), env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith("OUTPUTS ")][0]
    return json.loads(line[len("OUTPUTS "):])


@pytest.mark.parametrize("loader", ["tf2", "session"])
def test_a_clean_process_serves_what_keras_computes(exported, spm_model, tmp_path, loader):
    model, path, _ = exported
    served = _clean_process(loader, path, TEXTS, tmp_path)
    assert served["leaked"] == []  # neither keras_compact nor keras_hub was imported
    outputs = served["outputs"]
    expected = _keras_logits(model, TEXTS, spm_model)
    np.testing.assert_allclose(outputs["logits"], expected, atol=1e-5, rtol=0)
    probabilities = np.asarray(outputs["probabilities"])
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    assert outputs["label_ids"] == np.argmax(expected, -1).tolist()
    assert outputs["labels"] == [LABELS[i] for i in outputs["label_ids"]]


def test_only_tf_serving_ops(exported):
    _, path, _ = exported
    ops = saved_model_ops(path)
    assert {"SentencepieceOp", "SentencepieceTokenizeOp"} <= ops
    assert "RoundRobinTrim" not in " ".join(ops)
    assert ops_outside_tf_serving(path) == []


def test_token_id_signature_and_packing_match_training(exported, spm_model):
    model, path, _ = exported
    loaded = tf.saved_model.load(path)
    features, _ = next(iter(make_classification_dataset(
        [(t, 0) for t in TEXTS], spm_model, batch_size=3, seq_len=SEQ_LEN)))
    by_ids = loaded.signatures["serve_token_ids"](**features)
    np.testing.assert_allclose(by_ids["logits"], model.predict(features, verbose=0), atol=1e-5)
    with open(spm_model, "rb") as handle:
        packed = TextPacker(handle.read(), SEQ_LEN)(tf.constant(TEXTS))
    for key in packed:
        np.testing.assert_array_equal(packed[key], features[key])


def test_pair_packing_truncates_the_longer_text(spm_model):
    with open(spm_model, "rb") as handle:
        packer = TextPacker(handle.read(), 12)
    long_text = "one two three four five six seven eight nine ten eleven twelve"
    packed = packer(tf.constant([long_text, "short"]), tf.constant(["tiny", long_text]))
    ids, segments, mask = (packed[k].numpy() for k in ("token_ids", "segment_ids",
                                                        "padding_mask"))
    assert mask.sum(1).tolist() == [12, 12]
    for row in range(2):
        sep = np.where(ids[row] == 3)[0]
        assert ids[row, 0] == 2 and len(sep) == 2 and sep[1] == 11
        assert (segments[row, : sep[0] + 1] == 0).all() and (segments[row, sep[0] + 1:] == 1).all()
    assert np.where(ids[0] == 3)[0][0] > 6  # the long first text keeps more than half


def test_fuzzed_inputs_keep_the_batch_shape(exported):
    _, path, _ = exported
    serve = tf.saved_model.load(path).signatures["serving_default"]
    cases = ["", "   \t\n", "x" * 10_000, "Unicode: 日本語のテキスト, Ελληνικά, عربى 🎉🐍",
             "mixed\u200bzero\u00a0width", "a"]
    batches = [[c] for c in cases] + [[b"\xff\xfe\x80 bad utf-8", b"ok"], (cases * 11)[:64]]
    for batch in batches:
        out = serve(text=tf.constant(batch))
        assert out["logits"].shape == (len(batch), 3)
        assert np.isfinite(out["probabilities"].numpy()).all()
        assert out["labels"].shape == (len(batch),)


def test_versions_and_cli(exported, spm_model, tmp_path, capsys):
    import keras

    model, path, base = exported
    assert path.endswith(os.path.join("sections", "1"))
    model_path = str(tmp_path / "model.keras")
    model.save(model_path)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"label_names": LABELS, "seq_len": SEQ_LEN,
                                  "vocab": spm_model}))
    args = ["export", "--model", model_path, "--base-dir", str(base), "--name", "sections",
            "--labels", str(labels)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert os.path.join("sections", "2") in out and "Ops outside TF Serving: none" in out
    assert sorted(os.listdir(base / "sections")) == ["1", "2"]  # no temporary left
    assert main(args + ["--version", "2"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", "--model", str(tmp_path / "nope.keras"), "--base-dir", str(base),
                 "--name", "x", "--vocab", spm_model]) == 2
    assert "nope.keras" in capsys.readouterr().err
    keras.saving.load_model(model_path)  # the .keras file is untouched
