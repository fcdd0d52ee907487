"""A classifier trained on JAX or torch, saved as `.keras`, exports to ONNX from
TensorFlow and gives the logits it gave on its own backend."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime "
                    "(pip install \"keras-compact[onnx]\")")
pytest.importorskip("tf2onnx", reason="ONNX export tests need tf2onnx "
                    "(pip install \"keras-compact[onnx]\")")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEXTS = ["What does the function return?", "Lists are mutable sequences.",
         "A long question about lists, tuples, dictionaries and sets. " * 4]

# Runs under the backend named by KERAS_BACKEND: a short real fit, then the
# saved model and its logits on TEXTS.
TRAIN = """
import json, sys
import keras, numpy as np
from keras_compact import CompactBackbone, TextClassifier, TextClassifierPreprocessor
spm_model, folder, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
keras.utils.set_random_seed(0)
preprocessor = TextClassifierPreprocessor(spm_model, sequence_length=16)
backbone = CompactBackbone(vocabulary_size=4000, num_layers=2, num_heads=2, hidden_dim=16,
                           intermediate_dim=32, embedding_dim=8, max_sequence_length=16)
model = TextClassifier(backbone, num_classes=3, preprocessor=preprocessor)
model.compile(optimizer=keras.optimizers.Adam(1e-2),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(texts * 4, np.arange(len(texts) * 4) % 3, batch_size=4, epochs=1, verbose=0)
model.save(folder + "/model.keras")
np.save(folder + "/logits.npy", keras.ops.convert_to_numpy(model.predict(texts, verbose=0)))
print(keras.backend.backend())
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_model_trained_on_another_backend_exports_to_onnx(backend, spm_model, tmp_path):
    import keras
    import onnxruntime

    from keras_compact.export import export

    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT)
    run = subprocess.run([sys.executable, "-c", TRAIN, spm_model, str(tmp_path),
                          json.dumps(TEXTS)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-1] == backend

    model = keras.saving.load_model(str(tmp_path / "model.keras"))
    path = export(model, str(tmp_path / "onnx"), format="onnx", label_names=["a", "b", "c"])
    session = onnxruntime.InferenceSession(os.path.join(path, "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    features = {k: np.asarray(keras.ops.convert_to_numpy(v), np.int32)
                for k, v in model.preprocessor(TEXTS).items()}
    logits = session.run(["logits"], features)[0]
    np.testing.assert_allclose(logits, np.load(tmp_path / "logits.npy"), atol=1e-4)
    assert any(name.endswith(".model") for name in os.listdir(path))  # its tokenizer
