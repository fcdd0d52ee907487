"""The on-the-fly tf.data pretraining pipeline."""

import numpy as np
import pytest

from keras_compact.data import element_spec
from keras_compact.data import load_default_corpus
from keras_compact.data import make_pretraining_dataset


@pytest.fixture(scope="module")
def small_corpus():
    return load_default_corpus(sections=["tutorial"])


def _as_numpy(batch):
    features, labels = batch
    return ({k: v.numpy() for k, v in features.items()},
            {k: v.numpy() for k, v in labels.items()})


def _check_batch(features, labels, batch_size, seq_len, predictions):
    tokens = features["token_ids"]
    assert tokens.shape == (batch_size, seq_len)
    assert features["mask_positions"].shape == (batch_size, predictions)
    assert labels["sop_label"].shape == (batch_size,)
    padding = features["padding_mask"]
    np.testing.assert_array_equal(padding, (tokens != 0).astype(np.int32))
    assert (tokens[:, 0] == 2).all() and ((tokens == 3).sum(axis=1) == 2).all()
    weights = labels["mlm_weights"]
    positions = features["mask_positions"]
    real = weights > 0
    assert (padding[np.arange(batch_size)[:, None].repeat(predictions, 1)[real],
                    positions[real]] == 1).all()
    assert not np.isin(labels["mlm_ids"][real], [0, 1, 2, 3, 4]).any()


def test_element_format_is_static_and_exact(spm_model):
    dataset = make_pretraining_dataset(None, spm_model, batch_size=8, seed=1,
                                       shuffle_buffer=500)
    assert dataset.element_spec == element_spec(8, 128, 20)
    features, labels = _as_numpy(next(iter(dataset)))
    _check_batch(features, labels, 8, 128, 20)


def test_every_epoch_sees_new_masks_and_seed_reproduces(spm_model, small_corpus):
    def first_batch(dataset):
        return _as_numpy(next(iter(dataset)))

    kwargs = dict(batch_size=4, sequence_length=64, max_predictions=10, repeat=False,
                  shuffle_buffer=50)
    dataset = make_pretraining_dataset(small_corpus, spm_model, seed=5, **kwargs)
    epoch_1 = first_batch(dataset)
    epoch_2 = first_batch(dataset)  # a new iteration is a new epoch
    assert not np.array_equal(epoch_1[0]["token_ids"], epoch_2[0]["token_ids"])
    again = first_batch(make_pretraining_dataset(small_corpus, spm_model, seed=5, **kwargs))
    for got, want in zip(again, epoch_1):
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
    _check_batch(*epoch_1, 4, 64, 10)


def test_repeat_false_is_finite_and_covers_the_corpus(spm_model, small_corpus):
    dataset = make_pretraining_dataset(small_corpus, spm_model, batch_size=16, sequence_length=64,
                                       max_predictions=10, repeat=False, seed=0,
                                       shuffle_buffer=100)
    batches = sum(1 for _ in dataset)
    tokens = sum(len(s.split()) for d in small_corpus for s in d.sentences)
    # Roughly one example per 61 tokens, and well beyond a handful.
    assert batches * 16 > tokens / 61 * 0.8


def test_nsp_task(spm_model, small_corpus):
    dataset = make_pretraining_dataset(small_corpus, spm_model, batch_size=64, sequence_length=64,
                                       max_predictions=10, task="nsp", seed=2,
                                       shuffle_buffer=200)
    labels = np.concatenate([labels["sop_label"].numpy() for _, labels in dataset.take(8)])
    assert 0.4 < labels.mean() < 0.6


def test_text_files_are_streamed(spm_model, tmp_path):
    from keras_compact.data import write_text_corpus

    path = write_text_corpus(load_default_corpus(sections=["faq"]), str(tmp_path / "faq.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"First line with a bad byte \xff here.\nSecond line of that doc.\n\n"
                    b"Lonely.\n")
    with pytest.warns(UnicodeWarning, match="bad.txt"):
        dataset = make_pretraining_dataset([path, str(bad)], spm_model, batch_size=32,
                                           sequence_length=128, max_predictions=20, seed=0,
                                           shuffle_buffer=100)
    features, labels = _as_numpy(next(iter(dataset)))
    _check_batch(features, labels, 32, 128, 20)


def test_bad_inputs(spm_model, tmp_path):
    with pytest.raises(ValueError, match="empty"):
        make_pretraining_dataset([], spm_model)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        make_pretraining_dataset(str(empty), spm_model)
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        make_pretraining_dataset(str(tmp_path / "nowhere.txt"), spm_model)
    with pytest.raises(FileNotFoundError, match="absent.model"):
        make_pretraining_dataset(None, str(tmp_path / "absent.model"))
    with pytest.raises(ValueError, match="max_predictions=200"):
        make_pretraining_dataset(None, spm_model, max_predictions=200)
    with pytest.raises(ValueError, match="task='xyz'"):
        make_pretraining_dataset(None, spm_model, task="xyz")
    with pytest.raises(ValueError, match="2 or more sentences"):
        make_pretraining_dataset([["one sentence only."]], spm_model)
