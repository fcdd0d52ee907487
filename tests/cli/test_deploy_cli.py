"""`keras-compact export --format litert` (float32 and int8), the refused
int8 SavedModel, and the flags another format needs."""

import json
import os

import numpy as np
import tensorflow as tf

from keras_compact.cli.main import main
from keras_compact.export.litert import litert_interpreter


def test_cli_litert_files_and_refused_int8_saved_model(exported, spm_model, tmp_path,
                                                        capsys):
    model_path = str(tmp_path / "classifier.keras")
    exported.model.save(model_path)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"label_names": exported.labels, "seq_len": exported.seq_len,
                                  "vocab": spm_model}))
    base = str(tmp_path / "models")
    common = ["export", "--model", model_path, "--labels", str(labels), "--base-dir", base,
              "--name", "sections"]
    # int8 SavedModels serve slower than float32: refused in one line naming the
    # formats whose int8 is faster, before anything is written.
    assert main(common + ["--quantize", "int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "slower than float32" in err
    assert "--format litert --quantize int8" in err and "--format onnx --quantize int8" in err
    assert not os.path.exists(base)
    texts = tf.constant(["Py_INCREF(obj);", "Lists are mutable sequences."])

    assert main(common + ["--format", "litert"]) == 0
    assert main(common + ["--format", "litert", "--quantize", "int8"]) == 0
    out = capsys.readouterr().out
    assert "sections.int8.tflite" in out and "int8 dynamic-range" in out
    float_logits = None
    for name in ("sections.tflite", "sections.int8.tflite"):
        runner = litert_interpreter(os.path.join(base, name)).get_signature_runner()
        got = runner(text=np.array([t.decode() for t in texts.numpy()]))["logits"]
        if float_logits is None:
            float_logits = got
            expected = tf.saved_model.load(exported.path).signatures["serving_default"](
                text=texts)["logits"].numpy()
            np.testing.assert_allclose(got, expected, atol=1e-4)
        assert got.shape == (2, len(exported.labels))

    assert main(common + ["--token-ids"]) == 2
    assert "--format litert" in capsys.readouterr().err
    assert main(common + ["--format", "litert", "--fixed-width"]) == 2
    assert "SavedModels" in capsys.readouterr().err
