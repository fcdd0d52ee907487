"""The TF Serving contract of an exported classifier: a clean process that
has only tensorflow and tensorflow_text serves what Keras computes, through
the TF2 loader and the session-based loader TF Serving uses; every op is one
TF Serving has; fuzzed text never breaks a request."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_compact.export import TextPacker
from keras_compact.export import ops_outside_tf_serving
from keras_compact.export import saved_model_ops
from tests.export.conftest import training_features

CLIENT = os.path.join(os.path.dirname(__file__), "serving_client.py")
TEXTS = ["Lists are mutable sequences, typically used to store collections.",
         "The asyncio module runs coroutines concurrently.", "Py_INCREF(obj);", "",
         "Unicode: 日本語のテキスト, Ελληνικά, عربى 🎉🐍",
         "A long paragraph that the packer must truncate. " * 200]


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
    """TEXTS through `serving_default` in a fresh process, with both loaders."""
    work = tmp_path_factory.mktemp("client")
    inputs = work / "inputs.json"
    inputs.write_text(json.dumps({"text": TEXTS}))
    result = subprocess.run(
        [sys.executable, CLIENT, "tf2,session", exported.path, str(inputs)],
        capture_output=True, text=True, timeout=300, cwd=str(work),
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith("OUTPUTS ")][0]
    return json.loads(line[len("OUTPUTS "):])


@pytest.mark.parametrize("loader", ["tf2", "session"])
def test_a_clean_process_serves_what_keras_computes(exported, served, spm_model, loader):
    assert served["loaded"] == []  # neither keras_compact nor keras_hub
    outputs = served["outputs"][loader]
    expected = exported.model.predict(training_features(TEXTS, spm_model), verbose=0)
    assert np.abs(np.asarray(outputs["logits"]) - expected).max() <= 1e-5
    probabilities = np.asarray(outputs["probabilities"])
    np.testing.assert_allclose(probabilities, tf.nn.softmax(expected).numpy(), atol=1e-5)
    assert outputs["label_ids"] == np.argmax(expected, -1).tolist()
    assert outputs["labels"] == [exported.labels[i] for i in outputs["label_ids"]]


def test_every_op_is_one_tf_serving_has(exported):
    ops = saved_model_ops(exported.path)
    assert {"SentencepieceOp", "SentencepieceTokenizeOp"} <= ops
    assert not any("RoundRobin" in op for op in ops)
    assert ops_outside_tf_serving(exported.path) == []


def test_the_op_check_flags_foreign_and_too_new_ops(tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    graph = proto.meta_graphs.add().graph_def
    graph.node.add(name="text", op="Placeholder")
    graph.node.add(name="call", op="packer_fn")  # a call of a library function
    function = graph.library.function.add()
    function.signature.name = "packer_fn"
    for name, op in [("a", "SentencepieceOp"), ("b", "TFText>RoundRobinTrim"),
                     ("c", "MyCustomKernel")]:
        function.node_def.add(name=name, op=op)
    (tmp_path / "saved_model.pb").write_bytes(proto.SerializeToString())
    assert ops_outside_tf_serving(str(tmp_path)) == ["MyCustomKernel", "TFText>RoundRobinTrim"]
    assert ops_outside_tf_serving(str(tmp_path), tf_serving_version="2.20") == ["MyCustomKernel"]


def test_the_token_id_signature_serves_client_tokenized_batches(exported, spm_model):
    features = training_features(TEXTS, spm_model)
    serve = tf.saved_model.load(exported.path).signatures["serve_token_ids"]
    outputs = serve(**features)
    expected = exported.model.predict(features, verbose=0)
    assert np.abs(outputs["logits"].numpy() - expected).max() <= 1e-5
    assert sorted(outputs) == ["label_ids", "labels", "logits", "probabilities"]


def test_short_batches_run_trimmed_and_match_the_full_width_outputs(exported, spm_model):
    # The default export runs only as wide as the batch's longest text.
    serve = tf.saved_model.load(exported.path).signatures["serving_default"]
    for batch in (TEXTS[1:3], TEXTS[2:3], [""], TEXTS[:2] * 5):
        expected = exported.model.predict(training_features(batch, spm_model), verbose=0)
        logits = serve(text=tf.constant(batch))["logits"].numpy()
        assert np.abs(logits - expected).max() <= 1e-5


def test_fuzzed_texts_never_fail_and_keep_the_batch_shape(exported, spm_model):
    serve = tf.saved_model.load(exported.path).signatures["serving_default"]
    cases = ["", "   \t\n ", "\u3000\u00a0", "x" * 10_000, "word " * 2_000,
             "Mixed: 日本語, Ελληνικά, עברית, عربى, हिन्दी, 🎉🐍👩‍👩‍👧", "zero\u200bwidth\x00nul",
             "[CLS] [SEP] [MASK] <pad> <unk>", "a"]
    bad_utf8 = [b"\xff\xfe\x80 bad utf-8", b"\xc3\x28", b"ok \xe2\x82"]
    batches = [[c] for c in cases] + [bad_utf8, (cases * 8)[:64]]
    for batch in batches:
        out = serve(text=tf.constant(batch))
        n = len(batch)
        assert out["logits"].shape == (n, 3) and out["probabilities"].shape == (n, 3)
        assert out["label_ids"].shape == (n,) and out["labels"].shape == (n,)
        assert np.isfinite(out["probabilities"].numpy()).all()
    # Long texts are truncated to the sequence, not rejected.
    with open(spm_model, "rb") as handle:
        packed = TextPacker(handle.read(), exported.seq_len)(tf.constant(cases[3:5] + [""]))
    assert packed["padding_mask"].numpy().sum(1).tolist() == [exported.seq_len] * 2 + [2]
