"""`TextClassifierPreprocessor`: keras-hub Preprocessor conventions, the ids
of the fine-tuning pipeline, pairs, saving, and errors that name the fix
(TensorFlow-computed, so these run under the TensorFlow backend)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_compact.preprocessing import TextClassifierPreprocessor

TEXTS = ["Lists are mutable sequences.", "", "   ", "Return a new reference. " * 40,
         "Ünïcödé: 日本語, Ελληνικά, 🎉🐍", "[MASK] the sentence", "x" * 3000]


def _spm(spm_model):
    from keras_compact.tokenizers import load_tokenizer

    return load_tokenizer(spm_model)


def _numpy(features):
    return {k: keras.ops.convert_to_numpy(v) for k, v in features.items()}


def test_single_texts_give_the_fine_tuning_pipelines_ids(spm_model):
    from tests.export.conftest import training_features

    for length in (3, 16, 64):
        preprocessor = TextClassifierPreprocessor(_spm(spm_model), sequence_length=length)
        expected = training_features(TEXTS, spm_model, seq_len=length)
        eager = _numpy(preprocessor(TEXTS))
        mapped = next(iter(tf.data.Dataset.from_tensor_slices(TEXTS).batch(len(TEXTS))
                           .map(preprocessor)))
        for key in expected:
            np.testing.assert_array_equal(eager[key], expected[key], err_msg=key)
            np.testing.assert_array_equal(mapped[key], expected[key], err_msg=key)


def test_labels_and_weights_pass_through_and_pairs_pack(spm_model):
    preprocessor = TextClassifierPreprocessor(_spm(spm_model), sequence_length=12, pair=True)
    first, second = ["What does Py_INCREF do?", ""], ["It increments a count.", "b"]
    x, y, w = preprocessor((first, second), [1, 0], [0.5, 2.0])
    assert keras.ops.convert_to_numpy(y).tolist() == [1, 0]
    assert keras.ops.convert_to_numpy(w).tolist() == [0.5, 2.0]
    alone = _numpy(preprocessor((first, second)))  # one (texts, texts_b) tuple is x
    x = _numpy(x)
    for key in x:
        np.testing.assert_array_equal(x[key], alone[key])
    assert x["segment_ids"][1].tolist()[:5] == [0, 0, 1, 1, 0]  # [CLS] [SEP] b [SEP] pad
    dataset = tf.data.Dataset.from_tensor_slices(((first, second), [1, 0])).batch(2)
    mapped, labels = next(iter(dataset.map(preprocessor)))
    np.testing.assert_array_equal(mapped["token_ids"], x["token_ids"])
    assert labels.numpy().tolist() == [1, 0]


def test_errors_name_the_value_and_the_fix(spm_model):
    tokenizer = _spm(spm_model)
    for bad in (2, 0, "128", None):
        with pytest.raises(ValueError, match=f"sequence_length={bad!r}.*>= 3"):
            TextClassifierPreprocessor(tokenizer, sequence_length=bad)
    with pytest.raises(ValueError, match="sequence_length=3.*>= 4"):
        TextClassifierPreprocessor(tokenizer, sequence_length=3, pair=True)
    single = TextClassifierPreprocessor(tokenizer, sequence_length=8)
    for call in (lambda: single((["a"], ["b"])), lambda: single(x=(["a"], ["b"])),
                 lambda: single((["a"], ["b"]), [1])):
        with pytest.raises(ValueError, match="pair was given to a single-text.*pair=True"):
            call()
    pair = TextClassifierPreprocessor(tokenizer, sequence_length=8, pair=True)
    with pytest.raises(ValueError, match="pair preprocessor takes x=\\(texts, texts_b\\)"):
        pair(["only one text"])
    with pytest.raises(ValueError, match="max_text_chars=4.*sequence_length=8"):
        TextClassifierPreprocessor(tokenizer, sequence_length=8, max_text_chars=4)
    with pytest.raises(ValueError, match="no `tokenize`"):
        TextClassifierPreprocessor(object(), sequence_length=8)


def test_saved_with_its_vocabulary_and_no_paths(spm_model, tmp_path):
    """A .keras file carries the tokenizer's vocabulary: it loads with the
    original vocabulary file gone and gives the same ids."""
    import shutil

    vocab = tmp_path / "spm.model"
    shutil.copy(spm_model, vocab)
    preprocessor = TextClassifierPreprocessor(str(vocab), sequence_length=16, pair=True)
    path = tmp_path / "pre.keras"
    config = keras.saving.serialize_keras_object(preprocessor)
    assert str(tmp_path) not in str(config)
    holder = _Holder(preprocessor)
    holder.built = True
    keras.saving.save_model(holder, path)
    vocab.unlink()
    restored = keras.saving.load_model(path).preprocessor
    assert restored.pair and restored.sequence_length == 16
    pairs = (TEXTS[:4], TEXTS[3:7])
    a, b = _numpy(preprocessor(pairs)), _numpy(restored(pairs))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


@keras.saving.register_keras_serializable(package="keras_compact_tests")
class _Holder(keras.Model):
    """The smallest model that saves a preprocessor (as Tasks do)."""

    def __init__(self, preprocessor, **kwargs):
        super().__init__(**kwargs)
        self.preprocessor = preprocessor

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"preprocessor": keras.saving.serialize_keras_object(self.preprocessor)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["preprocessor"]))


RAW_FIRST = ["A man is playing a guitar.", "", "Café naïve résumé – Straße ½ ﬁne",
             "日本語のテキストと한국어 문장", "The quick brown fox jumps over the lazy dog. " * 12,
             "emoji 👩‍👩‍👧 zero\u200bwidth, tab\tand\u00a0nbsp", "[MASK] typed in text", "x"]
RAW_SECOND = ["Someone plays an instrument.", "b", "", "ÉCOLE in CAPS, full-width ＡＢＣ１２３",
              "Short.", "The quick brown fox jumps over the lazy dog. " * 12, "U.S.A. 3.14", "y"]


@pytest.mark.parametrize("length", [8, 16, 128])
def test_wordpiece_pairs_give_transformers_ids_on_raw_text(minilm, length):
    from tests.preprocessing.conftest import hf_fast_tokenizer
    from tests.preprocessing.conftest import wordpiece_tokenizer

    preprocessor = TextClassifierPreprocessor(wordpiece_tokenizer(minilm), length, pair=True)
    ours = _numpy(preprocessor((RAW_FIRST, RAW_SECOND)))
    reference = hf_fast_tokenizer(minilm)(
        RAW_FIRST, RAW_SECOND, truncation="longest_first", max_length=length,
        padding="max_length", return_tensors="np")
    np.testing.assert_array_equal(ours["token_ids"], reference["input_ids"])
    np.testing.assert_array_equal(ours["segment_ids"], reference["token_type_ids"])
    np.testing.assert_array_equal(ours["padding_mask"], reference["attention_mask"])


def test_a_wordpiece_preprocessor_round_trips_without_its_folder(minilm, tmp_path):
    import shutil

    from keras_compact.tokenizers import WordPieceTokenizer

    folder = tmp_path / "hf"
    shutil.copytree(minilm, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    preprocessor = TextClassifierPreprocessor(WordPieceTokenizer.from_huggingface(str(folder)),
                                              sequence_length=24, pair=True)
    holder = _Holder(preprocessor)
    holder.built = True
    path = tmp_path / "pre.keras"
    keras.saving.save_model(holder, path)
    shutil.rmtree(folder)
    restored = keras.saving.load_model(path).preprocessor
    a = _numpy(preprocessor((RAW_FIRST, RAW_SECOND)))
    b = _numpy(restored((RAW_FIRST, RAW_SECOND)))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
