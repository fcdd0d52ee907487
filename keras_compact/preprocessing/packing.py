"""The one BERT packer: `[CLS] a [SEP] (b [SEP])` + padding, in TensorFlow ops.

TF-only: this module runs inside `tf.data` maps, `tf.function`s and exported
SavedModels (TensorFlow whatever `KERAS_BACKEND` is; the tensors it returns
feed `model.fit` on any backend).

Every place that turns token ids into model inputs uses it: pretraining's
sentence pairs (`keras_compact.data.sop`), fine-tuning
(`keras_compact.data.labelled_task`), augmentation
(`keras_compact.distill.augmentation`), the Keras preprocessors
(`keras_compact.preprocessing.TextClassifierPreprocessor`) and so the
serving graphs (`keras_compact.export`).

Written with core TensorFlow ops only (ragged gather, concat, pad): no
tensorflow-text `RoundRobinTrim` or keras-hub `MultiSegmentPacker` (which
uses it), because TF Serving releases before 2.20 lack that op, and because
BERT's pair rule is "longest first", which round robin is not.

Truncation is BERT's (and transformers' `truncation="longest_first"`): while
the pair is too long, drop the last token of the longer text, of `b` on a
tie. Single texts keep their first `sequence_length - 2` tokens.
"""

import tensorflow as tf

FEATURE_KEYS = ("token_ids", "segment_ids", "padding_mask")
# Texts are cut to this many characters per sequence position before they are
# tokenized (see `bound_text_length`).
CHARS_PER_TOKEN = 64


def truncated_lengths(length_a, length_b, max_num_tokens):
    """Lengths after BERT's truncation: trim the longer side (ties: b) first.

    Closed form of "while len(a) + len(b) > max_num_tokens, drop one token
    from the longer segment, from b when they are equal"; vectorised, any
    int tensors of one shape.

    Example:
    >>> [int(x) for x in truncated_lengths(10, 3, 6)]
    [3, 3]
    """
    excess = tf.maximum(length_a + length_b - max_num_tokens, 0)
    only_a = length_a - excess >= length_b
    only_b = tf.logical_and(tf.logical_not(only_a), length_b - excess >= length_a)
    half = max_num_tokens // 2
    new_a = tf.where(only_a, length_a - excess,
                     tf.where(only_b, length_a, max_num_tokens - half))
    new_b = tf.where(only_a, length_b,
                     tf.where(only_b, length_b - excess, half))
    return new_a, new_b


def _as_ragged(ids, name):
    if isinstance(ids, tf.RaggedTensor):
        if ids.ragged_rank != 1:
            raise ValueError(f"{name} must be a [batch, None] ragged tensor of token ids, got "
                             f"ragged rank {ids.ragged_rank}.")
        return tf.cast(ids, tf.int32)
    ids = tf.convert_to_tensor(ids)
    if ids.shape.rank != 2:
        raise ValueError(f"{name} must be [batch, length] token ids, got shape {ids.shape}.")
    return tf.RaggedTensor.from_tensor(tf.cast(ids, tf.int32))


def _head(ids, lengths):
    """The first `lengths[i]` ids of each row (lengths <= row lengths)."""
    starts = tf.cast(ids.row_starts(), tf.int32)
    return tf.RaggedTensor.from_row_lengths(
        tf.gather(ids.flat_values, tf.ragged.range(starts, starts + lengths).flat_values),
        tf.cast(lengths, ids.row_splits.dtype), validate=False)


def check_sequence_length(sequence_length, pair=False, name="sequence_length"):
    """Raises a ValueError naming the value unless it can hold the specials."""
    smallest = 4 if pair else 3
    if (isinstance(sequence_length, bool) or not isinstance(sequence_length, int)
            or sequence_length < smallest):
        what = "[CLS] a [SEP] b [SEP] with a token of each" if pair else "[CLS] a token [SEP]"
        raise ValueError(f"{name}={sequence_length!r} cannot hold {what}; pass an integer "
                         f">= {smallest} (128 or 512 are usual).")


