"""n-gram masking statistics on real examples of the bundled corpus."""

import collections

import numpy as np
import tensorflow as tf

from keras_compact.data import default_max_predictions
from keras_compact.data import ngram_mask
from keras_compact.data import ngram_probabilities

SPECIALS = [0, 1, 2, 3, 4]


def test_ngram_probabilities():
    np.testing.assert_allclose(ngram_probabilities(3), [6 / 11, 3 / 11, 2 / 11])
    assert default_max_predictions(128) == 20


def test_masked_fraction_is_15_percent(pair_examples, masked_examples):
    maskable = ~np.isin(pair_examples["token_ids"], SPECIALS)
    selected = masked_examples["selected"]
    assert not (selected & ~maskable).any()
    fraction = selected.sum() / maskable.sum()
    assert abs(fraction - 0.15) <= 0.01, fraction


def test_ngram_lengths_follow_one_over_n(masked_examples):
    counts = collections.Counter()
    for row_selected, row_keys in zip(masked_examples["selected"], masked_examples["span_key"]):
        counts.update(collections.Counter(row_keys[row_selected]).values())
    total = sum(counts.values())
    assert set(counts) <= {1, 2, 3}
    for n, expected in zip((1, 2, 3), ngram_probabilities(3)):
        assert abs(counts[n] / total - expected) <= 0.025, (n, counts[n] / total)
    # Whole n-grams: the selected positions of one n-gram are contiguous.
    for row_selected, row_keys in zip(masked_examples["selected"][:200],
                                      masked_examples["span_key"][:200]):
        for key in set(row_keys[row_selected]):
            where = np.flatnonzero(row_selected & (row_keys == key))
            assert (np.diff(where) == 1).all()


def test_replacement_split_80_10_10(pair_examples, masked_examples):
    original = pair_examples["token_ids"]
    masked = masked_examples["token_ids"]
    selected = masked_examples["selected"]
    to_mask = (masked[selected] == 4).mean()
    kept = (masked[selected] == original[selected]).mean()
    random_token = 1 - to_mask - kept
    assert abs(to_mask - 0.8) <= 0.02
    assert abs(kept - 0.1) <= 0.02
    assert abs(random_token - 0.1) <= 0.02
    replacements = masked[selected & (masked != 4) & (masked != original)]
    assert replacements.min() >= 5 and replacements.max() < 4000
    np.testing.assert_array_equal(masked[~selected], original[~selected])


def test_special_tokens_never_masked(pair_examples, masked_examples):
    original = pair_examples["token_ids"]
    special = np.isin(original, SPECIALS)
    assert not masked_examples["selected"][special].any()
    np.testing.assert_array_equal(masked_examples["token_ids"][special], original[special])


def test_fixed_size_outputs_are_consistent(pair_examples, masked_examples):
    positions = masked_examples["mask_positions"]
    ids = masked_examples["mask_ids"]
    weights = masked_examples["mask_weights"]
    selected = masked_examples["selected"]
    original = pair_examples["token_ids"]
    assert positions.shape == ids.shape == weights.shape == (4000, 20)
    assert positions.dtype == ids.dtype == np.int32 and weights.dtype == np.float32
    for row in range(len(positions)):
        count = int(weights[row].sum())
        assert count == selected[row].sum() >= 1
        assert (weights[row, :count] == 1).all() and (weights[row, count:] == 0).all()
        real = positions[row, :count]
        np.testing.assert_array_equal(real, np.flatnonzero(selected[row]))
        np.testing.assert_array_equal(ids[row, :count], original[row, real])
        assert (positions[row, count:] == 0).all() and (ids[row, count:] == 0).all()


def test_masking_is_seeded_and_works_in_graph():
    tokens = tf.constant([[2] + list(range(10, 60)) + [3] + list(range(70, 90)) + [3] + [0] * 6])
    mask = tf.function(lambda t, s: ngram_mask(
        t, s, vocabulary_size=100, mask_token_id=4, special_token_ids=SPECIALS,
        max_predictions=12)["mask_positions"])
    first = mask(tokens, tf.constant([1, 2])).numpy()
    assert (first == mask(tokens, tf.constant([1, 2])).numpy()).all()
    assert not (first == mask(tokens, tf.constant([1, 3])).numpy()).all()
    assert first.shape == (1, 12)


def test_row_without_maskable_tokens():
    out = ngram_mask(tf.constant([[2, 3, 3, 0, 0]]), [0, 0], vocabulary_size=50,
                     mask_token_id=4, special_token_ids=SPECIALS, max_predictions=3)
    assert out["mask_weights"].numpy().sum() == 0
    np.testing.assert_array_equal(out["token_ids"].numpy(), [[2, 3, 3, 0, 0]])
