"""Raw text to model inputs inside a TensorFlow graph (TensorFlow-only).

`TextPacker` tokenizes with tensorflow-text's SentencePiece op and packs
BERT-style with core TensorFlow ops only (ragged slicing, concat, pad), so a
SavedModel that uses it runs in TF Serving, which links the tensorflow-text
ops. It deliberately avoids tensorflow-text's RoundRobinTrim op (absent from
TF Serving releases before 2.20) and keras-hub's packers that use it.

Single texts: `[CLS] a[: seq_len - 2] [SEP]`, the ids
`keras_compact.data.labelled_task.make_classification_dataset` trains on.
Pairs: `[CLS] a [SEP] b [SEP]`, segment 1 for `b [SEP]`, truncating the
longer text first (BERT's rule, ties cut from `b`) so both keep as much as
fits.
"""

import tensorflow as tf

from keras_compact.data.sop import truncated_lengths
from keras_compact.data.vocabulary import CLS_ID
from keras_compact.data.vocabulary import PAD_ID
from keras_compact.data.vocabulary import SEP_ID


class TextPacker(tf.Module):
    """Strings -> token_ids, segment_ids, padding_mask (int32 [batch, seq_len]).

    Args:
        proto: bytes. The serialized SentencePiece model.
        seq_len: int >= 3 (>= 4 for pairs).
        cls_id, sep_id, pad_id: special token ids (keras_compact's
            vocabularies use 2, 3 and 0).

    Example:
    ```python
    packer = TextPacker(open("spm.model", "rb").read(), seq_len=128)
    features = packer(tf.constant(["Lists are mutable."]))
    ```
    """

    def __init__(self, proto, seq_len, cls_id=CLS_ID, sep_id=SEP_ID, pad_id=PAD_ID,
                 name=None):
        super().__init__(name=name)
        import tensorflow_text as tf_text

        if not isinstance(seq_len, int) or seq_len < 3:
            raise ValueError(f"seq_len must be an integer >= 3, got seq_len={seq_len!r}.")
        # A tracked tf.Module: its SentencePiece resource is saved with the model.
        self.tokenizer = tf_text.SentencepieceTokenizer(model=proto, out_type=tf.int32)
        self.seq_len = seq_len
        self.cls_id, self.sep_id, self.pad_id = cls_id, sep_id, pad_id

    def _pieces(self, texts):
        # Invalid UTF-8 must not fail a request: replace it, as the training
        # pipeline's readers do.
        texts = tf.strings.unicode_transcode(
            tf.reshape(texts, [-1]), "UTF-8", "UTF-8", errors="replace")
        return self.tokenizer.tokenize(texts)

    def _special(self, rows, token_id):
        return tf.fill([rows, 1], tf.constant(token_id, tf.int32))

    def _finish(self, token_ids, segment_ids):
        shape = [None, self.seq_len]
        lengths = tf.cast(token_ids.row_lengths(), tf.int32)
        return {
            "token_ids": token_ids.to_tensor(default_value=self.pad_id, shape=shape),
            "segment_ids": segment_ids.to_tensor(default_value=0, shape=shape),
            "padding_mask": tf.sequence_mask(lengths, self.seq_len, dtype=tf.int32),
        }

    def __call__(self, texts, second_texts=None):
        """Packs one text per example, or a pair when `second_texts` is given."""
        first = self._pieces(texts)
        rows = first.nrows(out_type=tf.int32)
        cls, sep = self._special(rows, self.cls_id), self._special(rows, self.sep_id)
        if second_texts is None:
            token_ids = tf.concat([cls, first[:, : self.seq_len - 2], sep], axis=1)
            return self._finish(token_ids, tf.zeros_like(token_ids))
        if self.seq_len < 4:
            raise ValueError(f"Pairs need seq_len >= 4, got seq_len={self.seq_len}.")
        second = self._pieces(second_texts)
        budget = self.seq_len - 3
        first_len = tf.cast(first.row_lengths(), tf.int32)
        second_len = tf.cast(second.row_lengths(), tf.int32)
        # The same rule (and code) as pretraining's sentence pairs.
        keep_first, keep_second = truncated_lengths(first_len, second_len, budget)
        first = tf.ragged.boolean_mask(
            first, tf.ragged.range(first_len) < keep_first[:, None])
        second = tf.ragged.boolean_mask(
            second, tf.ragged.range(second_len) < keep_second[:, None])
        token_ids = tf.concat([cls, first, sep, second, sep], axis=1)
        segment_ids = tf.concat([
            tf.zeros_like(tf.concat([cls, first, sep], axis=1)),
            tf.ones_like(tf.concat([second, sep], axis=1))], axis=1)
        return self._finish(token_ids, segment_ids)
