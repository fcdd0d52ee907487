"""Corpora for pretraining: the bundled Python-docs corpus and your own text.

TF-only: this module is part of `keras_compact.data`, the tf.data /
tensorflow-text input pipeline, which runs on TensorFlow whatever
`KERAS_BACKEND` is. This file itself is plain Python (reading and splitting
text); the tensors are built in `pipeline.py`.

Two sources of documents:

* `load_default_corpus()`: the bundled corpus, prose from the Python 3.11
  documentation (PSF licence, see `keras_compact/datasets/`), one document
  per source file, each with its source path and top-level section.
* `load_text_corpus(paths)`: your own plain-text files in the BERT/ALBERT
  format: one sentence (or paragraph) per line, a blank line between
  documents. Lines are the units that sentence pairs are cut from, so prefer
  one sentence per line. A file's end also ends a document.

Undecodable bytes: files are read as UTF-8 with `errors="replace"`; each bad
byte sequence becomes U+FFFD and a `UnicodeWarning` names the file and the
count, so one stray byte does not stop a long job.
"""

import codecs
import dataclasses
import glob
import gzip
import importlib.resources
import json
import os
import re
import tempfile
import warnings

from keras_compact.utils.atomic import atomic_file

DEFAULT_CORPUS_FILE = "python_docs.jsonl.gz"
DEFAULT_CORPUS_LICENSE = "LICENSE-python-docs.txt"

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "vs", "cf", "eg", "ie", "mr", "mrs", "ms", "dr",
    "st", "no", "fig", "approx", "resp", "al", "jr", "sr", "ca",
}
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclasses.dataclass(frozen=True)
class Document:
    """One document of a corpus.

    Attributes:
        id: unique name, e.g. "library/json" or "notes.txt:3".
        paragraphs: the text, one paragraph (or input line) per entry.
        section: top-level part of the source ("tutorial", "library", ...
            for the bundled corpus; the file name for your own text).
        source: where the text came from (a path).
        title: the document's title where known, else "".
        presplit: True when each entry of `paragraphs` is already one
            sentence (text files: one line is one unit), so `sentences`
            returns them as they are.
    """

    id: str
    paragraphs: tuple
    section: str = ""
    source: str = ""
    title: str = ""
    presplit: bool = False

    @property
    def text(self):
        """The document as one string, paragraphs separated by blank lines."""
        return "\n\n".join(self.paragraphs)

    @property
    def sentences(self):
        """The sentences of all paragraphs, in order (see `split_sentences`)."""
        if self.presplit:
            return list(self.paragraphs)
        return [s for paragraph in self.paragraphs for s in split_sentences(paragraph)]


def split_sentences(paragraph):
    """Splits a paragraph of English prose into sentences.

    A rule-based splitter: a sentence ends at ".", "!" or "?" followed by
    space and an upper-case letter, digit or opening quote, unless the word
    before is a common abbreviation ("e.g.", "etc."). Good enough for
    sentence-pair tasks; sentences are never cut inside.

    Example:

    >>> split_sentences("It works. See e.g. Foo for details! Done?")
    ['It works.', 'See e.g. Foo for details!', 'Done?']
    """
    sentences = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(paragraph):
        candidate = paragraph[start:match.start()].rstrip()
        words = candidate.split()
        last = words[-1].rstrip(".!?\"')]").lower() if words else ""
        if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            continue  # "e.g. Foo", "J. Smith": not a sentence end
        sentences.append(paragraph[start:match.end()].strip())
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def default_corpus_path():
    """Path of the bundled corpus file (gzip'd JSON lines).

    Each line is one document: `{"id", "section", "source", "title",
    "paragraphs": [...]}`. The licence notice is `LICENSE-python-docs.txt`
    in the same folder; `tools/generators/build_corpus.py` rebuilds the file.
    """
    return str(importlib.resources.files("keras_compact") / "datasets" / DEFAULT_CORPUS_FILE)


