"""One entry point for tokenizers: a .model, a vocab.txt, a Hugging Face folder.

TF-only (the tokenizers run TensorFlow / tensorflow-text ops); reading the
files needs only the standard library and `sentencepiece`.
"""

import os

from keras_compact.tokenizers.sentence_piece import SentencePieceModelNotFoundError
from keras_compact.tokenizers.sentence_piece import SentencePieceTokenizer
from keras_compact.tokenizers._files import VocabularyFileNotFoundError
from keras_compact.tokenizers.huggingface_folder import _FIX
from keras_compact.tokenizers.word_piece import WordPieceTokenizer
from keras_compact.tokenizers.word_piece import read_wordpiece_vocabulary

def load_tokenizer(path_or_tokenizer, sequence_length=None):
    """A tokenizer from a path, or the given tokenizer object as is.

    Args:
        path_or_tokenizer: a SentencePiece `.model` file ->
            `SentencePieceTokenizer`; a WordPiece `vocab.txt` (any `.txt`)
            -> `WordPieceTokenizer` (lower-cased if no cased marker: pass
            the Hugging Face folder to get the casing right); a Hugging Face
            BERT folder -> `WordPieceTokenizer.from_huggingface`; a folder
            holding exactly one `.model` -> that model; any other object
            (an already built tokenizer) is returned as is.
        sequence_length: optional; pad/truncate outputs to this length.

    Raises:
        FileNotFoundError (also a ValueError): the path does not exist.
        ValueError: unknown file format, or a vocabulary without the
            special tokens; the message names the path and the fix.

    Example:

    >>> from keras_compact.pretrained import minilm_l6_dir
    >>> tokenizer = load_tokenizer(minilm_l6_dir())          # WordPieceTokenizer
    >>> tokenizer(["A raw string."])
    [[1037, 6315, 5164, 1012]]
    """
    if not isinstance(path_or_tokenizer, (str, bytes, os.PathLike)):
        return path_or_tokenizer
    path = os.fsdecode(path_or_tokenizer)
    if os.path.isdir(path):
        if any(os.path.isfile(os.path.join(path, f))
               for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
            return WordPieceTokenizer.from_huggingface(path, sequence_length=sequence_length)
        models = sorted(f for f in os.listdir(path) if f.endswith(".model"))
        if len(models) == 1:
            return SentencePieceTokenizer(os.path.join(path, models[0]),
                                          sequence_length=sequence_length)
        raise ValueError(f"Folder {path!r} holds no tokenizer (no tokenizer.json, vocab.txt "
                         f"or single .model); {_FIX}.")
    if not os.path.exists(path):
        error = (SentencePieceModelNotFoundError if path.endswith(".model")
                 else VocabularyFileNotFoundError)
        raise error(f"Tokenizer file {path!r} does not exist; {_FIX}.")
    if path.endswith(".model"):
        return SentencePieceTokenizer(path, sequence_length=sequence_length)
    if path.endswith(".txt"):
        tokens = read_wordpiece_vocabulary(path)
        # A bare vocab.txt says nothing about casing: uncased BERT
        # vocabularies have no upper-case letters in their whole-word tokens.
        cased = any(t[:1].isascii() and t[:1].isupper() for t in tokens
                    if not t.startswith("["))
        return WordPieceTokenizer(path, lowercase=not cased, sequence_length=sequence_length)
    if path.endswith(".json"):
        folder = os.path.dirname(path) or "."
        if os.path.basename(path) in ("tokenizer.json", "tokenizer_config.json"):
            return WordPieceTokenizer.from_huggingface(folder, sequence_length=sequence_length)
    raise ValueError(f"Unknown tokenizer file format for {path!r}; {_FIX}.")
