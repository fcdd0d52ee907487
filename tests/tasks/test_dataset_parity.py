"""Issue 19's one dataset path against the reference: `make_dataset` (the
model's own `TextClassifierPreprocessor` mapped over raw texts in tf.data)
gives the ids, segments and masks of Hugging Face's tokenizers, on the
tokenizer parity sentences, single texts and pairs, cut to a short length.

- WordPiece: transformers' `BertTokenizerFast` on all-MiniLM-L6-v2's folder,
  `truncation="longest_first"`, padded to the length.
- SentencePiece: the pieces against the `sentencepiece` package's, and the
  packing against the `tokenizers` library (its `[CLS] a [SEP] b [SEP]`
  template, longest-first truncation and padding) fed our pieces, so each
  is checked against a library other than ours. The pieces equal
  sentencepiece's except on ties: "(555)" is "5" + "55" or "55" + "5",
  two segmentations of one score, and tensorflow-text's SentencePiece op
  (which the tokenizer layer runs in graphs, so in tf.data and serving)
  may pick the other one than the `sentencepiece` package. That was the
  "intermittent op-vs-layer difference" of the earlier parity test: eager
  calls went through keras-hub's tensorflow-text wrapper, graphs through
  the op. The test asserts every difference is such a tie.
"""

import numpy as np
import pytest

from tests.conftest import minilm_dir_or_skip
from tests.tokenizers.parity_data import parity_sentences

SEQUENCE_LENGTH = 24  # short: most sentences and most pairs are cut


def _one_path(tokenizer_path, texts, texts_b):
    """Features of every example through `make_dataset`, stacked as numpy."""
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.tasks.labels import LabelInfo
    from keras_compact.training.tasks import make_preprocessor

    pair = texts_b is not None
    rows = ([(a, b, 0) for a, b in zip(texts, texts_b)] if pair
            else [(a, 0) for a in texts])
    preprocessor = make_preprocessor(tokenizer_path, SEQUENCE_LENGTH, pair)
    labels = LabelInfo("classification", ["only"])
    batches = list(make_dataset(rows, labels, preprocessor, batch_size=16))
    return {key: np.concatenate([np.asarray(f[key]) for f, _ in batches])
            for key in ("token_ids", "segment_ids", "padding_mask")}


def _wordpiece_reference(folder, texts, texts_b):
    transformers = pytest.importorskip("transformers")
    reference = transformers.BertTokenizerFast.from_pretrained(folder)
    encoded = reference(texts, texts_b, truncation="longest_first",
                        max_length=SEQUENCE_LENGTH, padding="max_length")
    return {"token_ids": encoded["input_ids"], "segment_ids": encoded["token_type_ids"],
            "padding_mask": encoded["attention_mask"]}


def _graph_pieces(model_path, texts):
    """Our tokenizer's ids per text, as tf.data computes them (a graph)."""
    import tensorflow as tf

    from keras_compact.tokenizers import load_tokenizer

    tokenizer = load_tokenizer(model_path)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(64).map(tokenizer.tokenize)
    return [row for batch in dataset for row in batch.to_list()]


def _check_pieces_against_sentencepiece(processor, texts, ours):
    """Ours equal sentencepiece's ids, or are another segmentation of equal score."""
    ties = 0
    for text, got in zip(texts, ours):
        expected = processor.encode(text)
        if got == expected:
            continue
        ties += 1
        assert "".join(map(processor.id_to_piece, got)) == "".join(
            map(processor.id_to_piece, expected)), text
        assert sum(map(processor.get_score, got)) == pytest.approx(
            sum(map(processor.get_score, expected)), abs=1e-4), text
    assert ties <= len(texts) // 20  # ties are rare


def _sentencepiece_reference(model_path, texts, texts_b):
    import sentencepiece

    tokenizers = pytest.importorskip("tokenizers")
    processor = sentencepiece.SentencePieceProcessor(model_file=model_path)
    ours = dict(zip(texts, _graph_pieces(model_path, texts)))
    _check_pieces_against_sentencepiece(processor, texts, list(ours.values()))
    cls_id, sep_id = processor.piece_to_id("[CLS]"), processor.piece_to_id("[SEP]")
    pad_id = processor.piece_to_id("<pad>")
    size = processor.get_piece_size()
    # Each piece id becomes one "word", so the library packs our reference's ids.
    packer = tokenizers.Tokenizer(tokenizers.models.WordLevel(
        {str(i): i for i in range(size)}, unk_token="1"))
    packer.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    packer.post_processor = tokenizers.processors.TemplateProcessing(
        single=f"{cls_id} $A {sep_id}", pair=f"{cls_id} $A {sep_id} $B:1 {sep_id}:1",
        special_tokens=[(str(cls_id), cls_id), (str(sep_id), sep_id)])
    packer.enable_truncation(SEQUENCE_LENGTH, strategy="longest_first")
    packer.enable_padding(length=SEQUENCE_LENGTH, pad_id=pad_id, pad_type_id=0)

    def words(text):
        return " ".join(str(i) for i in ours[text])

    if texts_b is None:
        encoded = packer.encode_batch([words(a) for a in texts])
    else:
        encoded = packer.encode_batch([(words(a), words(b)) for a, b in zip(texts, texts_b)])
    return {"token_ids": [e.ids for e in encoded], "segment_ids": [e.type_ids for e in encoded],
            "padding_mask": [e.attention_mask for e in encoded]}


@pytest.mark.parametrize("pair", [False, True])
@pytest.mark.parametrize("kind", ["sentencepiece", "wordpiece"])
def test_the_dataset_path_gives_the_reference_ids(kind, pair, spm_model):
    sentences = parity_sentences()
    texts_b = sentences[1:] + sentences[:1] if pair else None
    if kind == "wordpiece":
        source = minilm_dir_or_skip()
        expected = _wordpiece_reference(source, sentences, texts_b)
    else:
        source = spm_model
        expected = _sentencepiece_reference(source, sentences, texts_b)
    got = _one_path(source, sentences, texts_b)
    for key in got:
        np.testing.assert_array_equal(got[key], np.asarray(expected[key], dtype="int32"),
                                      err_msg=key)
    # The cut matters: some examples fill every position.
    assert got["padding_mask"].all(axis=1).any()


def test_the_dataset_path_refuses_data_of_the_other_pairing(spm_model):
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.tasks.labels import LabelInfo
    from keras_compact.training.tasks import make_preprocessor

    labels = LabelInfo("classification", ["a", "b"])
    single = make_preprocessor(spm_model, 16, pair=False)
    with pytest.raises(ValueError, match="single texts, but the data has second texts"):
        make_dataset([("x", "y", 0)], labels, single)
    with pytest.raises(ValueError, match="preprocessor=None is not a TextClassifierPreprocessor"):
        make_dataset([("x", 0)], labels, None)
