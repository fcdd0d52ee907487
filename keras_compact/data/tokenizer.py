"""Loading the SentencePiece tokenizer for tf.data and exported graphs.

TF-only: this module is part of `keras_compact.data`, the tf.data /
tensorflow-text input pipeline (TensorFlow whatever `KERAS_BACKEND` is).

The tokenizer is keras-hub's public `keras_hub.models.AlbertTokenizer`, a
`SentencePieceTokenizer` built on tensorflow-text's SentencePiece ops: it
runs inside `tf.data.Dataset.map`, inside a `tf.function` and inside a
SavedModel (TF Serving links the same ops), and detokenizes.
"""

import os


def load_sentencepiece_processor(model_path):
    """Opens a .model file with the `sentencepiece` package, checking it.

    Raises:
        FileNotFoundError: the file does not exist (message names the path).
        ValueError: the file is not a SentencePiece model (names the path).
    """
    import sentencepiece as spm

    model_path = os.fspath(model_path)
    if os.path.isdir(model_path):
        raise IsADirectoryError(21, "is a directory; pass the SentencePiece .model file "
                                "written by `keras-compact vocab`", model_path)
    if not os.path.isfile(model_path):
        raise FileNotFoundError(
            f"SentencePiece model {model_path!r} does not exist; train one with "
            "`keras-compact vocab --output PATH.model` or pass the right path.")
    processor = spm.SentencePieceProcessor()
    try:
        with open(model_path, "rb") as handle:
            processor.LoadFromSerializedProto(handle.read())
    except Exception as error:  # sentencepiece raises RuntimeError or OSError
        raise ValueError(
            f"{model_path!r} is not a SentencePiece model ({error}); pass the .model file "
            "written by `keras-compact vocab`, not the .vocab text file.") from None
    if processor.get_piece_size() == 0:
        raise ValueError(f"{model_path!r} is not a SentencePiece model (it has no pieces).")
    return processor


def load_tokenizer(model_path_or_tokenizer, sequence_length=None):
    """Builds an in-graph ALBERT tokenizer from a SentencePiece .model file.

    Args:
        model_path_or_tokenizer: path of a .model file written by
            `train_vocabulary` (special pieces <pad>, <unk>, [CLS], [SEP],
            [MASK] at ids 0-4), or an already built tokenizer, returned as is.
        sequence_length: optional; pad/truncate outputs to this length.

    Returns:
        A `keras_hub.models.AlbertTokenizer`: call it on strings (scalar or
        batch) inside or outside tf.data; `detokenize` maps ids back to text.

    Raises:
        FileNotFoundError: the file does not exist (message names the path).
        ValueError: the file is not a SentencePiece model, or lacks the
            special pieces (message names the path).

    Example:

    >>> tokenizer = load_tokenizer("vocab/spm.model")
    >>> ids = tokenizer(["The quick brown fox."])    # tf.RaggedTensor
    >>> tokenizer.detokenize(ids)                    # ["the quick brown fox."]
    """
    if not isinstance(model_path_or_tokenizer, (str, bytes, os.PathLike)):
        return model_path_or_tokenizer
    import keras_hub

    model_path = os.fspath(model_path_or_tokenizer)
    load_sentencepiece_processor(model_path)  # clear errors before keras-hub's
    try:
        return keras_hub.models.AlbertTokenizer(proto=model_path,
                                                sequence_length=sequence_length)
    except ValueError as error:
        raise ValueError(f"SentencePiece model {model_path!r} cannot serve as an ALBERT "
                         f"vocabulary: {error} Train it with `keras-compact vocab`.") from None


def special_token_ids(tokenizer):
    """The ids the pipeline needs, read from the tokenizer's vocabulary.

    Returns:
        A dict with "pad", "unk", "cls", "sep", "mask" ids and
        "vocabulary_size".
    """
    return {
        "pad": int(tokenizer.pad_token_id),
        "unk": int(tokenizer.token_to_id("<unk>")),
        "cls": int(tokenizer.cls_token_id),
        "sep": int(tokenizer.sep_token_id),
        "mask": int(tokenizer.mask_token_id),
        "vocabulary_size": int(tokenizer.vocabulary_size()),
    }


def tokenizer_proto(tokenizer):
    """The serialized SentencePiece model behind a keras-hub tokenizer."""
    proto = getattr(tokenizer, "proto", None)
    if not isinstance(proto, bytes):
        raise ValueError("The tokenizer carries no SentencePiece proto; pass the .model path "
                         "or a keras_hub SentencePiece/AlbertTokenizer.")
    return proto


def pipeline_tokenize_fn(tokenizer):
    """A function strings [N] -> int32 RaggedTensor [N, None] for tf.data maps.

    Same ids as calling the keras-hub tokenizer, but the SentencePiece
    resource is created inside the tf.data function that uses it. Why:
    tensorflow-text's tokenizer (and so keras-hub's) creates a kernel-owned
    resource eagerly, and `keras.utils.set_random_seed` / `tf.random.set_seed`
    clear the eager kernel cache, deleting it; a dataset built before such a
    call then fails with "Resource ... SentencepieceOp ... does not exist".
    Falls back to the keras-hub tokenizer if tensorflow-text's op module
    moves.
    """
    try:
        from tensorflow_text.python.ops.sentencepiece_tokenizer import (
            gen_sentencepiece_tokenizer as sentencepiece_ops,
        )
    except ImportError:  # pragma: no cover - depends on tensorflow-text internals
        sentencepiece_ops = None
    import tensorflow as tf

    if sentencepiece_ops is None:
        return lambda strings: tf.cast(tokenizer(strings), tf.int32)
    proto = tokenizer_proto(tokenizer)

    def tokenize(strings):
        strings = tf.reshape(strings, [-1])
        handle = sentencepiece_ops.sentencepiece_op(model=proto)
        values, splits = sentencepiece_ops.sentencepiece_tokenize_op(
            handle, strings, nbest_size=0, alpha=1.0, add_bos=False, add_eos=False,
            reverse=False, out_type=tf.int32, return_nbest=False)
        return tf.RaggedTensor.from_row_splits(values, splits)

    return tokenize
