"""all-MiniLM-L6-v2 end to end: raw strings -> `TextEmbedder` (backbone from
`keras_compact.convert.from_huggingface`, WordPiece preprocessing) against
transformers' `BertModel` with mean pooling."""

import numpy as np
import pytest

from tests.preprocessing.conftest import hf_fast_tokenizer
from tests.preprocessing.conftest import wordpiece_tokenizer

SENTENCES = [
    "A man is eating food.", "A man is eating a piece of bread.",
    "The girl is carrying a baby.", "A man is riding a horse.",
    "A woman is playing violin.", "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.", "Someone in a gorilla costume is playing a set of drums.",
    "The new movie is awesome!", "The cat sits outside, and the dog plays in the garden.",
    "Python lists are mutable; tuples are not (see the docs for details).",
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of "
    "incredulity, it was the season of Light, it was the season of Darkness. " * 3,
    "", "Café naïve résumé – Straße ½ ﬁne", "日本語のテキストと한국어 문장 👩‍👩‍👧",
]


def test_embeddings_match_transformers_mean_pooling(minilm):
    import torch
    from transformers import BertModel

    from keras_compact import TextClassifierPreprocessor
    from keras_compact import TextEmbedder
    from keras_compact.convert import from_huggingface

    length = 128
    preprocessor = TextClassifierPreprocessor(wordpiece_tokenizer(minilm), length)
    embedder = TextEmbedder(from_huggingface(minilm), preprocessor=preprocessor)
    ours = embedder.predict(SENTENCES, batch_size=8, verbose=0)

    hf = hf_fast_tokenizer(minilm)
    batch = hf(SENTENCES, truncation=True, max_length=length, padding="max_length",
               return_tensors="pt")
    features = {k: np.asarray(v) for k, v in preprocessor(SENTENCES).items()}
    np.testing.assert_array_equal(features["token_ids"], batch["input_ids"].numpy())
    np.testing.assert_array_equal(features["padding_mask"], batch["attention_mask"].numpy())
    model = BertModel.from_pretrained(minilm).eval()
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    reference = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy()
    cosine = (ours * reference).sum(1) / (np.linalg.norm(ours, axis=1)
                                          * np.linalg.norm(reference, axis=1))
    print(f"cosine min {cosine.min():.8f}, max |diff| {np.abs(ours - reference).max():.2e}")
    assert cosine.min() >= 0.99999, cosine
