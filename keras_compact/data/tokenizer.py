"""Loading tokenizers for tf.data and exported graphs.

TF-only: this module is part of `keras_compact.data`, the tf.data /
tensorflow-text input pipeline (TensorFlow whatever `KERAS_BACKEND` is).

The tokenizers live in `keras_compact.tokenizers`: `SentencePieceTokenizer`
(a keras-hub `AlbertTokenizer` on tensorflow-text's SentencePiece ops) and
`WordPieceTokenizer` (BERT's WordPiece with Hugging Face's ids). Both run
inside `tf.data.Dataset.map`, a `tf.function` and a SavedModel (TF Serving
links the same ops), and detokenize. This module keeps the pipeline's
helpers; load tokenizers with `keras_compact.tokenizers.load_tokenizer`.
"""

import os


def load_sentencepiece_processor(model_path):
    """Opens a .model file with the `sentencepiece` package, checking it.

    Raises:
        FileNotFoundError: the file does not exist (message names the path).
        ValueError: the file is not a SentencePiece model (names the path).
    """
    from keras_compact.tokenizers.sentence_piece import read_sentencepiece_file
    from keras_compact.tokenizers.sentence_piece import sentencepiece_processor

    model_path = os.fspath(model_path)
    if os.path.isdir(model_path):
        raise IsADirectoryError(21, "is a directory; pass the SentencePiece .model file "
                                "written by `keras-compact vocab`", model_path)
    model_path, proto = read_sentencepiece_file(model_path)
    return sentencepiece_processor(proto, repr(model_path))


def special_token_ids(tokenizer):
    """The ids the pipeline needs, read from the tokenizer's vocabulary.

    Returns:
        A dict with "pad", "unk", "cls", "sep", "mask" ids and
        "vocabulary_size".
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:  # keras-hub tokenizers without an unk_token_id
        vocabulary = set(tokenizer.get_vocabulary())
        names = [getattr(tokenizer, "oov_token", None), "<unk>", "[UNK]"]
        unk = tokenizer.token_to_id(next(n for n in names if n in vocabulary))
    mask = tokenizer.mask_token_id
    return {
        "pad": int(tokenizer.pad_token_id),
        "unk": int(unk),
        "cls": int(tokenizer.cls_token_id),
        "sep": int(tokenizer.sep_token_id),
        "mask": None if mask is None else int(mask),
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

    A `WordPieceTokenizer` (no TF resource) is returned as its graph
    tokenizer. For SentencePiece:

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

    from keras_compact.tokenizers import WordPieceTokenizer

    if isinstance(tokenizer, WordPieceTokenizer):
        def tokenize_wordpiece(strings):
            return tokenizer._ragged_ids(tf.reshape(strings, [-1]))

        return tokenize_wordpiece
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
