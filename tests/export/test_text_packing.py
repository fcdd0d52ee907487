"""In-graph packing: single texts exactly as training packs them; pairs by
BERT's rule (the longer text is cut first), with plain TensorFlow ops."""

import numpy as np
import tensorflow as tf

from keras_compact.data.vocabulary import CLS_ID
from keras_compact.data.vocabulary import SEP_ID
from keras_compact.export import TextPacker
from tests.export.conftest import training_features

TEXTS = ["Lists are mutable sequences.", "", "   ", "Return a new reference. " * 40,
         "Ünïcödé: 日本語, Ελληνικά, 🎉🐍", "[MASK] the sentence", "x" * 3000]


def test_single_texts_pack_exactly_like_training(spm_model):
    for seq_len in (3, 16, 64):
        with open(spm_model, "rb") as handle:
            packed = TextPacker(handle.read(), seq_len)(tf.constant(TEXTS))
        expected = training_features(TEXTS, spm_model, seq_len=seq_len)
        for key in ("token_ids", "segment_ids", "padding_mask"):
            np.testing.assert_array_equal(packed[key], expected[key], err_msg=f"{key} {seq_len}")


def test_pairs_pack_as_cls_a_sep_b_sep(spm_model):
    with open(spm_model, "rb") as handle:
        packer = TextPacker(handle.read(), 12)
    long_text = "one two three four five six seven eight nine ten eleven twelve"
    packed = packer(tf.constant([long_text, "short", ""]), tf.constant(["tiny", long_text, ""]))
    ids, segments, mask = (packed[k].numpy() for k in ("token_ids", "segment_ids",
                                                        "padding_mask"))
    assert mask.sum(1).tolist() == [12, 12, 3]
    for row in range(3):
        seps = np.where(ids[row] == SEP_ID)[0]
        assert ids[row, 0] == CLS_ID and len(seps) == 2 and seps[1] == mask[row].sum() - 1
        assert (segments[row, : seps[0] + 1] == 0).all()
        assert (segments[row, seps[0] + 1: seps[1] + 1] == 1).all()
        assert (segments[row, seps[1] + 1:] == 0).all()  # padding
    first_sep, second_sep = np.where(ids[0] == SEP_ID)[0]
    assert first_sep > 6  # the long first text keeps more than half
    tiny = packer(tf.constant(["tiny"]))
    tiny_pieces = tiny["token_ids"].numpy()[0, 1: tiny["padding_mask"].numpy().sum() - 1]
    np.testing.assert_array_equal(ids[0, first_sep + 1: second_sep], tiny_pieces)  # kept whole


def test_trimming_keeps_every_real_token_and_rounds_to_eight():
    from keras_compact.export.saved_model import trim_padding_columns

    def width(mask, seq_len=32):
        mask = tf.constant(mask, tf.int32)
        features = {"token_ids": mask * 7, "segment_ids": tf.zeros_like(mask),
                    "padding_mask": mask}
        trimmed = trim_padding_columns(features, seq_len)
        assert all(v.shape[1] == trimmed["token_ids"].shape[1] for v in trimmed.values())
        return trimmed["token_ids"].shape[1]

    def row(ones, lead=0):
        return [0] * lead + [1] * ones + [0] * (32 - lead - ones)

    assert width([row(3), row(5)]) == 8
    assert width([row(3), row(9)]) == 16
    assert width([row(32)]) == 32
    assert width([row(2, lead=20)]) == 24           # left padding: up to the last real token
    assert width([[0] * 32]) == 8                   # no real token: the minimum width
    assert width(tf.zeros([0, 32], tf.int32)) == 8  # empty batch
    assert width([[1, 1, 0]], seq_len=3) == 3       # never wider than seq_len
