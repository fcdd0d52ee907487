"""One small classifier, exported once for all of tests/export (TensorFlow
backend only: SavedModel export is TensorFlow-only)."""

import types

import pytest

SEQ_LEN = 32
LABELS = ["c-api", "library", "tutorial"]
# Tiny, but with the 4,000-piece vocabulary of the `spm_model` fixture.
TINY = dict(vocabulary_size=4000, num_layers=2, num_heads=2, hidden_dim=32,
            intermediate_dim=64, embedding_dim=16, max_sequence_length=SEQ_LEN)


@pytest.fixture(scope="session")
def exported(tmp_path_factory, spm_model):
    """A small classifier and its export as version 1 of BASE/sections.

    Returns a namespace with `model`, `path` (the version directory), `base`
    (pathlib.Path of BASE), `seq_len` and `labels`.
    """
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.export import export_for_serving

    model = TextClassifier(CompactBackbone(**TINY), num_classes=len(LABELS))
    base = tmp_path_factory.mktemp("serving")
    path = export_for_serving(model, spm_model, str(base), "sections", sequence_length=SEQ_LEN,
                              label_names=LABELS)
    return types.SimpleNamespace(model=model, path=path, base=base, seq_len=SEQ_LEN,
                                 labels=LABELS)


def training_features(texts, spm_model, seq_len=SEQ_LEN):
    """`texts` packed by the training pipeline (`tasks.datasets.make_dataset`)."""
    from keras_compact.preprocessing import TextClassifierPreprocessor
    from keras_compact.tasks.datasets import make_dataset

    preprocessor = TextClassifierPreprocessor(spm_model, sequence_length=seq_len)
    features, _ = next(iter(make_dataset([(t, 0) for t in texts], None, preprocessor,
                                         batch_size=len(texts))))
    return features
