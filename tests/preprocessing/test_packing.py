"""The one packer against transformers' BERT packing (real WordPiece vocab),
BERT's greedy truncation rule, and the text bound that keeps ids unchanged."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from keras_compact.preprocessing import bound_text_length
from keras_compact.preprocessing import encode
from keras_compact.preprocessing import pack
from keras_compact.preprocessing import longest_first_lengths
from keras_compact.preprocessing import truncated_lengths
from tests.preprocessing.conftest import hf_fast_tokenizer

WORDS = ("the cat sat on a mat while it rained outside and nobody noticed how quietly "
         "everything had changed since yesterday").split()
SENTENCES = [
    "", "Hi.", "A man is playing a guitar.", "Someone plays an instrument on stage tonight.",
    "The quick brown fox jumps over the lazy dog, again and again.",
    "Lists are mutable sequences, typically used to store collections of homogeneous items.",
    "Unbelievably, tokenization isn't straightforward: e-mail, U.S.A., 3.14159 and C++ abound.",
]


def _texts(count):
    """Texts of 0..count-1 words (so pieces of many lengths, ties included)."""
    return [" ".join(itertools.islice(itertools.cycle(WORDS), n)) for n in range(count)]


def _pairs():
    lengths = _texts(24)
    pairs = [(a, b) for a in lengths[::3] for b in lengths[::2]]
    pairs += list(itertools.product(SENTENCES, SENTENCES))
    long_text = " ".join(_texts(40)[1:])  # hundreds of words: cut at every L
    pairs += [(long_text, s) for s in SENTENCES] + [(s, long_text) for s in SENTENCES]
    pairs += [(long_text, long_text[::-1])]
    return pairs


def _ragged(rows):
    return tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1) if any(rows) else (
        tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int32), [0] * len(rows)))


@pytest.mark.parametrize("length", [8, 16, 128])
def test_pairs_pack_like_transformers_longest_first(minilm, length):
    hf = hf_fast_tokenizer(minilm)
    pairs = _pairs()
    first = [hf.encode(a, add_special_tokens=False) for a, _ in pairs]
    second = [hf.encode(b, add_special_tokens=False) for _, b in pairs]
    ours = pack(_ragged(first), _ragged(second), sequence_length=length,
                cls_id=hf.cls_token_id, sep_id=hf.sep_token_id, pad_id=hf.pad_token_id)
    reference = hf([a for a, _ in pairs], [b for _, b in pairs], truncation="longest_first",
                   max_length=length, padding="max_length", return_tensors="np")
    np.testing.assert_array_equal(ours["token_ids"].numpy(), reference["input_ids"])
    np.testing.assert_array_equal(ours["segment_ids"].numpy(), reference["token_type_ids"])
    np.testing.assert_array_equal(ours["padding_mask"].numpy(), reference["attention_mask"])
    truncated = sum(len(a) + len(b) > length - 3 for a, b in zip(first, second))
    assert 10 <= truncated < len(pairs)  # both regimes are covered


@pytest.mark.parametrize("length", [8, 16, 128])
def test_single_texts_pack_like_transformers(minilm, length):
    hf = hf_fast_tokenizer(minilm)
    texts = _texts(30) + SENTENCES + [" ".join(_texts(40))]
    ids = [hf.encode(t, add_special_tokens=False) for t in texts]
    ours = pack(_ragged(ids), sequence_length=length, cls_id=hf.cls_token_id,
                sep_id=hf.sep_token_id, pad_id=hf.pad_token_id)
    reference = hf(texts, truncation=True, max_length=length, padding="max_length",
                   return_tensors="np")
    np.testing.assert_array_equal(ours["token_ids"].numpy(), reference["input_ids"])
    np.testing.assert_array_equal(ours["segment_ids"].numpy(), reference["token_type_ids"])
    np.testing.assert_array_equal(ours["padding_mask"].numpy(), reference["attention_mask"])


def test_truncation_rules_transformers_and_bert_pretraining(minilm):
    """`longest_first_lengths` is transformers' rule on every small case;
    `truncated_lengths` (pretraining) is Google BERT's greedy one; they
    differ only in where an odd token goes when both texts are cut."""
    hf = hf_fast_tokenizer(minilm)

    def greedy(a, b, limit):
        while a + b > limit:
            if a > b:
                a -= 1
            else:
                b -= 1
        return a, b

    cases = list(itertools.product(range(0, 14), range(0, 14), range(1, 20)))
    a, b, limit = (tf.constant(c) for c in zip(*cases))
    got_a, got_b = truncated_lengths(a, b, limit)
    assert list(zip(got_a.numpy(), got_b.numpy())) == [greedy(*c) for c in cases]

    cat, dog = (hf.encode(w, add_special_tokens=False)[0] for w in ("cat", "dog"))
    lengths = list(itertools.product(range(0, 12), range(0, 12)))
    first = [" ".join(["cat"] * n) for n, _ in lengths]
    second = [" ".join(["dog"] * n) for _, n in lengths]
    for budget in (1, 2, 5, 8):
        got_a, got_b = longest_first_lengths(*(tf.constant(c) for c in zip(*lengths)), budget)
        reference = hf(first, second, truncation="longest_first", max_length=budget + 3)
        expected = [(ids.count(cat), ids.count(dog)) for ids in reference["input_ids"]]
        assert list(zip(got_a.numpy().tolist(), got_b.numpy().tolist())) == expected, budget


def test_dense_inputs_and_empty_batches():
    dense = pack(tf.constant([[5, 6, 7]]), tf.constant([[8, 9]]), sequence_length=6,
                 cls_id=2, sep_id=3, pad_id=0)
    assert dense["token_ids"].numpy().tolist() == [[2, 5, 6, 3, 8, 3]]
    empty = pack(_ragged([]), sequence_length=5, cls_id=2, sep_id=3, pad_id=0)
    assert empty["token_ids"].shape == (0, 5)


def test_bad_lengths_and_mismatched_pair_batches_are_clear_errors():
    ids = tf.ragged.constant([[5, 6], [7]])
    for bad in (2, 0, -1, 3.0, True, None):
        with pytest.raises(ValueError, match=f"sequence_length={bad!r}.*>= 3"):
            pack(ids, sequence_length=bad, cls_id=2, sep_id=3, pad_id=0)
    with pytest.raises(ValueError, match="sequence_length=3.*>= 4"):
        pack(ids, ids, sequence_length=3, cls_id=2, sep_id=3, pad_id=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="different batch sizes"):
        pack(ids, tf.ragged.constant([[5]]), sequence_length=8, cls_id=2, sep_id=3, pad_id=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="different batch sizes"):
        tf.function(lambda a, b: pack(a, b, sequence_length=8, cls_id=2, sep_id=3,
                                      pad_id=0))(ids, tf.ragged.constant([[5]]))


def test_the_text_bound_keeps_the_ids_of_real_text(minilm):
    """Cutting texts to 64 characters per position before tokenizing changes
    no id of real text: long documents (single, and paired with long or short
    texts) pack to the ids of the uncut documents, i.e. transformers' ids."""
    hf = hf_fast_tokenizer(minilm)
    from keras_compact.data import load_default_corpus

    paragraphs = [p for d in load_default_corpus()[:40] for p in d.paragraphs]
    documents = [" ".join(paragraphs[i: i + 120]) for i in range(0, len(paragraphs), 120)][:10]
    assert min(len(d) for d in documents) > 64 * 128  # every one is cut, even at L=128
    short = (SENTENCES * 2)[: len(documents)]

    def tokenize(strings):
        return _ragged([hf.encode(s.decode("utf-8"), add_special_tokens=False)
                        for s in strings.numpy()])

    def packed(a, b, length, **kwargs):
        b = None if b is None else tf.constant(b)
        out = encode(tokenize, tf.constant(a), b, sequence_length=length, cls_id=101,
                     sep_id=102, pad_id=0, **kwargs)
        return {key: value.numpy() for key, value in out.items()}

    for length in (8, 16, 128):
        for a, b in ((documents, None), (documents, documents[::-1]), (documents, short),
                     (short, documents), (documents, [d[:700] for d in documents[::-1]])):
            cut = packed(a, b, length)
            whole = packed(a, b, length, max_chars=10**6)  # nothing cut
            for key in cut:
                np.testing.assert_array_equal(cut[key], whole[key])
            if length == 128:
                # (At short lengths transformers' fast tokenizer enumerates the
                # overflow of such pairs, gigabytes; the packing test above
                # already ties `pack` to it there.)
                reference = hf(a, b, truncation="longest_first", max_length=length,
                               padding="max_length", return_tensors="np")
                for key, hf_key in (("token_ids", "input_ids"),
                                    ("segment_ids", "token_type_ids"),
                                    ("padding_mask", "attention_mask")):
                    np.testing.assert_array_equal(cut[key], reference[hf_key])


def test_bound_text_length_cuts_characters_and_repairs_utf8():
    texts = tf.constant(["abcdef", "añb€x", "", b"ok \xff\xfe bad", "é" * 10])
    out = bound_text_length(texts, 3).numpy().tolist()
    assert out == [b"abc", "añb".encode(), b"", b"ok ", ("é" * 3).encode()]
    short = tf.constant(["short text", "日本語のテキスト"])
    assert bound_text_length(short, 100).numpy().tolist() == short.numpy().tolist()
