"""SentencePiece tokenizer layer (ALBERT special pieces), in the TF graph.

TF-only: in graphs (tf.data maps, `tf.function`, SavedModels) tokenization
runs tensorflow-text's SentencePiece ops, which TF Serving ships; called
eagerly it follows keras-hub and runs the `sentencepiece` package in Python
(same ids). LiteRT has no kernel for these ops (tensorflow-text's
`FastSentencepieceTokenizer` has one, but it is not used here).

Reuses keras-hub's `AlbertTokenizer` (a `keras_hub.tokenizers.
SentencePieceTokenizer`): its asset convention (`vocabulary.spm` inside the
`.keras` file), `get_config`, `detokenize`, `token_to_id`/`id_to_token`.
Added here: the `[UNK]`-style `unk_token_id` property, clear errors naming
the file, and graph tokenization that builds the SentencePiece resource
inside the traced function, so that `keras.utils.set_random_seed` (which
clears TF's eager kernel cache and with it keras-hub's eagerly created
resource) cannot break a tokenizer built earlier.
"""

import os

import keras
import keras_hub
from keras_hub.src.utils.tensor_utils import convert_to_ragged_batch
from keras_hub.src.utils.tensor_utils import preprocessing_function

# The special pieces keras-compact vocabularies carry, at ids 0-4.
SPECIAL_PIECES = ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")


class SentencePieceModelNotFoundError(FileNotFoundError, ValueError):
    """A SentencePiece path that does not exist (a FileNotFoundError and a ValueError)."""


def read_sentencepiece_proto(path):
    """The bytes of a SentencePiece `.model`, checked with the sentencepiece package.

    Raises:
        SentencePieceModelNotFoundError: the file does not exist.
        ValueError: the file is not a SentencePiece model (names the path).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SentencePieceModelNotFoundError(
            f"SentencePiece model {path!r} does not exist; train one with "
            "`keras-compact vocab --output PATH.model` or pass the right path.")
    with open(path, "rb") as handle:
        proto = handle.read()
    check_sentencepiece_proto(proto, repr(path))
    return proto


def check_sentencepiece_proto(proto, source="(bytes)"):
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(proto)
    except Exception as error:  # sentencepiece raises RuntimeError or OSError
        raise ValueError(
            f"{source} is not a SentencePiece model ({error}); pass the .model file "
            "written by `keras-compact vocab`, not the .vocab text file.") from None
    if processor.get_piece_size() == 0:
        raise ValueError(f"{source} is not a SentencePiece model (it has no pieces).")
    pieces = {processor.id_to_piece(i) for i in range(processor.get_piece_size())}
    missing = [p for p in SPECIAL_PIECES if p not in pieces]
    if missing:
        raise ValueError(
            f"SentencePiece model {source} lacks the special piece(s) {missing}; an ALBERT "
            f"vocabulary needs {list(SPECIAL_PIECES)}. Train it with `keras-compact vocab` "
            "(train_vocabulary adds them at ids 0-4).")
    return processor


@keras.saving.register_keras_serializable(package="keras_compact")
class SentencePieceTokenizer(keras_hub.models.AlbertTokenizer):
    """SentencePiece tokenizer with ALBERT's special pieces, keras-hub style.

    `tokenize` / `__call__` map strings to int32 ids, `detokenize` maps ids
    back to text. Inside `tf.data`, a `tf.function` or a SavedModel the
    output is a `tf.RaggedTensor [batch, None]` (dense `[batch,
    sequence_length]`, padded with `<pad>`, if `sequence_length` is set);
    called eagerly it follows keras-hub and returns Python lists. The model
    is saved as the asset `vocabulary.spm` inside `.keras` files.

    Args:
        proto: path of a SentencePiece `.model` or its serialized bytes.
            It must hold `<pad>`, `<unk>`, `[CLS]`, `[SEP]` and `[MASK]`
            (keras-compact vocabularies have them at ids 0-4).
        sequence_length: if set, pad/truncate outputs to this length.
        dtype: output dtype, an integer type (default int32) or "string".

    Example:

    >>> tokenizer = SentencePieceTokenizer("vocab/spm.model")
    >>> ids = tokenizer(["The quick brown fox."])        # [[...]]
    >>> tokenizer.detokenize(ids)                        # ['the quick brown fox.']
    >>> tokenizer.cls_token_id, tokenizer.unk_token_id   # (2, 1)
    """

    def __init__(self, proto=None, sequence_length=None, dtype="int32", **kwargs):
        self._add_special_token("<unk>", "unk_token")
        if isinstance(proto, (str, os.PathLike)) and not _looks_base64(proto):
            proto = read_sentencepiece_proto(proto)
        elif isinstance(proto, bytes):
            check_sentencepiece_proto(proto)
        super().__init__(proto=proto, sequence_length=sequence_length, dtype=dtype, **kwargs)

    def load_assets(self, dir_path):
        path = os.path.join(dir_path, "vocabulary.spm")
        self.set_proto(read_sentencepiece_proto(path))

    # Graph path: the SentencePiece resource is made inside the traced
    # function (see the module docstring), with the same op and attributes
    # tensorflow-text's SentencepieceTokenizer uses.
    def _graph_ops(self):
        try:
            from tensorflow_text.python.ops.sentencepiece_tokenizer import (
                gen_sentencepiece_tokenizer as sentencepiece_ops,
            )
        except ImportError:  # pragma: no cover - depends on tensorflow-text internals
            return None
        return sentencepiece_ops

    @preprocessing_function
    def _tokenize_tf(self, inputs):
        import tensorflow as tf

        ops = self._graph_ops()
        if ops is None or tf.executing_eagerly() or self.compute_dtype not in ("int32",):
            return super()._tokenize_tf.__wrapped__(self, inputs)
        inputs = tf.convert_to_tensor(inputs)
        unbatched = inputs.shape.rank == 0
        if unbatched:
            inputs = tf.expand_dims(inputs, 0)
        handle = ops.sentencepiece_op(model=self.proto)
        values, splits = ops.sentencepiece_tokenize_op(
            handle, tf.reshape(inputs, [-1]), nbest_size=0, alpha=1.0, add_bos=self.add_bos,
            add_eos=self.add_eos, reverse=False, out_type=tf.int32, return_nbest=False)
        tokens = tf.RaggedTensor.from_row_splits(values, splits)
        if self.sequence_length:
            tokens = tokens.to_tensor(shape=[None, self.sequence_length],
                                      default_value=self.pad_token_id)
        if unbatched:
            tokens = tokens[0] if not isinstance(tokens, tf.RaggedTensor) else tokens.values
        return tokens

    @preprocessing_function
    def _detokenize_tf(self, inputs):
        import tensorflow as tf

        ops = self._graph_ops()
        if ops is None or tf.executing_eagerly():
            return super()._detokenize_tf.__wrapped__(self, inputs)
        inputs, unbatched, _ = convert_to_ragged_batch(inputs)
        inputs = tf.cast(inputs, tf.int32)
        handle = ops.sentencepiece_op(model=self.proto)
        outputs = ops.sentencepiece_detokenize_op(
            handle, inputs.flat_values, inputs.row_splits, add_bos=self.add_bos,
            add_eos=self.add_eos, reverse=False)
        if unbatched:
            outputs = tf.squeeze(outputs, 0)
        return outputs


def _looks_base64(proto):
    # keras-hub passes the model as a long base64 string when deserializing.
    return isinstance(proto, str) and len(proto) > 2048 and not os.path.exists(proto)
