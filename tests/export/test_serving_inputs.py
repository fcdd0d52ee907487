"""Serving input contracts (both loaders reject malformed requests with a
message naming the input and the rule) and bounded work per request (a
30 MB text costs about what a 10 kB one does)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import TINY
from tests.export.conftest import training_features

PROBE = os.path.join(os.path.dirname(__file__), "memory_probe.py")


def _session_run(path, signature_name, feed):
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        signature = meta.signature_def[signature_name]
        names = sorted(signature.outputs)
        return session.run([signature.outputs[n].name for n in names],
                           feed_dict={signature.inputs[k].name: v for k, v in feed.items()})


@pytest.fixture(scope="module")
def pair_export(spm_model, tmp_path_factory):
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact import TextClassifierPreprocessor
    from keras_compact.tokenizers import load_tokenizer
    from keras_compact.export import export_for_serving

    preprocessor = TextClassifierPreprocessor(load_tokenizer(spm_model), 32, pair=True)
    model = TextClassifier(CompactBackbone(**TINY), 2, preprocessor=preprocessor)
    return export_for_serving(model, base_dir=str(tmp_path_factory.mktemp("pair")),
                              model_name="pairs")


def test_text_must_be_a_vector_in_both_loaders(exported):
    serve = tf.saved_model.load(exported.path).signatures["serving_default"]
    assert serve(text=tf.constant(["fine", "also fine"]))["logits"].shape == (2, 3)
    for bad in (np.array([["a", "b"]]), np.array("a scalar")):
        with pytest.raises(tf.errors.InvalidArgumentError, match="Input text must be a vector"):
            serve(text=tf.constant(bad))
        with pytest.raises(tf.errors.InvalidArgumentError, match="Input text must be a vector"):
            _session_run(exported.path, "serving_default", {"text": bad})


def test_token_ids_are_checked(exported, spm_model):
    serve = tf.saved_model.load(exported.path).signatures["serve_token_ids"]
    good = {k: v.numpy() for k, v in training_features(["Lists are mutable."] * 2,
                                                        spm_model).items()}
    assert serve(**{k: tf.constant(v) for k, v in good.items()})["logits"].shape == (2, 3)

    def bad(key, value, message):
        feed = dict(good, **{key: value})
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            serve(**{k: tf.constant(v) for k, v in feed.items()})
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            _session_run(exported.path, "serve_token_ids", feed)

    ids = good["token_ids"].copy()
    ids[0, 1] = -1
    bad("token_ids", ids, "Input token_ids must be >= 0")
    ids[0, 1] = 4000
    bad("token_ids", ids, "Input token_ids must be < vocabulary_size=4000")
    bad("segment_ids", good["segment_ids"][:1], "Input segment_ids must have the shape of "
                                                "token_ids")
    bad("padding_mask", good["padding_mask"][:1], "Input padding_mask must have the shape")
    bad("segment_ids", good["segment_ids"] + 2, "Input segment_ids must be < num_segments=2")
    bad("padding_mask", good["padding_mask"] * 3, "Input padding_mask must hold only 0")


def test_pairs_need_equal_batch_sizes(pair_export):
    serve = tf.saved_model.load(pair_export).signatures["serving_default"]
    out = serve(text=tf.constant(["a", "b"]), text_b=tf.constant(["c", "d"]))
    assert out["logits"].shape == (2, 2)
    feed = {"text": np.array(["a", "b"]), "text_b": np.array(["c"])}
    with pytest.raises(tf.errors.InvalidArgumentError, match="different batch sizes"):
        serve(**{k: tf.constant(v) for k, v in feed.items()})
    with pytest.raises(tf.errors.InvalidArgumentError, match="different batch sizes"):
        _session_run(pair_export, "serving_default", feed)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Input text_b must be a vector"):
        serve(text=tf.constant(["a"]), text_b=tf.constant([["c"]]))


def _probe(path, num_bytes, work):
    result = subprocess.run([sys.executable, PROBE, path, str(num_bytes)], capture_output=True,
                            text=True, timeout=600, cwd=str(work),
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith("PROBE ")][0]
    return json.loads(line[len("PROBE "):])


def test_a_30_mb_text_costs_about_what_a_10_kb_text_does(exported, tmp_path):
    """Texts are cut to 64 characters per position before tokenizing, so the
    graph's work does not grow with the request (before: +2.65 GB and 4.8 s
    for 30 MB). Each size runs in its own clean process."""
    small = _probe(exported.path, 10_000, tmp_path)
    large = _probe(exported.path, 30_000_000, tmp_path)
    print(f"10 kB: {small}; 30 MB: {large}")
    # The 30 MB request itself (Python string + tensor) is ~60-90 MB of a
    # ~0.5-1 GB process; tokenizing it whole took gigabytes.
    assert large["max_rss_mb"] < 1.5 * small["max_rss_mb"], (small, large)
    assert large["seconds"] < max(20 * small["seconds"], 1.0), (small, large)
