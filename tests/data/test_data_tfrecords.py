"""Offline TFRecord writer and reader."""

import json
import os

import numpy as np
import pytest

from keras_compact.data import element_spec
from keras_compact.data import load_default_corpus
from keras_compact.data import pretraining_examples_dataset
from keras_compact.data import read_pretraining_tfrecords
from keras_compact.data import write_pretraining_tfrecords


@pytest.fixture(scope="module")
def written(spm_model, tmp_path_factory):
    corpus = load_default_corpus(sections=["tutorial"])
    output = tmp_path_factory.mktemp("records")
    metadata = write_pretraining_tfrecords(corpus, spm_model, str(output), sequence_length=64,
                                           max_predictions=10, num_shards=3, seed=11,
                                           progress=False)
    return corpus, output, metadata


def test_files_and_metadata(written):
    _, output, metadata = written
    names = sorted(os.listdir(output))
    assert names == [f"pretraining-0000{i}-of-00003.tfrecord" for i in range(3)] + [
        "pretraining-metadata.json"]
    with open(output / "pretraining-metadata.json", encoding="utf-8") as handle:
        assert json.load(handle) == metadata
    assert metadata["num_examples"] > 300 and metadata["sequence_length"] == 64


@pytest.mark.xfail(strict=False, reason=(
    "Known defect, open: two runs of pretraining_examples_dataset with the same seed in one "
    "process can yield a few examples more or fewer (488 vs 484 on the bundled tutorial "
    "section); seen on unchanged code, cause not yet found."))
def test_round_trip_equals_the_generated_examples(written, spm_model):
    corpus, output, metadata = written
    expected, _ = pretraining_examples_dataset(corpus, spm_model, sequence_length=64,
                                               max_predictions=10, seed=11)
    expected = list(expected.as_numpy_iterator())
    assert len(expected) == metadata["num_examples"]
    dataset = read_pretraining_tfrecords(str(output), batch_size=1, shuffle=False, repeat=False)
    assert dataset.element_spec == element_spec(1, 64, 10)
    count = 0
    for (features, labels), (want_features, want_labels) in zip(
            dataset.as_numpy_iterator(), expected):
        for key, value in want_features.items():
            np.testing.assert_array_equal(features[key][0], value)
        for key, value in want_labels.items():
            np.testing.assert_array_equal(labels[key][0], value)
        count += 1
    assert count == len(expected)


def test_reader_batches_and_glob(written):
    _, output, _ = written
    dataset = read_pretraining_tfrecords(str(output / "*.tfrecord"), batch_size=16, seed=0)
    assert dataset.element_spec == element_spec(16, 64, 10)
    features, labels = next(iter(dataset))
    assert features["token_ids"].shape == (16, 64) and labels["mlm_weights"].dtype == "float32"


def test_reader_errors(written, tmp_path):
    _, output, _ = written
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_pretraining_tfrecords(str(tmp_path / "nothing-here-*.tfrecord"), batch_size=2)
    with pytest.raises(FileNotFoundError, match="metadata"):
        read_pretraining_tfrecords(str(tmp_path), batch_size=2)
    with pytest.raises(ValueError, match="sequence_length=128"):
        read_pretraining_tfrecords(str(output), batch_size=2, sequence_length=128)


def test_failed_write_leaves_nothing(spm_model, tmp_path):
    text = tmp_path / "short.txt"
    text.write_text("Only one line.\n\nAnother lonely line.\n", encoding="utf-8")
    output = tmp_path / "out"
    with pytest.raises(ValueError, match="No example"):
        write_pretraining_tfrecords(str(text), spm_model, str(output), progress=False)
    assert os.listdir(output) == []
    with pytest.raises(FileNotFoundError, match="gone.model"):
        write_pretraining_tfrecords(str(text), str(tmp_path / "gone.model"), str(output))
