"""The bundled section task, its tf.data pipeline and `keras-compact finetune`."""

import json
import os

import numpy as np
import pytest

from keras_compact.cli.main import main
from keras_compact.data.labelled_task import SPLITS
from keras_compact.data.labelled_task import load_section_task
from keras_compact.preprocessing import TextClassifierPreprocessor
from keras_compact.tasks.datasets import make_dataset

TINY_CONFIG = json.dumps({"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
                          "intermediate_dim": 32, "embedding_dim": 8})


@pytest.fixture(scope="module")
def task():
    return load_section_task()


def test_splits_are_disjoint_by_document(task):
    from keras_compact.data import load_default_corpus

    documents = {split: set(task["documents"][split]) for split in SPLITS}
    assert all(documents.values())
    assert not documents["train"] & documents["validation"]
    assert not documents["train"] & documents["test"]
    assert not documents["validation"] & documents["test"]
    # Each paragraph comes from a document of its own split, and its label is
    # that document's section.
    corpus = load_default_corpus()
    owner = {}
    for document in corpus:
        for paragraph in document.paragraphs:
            owner.setdefault(paragraph, set()).add((document.id, document.section))
    names = task["label_names"]
    for split in SPLITS:
        for text, label in task[split][:300]:
            assert any(doc_id in documents[split] and section == names[label]
                       for doc_id, section in owner[text])


def test_labels_are_stable_and_in_range(task):
    names = task["label_names"]
    assert names == sorted(names) and len(names) >= 2
    assert {"library", "tutorial", "c-api"} <= set(names)
    assert "installing" not in names  # one document: dropped by the size rule
    for split in SPLITS:
        labels = {label for _, label in task[split]}
        assert labels == set(range(len(names)))  # every class in every split
        assert all(len(text) >= 80 for text, _ in task[split])
    other = load_section_task(max_per_section=50, seed=3)
    assert other["label_names"] == names
    assert other["documents"] == task["documents"]  # the split ignores the seed
    counts = np.bincount([label for _, label in other["train"]], minlength=len(names))
    assert counts.max() <= 50
    with pytest.raises(ValueError, match="'installing'"):
        load_section_task(sections=["library", "installing"])


def test_dataset_shapes_and_dtypes_are_static(task, spm_model):
    import tensorflow as tf

    pairs = task["train"][:20]
    preprocessor = TextClassifierPreprocessor(spm_model, sequence_length=24)
    train = make_dataset(pairs, None, preprocessor, batch_size=8, shuffle=True, seed=0)
    features, labels = train.element_spec
    for name in ("token_ids", "segment_ids", "padding_mask"):
        assert features[name].shape == (8, 24) and features[name].dtype == tf.int32
    assert labels.shape == (8,) and labels.dtype == tf.int32
    assert len(list(train)) == 2  # 20 // 8, the remainder dropped
    evaluation = make_dataset(pairs, None, preprocessor, batch_size=8)
    assert evaluation.element_spec[0]["token_ids"].shape.as_list() == [None, 24]
    batches = list(evaluation)
    assert sum(int(b[1].shape[0]) for b in batches) == 20
    features, labels = batches[0]
    token_ids = features["token_ids"].numpy()
    mask = features["padding_mask"].numpy()
    assert (token_ids[:, 0] == 2).all()  # [CLS]
    lengths = mask.sum(axis=1)
    assert (token_ids[np.arange(8), lengths - 1] == 3).all()  # [SEP] last
    assert (token_ids[mask == 0] == 0).all()  # <pad>
    assert labels.numpy().tolist() == [label for _, label in pairs[:8]]


def test_finetune_writes_a_classifier_that_reloads(tmp_path, spm_model, capsys):
    import keras

    from keras_compact.models import CompactBackbone

    output = tmp_path / "run"
    common = ["--vocab", spm_model, "--epochs", "1", "--batch-size", "16", "--seq-len", "32",
              "--max-train-examples", "32", "--max-eval-examples", "16"]
    assert main(["finetune", "--output-dir", str(output), "--config", TINY_CONFIG]
                + common) == 0
    out = capsys.readouterr().out
    assert "epoch 1:" in out and "val_accuracy" in out and "test: accuracy" in out
    classifier = keras.saving.load_model(str(output / "classifier.keras"))
    labels = json.loads((output / "task.json").read_text())["label_names"]
    logits = classifier.predict(["Lists are mutable sequences."], verbose=0)
    assert logits.shape == (1, len(labels)) and np.isfinite(logits).all()
    assert not [name for name in os.listdir(output) if ".tmp" in name]

    # A saved backbone (as `keras-compact pretrain` writes it).
    backbone_path = str(tmp_path / "backbone.keras")
    CompactBackbone.from_preset("albert_base", vocabulary_size=4000, max_sequence_length=32,
                                **json.loads(TINY_CONFIG)).save(backbone_path)
    assert main(["finetune", "--output-dir", str(tmp_path / "run2"), "--backbone",
                 backbone_path] + common) == 0
    # The default rate follows the backbone's width (16 here: the 3e-4 ceiling).
    assert "Learning rate 0.0003 (default for a pretrained backbone of width 16" in \
        capsys.readouterr().out
    assert (tmp_path / "run2" / "classifier.keras").exists()


def test_finetune_bad_inputs_exit_2_naming_the_path(tmp_path, spm_model, capsys):
    missing_vocab = str(tmp_path / "missing.model")
    code = main(["finetune", "--output-dir", str(tmp_path / "a"), "--vocab", missing_vocab])
    err = capsys.readouterr().err
    assert code == 2 and "missing.model" in err and "Traceback" not in err
    missing_backbone = str(tmp_path / "nowhere" / "backbone.keras")
    code = main(["finetune", "--output-dir", str(tmp_path / "b"), "--vocab", spm_model,
                 "--backbone", missing_backbone])
    err = capsys.readouterr().err
    assert code == 2 and missing_backbone in err and "keras-compact pretrain" in err
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")
