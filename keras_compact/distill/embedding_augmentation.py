"""TinyBERT augmentation for a teacher without an MLM head: embedding-table neighbours.

TinyBERT's augmentation asks the teacher's MLM for single-piece words and
GloVe for the rest (`keras_compact.distill.augmentation.TextAugmenter`). A
checkpoint saved without its MLM head (all-MiniLM-L6-v2, any
sentence-embedding model) cannot propose words, so here every replaceable
word takes its candidates from word vectors: a GloVe-format file when given,
else the teacher's own token-embedding table, where a whole-word token's
vector is its row and a word of several pieces gets the mean of its pieces'
rows; candidates are the K nearest whole-word tokens by cosine. This is a
stand-in for the paper's MLM + GloVe and is reported as such.

Works with any `keras_compact.tokenizers` tokenizer (WordPiece or
SentencePiece); numpy only, so any Keras backend.

Example:
```python
augmenter = EmbeddingAugmenter.from_teacher(teacher, tokenizer, texts, num_variants=4)
variants = augmenter.augment(texts)     # one list of 4 strings per text
```
"""

import numpy as np

from keras_compact.distill.augmentation import WordVectors
from keras_compact.distill.augmentation import _is_replaceable
from keras_compact.distill.augmentation import keras_to_numpy
from keras_compact.distill.augmentation import split_words


def _vocabulary(tokenizer):
    """The tokenizer's tokens in id order."""
    return [str(token) for token in tokenizer.get_vocabulary()]


def _kind(tokenizer):
    from keras_compact.tokenizers import WordPieceTokenizer

    return "wordpiece" if isinstance(tokenizer, WordPieceTokenizer) else "sentencepiece"


def _whole_words(tokens, kind):
    """{token id: word} for tokens that are a whole alphabetic word."""
    words = {}
    for token_id, token in enumerate(tokens):
        if kind == "wordpiece":
            word = token
            if token.startswith("##") or token.startswith("[") or not token.isalpha():
                continue
        else:
            if not token.startswith("\u2581") or not token[1:].isalpha():
                continue
            word = token[1:]
        words[token_id] = word
    return words


def embedding_word_vectors(tokenizer, embedding_matrix, texts):
    """`WordVectors` over the teacher's token table, with the words of `texts` looked up.

    Args:
        tokenizer: a `keras_compact.tokenizers` tokenizer (`load_tokenizer`).
        embedding_matrix: (vocabulary_size, E), e.g.
            `teacher.backbone.token_embedding.embeddings`.
        texts: the texts to augment: their words are tokenized in one batch
            so multi-piece words get a vector (the mean of their pieces').
    """
    table = np.asarray(keras_to_numpy(embedding_matrix), dtype="float32")
    whole = _whole_words(_vocabulary(tokenizer), _kind(tokenizer))
    ids = sorted(i for i in whole if i < len(table))
    words = sorted({w.lower() for text in texts for w in split_words(text)
                    if _is_replaceable(w)})
    pieces = {}
    if words:
        import tensorflow as tf

        from keras_compact.data.tokenizer import pipeline_tokenize_fn

        ragged = pipeline_tokenize_fn(tokenizer)(tf.constant(words))
        for word, row in zip(words, ragged.to_list()):
            row = [i for i in row if 0 <= i < len(table) and i != tokenizer.unk_token_id]
            if row:
                pieces[word] = row

    def lookup(word):
        row = pieces.get(word)
        return table[row].mean(axis=0) if row else None

    return WordVectors([whole[i] for i in ids], table[ids], lookup=lookup)


class EmbeddingAugmenter:
    """Replaces each word with probability p_t by one of its K nearest neighbours.

    Args:
        word_vectors: a `WordVectors` (GloVe or `embedding_word_vectors`).
        num_variants: N_a, variants per text.
        replace_prob: p_t.
        top_k: K.
        seed: int.
    """

    def __init__(self, word_vectors, num_variants=20, replace_prob=0.4, top_k=15, seed=0):
        for name, value in (("num_variants", num_variants), ("top_k", top_k)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {name}={value!r}.")
        if not 0.0 <= replace_prob <= 1.0:
            raise ValueError(f"replace_prob must be in [0, 1], got replace_prob={replace_prob!r}.")
        self.word_vectors = word_vectors
        self.num_variants = num_variants
        self.replace_prob = float(replace_prob)
        self.top_k = top_k
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_teacher(cls, teacher, tokenizer, texts, word_vectors=None, **kwargs):
        """From a teacher `TextClassifier`'s token table (or a given `WordVectors`)."""
        if word_vectors is None:
            word_vectors = embedding_word_vectors(
                tokenizer, teacher.backbone.token_embedding.embeddings, texts)
        return cls(word_vectors, **kwargs)

    def augment(self, texts):
        """`num_variants` variants of each text (a list of lists of strings)."""
        variants = []
        for text in texts:
            words = split_words(text)
            options = [self.word_vectors.neighbours(w, self.top_k) if _is_replaceable(w) else []
                       for w in words]
            per_text = []
            for _ in range(self.num_variants):
                per_text.append(" ".join(
                    option[self.rng.integers(len(option))]
                    if option and self.rng.random() < self.replace_prob else word
                    for word, option in zip(words, options)))
            variants.append(per_text)
        return variants
