"""n-gram masking for masked-language-model pretraining, in-graph.

TF-only: this module is part of `keras_compact.data`, the tf.data /
tensorflow-text input pipeline (TensorFlow whatever `KERAS_BACKEND` is).
Everything here is TensorFlow ops on a dense batch, so it runs inside
`tf.data.Dataset.map` and gives new masks every epoch.

Why not keras-hub's `MaskedLMMaskGenerator` (or tensorflow-text's
`mask_language_model`)? They select tokens one by one (unigram masking);
ALBERT masks n-grams (SpanBERT style), which this module does:

* 15% of the maskable (non-special, non-padding) tokens of each row are
  selected, at least 1 and at most `max_predictions`.
* Selection is by whole n-grams of tokens, n in {1, ..., max_ngram} with
  p(n) = (1/n) / sum_k (1/k): 6/11, 3/11, 2/11 for max_ngram=3.
* Of the selected positions 80% become [MASK], 10% a random non-special
  token, 10% stay unchanged.
* Special tokens ([CLS], [SEP], <pad>, ...) are never selected.

How (vectorised, no per-token loop): the maskable tokens of a row, in order,
are cut into consecutive n-grams whose lengths are drawn from p(n); an
n-gram never crosses a special token (it is split there). n-grams get random
priorities and are taken in priority order until the budget of
round(0.15 * maskable) tokens is reached. The n-gram that crosses the budget
is taken whole with probability (tokens still wanted) / (its length), so the
expected count is exactly the budget and no n-gram is cut short (ALBERT's
`create_pretraining_data` shrinks n to fit instead, which skews lengths
towards 1).

Outputs have static size `max_predictions` (mask_positions, mask_ids,
mask_weights) so XLA/TPUs see fixed shapes.
"""

import tensorflow as tf

# Sort keys: a 31-bit n-gram priority above 20 bits of position, so the
# positions of one n-gram stay together and in order.
_POSITION_BITS = 20


def ngram_probabilities(max_ngram):
    """p(n) = (1/n) / sum_k(1/k) for n = 1..max_ngram (a Python list)."""
    weights = [1.0 / n for n in range(1, max_ngram + 1)]
    total = sum(weights)
    return [w / total for w in weights]


def default_max_predictions(sequence_length, masked_fraction=0.15):
    """round(masked_fraction * sequence_length) plus a little headroom (20 at 128)."""
    return int(round(masked_fraction * sequence_length)) + 1