def load_default_corpus(sections=None):
    """Loads the bundled corpus: prose of the Python 3.11 documentation.

    About 490 documents, 36,000 paragraphs and 6.5 million characters of
    English prose (PSF licence). Each document keeps its source path and
    top-level section of the docs: "c-api", "distributing", "distutils",
    "extending", "faq", "general", "howto", "install", "installing",
    "library", "reference", "tutorial", "using", "whatsnew".

    Args:
        sections: optional iterable of section names to keep.

    Returns:
        A list of `Document`.

    Example:

    >>> docs = load_default_corpus(sections=["tutorial"])
    >>> docs[0].section, len(docs[0].sentences) > 2
    ('tutorial', True)
    """
    keep = set(sections) if sections is not None else None
    documents = []
    with gzip.open(default_corpus_path(), "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if keep is not None and record["section"] not in keep:
                continue
            documents.append(Document(
                id=record["id"],
                paragraphs=tuple(record["paragraphs"]),
                section=record["section"],
                source=record["source"],
                title=record.get("title", ""),
            ))
    if keep is not None and not documents:
        raise ValueError(f"No document of the bundled corpus is in sections {sorted(keep)}; "
                         "known sections are listed in load_default_corpus's docstring.")
    return documents


def write_text_corpus(documents, path, split_into_sentences=True):
    """Writes documents in the plain-text corpus format.

    One sentence per line (or one paragraph per line with
    `split_into_sentences=False`), a blank line between documents: the format
    `load_text_corpus` reads and `train_vocabulary` trains on. Written
    atomically (temp file, then rename).

    Args:
        documents: iterable of `Document`.
        path: output file.
        split_into_sentences: one sentence per line if True.

    Returns:
        `path`.

    Example:

    >>> path = write_text_corpus(load_default_corpus(), "/tmp/docs.txt")
    """
    with atomic_file(path) as temp:
        with open(temp, "w", encoding="utf-8") as out:
            for document in documents:
                lines = document.sentences if split_into_sentences else document.paragraphs
                for line in lines:
                    out.write(" ".join(line.split()) + "\n")
                out.write("\n")
    return path


def default_corpus_text_file(path=None):
    """Writes the bundled corpus as plain text, one sentence per line.

    Args:
        path: output file; default `<tempdir>/keras_compact_python_docs.txt`.

    Returns:
        The path written, ready for `train_vocabulary` or `make-examples`.

    Example:

    >>> text_file = default_corpus_text_file()
    """
    if path is None:
        path = os.path.join(tempfile.gettempdir(), "keras_compact_python_docs.txt")
    return write_text_corpus(load_default_corpus(), path)


def expand_paths(paths):
    """Expands a path, glob pattern or list of them into existing files.

    Raises:
        FileNotFoundError: naming the first pattern that matches no file.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for pattern in paths:
        pattern = os.fspath(pattern)
        if os.path.isdir(pattern):
            raise IsADirectoryError(
                21, "is a directory; pass text files (or a glob such as DIR/*.txt), one "
                "sentence per line, blank line between documents", pattern)
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else (
            [pattern] if os.path.isfile(pattern) else [])
        if not matches:
            raise FileNotFoundError(
                f"Corpus file {pattern!r} does not exist (or the pattern matches no file); "
                "pass existing text files, one sentence per line, blank line between documents.")
        files.extend(matches)
    return files


def read_text_lines(path):
    """Yields the stripped lines of a UTF-8 text file, replacing bad bytes.

    Warns (`UnicodeWarning`) with the file name and the number of
    undecodable byte sequences if there were any.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    bad = 0
    pending = ""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            raw_replacements = chunk.count("\ufffd".encode("utf-8"))
            text = decoder.decode(chunk, final=not chunk)
            bad += text.count("\ufffd") - raw_replacements
            lines = (pending + text).split("\n")
            pending = lines.pop()
            for line in lines:
                yield line.strip()
            if not chunk:
                break
    if pending.strip():
        yield pending.strip()
    if bad:
        warnings.warn(f"{path}: replaced {bad} undecodable byte sequence(s) with U+FFFD "
                      "(the file is not valid UTF-8).", UnicodeWarning, stacklevel=2)


def iter_text_documents(paths):
    """Streams documents from text files in the blank-line-separated format.

    Args:
        paths: a file, a glob pattern, or a list of them.

    Yields:
        `Document`s whose paragraphs are the non-blank input lines.
    """
    for path in expand_paths(paths):
        number = 0
        lines = []
        for line in read_text_lines(path):
            if line:
                lines.append(line)
                continue
            if lines:
                yield _file_document(path, number, lines)
                number += 1
                lines = []
        if lines:
            yield _file_document(path, number, lines)


def _file_document(path, number, lines):
    name = os.path.basename(path)
    return Document(id=f"{name}:{number}", paragraphs=tuple(lines), section=name, source=path,
                    presplit=True)


def load_text_corpus(paths):
    """Loads your own corpus from plain-text files.

    Format (BERT/ALBERT convention): UTF-8 text, one sentence per line
    (a paragraph per line also works, but pairs are then cut only at
    paragraph boundaries), a blank line between documents. Each file also
    ends its last document.

    Args:
        paths: a file, a glob pattern, or a list of them.

    Returns:
        A list of `Document`; each line is one entry of `paragraphs`.

    Raises:
        FileNotFoundError: a path matches no file.
        ValueError: the files hold no text at all.

    Example:

    >>> docs = load_text_corpus("my_corpus/*.txt")
    """
    documents = list(iter_text_documents(paths))
    if not documents:
        raise ValueError(f"Corpus {paths!r} is empty: no non-blank line in any file. "
                         "Expected one sentence per line, blank line between documents.")
    return documents

