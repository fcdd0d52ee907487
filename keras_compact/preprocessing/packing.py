"""The one BERT packer: `[CLS] a [SEP] (b [SEP])` + padding, in TensorFlow ops.

TF-only: this module runs inside `tf.data` maps, `tf.function`s and exported
SavedModels (TensorFlow whatever `KERAS_BACKEND` is; the tensors it returns
feed `model.fit` on any backend).

Every place that turns token ids into model inputs uses it: pretraining's
sentence pairs (`keras_compact.data.sop`), the MLM passes of augmentation
(`keras_compact.distill.augmentation`), the Keras preprocessors
(`keras_compact.preprocessing.TextClassifierPreprocessor`, which the
fine-tuning, evaluation and distillation datasets map:
`keras_compact.tasks.datasets`) and so the serving graphs
(`keras_compact.export`).

Written with dense core TensorFlow ops only (range, gather, where), which
are also TFLite builtins, so the LiteRT graphs run this packer too: no
tensorflow-text `RoundRobinTrim` or keras-hub `MultiSegmentPacker` (which
uses it), because TF Serving releases before 2.20 lack that op, and because
BERT's pair rule is "longest first", which round robin is not.

Truncation of pairs is transformers' `truncation="longest_first"`
(`longest_first_lengths`), so fine-tuning, Keras preprocessing and serving
give the ids a Hugging Face BERT pipeline gives: when only the longer text
must shrink, it keeps what the shorter leaves; when both must, each keeps
half the budget and an odd token goes to the longer text (to `b` on a tie).
Single texts keep their first `sequence_length - 2` tokens.

Pretraining's sentence pairs (`keras_compact.data.sop`) keep Google BERT's
`create_pretraining_data` rule (`truncated_lengths`: drop from the longer,
from `b` on a tie, one token at a time), which differs from transformers'
only in where an odd token goes when both texts are cut.
"""

import tensorflow as tf

FEATURE_KEYS = ("token_ids", "segment_ids", "padding_mask")
# Texts are cut to this many characters per sequence position before they are
# tokenized (see `bound_text_length`).
CHARS_PER_TOKEN = 64
# The largest character bound (its byte bound, 4 per character, must fit int32).
MAX_TEXT_CHARS = 2**28


def longest_first_lengths(length_a, length_b, max_num_tokens):
    """Lengths after transformers' `truncation="longest_first"` of a pair.

    The rule of Hugging Face's tokenizers library (what `BertTokenizer` and
    `BertTokenizerFast` do in transformers 5): with s the shorter length,
    - if a + b fits, nothing is cut;
    - else if 2 * s <= max_num_tokens, the shorter is kept whole and the
      longer keeps max_num_tokens - s;
    - else the shorter keeps max_num_tokens // 2 and the longer the rest
      (b counts as the longer on a tie).
    Vectorised, any int tensors of one shape.

    Example:
    >>> [int(x) for x in longest_first_lengths(3, 3, 5)]
    [2, 3]
    """
    length_a = tf.convert_to_tensor(length_a)
    length_b = tf.cast(length_b, length_a.dtype)
    budget = tf.cast(max_num_tokens, length_a.dtype)
    a_longer = length_a > length_b
    shorter = tf.minimum(length_a, length_b)
    half = budget // 2
    both_cut = 2 * shorter > budget
    new_shorter = tf.where(both_cut, half, shorter)
    new_longer = tf.where(both_cut, budget - half, budget - shorter)
    fits = length_a + length_b <= budget
    new_a = tf.where(fits, length_a, tf.where(a_longer, new_longer, new_shorter))
    new_b = tf.where(fits, length_b, tf.where(a_longer, new_shorter, new_longer))
    return new_a, new_b


