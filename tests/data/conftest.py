"""Fixtures for the data-pipeline tests (TensorFlow backend only).

A real SentencePiece model is trained once per test session on the bundled
corpus (small vocabulary, a few seconds); statistics are measured on a few
thousand real examples cut from the bundled corpus.
"""

import numpy as np
import pytest

STAT_EXAMPLES = 4000
SEQ_LEN = 128
MAX_PREDICTIONS = 20


@pytest.fixture(scope="session")
def tokenizer(spm_model):
    from keras_compact.tokenizers import load_tokenizer

    return load_tokenizer(spm_model)


@pytest.fixture(scope="session")
def pair_examples(tokenizer):
    """STAT_EXAMPLES unmasked SOP examples of the bundled corpus, as numpy."""
    from keras_compact.data.pipeline import pair_examples_dataset

    dataset, stats = pair_examples_dataset(None, tokenizer, sequence_length=SEQ_LEN, seed=7,
                                           repeat=False, shuffle_buffer=2000,
                                           keep_details=True)
    batch = next(iter(dataset.batch(STAT_EXAMPLES)))
    result = {key: value.numpy() for key, value in batch.items()}
    result["stats"] = stats
    return result


@pytest.fixture(scope="session")
def masked_examples(tokenizer, pair_examples):
    """n-gram masking of `pair_examples`, with selection details."""
    from keras_compact.data import ngram_mask
    from keras_compact.data import special_token_ids

    ids = special_token_ids(tokenizer)
    out = ngram_mask(pair_examples["token_ids"], [3, 4],
                     vocabulary_size=ids["vocabulary_size"], mask_token_id=ids["mask"],
                     special_token_ids=[0, 1, 2, 3, 4], max_predictions=MAX_PREDICTIONS,
                     return_details=True)
    return {key: np.asarray(value) for key, value in out.items()}

