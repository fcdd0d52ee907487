"""LiteRT (.tflite) exports with the tokenizer inside, run by the TFLite
interpreter with tensorflow-text's ops registered: raw strings in, the
Keras model's outputs out (float32 within 1e-4, dynamic-range int8 close),
for SentencePiece and for BERT WordPiece (the all-MiniLM-L6-v2 vocabulary,
checked against transformers' tokenizer)."""

import os

import numpy as np
import pytest
import tensorflow as tf

import keras

from keras_compact import CompactBackbone
from keras_compact import TextClassifier
from keras_compact.export import TextPacker
from keras_compact.export.litert import LiteRTExportError
from keras_compact.export.litert import export_litert
from keras_compact.export.litert import litert_interpreter
from keras_compact.export.litert import litert_text_ops
from keras_compact.preprocessing import pack
from tests.conftest import minilm_dir_or_skip
from tests.export.conftest import TINY

TEXTS = ["Lists are mutable sequences.", "The with statement opens files; ünïcode 😀.",
         "", "word " * 80, "word " * 30]
# The last pair cuts both texts, b the longer: longest-first truncation (the
# one packer's) and pretraining's greedy rule differ there by one token.
TEXTS_B = ["A second text.", "", "x " * 50, "short", "word " * 40]


def run(path, num_threads=1, **inputs):
    runner = litert_interpreter(path, num_threads=num_threads).get_signature_runner()
    return runner(**{k: np.array(v) for k, v in inputs.items()})


def keras_outputs(model, features):
    return keras.ops.convert_to_numpy(model(features, training=False))


def litert_pack(ops, seq_len, texts, second=None):
    """The packing a raw-text LiteRT graph runs (export.litert.text_archive)."""
    return pack(ops.tokenize(tf.constant(texts)),
                None if second is None else ops.tokenize(tf.constant(second)),
                sequence_length=seq_len, cls_id=ops.cls_id, sep_id=ops.sep_id,
                pad_id=ops.pad_id)


def test_sentencepiece_packing_equals_the_serving_packer(spm_model):
    """Issue 19 defect 2: LiteRT packed pairs with pretraining's truncation
    rule; the last pair (both texts cut, b longer) told them apart."""
    ops = litert_text_ops(spm_model)
    with open(spm_model, "rb") as handle:
        proto = handle.read()
    for seq_len in (4, 9, 32):
        packer = TextPacker(proto, seq_len)
        for second in (None, TEXTS_B):
            expected = packer(tf.constant(TEXTS), None if second is None else tf.constant(second))
            got = litert_pack(ops, seq_len, TEXTS, second)
            for key, value in expected.items():
                np.testing.assert_array_equal(got[key].numpy(), value.numpy(), err_msg=key)


@pytest.fixture(scope="module")
def classifier():
    return TextClassifier(CompactBackbone(**TINY), num_classes=3)


def test_raw_text_classifier_matches_keras_float32_and_int8(classifier, spm_model, tmp_path):
    seq_len = TINY["max_sequence_length"]
    with open(spm_model, "rb") as handle:
        features = TextPacker(handle.read(), seq_len)(tf.constant(TEXTS))
    expected = keras_outputs(classifier, features)
    float_path = export_litert(classifier, spm_model, str(tmp_path / "c.tflite"),
                               sequence_length=seq_len)
    for batch in (TEXTS, TEXTS[:1]):  # the batch size is dynamic
        got = run(float_path, text=batch)
        np.testing.assert_allclose(got["logits"], expected[: len(batch)], atol=1e-4)
        np.testing.assert_array_equal(got["label_ids"], expected[: len(batch)].argmax(-1))
        np.testing.assert_allclose(got["probabilities"].sum(-1), 1.0, atol=1e-5)
    # keras_compact's tokenizer object works as well as its .model file.
    from keras_compact.tokenizers import SentencePieceTokenizer

    int8_path = export_litert(classifier, SentencePieceTokenizer(proto=spm_model),
                              str(tmp_path / "c8.tflite"), sequence_length=seq_len, quantize="int8")
    # int8 weights: about 3 bytes saved per parameter (the tokenizer's model
    # inside both files stays the same).
    saved = os.path.getsize(float_path) - os.path.getsize(int8_path)
    assert saved > 2 * classifier.count_params()
    got = run(int8_path, num_threads=2, text=TEXTS)["logits"]
    np.testing.assert_allclose(got, expected, atol=0.05 * np.abs(expected).max() + 1e-3)