def truncated_lengths(length_a, length_b, max_num_tokens):
    """Lengths after BERT pretraining's truncation: trim the longer side (ties: b) first.

    Closed form of Google BERT's `truncate_seq_pair`: "while len(a) + len(b)
    > max_num_tokens, drop one token from the longer segment, from b when
    they are equal"; vectorised, any int tensors of one shape. Pretraining
    pairs use it (`keras_compact.data.sop`); `pack` uses
    `longest_first_lengths` (transformers').

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


def _indicator(value):
    """1 where value >= 1, else 0, with integer ops only.

    Not a bool -> int32 cast: the TFLite converter folds such a cast feeding
    an embedding lookup into a `zeros_like` on bools, which it then rejects.
    """
    return tf.clip_by_value(value, 0, 1)


def _place(values, splits, keep, start, position, pad_id):
    """Row i's first keep_i ids at columns [start_i, start_i + keep_i).

    Dense gathers over [batch, sequence_length] columns (core ops that are
    also TFLite builtins); elsewhere the index reads an appended pad id.
    Returns (inside: bool [batch, sequence_length], ids int32 the same).
    """
    inside = (position >= start[:, None]) & (position < (start + keep)[:, None])
    index = splits[:-1, None] + position - start[:, None]
    table = tf.concat([values, tf.fill([1], tf.constant(pad_id, tf.int32))], 0)
    return inside, tf.gather(table, tf.where(inside, index, tf.shape(values)[0]))


def check_sequence_length(sequence_length, pair=False, name="sequence_length"):
    """Raises a ValueError naming the value unless it can hold the specials."""
    smallest = 4 if pair else 3
    if (isinstance(sequence_length, bool) or not isinstance(sequence_length, int)
            or sequence_length < smallest):
        what = "[CLS] a [SEP] b [SEP] with a token of each" if pair else "[CLS] a token [SEP]"
        raise ValueError(f"{name}={sequence_length!r} cannot hold {what}; pass an integer "
                         f">= {smallest} (128 or 512 are usual).")


def pack(first_ids, second_ids=None, *, sequence_length, cls_id, sep_id, pad_id,
         ranking_lengths=None):
    """Packs token ids as `[CLS] a [SEP] (b [SEP])`, truncated and padded.

    Pairs are cut by `longest_first_lengths` (transformers' rule), single
    texts to their first `sequence_length - 2` ids.

    Args:
        first_ids: int `tf.RaggedTensor` [batch, None] (or a dense
            [batch, length] tensor): the pieces of each text, no specials.
        second_ids: optional, the same for the second text of pairs; its
            batch size must equal `first_ids`'.
        sequence_length: int, the packed length (>= 3; >= 4 for pairs).
        cls_id, sep_id, pad_id: special token ids.
        ranking_lengths: optional pair of int [batch] tensors: the lengths
            longest-first truncation compares, when the given ids are only
            the head of longer texts (`encode` passes them for texts it cut
            before tokenizing). Default: the ids' own lengths.

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
    # Only values and row splits are read, with dense ops: no ragged concat or
    # RaggedTensorToTensor, so LiteRT graphs (keras_compact.export.litert) run
    # this packer with builtin ops too.
    values_a, splits_a = first.values, tf.cast(first.row_splits, tf.int32)
    first_len = splits_a[1:] - splits_a[:-1]
    if second_ids is not None:
        second = _as_ragged(second_ids, "second_ids")
        values_b, splits_b = second.values, tf.cast(second.row_splits, tf.int32)
        second_len = splits_b[1:] - splits_b[:-1]
        # Everything downstream waits for the check (a session runs
        # independent ops in any order).
        with tf.control_dependencies([tf.debugging.assert_equal(
                tf.shape(first_len), tf.shape(second_len),
                message="The two texts of a pair batch have different batch sizes; pass "
                        "as many second texts (text_b) as first texts (text)")]):
            first_len, second_len = tf.identity(first_len), tf.identity(second_len)
            if ranking_lengths is not None:
                ranking_lengths = [tf.identity(r) for r in ranking_lengths]
    position = tf.range(sequence_length, dtype=tf.int32)[None, :]
    if second_ids is None:
        keep_first = tf.minimum(first_len, sequence_length - 2)
    elif ranking_lengths is None:
        keep_first, keep_second = longest_first_lengths(first_len, second_len,
                                                        sequence_length - 3)
    else:
        keep_first, keep_second = longest_first_lengths(
            tf.cast(ranking_lengths[0], tf.int64), tf.cast(ranking_lengths[1], tf.int64),
            sequence_length - 3)
        # Never more than the ids at hand.
        keep_first = tf.minimum(tf.cast(keep_first, tf.int32), first_len)
        keep_second = tf.minimum(tf.cast(keep_second, tf.int32), second_len)
    in_a, ids_a = _place(values_a, splits_a, keep_first, tf.ones_like(first_len), position,
                         pad_id)
    token_ids = tf.where(in_a, ids_a, pad_id)
    token_ids = tf.where(position == 0, cls_id, token_ids)
    end = keep_first + 1  # the first [SEP]
    token_ids = tf.where(position == end[:, None], sep_id, token_ids)
    segment_ids = tf.zeros_like(token_ids)
    if second_ids is not None:
        start_b = end + 1
        in_b, ids_b = _place(values_b, splits_b, keep_second, start_b, position, pad_id)
        token_ids = tf.where(in_b, ids_b, token_ids)
        end = start_b + keep_second
        token_ids = tf.where(position == end[:, None], sep_id, token_ids)
        segment_ids = (_indicator(position - start_b[:, None] + 1)
                       * _indicator(end[:, None] - position + 1))
    return {"token_ids": token_ids, "segment_ids": segment_ids,
            "padding_mask": _indicator(end[:, None] - position + 1)}


def bound_text_length(texts, max_chars, return_cut=False):
    """Valid UTF-8 texts of at most `max_chars` characters (TF ops, any shape).

    The work per text is then bounded whatever a client sends: the bytes are
    cut first (4 per character, UTF-8's longest, plus one character's
    worth), invalid UTF-8 is replaced by U+FFFD (as the readers of the
    training data do), then the characters are cut. A text within the limit
    comes out unchanged, so its ids are unchanged too.

    Args:
        texts: string tensor.
        max_chars: int. Characters kept per text.
        return_cut: bool. Also return a bool tensor: which texts were cut.

    Example:
    >>> bound_text_length(tf.constant(["abcdef", "añb"]), 2).numpy().tolist()
    [b'ab', b'a\\xc3\\xb1']
    """
    if not 1 <= max_chars <= MAX_TEXT_CHARS:
        raise ValueError(f"max_chars={max_chars!r} must be in [1, {MAX_TEXT_CHARS}].")
    max_bytes = 4 * max_chars + 4
    head = tf.strings.substr(texts, 0, max_bytes, unit="BYTE")
    head = tf.strings.unicode_transcode(head, "UTF-8", "UTF-8", errors="replace")
    bounded = tf.strings.substr(head, 0, max_chars, unit="UTF8_CHAR")
    if not return_cut:
        return bounded
    cut = tf.logical_or(tf.strings.length(texts) > max_bytes,
                        tf.strings.length(head, unit="UTF8_CHAR") > max_chars)
    return bounded, cut


def encode(tokenize, texts, second_texts=None, *, sequence_length, cls_id, sep_id, pad_id,
           max_chars=None):
    """Strings -> packed features: bound, tokenize, `pack` (TF ops).

    The one text-to-features path: `TextClassifierPreprocessor`, the
    fine-tuning datasets and so the serving graphs all call it.

    Texts are cut to `max_chars` characters before tokenizing
    (`bound_text_length`), so the work per text is bounded. Texts that were
    not cut get exactly the ids they would get uncut. For a pair whose texts
    are both cut by the packer anyway, longest-first truncation ranks a text
    the bound cut as longer than one it did not cut, and two cut texts by
    their size in bytes (their exact piece counts are not computed; this
    decides only where an odd token goes).

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
        strings = tf.reshape(strings, [-1])
        bounded, cut = bound_text_length(strings, max_chars, return_cut=True)
        ids = tokenize(bounded)
        if not isinstance(ids, (tf.RaggedTensor, tf.Tensor)):
            ids = tf.ragged.constant(ids, dtype=tf.int32)
        if isinstance(ids, tf.Tensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        # A cut text outranks any uncut one (it has more than max_chars
        # characters, an uncut one at most max_chars pieces); cut texts rank
        # by their size.
        count = tf.cast(ids.row_lengths(), tf.int64)
        ranking = tf.where(cut, count + 2 * tf.cast(max_chars, tf.int64)
                           + tf.cast(tf.strings.length(strings), tf.int64), count)
        return ids, ranking

    first, first_rank = pieces(texts)
    if second_texts is None:
        return pack(first, sequence_length=sequence_length, cls_id=cls_id, sep_id=sep_id,
                    pad_id=pad_id)
    second, second_rank = pieces(second_texts)
    return pack(first, second, sequence_length=sequence_length, cls_id=cls_id, sep_id=sep_id,
                pad_id=pad_id, ranking_lengths=(first_rank, second_rank))
