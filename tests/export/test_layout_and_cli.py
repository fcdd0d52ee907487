"""TF Serving's layout (integer versions, the next one chosen, written
atomically), `keras-compact export`, backbone and pair exports, and the
errors a user can hit."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_compact import CompactBackbone
from keras_compact.cli.main import main
from keras_compact.export import TextPacker
from keras_compact.export import export_for_serving
from keras_compact.export import next_version
from keras_compact.export.versions import version_path
from tests.export.conftest import TINY


def test_versions_are_integers_and_the_next_is_chosen(tmp_path):
    model_dir = tmp_path / "sections"
    assert next_version(str(model_dir)) == 1
    for name in ("1", "7", ".8.tmpab12", "notes", "3"):
        (model_dir / name).mkdir(parents=True)
    (model_dir / "9").write_text("a file, not a version")
    assert next_version(str(model_dir)) == 8
    assert version_path(str(tmp_path), "sections") == str(model_dir / "8")
    with pytest.raises(ValueError, match="already exists"):
        version_path(str(tmp_path), "sections", 7)
    for bad_name in ("", "a/b", ".hidden"):
        with pytest.raises(ValueError, match="model_name"):
            version_path(str(tmp_path), bad_name)
    for bad_version in (0, -1, "2", True):
        with pytest.raises(ValueError, match="positive integer"):
            version_path(str(tmp_path), "sections", bad_version)


def test_a_failed_export_leaves_no_version(exported, spm_model, tmp_path, monkeypatch):
    def write_half_and_fail(obj, export_dir, **kwargs):
        os.makedirs(os.path.join(export_dir, "variables"))
        raise OSError("disk full")

    # ExportArchive.write_out ends in tf.saved_model.save.
    monkeypatch.setattr(tf.saved_model, "save", write_half_and_fail)
    with pytest.raises(OSError, match="disk full"):
        export_for_serving(exported.model, spm_model, str(tmp_path), "sections",
                           sequence_length=exported.seq_len)
    # No version, no temporary, and no empty model folder the export made.
    assert not (tmp_path / "sections").exists()


def test_the_cli_exports_the_next_version(exported, spm_model, tmp_path, capsys):
    model_path = str(tmp_path / "classifier.keras")
    exported.model.save(model_path)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"label_names": exported.labels, "seq_len": exported.seq_len,
                                  "vocab": spm_model, "test_accuracy": 0.5}))
    base = str(tmp_path / "models")
    args = ["export", "--model", model_path, "--labels", str(labels), "--base-dir", base,
            "--name", "sections"]
    assert main(args) == 0 and main(args + ["--fixed-width"]) == 0
    out = capsys.readouterr().out
    assert os.path.join("sections", "2") in out and "serving_default" in out
    assert "Ops outside TF Serving: none" in out
    assert sorted(os.listdir(os.path.join(base, "sections"))) == ["1", "2"]  # no temporary
    texts = tf.constant(["Py_INCREF(obj);", "Lists are mutable sequences."])
    trimmed, fixed = (tf.saved_model.load(os.path.join(base, "sections", version)).signatures[
        "serving_default"](text=texts) for version in ("1", "2"))
    assert trimmed["labels"].numpy()[0].decode() in exported.labels
    assert np.abs(trimmed["logits"].numpy() - fixed["logits"].numpy()).max() <= 1e-5

    assert main(args + ["--version", "2"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", "--model", str(tmp_path / "nope.keras"), "--base-dir", base,
                 "--name", "x", "--vocab", spm_model]) == 2
    assert "nope.keras" in capsys.readouterr().err
    assert main(["export", "--model", model_path, "--base-dir", base, "--name", "x"]) == 2
    assert "--vocab" in capsys.readouterr().err


def test_a_backbone_exports_pairs_with_pooled_and_sequence_outputs(spm_model, tmp_path):
    backbone = CompactBackbone(**TINY)
    path = export_for_serving(backbone, spm_model, str(tmp_path), "encoder",
                              sequence_length=TINY["max_sequence_length"], pair=True)
    signature = tf.saved_model.load(path).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["text", "text_b"]
    first = tf.constant(["What does Py_INCREF do?", "", "x" * 500])
    second = tf.constant(["It increments a reference count.", "", "y" * 500])
    served = signature(text=first, text_b=second)
    with open(spm_model, "rb") as handle:
        features = TextPacker(handle.read(), TINY["max_sequence_length"])(first, second)
    expected = backbone(features, training=False)
    for key in ("pooled_output", "sequence_output"):
        assert np.abs(served[key].numpy() - expected[key].numpy()).max() <= 1e-5


def test_export_errors_name_the_fix(exported, spm_model, tmp_path, monkeypatch):
    import keras

    def export(**overrides):
        kwargs = dict(model=exported.model, vocab=spm_model, base_dir=str(tmp_path),
                      model_name="m", sequence_length=exported.seq_len)
        kwargs.update(overrides)
        return export_for_serving(**kwargs)

    with pytest.raises(ValueError, match="2 names but the classifier has 3"):
        export(label_names=["a", "b"])
    with pytest.raises(ValueError, match="max_sequence_length=32"):
        export(sequence_length=64)
    with pytest.raises(ValueError, match="export takes a .*TextClassifier.*CompactBackbone; got Sequential"):
        export(model=keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(FileNotFoundError, match="missing.model"):
        export(vocab=str(tmp_path / "missing.model"))
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow"):
        export()
    assert not os.path.exists(tmp_path / "m")  # nothing written before the checks pass
