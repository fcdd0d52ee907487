"""Bundled corpus, sentence splitting and the user text-file format."""

import gzip
import json
import os

import pytest

from keras_compact.data import Document
from keras_compact.data import default_corpus_path
from keras_compact.data import default_corpus_text_file
from keras_compact.data import load_default_corpus
from keras_compact.data import load_text_corpus
from keras_compact.data import split_sentences


def test_bundled_corpus_is_small_licensed_and_has_metadata():
    path = default_corpus_path()
    assert path.endswith(".jsonl.gz")
    assert os.path.getsize(path) < 5 * 1024 * 1024
    licence = os.path.join(os.path.dirname(path), "LICENSE-python-docs.txt")
    with open(licence, encoding="utf-8") as handle:
        text = handle.read()
    assert "PSF LICENSE AGREEMENT" in text and "Python Software Foundation" in text
    documents = load_default_corpus()
    assert len(documents) > 400
    sections = {d.section for d in documents}
    assert {"tutorial", "library", "reference", "howto", "faq", "whatsnew"} <= sections
    ids = [d.id for d in documents]
    assert len(ids) == len(set(ids))
    for document in documents:
        assert document.source.startswith("Doc/") and document.source.endswith(".rst")
        assert document.paragraphs and all(p.strip() for p in document.paragraphs)
    characters = sum(len(p) for d in documents for p in d.paragraphs)
    assert characters > 3_000_000  # "a few MB" of prose


def test_bundled_corpus_is_prose_without_markup():
    with gzip.open(default_corpus_path(), "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    assert set(records[0]) >= {"id", "section", "source", "paragraphs"}
    paragraphs = [p for r in records for p in r["paragraphs"]]
    for marker in (":func:`", ".. code-block::", ">>> ", "``", ":class:`"):
        assert sum(marker in p for p in paragraphs) < 0.001 * len(paragraphs), marker


def test_sections_filter():
    tutorial = load_default_corpus(sections=["tutorial"])
    assert tutorial and {d.section for d in tutorial} == {"tutorial"}
    with pytest.raises(ValueError, match="no-such-section"):
        load_default_corpus(sections=["no-such-section"])


def test_split_sentences_keeps_sentences_intact():
    text = ("Lists are mutable, e.g. you can append. Tuples are not! Why? "
            "See section 3.2 for details. It ends here.")
    assert split_sentences(text) == [
        "Lists are mutable, e.g. you can append.", "Tuples are not!", "Why?",
        "See section 3.2 for details.", "It ends here."]
    document = Document(id="x", paragraphs=("One. Two three.", "Four."))
    assert document.sentences == ["One.", "Two three.", "Four."]


def test_text_corpus_format(tmp_path):
    first = tmp_path / "a.txt"
    first.write_text("Doc one, line one.\nDoc one, line two.\n\n\nDoc two only line.\n"
                     "\n  \nDoc three A.\nDoc three B.", encoding="utf-8")
    second = tmp_path / "b.txt"
    second.write_text("Second file sentence.\nAnother one.\n", encoding="utf-8")
    documents = load_text_corpus(str(tmp_path / "*.txt"))
    assert [d.sentences for d in documents] == [
        ["Doc one, line one.", "Doc one, line two."], ["Doc two only line."],
        ["Doc three A.", "Doc three B."], ["Second file sentence.", "Another one."]]
    assert documents[0].source == str(first) and documents[3].section == "b.txt"


def test_default_corpus_text_file_round_trips(tmp_path):
    path = default_corpus_text_file(str(tmp_path / "docs.txt"))
    documents = load_text_corpus(path)
    bundled = load_default_corpus()
    assert len(documents) == len(bundled)
    assert documents[0].sentences == [" ".join(s.split()) for s in bundled[0].sentences]
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]


def test_non_utf8_bytes_are_replaced_and_reported(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\xe9 one.\nSecond line \xff\xfe.\n".encode("latin-1"))
    with pytest.warns(UnicodeWarning, match=r"latin1\.txt: replaced 3 undecodable"):
        documents = load_text_corpus(str(path))
    assert documents[0].sentences == ["Caf\ufffd one.", "Second line \ufffd\ufffd."]


def test_missing_and_empty_corpus_errors(tmp_path):
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_text_corpus(missing)
    with pytest.raises(FileNotFoundError, match=r"\*\.none"):
        load_text_corpus(str(tmp_path / "*.none"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n   \n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        load_text_corpus(str(empty))
