"""Sentence-order (and next-sentence) pair creation."""

import itertools
import logging

import numpy as np
import pytest
import tensorflow as tf

from keras_compact.data import corpus_stats
from keras_compact.data import create_pair_examples
from keras_compact.data import make_pretraining_dataset
from keras_compact.data.sop import truncated_lengths

T = 128


def _split(row):
    """(first segment, second segment) of one packed row."""
    seps = np.flatnonzero(row == 3)
    assert row[0] == 2 and len(seps) == 2
    return row[1:seps[0]], row[seps[0] + 1:seps[1]]


def test_label_balance_and_short_share(pair_examples):
    labels = pair_examples["sop_label"]
    assert len(labels) == 4000
    assert abs(labels.mean() - 0.5) <= 0.03
    assert abs(pair_examples["is_short"].mean() - 0.1) <= 0.03
    lengths = pair_examples["padding_mask"].sum(axis=1)
    long_rows = ~pair_examples["is_short"]
    # Full-target examples mostly fill the sequence; short ones mostly do not.
    assert np.median(lengths[long_rows]) >= 0.9 * T
    assert np.median(lengths[pair_examples["is_short"]]) < 0.75 * T
    assert lengths.max() <= T


def test_packing_segments_and_padding_are_consistent(pair_examples):
    tokens = pair_examples["token_ids"]
    segments = pair_examples["segment_ids"]
    padding = pair_examples["padding_mask"]
    assert tokens.shape == segments.shape == padding.shape == (4000, T)
    assert tokens.dtype == segments.dtype == padding.dtype == np.int32
    for row in range(len(tokens)):
        length = padding[row].sum()
        assert padding[row, :length].all() and not padding[row, length:].any()
        assert (tokens[row, length:] == 0).all() and (tokens[row, :length] != 0).all()
        first, second = _split(tokens[row, :length])
        assert len(first) >= 1 and len(second) >= 1
        assert len(first) + len(second) + 3 == length
        expected = np.r_[np.zeros(len(first) + 2), np.ones(len(second) + 1),
                         np.zeros(T - length)]
        np.testing.assert_array_equal(segments[row], expected)
        assert not np.isin(tokens[row, 1:length - 1], [0, 2, 4]).any()


def test_sop_pairs_are_consecutive_and_negatives_swapped():
    # Token ids increase through the document, so order is visible in ids.
    sentences = [list(range(start, start + 7)) for start in range(10, 500, 7)]
    ids = tf.ragged.constant(sentences, dtype=tf.int32)
    make = tf.function(lambda seed: create_pair_examples(
        ids, seed, sequence_length=32, cls_id=2, sep_id=3, pad_id=0, short_seq_prob=0.3))
    labels = []
    for seed in range(40):
        out = make(tf.constant([seed, 1]))
        for row, label in zip(out["token_ids"].numpy(), out["sop_label"].numpy()):
            first, second = _split(row[row != 0])
            a, b = (second, first) if label else (first, second)
            assert (np.diff(a) == 1).all() and (np.diff(b) == 1).all()  # contiguous text
            assert a[-1] < b[0]  # A precedes B in the document
            labels.append(label)
    assert 0.4 < np.mean(labels) < 0.6


def test_nsp_negatives_come_from_the_other_document():
    doc = tf.ragged.constant([list(range(s, s + 6)) for s in range(10, 300, 6)], tf.int32)
    other = tf.ragged.constant([list(range(s, s + 6)) for s in range(1000, 1300, 6)], tf.int32)
    seen = set()
    make = tf.function(lambda seed: create_pair_examples(
        doc, seed, sequence_length=40, cls_id=2, sep_id=3, pad_id=0, task="nsp",
        other_sentence_ids=other))
    for seed in range(20):
        out = make(tf.constant([seed, 5]))
        for row, label in zip(out["token_ids"].numpy(), out["sop_label"].numpy()):
            first, second = _split(row[row != 0])
            assert first.max() < 1000
            if label:
                assert second.min() >= 1000
            else:
                assert second.max() < 1000 and first[-1] < second[0]
            seen.add(int(label))
    assert seen == {0, 1}
    same = create_pair_examples(doc, [1, 5], sequence_length=40, cls_id=2, sep_id=3, pad_id=0,
                                task="nsp", other_sentence_ids=doc, use_other=False)
    assert not same["sop_label"].numpy().any()


def test_truncation_matches_bert_greedy_rule():
    def greedy(a, b, limit):
        while a + b > limit:
            if a > b:
                a -= 1
            else:
                b -= 1
        return a, b

    # Empty segments and budgets down to 1 too: the serving packer uses the same rule.
    cases = list(itertools.product(range(0, 14), range(0, 14), range(1, 20)))
    a, b, limit = (tf.constant(c) for c in zip(*cases))
    got_a, got_b = truncated_lengths(a, b, limit)
    assert list(zip(got_a.numpy(), got_b.numpy())) == [greedy(*c) for c in cases]


def test_single_sentence_documents_are_skipped_and_counted(spm_model, caplog):
    documents = [["Only one sentence here."],
                 ["First of two sentences.", "Second of two sentences, a bit longer."],
                 ["Lonely line."]]
    stats = corpus_stats(documents)
    assert stats == {"documents": 3, "skipped_short_documents": 2, "sentences": 4}
    with caplog.at_level(logging.WARNING, logger="keras_compact.data"):
        dataset = make_pretraining_dataset(documents, spm_model, batch_size=2, sequence_length=32,
                                           max_predictions=5, seed=0, shuffle_buffer=4)
    assert "Skipping 2 of 3 documents" in caplog.text
    features, labels = next(iter(dataset))
    assert features["token_ids"].shape == (2, 32)


def test_bad_arguments():
    ids = tf.ragged.constant([[5, 6], [7, 8]], tf.int32)
    with pytest.raises(ValueError, match="task='mlm'"):
        create_pair_examples(ids, [0, 0], 16, 2, 3, 0, task="mlm")
    with pytest.raises(ValueError, match="sequence_length=4"):
        create_pair_examples(ids, [0, 0], 4, 2, 3, 0)