def pack(first_ids, second_ids=None, *, sequence_length, cls_id, sep_id, pad_id):
    """Packs token ids as `[CLS] a [SEP] (b [SEP])`, truncated and padded.

    Args:
        first_ids: int `tf.RaggedTensor` [batch, None] (or a dense
            [batch, length] tensor): the pieces of each text, no specials.
        second_ids: optional, the same for the second text of pairs; its
            batch size must equal `first_ids`'.
        sequence_length: int, the packed length (>= 3; >= 4 for pairs).
        cls_id, sep_id, pad_id: special token ids.

    Returns:
        A dict of int32 [batch, sequence_length] tensors: "token_ids",
        "segment_ids" (0 for `[CLS] a [SEP]`, 1 for `b [SEP]`, 0 on
        padding) and "padding_mask" (1 on real tokens).

    Raises:
        ValueError: a bad `sequence_length`.
        tf.errors.InvalidArgumentError: (at run time) the two batches differ
            in size.

    Example:
    >>> ids = tf.ragged.constant([[7, 8, 9], [10]])
    >>> pack(ids, tf.ragged.constant([[11], [12, 13]]), sequence_length=6,
    ...      cls_id=2, sep_id=3, pad_id=0)["token_ids"].numpy().tolist()
    [[2, 7, 8, 3, 11, 3], [2, 10, 3, 12, 13, 3]]
    """
    check_sequence_length(sequence_length, pair=second_ids is not None)
    first = _as_ragged(first_ids, "first_ids")
    rows = first.nrows(out_type=tf.int32)
    second = None if second_ids is None else _as_ragged(second_ids, "second_ids")
    if second is not None:
        with tf.control_dependencies([tf.debugging.assert_equal(
                rows, second.nrows(out_type=tf.int32),
                message="The two texts of a pair batch have different batch sizes; pass "
                        "as many second texts (text_b) as first texts (text)")]):
            rows = tf.identity(rows)
    cls = tf.fill([rows, 1], tf.constant(cls_id, tf.int32))
    sep = tf.fill([rows, 1], tf.constant(sep_id, tf.int32))
    first_len = tf.cast(first.row_lengths(), tf.int32)
    if second is None:
        first = _head(first, tf.minimum(first_len, sequence_length - 2))
        token_ids = tf.concat([cls, first, sep], axis=1)
        segment_ids = tf.zeros_like(token_ids)
    else:
        second_len = tf.cast(second.row_lengths(), tf.int32)
        keep_first, keep_second = truncated_lengths(first_len, second_len,
                                                    sequence_length - 3)
        first, second = _head(first, keep_first), _head(second, keep_second)
        token_ids = tf.concat([cls, first, sep, second, sep], axis=1)
        segment_ids = tf.concat([tf.zeros_like(cls), tf.zeros_like(first), tf.zeros_like(sep),
                                 tf.ones_like(second), tf.ones_like(sep)], axis=1)
    shape = [None, sequence_length]
    lengths = tf.cast(token_ids.row_lengths(), tf.int32)
    return {
        "token_ids": token_ids.to_tensor(default_value=pad_id, shape=shape),
        "segment_ids": segment_ids.to_tensor(default_value=0, shape=shape),
        "padding_mask": tf.sequence_mask(lengths, sequence_length, dtype=tf.int32),
    }


def bound_text_length(texts, max_chars):
    """Valid UTF-8 texts of at most `max_chars` characters (TF ops, any shape).

    The work per text is then bounded whatever a client sends: the bytes are
    cut first (4 per character, UTF-8's longest, plus one character's
    worth), invalid UTF-8 is replaced by U+FFFD (as the readers of the
    training data do), then the characters are cut. A text within the limit
    comes out unchanged, so its ids are unchanged too.

    Example:
    >>> bound_text_length(tf.constant(["abcdef", "añb"]), 2).numpy().tolist()
    [b'ab', b'a\\xc3\\xb1']
    """
    texts = tf.strings.substr(texts, 0, 4 * max_chars + 4, unit="BYTE")
    texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace")
    return tf.strings.substr(texts, 0, max_chars, unit="UTF8_CHAR")


def encode(tokenize, texts, second_texts=None, *, sequence_length, cls_id, sep_id, pad_id,
           max_chars=None):
    """Strings -> packed features: bound, tokenize, `pack` (TF ops).

    The one text-to-features path: `TextClassifierPreprocessor`, the
    fine-tuning datasets and so the serving graphs all call it.

    Args:
        tokenize: a function string [batch] -> int `tf.RaggedTensor`
            [batch, None] (e.g. a tokenizer's `tokenize`).
        texts, second_texts: string tensors [batch] (second: pairs only).
        sequence_length, cls_id, sep_id, pad_id: as `pack`.
        max_chars: int. Texts are cut to this many characters before they
            are tokenized; None means `CHARS_PER_TOKEN * sequence_length`.

    Returns:
        The dict of `pack`.
    """
    if max_chars is None:
        max_chars = CHARS_PER_TOKEN * sequence_length

    def pieces(strings):
        strings = bound_text_length(tf.reshape(strings, [-1]), max_chars)
        ids = tokenize(strings)
        if not isinstance(ids, (tf.RaggedTensor, tf.Tensor)):
            ids = tf.ragged.constant(ids, dtype=tf.int32)
        return ids

    second = None if second_texts is None else pieces(second_texts)
    return pack(pieces(texts), second, sequence_length=sequence_length, cls_id=cls_id,
                sep_id=sep_id, pad_id=pad_id)
