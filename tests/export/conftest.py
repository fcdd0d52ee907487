"""The settings of the small classifier every export test uses (TensorFlow
backend only: SavedModel export is TensorFlow-only). Its `exported` fixture
lives in tests/conftest.py, where tests/cli reaches it too."""

SEQ_LEN = 32
LABELS = ["c-api", "library", "tutorial"]
# Tiny, but with the 4,000-piece vocabulary of the `spm_model` fixture.
TINY = dict(vocabulary_size=4000, num_layers=2, num_heads=2, hidden_dim=32,
            intermediate_dim=64, embedding_dim=16, max_sequence_length=SEQ_LEN)


def training_features(texts, spm_model, seq_len=SEQ_LEN):
    """`texts` packed by the training pipeline (`tasks.datasets.make_dataset`)."""
    from keras_compact.preprocessing import TextClassifierPreprocessor
    from keras_compact.tasks.datasets import make_dataset

    preprocessor = TextClassifierPreprocessor(spm_model, sequence_length=seq_len)
    features, _ = next(iter(make_dataset([(t, 0) for t in texts], None, preprocessor,
                                         batch_size=len(texts))))
    return features
