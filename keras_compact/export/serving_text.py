"""`TextPacker`: raw text to model inputs from a bare SentencePiece model
(TensorFlow-only).

A small `tf.Module` for clients and tools that hold only a `.model` file: it
tokenizes with tensorflow-text's SentencePiece op and packs with the
package's one packer (`keras_compact.preprocessing.encode`: the same text
bound, transformers' longest-first truncation, core TF ops only, no RoundRobinTrim),
so its ids are those of `TextClassifierPreprocessor` and of the fine-tuning
pipeline. Exports use the model's own preprocessor
(`keras_compact.export.export_for_serving`).

Single texts: `[CLS] a[: sequence_length - 2] [SEP]`. Pairs: `[CLS] a [SEP] b [SEP]`,
segment 1 for `b [SEP]`, cut by transformers' longest-first rule.
"""

import tensorflow as tf

from keras_compact.data.vocabulary import CLS_ID
from keras_compact.data.vocabulary import PAD_ID
from keras_compact.data.vocabulary import SEP_ID
from keras_compact.preprocessing.packing import check_sequence_length
from keras_compact.preprocessing.packing import encode


class TextPacker(tf.Module):
    """Strings -> token_ids, segment_ids, padding_mask (int32 [batch, sequence_length]).

    Args:
        proto: bytes. The serialized SentencePiece model.
        sequence_length: int >= 3 (>= 4 for pairs).
        cls_id, sep_id, pad_id: special token ids (keras_compact's
            vocabularies use 2, 3 and 0).

    Example:
    ```python
    packer = TextPacker(open("spm.model", "rb").read(), sequence_length=128)
    features = packer(tf.constant(["Lists are mutable."]))
    ```
    """

    def __init__(self, proto, sequence_length, cls_id=CLS_ID, sep_id=SEP_ID, pad_id=PAD_ID,
                 name=None):
        super().__init__(name=name)
        import tensorflow_text as tf_text

        check_sequence_length(sequence_length, name="sequence_length")
        # A tracked tf.Module: its SentencePiece resource is saved with the model.
        self.tokenizer = tf_text.SentencepieceTokenizer(model=proto, out_type=tf.int32)
        self.sequence_length = sequence_length
        self.cls_id, self.sep_id, self.pad_id = cls_id, sep_id, pad_id

    def __call__(self, texts, second_texts=None):
        """Packs one text per example, or a pair when `second_texts` is given."""
        return encode(self.tokenizer.tokenize, texts, second_texts,
                      sequence_length=self.sequence_length, cls_id=self.cls_id,
                      sep_id=self.sep_id, pad_id=self.pad_id)
