"""Tokenizers as Keras layers: SentencePiece (ALBERT) and WordPiece (BERT).

TF-only: tokenization runs TensorFlow / tensorflow-text ops whatever
`KERAS_BACKEND` is (as in keras-hub), inside `tf.data` maps, `tf.function`s
and SavedModels (TF Serving ships the ops). The vocabulary travels inside
`.keras` files as an asset.

- `SentencePieceTokenizer(proto)`: keras-compact's SentencePiece
  vocabularies (`<pad>`=0, `<unk>`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4).
- `WordPieceTokenizer(vocabulary, lowercase=...)` and
  `WordPieceTokenizer.from_huggingface(folder)`: BERT's WordPiece with the
  ids of Hugging Face's reference tokenizer.
- `load_tokenizer(path_or_tokenizer)`: a .model, a vocab.txt, a Hugging Face
  folder, or a tokenizer object returned as is.
"""

from keras_compact.tokenizers.loading import load_tokenizer
from keras_compact.tokenizers.sentence_piece import SPECIAL_PIECES
from keras_compact.tokenizers.sentence_piece import SentencePieceTokenizer
from keras_compact.tokenizers.word_piece import WordPieceTokenizer

__all__ = [
    "SPECIAL_PIECES",
    "SentencePieceTokenizer",
    "WordPieceTokenizer",
    "load_tokenizer",
]
