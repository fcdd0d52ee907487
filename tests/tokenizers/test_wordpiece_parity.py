"""WordPiece ids against transformers' BERT tokenizers, on parity_sentences.txt.

References (all with add_special_tokens=False):
- "fast": transformers' `BertTokenizer`, which since transformers 5 is the
  same class as `BertTokenizerFast` (the Rust tokenizers-library pipeline;
  checked below). It is the target: zero mismatches.
- "legacy": transformers' pure-Python `BertTokenizerLegacy` (what
  `BertTokenizer` was before transformers 5). Where it disagrees with the fast
  reference, WordPieceTokenizer follows the fast one; those sentences are
  listed in LEGACY_ONLY with the cause, and each is an xfail (strict) below.

Vocabularies: the uncased all-MiniLM-L6-v2 vocab.txt (from its Hugging Face
folder) and a cased vocab trained in conftest.py.
"""

import os

import pytest
import tensorflow as tf

from tests.tokenizers.parity_data import parity_sentences

# Sentences where the legacy Python reference disagrees with the fast one.
_FINAL_SIGMA = ("legacy lower-cases with Python's str.lower, which gives a word-final "
                "capital sigma the final form (ς); the fast reference lower-cases "
                "character by character (σ), and WordPieceTokenizer follows it")
_NFC = ("legacy applies NFC before splitting (composing e + U+0301 into é); the fast "
        "reference does not normalise cased text, and WordPieceTokenizer follows it")
LEGACY_ONLY = {
    "uncased": {
        "ΟΔΟΣ and ΟΔΟΣ.": _FINAL_SIGMA,
        "ΣΟΦΟΣ ΛΟΓΟΣ ΚΟΣΜΟΣ": _FINAL_SIGMA,
    },
    "cased": {
        "Decomposed: cafe\u0301 and nai\u0308ve.": _NFC,
        "Stacked marks: a\u0301\u0300\u0302 and o\u0308\u0304.": _NFC,
        "Zalgo: Z\u0351\u036b\u0343a\u0352l\u0350g\u0346o\u0357": _NFC,
        "Vietnamese decomposed: Vie\u0323\u0302t Nam.": _NFC,
    },
}
SENTENCES = parity_sentences()


def _references(kind, minilm_dir, cased_vocab):
    from transformers import BertTokenizer
    from transformers import BertTokenizerFast
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    if kind == "uncased":
        vocab = os.path.join(minilm_dir, "vocab.txt")
        return {
            "BertTokenizer": BertTokenizer.from_pretrained(minilm_dir),
            "BertTokenizerFast": BertTokenizerFast.from_pretrained(minilm_dir),
            "legacy": BertTokenizerLegacy(vocab, do_lower_case=True),
        }
    return {
        "BertTokenizer": BertTokenizer(cased_vocab, do_lower_case=False),
        "BertTokenizerFast": BertTokenizerFast(cased_vocab, do_lower_case=False),
        "legacy": BertTokenizerLegacy(cased_vocab, do_lower_case=False),
    }


def _ours(kind, minilm_dir, cased_vocab):
    from keras_compact.tokenizers import WordPieceTokenizer

    if kind == "uncased":
        tokenizer = WordPieceTokenizer.from_huggingface(minilm_dir)
        assert tokenizer.lowercase
    else:
        tokenizer = WordPieceTokenizer(cased_vocab, lowercase=False)
    return tokenizer


@pytest.fixture(scope="module")
def parity(minilm_dir, cased_vocab):
    """{kind: (our ids in a tf.function, our eager ids, {reference: ids})}."""
    results = {}
    for kind in ("uncased", "cased"):
        tokenizer = _ours(kind, minilm_dir, cased_vocab)
        graph = tf.function(lambda s, t=tokenizer: t(s))(tf.constant(SENTENCES)).to_list()
        eager = tokenizer(SENTENCES)
        references = {
            name: [ref(s, add_special_tokens=False)["input_ids"] for s in SENTENCES]
            for name, ref in _references(kind, minilm_dir, cased_vocab).items()
        }
        results[kind] = (graph, eager, references)
    return results


