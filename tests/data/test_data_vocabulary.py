"""SentencePiece vocabulary training and the in-graph tokenizer."""

import os

import keras_hub
import pytest
import sentencepiece as spm
import tensorflow as tf

from keras_compact.data import SPECIAL_PIECES
from keras_compact.data import check_special_pieces
from keras_compact.tokenizers import load_tokenizer
from keras_compact.data import special_token_ids
from keras_compact.data import train_vocabulary
from keras_compact.data.tokenizer import pipeline_tokenize_fn


def test_special_pieces_at_stable_ids(spm_model):
    processor = spm.SentencePieceProcessor(model_file=spm_model)
    assert processor.get_piece_size() == 4000
    assert [processor.id_to_piece(i) for i in range(5)] == list(SPECIAL_PIECES)
    assert check_special_pieces(spm_model)
    assert os.path.exists(spm_model[: -len(".model")] + ".vocab")
    # Written atomically: no temporary folder left beside the model.
    assert not [f for f in os.listdir(os.path.dirname(spm_model)) if f.startswith(".tmp")]


def test_keras_hub_albert_tokenizer_accepts_the_model(spm_model, tokenizer):
    direct = keras_hub.models.AlbertTokenizer(proto=spm_model)
    assert isinstance(tokenizer, keras_hub.models.AlbertTokenizer)
    assert special_token_ids(direct) == {
        "pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4, "vocabulary_size": 4000}


def test_tokenizer_round_trip_and_lowercasing(spm_model):
    tokenizer = load_tokenizer(spm_model)
    sentences = ["The json module exposes an API familiar to users of pickle.",
                 "Use a list comprehension when the loop is simple."]
    # Eagerly keras-hub runs SentencePiece in Python and returns lists...
    ids = tokenizer(sentences)
    assert min(min(row) for row in ids) >= 5  # text never produces special ids
    assert tokenizer.detokenize(ids) == [s.lower() for s in sentences]
    # ...in a graph it runs tensorflow-text's ops: same ids, same text back.
    round_trip = tf.function(lambda s: tokenizer.detokenize(tokenizer(s)))
    graph_ids = tf.function(lambda s: tokenizer(s))(tf.constant(sentences))
    assert isinstance(graph_ids, tf.RaggedTensor) and graph_ids.to_list() == ids
    assert [t.decode() for t in round_trip(tf.constant(sentences)).numpy()] == [
        s.lower() for s in sentences]
    # Case folding lives in the model, so tokenization is case-insensitive.
    assert list(tokenizer("PYTHON Lists")) == list(tokenizer("python lists"))
    # The literal "[MASK]" is the mask piece (for fill-in-the-blank queries).
    assert 4 in tokenizer("a [MASK] here")


def test_tokenizer_runs_inside_tf_data_and_tf_function(spm_model):
    # A fresh tokenizer: the test session's autouse fixture calls
    # keras.utils.set_random_seed, which deletes the eager SentencePiece
    # resource of tokenizers built earlier (see pipeline_tokenize_fn).
    tokenizer = load_tokenizer(spm_model)
    dataset = tf.data.Dataset.from_tensor_slices(["first sentence.", "a second one here."])
    lengths = list(dataset.map(lambda s: tf.shape(tokenizer(s))[0]).as_numpy_iterator())
    assert all(n > 1 for n in lengths)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(strings):
        return tokenizer(strings).to_tensor()

    assert tokenize(tf.constant(["first sentence."])).shape[0] == 1


def test_pipeline_tokenizer_matches_and_survives_reseeding(spm_model, tokenizer):
    import keras

    sentences = ["The json module exposes an API.", "Lists, Tuples and [MASK] tokens."]
    dataset = tf.data.Dataset.from_tensors(tf.constant(sentences)).map(
        lambda s: pipeline_tokenize_fn(tokenizer)(s).to_tensor())
    keras.utils.set_random_seed(0)  # clears TF's eager kernel cache
    (got,) = list(dataset.as_numpy_iterator())
    want = load_tokenizer(spm_model)(sentences)
    assert [list(row[row != 0]) for row in got] == want


def test_load_tokenizer_errors_name_the_path(tmp_path, spm_model):
    missing = str(tmp_path / "missing.model")
    with pytest.raises(FileNotFoundError, match="missing.model"):
        load_tokenizer(missing)
    not_a_model = tmp_path / "notes.model"
    not_a_model.write_text("this is not a protobuf\n", encoding="utf-8")
    with pytest.raises(ValueError, match="notes.model.*not a SentencePiece model"):
        load_tokenizer(str(not_a_model))
    vocab_file = spm_model[: -len(".model")] + ".vocab"
    with pytest.raises(ValueError, match=r"spm\.vocab"):
        load_tokenizer(vocab_file)


def test_model_without_albert_pieces_is_rejected(tmp_path, corpus_dir):
    text = tmp_path / "tiny.txt"
    text.write_text("\n".join(f"sentence number {i} about python lists." for i in range(200)),
                    encoding="utf-8")
    prefix = str(tmp_path / "plain")
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=prefix, vocab_size=40,
                                   minloglevel=2)
    with pytest.raises(ValueError, match="plain.model"):
        check_special_pieces(prefix + ".model")
    with pytest.raises(ValueError, match="plain.model"):
        load_tokenizer(prefix + ".model")


def test_vocabulary_bad_input_leaves_nothing(tmp_path):
    text = tmp_path / "small.txt"
    text.write_text("just a few words here.\nand a few more.\n", encoding="utf-8")
    output = tmp_path / "out" / "spm.model"
    with pytest.raises(ValueError, match="vocab_size=5000"):
        train_vocabulary(str(text), str(output), vocab_size=5000)
    assert not output.exists() and os.listdir(output.parent) == []
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        train_vocabulary(str(empty), str(output), vocab_size=100)
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        train_vocabulary(str(tmp_path / "absent.txt"), str(output), vocab_size=100)
    assert not output.exists()


def test_cased_vocabulary_keeps_case(tmp_path):
    text = tmp_path / "cased.txt"
    text.write_text("\n".join(["Python and python differ in case here."] * 50 +
                              [f"Line {i} with Words and WORDS." for i in range(100)]),
                    encoding="utf-8")
    model = train_vocabulary(str(text), str(tmp_path / "cased.model"), vocab_size=45,
                             lowercase=False)
    cased = load_tokenizer(model)
    assert cased.detokenize(cased("Python")) == "Python"