def test_pairs_and_token_ids(classifier, spm_model, tmp_path):
    seq_len = TINY["max_sequence_length"]
    with open(spm_model, "rb") as handle:
        features = TextPacker(handle.read(), seq_len)(tf.constant(TEXTS), tf.constant(TEXTS_B))
    expected = keras_outputs(classifier, features)
    path = export_litert(classifier, spm_model, str(tmp_path / "p.tflite"), sequence_length=seq_len,
                         pair=True)
    np.testing.assert_allclose(run(path, text=TEXTS, text_b=TEXTS_B)["logits"], expected,
                               atol=1e-4)
    path = export_litert(classifier, None, str(tmp_path / "ids.tflite"), sequence_length=seq_len,
                         raw_text=False)
    got = run(path, **{k: v.numpy() for k, v in features.items()})["logits"]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_wordpiece_embedder_matches_transformers_tokenizer_and_keras(tmp_path):
    from transformers import AutoTokenizer

    folder = minilm_dir_or_skip()
    hf_tokenizer = AutoTokenizer.from_pretrained(folder)
    hard = ["Hello, World! It's 3.14pm.", "Ünïcödé  naïve café", "中文 and 日本語",
            "tabs\tand\nnewlines", "", "don't stop-me now!!", "x" * 150]
    seq_len = 32
    encoded = hf_tokenizer(hard, max_length=seq_len, truncation=True, padding="max_length",
                           return_tensors="np")
    from keras_compact.tokenizers import WordPieceTokenizer

    tokenizer = WordPieceTokenizer.from_huggingface(folder)
    for source in (folder, tokenizer):
        ops = litert_text_ops(source)
        packed = litert_pack(ops, seq_len, hard)
        np.testing.assert_array_equal(packed["token_ids"].numpy(), encoded["input_ids"])
        np.testing.assert_array_equal(packed["padding_mask"].numpy(),
                                      encoded["attention_mask"])
    # A tiny backbone with the real 30,522-token vocabulary (the MiniLM
    # checkpoint itself is exported in tools/benchmarks/bench_deploy.py).
    backbone = CompactBackbone(**dict(TINY, vocabulary_size=len(hf_tokenizer.vocab)))
    path = export_litert(backbone, tokenizer, str(tmp_path / "embedder.tflite"),
                         sequence_length=seq_len)
    got = run(path, text=hard)
    features = {"token_ids": encoded["input_ids"].astype("int32"),
                "segment_ids": encoded["token_type_ids"].astype("int32"),
                "padding_mask": encoded["attention_mask"].astype("int32")}
    outputs = backbone(features)
    np.testing.assert_allclose(got["pooled_output"],
                               keras.ops.convert_to_numpy(outputs["pooled_output"]), atol=1e-4)
    mask = encoded["attention_mask"][:, :, None]
    mean = (keras.ops.convert_to_numpy(outputs["sequence_output"]) * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(got["embedding"], mean, atol=1e-4)


def test_tokenizers_litert_cannot_run_are_named_with_the_fix(classifier, spm_model, tmp_path):
    import tensorflow_text as tf_text

    with open(spm_model, "rb") as handle:
        slow = tf_text.SentencepieceTokenizer(model=handle.read())
    with pytest.raises(LiteRTExportError,
                       match=r"SentencepieceTokenizer.*FastSentencepieceTokenize.*raw_text=False"):
        export_litert(classifier, slow, str(tmp_path / "x.tflite"), sequence_length=16)
    # A BPE SentencePiece model.
    import sentencepiece as spm

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"sentence number {i} about lists and tuples" for i in range(300)))
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "bpe"),
                                   vocab_size=60, model_type="bpe",
                                   user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], pad_id=3,
                                   minloglevel=2)
    # tensorflow-text's fast op would load it but segment it as unigram (other ids).
    with pytest.raises(LiteRTExportError, match=r"BPE model.*FastSentencepieceTokenize.*"
                                                r"unigram.*raw_text=False"):
        litert_text_ops(str(tmp_path / "bpe.model"))
    # and the token-id model is the way out for such a tokenizer.
    export_litert(classifier, None, str(tmp_path / "ids.tflite"), sequence_length=16, raw_text=False)
    with pytest.raises(LiteRTExportError, match="4000 tokens.*vocabulary has 60"):
        export_litert(TextClassifier(CompactBackbone(**dict(TINY, vocabulary_size=60)), 2),
                      spm_model, str(tmp_path / "y.tflite"), sequence_length=16)
    from keras_compact.tokenizers import WordPieceTokenizer

    cased_no_strip = WordPieceTokenizer(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"], lowercase=True, strip_accents=False)
    with pytest.raises(LiteRTExportError, match=r"FastBertNormalize.*--token-ids"):
        litert_text_ops(cased_no_strip)
    with pytest.raises(LiteRTExportError, match="quantize='int4'"):
        export_litert(classifier, spm_model, str(tmp_path / "z.tflite"), quantize="int4")
    assert not os.path.exists(tmp_path / "x.tflite")


def test_a_model_with_a_preprocessor_exports_its_own_tokenizer(spm_model, tmp_path):
    """No tokenizer argument: the model's preprocessor's is used, and the
    LiteRT logits equal Keras' `predict` on the same strings."""
    from keras_compact.preprocessing import TextClassifierPreprocessor
    from keras_compact.tokenizers import SentencePieceTokenizer

    seq_len = 16
    preprocessor = TextClassifierPreprocessor(SentencePieceTokenizer(proto=spm_model), seq_len)
    model = TextClassifier(CompactBackbone(**TINY), num_classes=2, preprocessor=preprocessor)
    texts = ["Strings are immutable too.", "", "x " * 50]
    expected = model.predict(texts, verbose=0)
    path = export_litert(model, None, str(tmp_path / "own.tflite"))
    np.testing.assert_allclose(run(path, text=texts)["logits"], expected, atol=1e-4)
