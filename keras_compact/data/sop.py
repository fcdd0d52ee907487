"""Sentence-pair examples (SOP and NSP) from one tokenized document, in-graph.

TF-only: this module is part of `keras_compact.data`, the tf.data /
tensorflow-text input pipeline (TensorFlow whatever `KERAS_BACKEND` is).
Everything here is TensorFlow ops, so it runs inside `tf.data.Dataset.map`.

Recipe (BERT/ALBERT `create_pretraining_data`, per chunk):

1. Sentences are gathered greedily into a chunk until the chunk reaches a
   target length of `sequence_length - 3` tokens, or, with probability
   `short_seq_prob`, a shorter target drawn uniformly from
   [2, sequence_length - 3]. The target is drawn per chunk (the original draws it
   per document), so the share of short examples is `short_seq_prob`
   itself rather than depending on document lengths.
2. The chunk is cut at a random sentence boundary into A and B (consecutive,
   same document). A chunk of a single sentence (one sentence longer than the
   target) is cut at a random token instead, which keeps A and B consecutive
   text; the original took B from another document there.
3. SOP: with probability 1/2, A and B are swapped (label 1); else kept in
   order (label 0). NSP (the paper's ablation): with probability 1/2 B is
   replaced by text from another document (label 1).
4. The pair is truncated to `sequence_length - 3` tokens by removing tokens from
   the longer segment, each time from its front or back at random; both
   segments stay non-empty.
5. Packed as `[CLS] A [SEP] B [SEP]`, segment ids 0 for `[CLS] A [SEP]` and 1
   for `B [SEP]`, padded with `<pad>` to `sequence_length`, by the package's one
   packer (`keras_compact.preprocessing.pack`); the truncation rule of step 4
   is its `truncated_lengths`.
"""

import tensorflow as tf

from keras_compact.preprocessing.packing import pack
from keras_compact.preprocessing.packing import truncated_lengths

SOP = "sop"
NSP = "nsp"
TASKS = (SOP, NSP)


def _split_seeds(seed, count):
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=count))


def _chunk_ends(lengths, targets):
    """Greedy chunking: the sentence index (exclusive) ending each chunk."""
    num_sentences = tf.shape(lengths)[0]

    def body(i, accumulated, chunk, closes):
        accumulated += lengths[i]
        close = tf.logical_or(tf.equal(i, num_sentences - 1),
                              accumulated >= targets[chunk])
        closes = closes.write(i, close)
        chunk += tf.cast(close, tf.int32)
        accumulated = tf.where(close, 0, accumulated)
        return i + 1, accumulated, chunk, closes

    closes = tf.TensorArray(tf.bool, size=num_sentences)
    _, _, _, closes = tf.while_loop(
        lambda i, *_: i < num_sentences, body,
        (tf.constant(0), tf.constant(0), tf.constant(0), closes))
    return tf.cast(tf.where(closes.stack())[:, 0], tf.int32) + 1


def _gather_segments(flat_ids, starts, limits):
    return tf.gather(flat_ids, tf.ragged.range(starts, limits))