def ngram_mask(
    token_ids,
    seed,
    vocabulary_size,
    mask_token_id,
    special_token_ids,
    max_predictions,
    masked_fraction=0.15,
    max_ngram=3,
    mask_token_rate=0.8,
    random_token_rate=0.1,
    return_details=False,
):
    """Applies n-gram masking to a batch of packed token ids.

    Args:
        token_ids: int32 [B, T] packed sequences (with [CLS]/[SEP]/<pad>).
        seed: int [2] stateless seed; same seed, same masks.
        vocabulary_size: size of the vocabulary (random replacements are
            drawn from the ids that are not special).
        mask_token_id: id of [MASK].
        special_token_ids: ids never masked (and never used as random
            replacements), e.g. [<pad>, <unk>, [CLS], [SEP], [MASK]].
        max_predictions: static size P of the mask outputs.
        masked_fraction: fraction of maskable tokens to select.
        max_ngram: longest n-gram.
        mask_token_rate, random_token_rate: replacement split of the selected
            positions; the rest keep their token.
        return_details: also return "selected" (bool [B, T]) and "span_key"
            (int [B, T], equal within one n-gram; -1 where not maskable), to
            inspect n-gram lengths.

    Returns:
        A dict: "token_ids" (int32 [B, T], the masked input),
        "mask_positions" (int32 [B, P], ascending, 0-padded),
        "mask_ids" (int32 [B, P], the original ids at those positions, 0 for
        padding) and "mask_weights" (float32 [B, P], 1.0 real, 0.0 padding).

    Example:

    >>> out = ngram_mask(tf.constant([[2, 9, 10, 11, 12, 3, 0]]), [0, 1],
    ...                  vocabulary_size=100, mask_token_id=4,
    ...                  special_token_ids=[0, 1, 2, 3, 4], max_predictions=3)
    >>> out["mask_positions"].shape
    TensorShape([1, 3])
    """
    token_ids = tf.convert_to_tensor(token_ids)
    token_ids = tf.cast(token_ids, tf.int32)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, num=6))
    batch = tf.shape(token_ids)[0]
    length = tf.shape(token_ids)[1]
    specials = sorted(set(int(i) for i in special_token_ids))
    positions = tf.broadcast_to(tf.range(length)[None, :], tf.shape(token_ids))

    maskable = tf.reduce_all(token_ids[:, :, None] != tf.constant(specials)[None, None, :],
                             axis=-1)
    maskable_int = tf.cast(maskable, tf.int32)
    num_maskable = tf.reduce_sum(maskable_int, axis=1)

    # Cut the maskable tokens (in order) into n-grams of random lengths.
    log_p = tf.math.log(tf.constant([ngram_probabilities(max_ngram)], tf.float32))
    ngram_lengths = tf.random.stateless_categorical(
        tf.tile(log_p, [batch, 1]), length, seeds[0], dtype=tf.int32) + 1
    ngram_starts = tf.cumsum(ngram_lengths, axis=1, exclusive=True)
    rank = tf.cumsum(maskable_int, axis=1) - 1
    ngram_index = tf.maximum(tf.searchsorted(ngram_starts, rank, side="right") - 1, 0)
    # Number the n-grams of each row, splitting them at special tokens.
    previous_maskable = tf.pad(maskable[:, :-1], [[0, 0], [1, 0]])
    previous_index = tf.pad(ngram_index[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    starts_piece = tf.logical_and(maskable, tf.logical_or(
        tf.logical_not(previous_maskable), ngram_index != previous_index))
    piece = tf.cumsum(tf.cast(starts_piece, tf.int32), axis=1)  # 1-based where maskable
    segments = tf.reshape(piece + tf.range(batch)[:, None] * (length + 1), [-1])
    num_segments = batch * (length + 1)
    piece_size = tf.reshape(tf.gather(tf.math.unsorted_segment_sum(
        tf.reshape(maskable_int, [-1]), segments, num_segments), segments), [batch, length])
    piece_first = tf.reshape(tf.gather(tf.math.unsorted_segment_min(
        tf.reshape(positions, [-1]), segments, num_segments), segments), [batch, length])
    offset_in_piece = positions - piece_first
    priorities = tf.random.stateless_uniform(
        tf.stack([batch, length + 1]), seeds[1], minval=0, maxval=2**31 - 1, dtype=tf.int32)
    priority = tf.gather(priorities, piece, batch_dims=1)
    coins = tf.gather(tf.random.stateless_uniform(tf.stack([batch, length + 1]), seeds[4]),
                      piece, batch_dims=1)

    # Take n-grams in priority order until `budget` tokens are covered. The
    # n-gram crossing the budget is taken whole with probability
    # (tokens still wanted) / (its length): the expected count is exactly
    # the budget and masked n-grams are never cut short.
    key = (tf.cast(priority, tf.int64) * (2**_POSITION_BITS)
           + (2**_POSITION_BITS - 1) - tf.cast(positions, tf.int64))
    key = tf.where(maskable, key, -1)
    order = tf.argsort(key, axis=1, direction="DESCENDING", stable=True)
    order_rank = tf.argsort(order, axis=1, stable=True)
    budget = tf.cast(tf.round(tf.cast(num_maskable, tf.float32) * masked_fraction), tf.int32)
    budget = tf.minimum(tf.maximum(budget, 1), num_maskable)[:, None]
    piece_start_rank = order_rank - offset_in_piece
    piece_end_rank = piece_start_rank + piece_size  # exclusive
    still_wanted = tf.cast(budget - piece_start_rank, tf.float32)
    crossing_taken = tf.logical_and(
        piece_start_rank < budget,
        tf.logical_or(coins * tf.cast(piece_size, tf.float32) < still_wanted,
                      piece_start_rank == 0))  # every row predicts something
    selected = tf.logical_and(maskable, tf.logical_or(piece_end_rank <= budget, crossing_taken))
    # Static output size: a rare overshoot past max_predictions is cut.
    selected = tf.logical_and(selected, order_rank < max_predictions)

    # Fixed-size outputs: the selected positions in ascending order.
    count = tf.reduce_sum(tf.cast(selected, tf.int32), axis=1)
    ascending = tf.argsort(tf.where(selected, positions, positions + length), axis=1,
                           stable=True)
    ascending = tf.pad(ascending, [[0, 0], [0, tf.maximum(max_predictions - length, 0)]])
    ascending = ascending[:, :max_predictions]
    slot = tf.range(max_predictions)[None, :]
    real = slot < count[:, None]
    mask_positions = tf.where(real, ascending, 0)
    mask_ids = tf.where(real, tf.gather(token_ids, mask_positions, batch_dims=1), 0)
    mask_weights = tf.cast(real, tf.float32)

    # 80% [MASK], 10% random non-special token, 10% unchanged.
    non_special = tf.constant(
        [i for i in range(vocabulary_size) if i not in set(specials)], tf.int32)
    draw = tf.random.stateless_uniform(tf.shape(token_ids), seeds[2])
    random_ids = tf.gather(non_special, tf.random.stateless_uniform(
        tf.shape(token_ids), seeds[3], minval=0, maxval=tf.shape(non_special)[0],
        dtype=tf.int32))
    replaced = tf.where(draw < mask_token_rate, mask_token_id,
                        tf.where(draw < mask_token_rate + random_token_rate, random_ids,
                                 token_ids))
    masked_ids = tf.where(selected, replaced, token_ids)
    mask_positions.set_shape([None, max_predictions])
    mask_ids.set_shape([None, max_predictions])
    mask_weights.set_shape([None, max_predictions])
    outputs = {
        "token_ids": masked_ids,
        "mask_positions": mask_positions,
        "mask_ids": mask_ids,
        "mask_weights": mask_weights,
    }
    if return_details:
        outputs["selected"] = selected
        outputs["span_key"] = tf.where(maskable, piece, -1)
    return outputs
