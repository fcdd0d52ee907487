"""A Hugging Face `BertForSequenceClassification` folder as a TextClassifier:
logits on raw text equal transformers' on the real all-MiniLM-L6-v2 weights
(with a seeded head), a one-output head becomes a regressor, placeholder
label names are recognised, and a base model gets an error naming the fix."""

import os
import shutil

import numpy as np
import pytest

from keras_compact.convert import from_huggingface_classifier
from keras_compact.convert.sequence_classification import huggingface_label_names
from keras_compact.models import TextClassifier
from keras_compact.models import TextRegressor
from tests.conftest import minilm_dir_or_skip

TEXTS = ["Lists are mutable sequences.", "The interpreter exits with status 1.",
         "Ünïcode façade – naïve café, 東京 and Py_DECREF()", ""]


def _hf_classifier_folder(path, num_labels, id2label=None):
    """all-MiniLM-L6-v2 with a seeded classification head, saved by transformers."""
    import torch
    from transformers import BertForSequenceClassification

    source = minilm_dir_or_skip()
    torch.manual_seed(0)
    kwargs = {"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}} \
        if id2label else {}
    model = BertForSequenceClassification.from_pretrained(source, num_labels=num_labels,
                                                          **kwargs)
    model.save_pretrained(path)
    for name in ("vocab.txt", "tokenizer_config.json", "tokenizer.json",
                 "special_tokens_map.json"):
        if os.path.exists(os.path.join(source, name)):
            shutil.copyfile(os.path.join(source, name), os.path.join(path, name))
    return model.eval()


def _reference_logits(model, folder, texts, length):
    import torch
    from transformers import BertTokenizerFast

    encoded = BertTokenizerFast.from_pretrained(folder)(
        texts, truncation=True, max_length=length, padding="max_length", return_tensors="pt")
    with torch.no_grad():
        return model(**encoded).logits.numpy()


def test_logits_on_raw_text_equal_transformers(tmp_path):
    folder = str(tmp_path / "minilm_cls")
    reference = _hf_classifier_folder(folder, 3, {0: "neg", 1: "neutral", 2: "pos"})
    classifier = from_huggingface_classifier(folder, sequence_length=32)
    assert isinstance(classifier, TextClassifier) and classifier.num_classes == 3
    ours = classifier.predict(TEXTS, verbose=0)
    np.testing.assert_allclose(ours, _reference_logits(reference, folder, TEXTS, 32),
                               atol=2e-5)
    assert huggingface_label_names(folder) == ["neg", "neutral", "pos"]
    # Outputs in another class order (a task's label vocabulary), by id2label.
    reordered = from_huggingface_classifier(folder, sequence_length=32,
                                            label_names=["pos", "neg", "neutral"])
    np.testing.assert_allclose(reordered.predict(TEXTS, verbose=0), ours[:, [2, 0, 1]],
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"has the classes \['neg', 'neutral', 'pos'\].*not "
                                         r"\['bad', 'good', 'neutral'\]"):
        from_huggingface_classifier(folder, label_names=["bad", "good", "neutral"])
    # a .keras round trip keeps the head and the WordPiece vocabulary
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    import keras

    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored.predict(TEXTS, verbose=0), ours, atol=1e-6)


def test_one_output_is_a_regressor_and_placeholders_are_not_names(tmp_path):
    folder = str(tmp_path / "minilm_reg")
    reference = _hf_classifier_folder(folder, 1)
    regressor = from_huggingface_classifier(folder, sequence_length=16)
    assert isinstance(regressor, TextRegressor)
    np.testing.assert_allclose(regressor.predict(TEXTS, verbose=0),
                               _reference_logits(reference, folder, TEXTS, 16), atol=2e-5)
    assert huggingface_label_names(folder) is None  # transformers' LABEL_0


def test_a_base_model_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="no sequence-classification head.*keras-compact "
                                         "finetune --backbone"):
        from_huggingface_classifier(minilm_dir_or_skip())