def create_pair_examples(
    sentence_ids,
    seed,
    sequence_length,
    cls_id,
    sep_id,
    pad_id,
    task=SOP,
    short_seq_prob=0.1,
    other_sentence_ids=None,
    use_other=None,
):
    """All sentence-pair examples of one document, as dense tensors.

    Args:
        sentence_ids: `tf.RaggedTensor` [num_sentences, None] int32, the
            document's sentences tokenized (no special tokens, no empty row).
            Documents with fewer than 2 sentences give no example.
        seed: int32/int64 [2], stateless seed: same seed, same examples.
        sequence_length: length of the packed examples (>= 5).
        cls_id, sep_id, pad_id: special token ids.
        task: "sop" (swap negatives) or "nsp" (random-document negatives).
        short_seq_prob: probability of a shorter random target length.
        other_sentence_ids: NSP only: another document, [n, None] int32,
            where random-next segments B come from.
        use_other: NSP only: scalar bool, False when `other_sentence_ids` is
            the same document (then no random-next negative is made).

    Returns:
        A dict of "token_ids", "segment_ids", "padding_mask" (int32 [K, T]),
        "sop_label" (int32 [K]: 1 = swapped (SOP) or random next (NSP)) and,
        for inspection, "target_length" and "is_short" ([K]).

    Example:

    >>> ids = tf.ragged.constant([[7, 8, 9], [10, 11], [12, 13, 14]], tf.int32)
    >>> ex = create_pair_examples(ids, [1, 2], sequence_length=16, cls_id=2,
    ...                           sep_id=3, pad_id=0)
    >>> ex["token_ids"].shape
    TensorShape([1, 16])
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not supported; use 'sop' or 'nsp'.")
    if sequence_length < 5:
        raise ValueError(f"sequence_length={sequence_length} is too short for "
                         "[CLS] A [SEP] B [SEP]; use at least 5 (128 or 512 usual).")
    if task == NSP and other_sentence_ids is None:
        raise ValueError("task='nsp' needs other_sentence_ids (the random document).")
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    seeds = _split_seeds(seed, 8)
    max_num_tokens = sequence_length - 3
    lengths = tf.cast(sentence_ids.row_lengths(), tf.int32)
    splits = tf.cast(sentence_ids.row_splits, tf.int32)
    flat_ids = tf.cast(sentence_ids.flat_values, tf.int32)
    num_sentences = tf.shape(lengths)[0]

    # One target length per potential chunk (at most one chunk per sentence).
    is_short = tf.random.stateless_uniform([num_sentences], seeds[0]) < short_seq_prob
    short_targets = tf.random.stateless_uniform(
        [num_sentences], seeds[1], minval=2, maxval=max_num_tokens + 1, dtype=tf.int32)
    targets = tf.where(is_short, short_targets, max_num_tokens)

    ends = _chunk_ends(lengths, targets)
    starts = tf.concat([[0], ends[:-1]], axis=0)
    num_chunks = tf.shape(ends)[0]
    chunk_targets = targets[:num_chunks]
    chunk_short = is_short[:num_chunks]
    # Documents of one sentence make no example (the caller filters and
    # counts them; this keeps the op safe anyway).
    enough = tf.fill([num_chunks], num_sentences >= 2)

    uniforms = tf.random.stateless_uniform([4, num_chunks], seeds[2])
    chunk_sentences = ends - starts
    token_start = tf.gather(splits, starts)
    token_end = tf.gather(splits, ends)
    # Cut between sentences when the chunk has several, else inside the one.
    cut_sentence = starts + 1 + tf.cast(
        uniforms[0] * tf.cast(chunk_sentences - 1, tf.float32), tf.int32)
    cut_sentence = tf.minimum(cut_sentence, ends - 1)
    chunk_tokens = token_end - token_start
    cut_token = token_start + 1 + tf.cast(
        uniforms[1] * tf.cast(chunk_tokens - 1, tf.float32), tf.int32)
    cut = tf.where(chunk_sentences >= 2, tf.gather(splits, tf.maximum(cut_sentence, 0)),
                   tf.minimum(cut_token, token_end - 1))

    a_start, a_end = token_start, cut
    b_start, b_end = cut, token_end
    all_ids = flat_ids
    label = tf.cast(uniforms[2] < 0.5, tf.int32)

    if task == NSP:
        other_splits = tf.cast(other_sentence_ids.row_splits, tf.int32)
        other_flat = tf.cast(other_sentence_ids.flat_values, tf.int32)
        other_sentences = tf.shape(other_splits)[0] - 1
        other_total = tf.shape(other_flat)[0]
        use_other = tf.constant(True) if use_other is None else use_other
        label = label * tf.cast(tf.logical_and(use_other, other_total > 0), tf.int32)
        # Random next: B starts at a random sentence of the other document
        # and runs for the rest of the target length.
        start_sentence = tf.cast(uniforms[3] * tf.cast(other_sentences, tf.float32), tf.int32)
        start_sentence = tf.minimum(start_sentence, tf.maximum(other_sentences - 1, 0))
        random_start = tf.gather(other_splits, start_sentence) + tf.shape(flat_ids)[0]
        wanted = tf.maximum(chunk_targets - (a_end - a_start), 1)
        random_end = tf.minimum(random_start + wanted, tf.shape(flat_ids)[0] + other_total)
        all_ids = tf.concat([flat_ids, other_flat], axis=0)
        is_random = tf.cast(label, tf.bool)
        b_start = tf.where(is_random, random_start, b_start)
        b_end = tf.where(is_random, random_end, b_end)

    length_a, length_b = truncated_lengths(a_end - a_start, b_end - b_start, max_num_tokens)
    front_seeds = _split_seeds(seeds[3], 2)
    front_a = tf.cast(tf.random.stateless_binomial(
        [num_chunks], front_seeds[0], tf.cast(a_end - a_start - length_a, tf.float32), 0.5,
        output_dtype=tf.int32), tf.int32)
    front_b = tf.cast(tf.random.stateless_binomial(
        [num_chunks], front_seeds[1], tf.cast(b_end - b_start - length_b, tf.float32), 0.5,
        output_dtype=tf.int32), tf.int32)
    a_start = a_start + front_a
    b_start = b_start + front_b
    a_end = a_start + length_a
    b_end = b_start + length_b

    valid = enough & (length_a >= 1) & (length_b >= 1)
    keep = tf.where(valid)[:, 0]
    a_start, a_end, b_start, b_end, label, chunk_targets, chunk_short = (
        tf.gather(t, keep) for t in
        (a_start, a_end, b_start, b_end, label, chunk_targets, chunk_short))

    if task == SOP:
        # Swap by exchanging the token ranges (ragged rows cannot go
        # through tf.where).
        swapped = tf.cast(label, tf.bool)
        a_start, b_start = tf.where(swapped, b_start, a_start), tf.where(swapped, a_start, b_start)
        a_end, b_end = tf.where(swapped, b_end, a_end), tf.where(swapped, a_end, b_end)
    first = _gather_segments(all_ids, a_start, a_end)
    second = _gather_segments(all_ids, b_start, b_end)

    # The segments fit already (truncated above, from random ends), so the
    # shared packer only adds the specials and the padding.
    packed = pack(first, second, sequence_length=sequence_length, cls_id=cls_id, sep_id=sep_id,
                  pad_id=pad_id)
    return {
        **packed,
        "sop_label": label,
        "target_length": chunk_targets,
        "is_short": chunk_short,
    }