def _mismatches(ours, theirs):
    return [SENTENCES[i] for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]


def test_the_sentence_file_is_varied_enough():
    assert len(SENTENCES) >= 300
    text = "".join(SENTENCES)
    for sample in ("é", "中", "한", "ש", "ع", "\u200d", "\u00a0", "\u3000", "\u200b",
                   "\u00ad", "\ufeff", "\x00", "\x0b", "Ｆ", "ﬁ", "ß", "…", "™", "½",
                   "https://", "def ", "[MASK]", "🏳️‍🌈"):
        assert sample in text, sample


def test_transformers_5_bert_tokenizer_is_the_fast_one():
    from transformers import BertTokenizer
    from transformers import BertTokenizerFast

    assert BertTokenizer is BertTokenizerFast


@pytest.mark.parametrize("kind", ["uncased", "cased"])
@pytest.mark.parametrize("reference", ["BertTokenizer", "BertTokenizerFast", "legacy"])
def test_ids_equal_the_reference(parity, kind, reference):
    graph, eager, references = parity[kind]
    assert eager == graph  # keras-hub's eager path runs the same TF ops
    mismatched = _mismatches(graph, references[reference])
    expected = sorted(LEGACY_ONLY[kind]) if reference == "legacy" else []
    print(f"\n{kind} vs {reference}: {len(SENTENCES) - len(mismatched)}/{len(SENTENCES)} "
          f"sentences equal, {len(mismatched)} mismatched")
    assert sorted(mismatched) == expected


@pytest.mark.parametrize("kind,sentence", [
    (kind, sentence) for kind, table in LEGACY_ONLY.items() for sentence in table])
def test_legacy_only_differences(parity, kind, sentence, request):
    request.applymarker(pytest.mark.xfail(reason=LEGACY_ONLY[kind][sentence], strict=True))
    graph, _, references = parity[kind]
    index = SENTENCES.index(sentence)
    # The fast reference agrees with us; the legacy one does not.
    assert references["BertTokenizer"][index] == graph[index]
    assert references["legacy"][index] == graph[index]


def test_tokenization_does_real_work(parity):
    # Not a vacuous comparison: many pieces, few [UNK] (id 100 / id 1).
    for kind, unk in (("uncased", 100), ("cased", 1)):
        graph, _, _ = parity[kind]
        pieces = sum(len(row) for row in graph)
        assert pieces > 5000
        assert sum(row.count(unk) for row in graph) < 0.05 * pieces


@pytest.mark.parametrize("kind", ["uncased", "cased"])
def test_every_bmp_and_emoji_code_point(kind, minilm_dir, cased_vocab):
    """Each character of the BMP and the emoji planes, in and between words.

    (tools/experiments/check_wordpiece_code_points.py runs all 1,112,064 code points:
    0 mismatches for either vocabulary with tokenizers 0.23.)
    """
    code_points = [cp for cp in list(range(0x10000)) + list(range(0x1F000, 0x1FB00))
                   if not 0xD800 <= cp <= 0xDFFF]
    texts = [f"a{chr(cp)}b A{chr(cp)}{chr(cp)}" for cp in code_points]
    ours = _ours(kind, minilm_dir, cased_vocab)
    reference = _references(kind, minilm_dir, cased_vocab)["BertTokenizer"]
    want = reference(texts, add_special_tokens=False)["input_ids"]
    tokenize = tf.function(lambda s: ours(s))
    got = []
    for start in range(0, len(texts), 16384):
        got += tokenize(tf.constant(texts[start:start + 16384])).to_list()
    bad = [hex(cp) for cp, a, b in zip(code_points, got, want) if a != b]
    assert bad == []
