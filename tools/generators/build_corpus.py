#!/usr/bin/env python3
"""Builds the bundled pretraining corpus from the Python 3.11 documentation.

The corpus shipped in ``keras_compact/datasets/`` is the prose of the Python
documentation (PSF licence), taken from Debian's ``python3.11-doc`` package,
which carries the reStructuredText sources as ``html/_sources/**/*.rst.txt``.
This script turns them into plain prose paragraphs: directives that hold code
or tables are dropped, roles and inline markup are reduced to their text, and
fragments that are not sentences (titles, table cells, option lists) are left
out. One document per source file; each keeps its source path and its
top-level section of the docs ("tutorial", "library", ...), which later tasks
use as a label.

Run (as root, on a Debian bookworm machine, from the repository root)::

    apt-get update
    python tools/generators/build_corpus.py            # downloads python3.11-doc itself
    python tools/generators/build_corpus.py --sources /path/to/html/_sources

Outputs (deterministic: same package version -> byte-identical files):

* ``keras_compact/datasets/python_docs.jsonl.gz``: one JSON object per line,
  ``{"id", "section", "source", "title", "paragraphs": [...]}``.
* ``keras_compact/datasets/LICENSE-python-docs.txt``: the PSF licence text
  and copyright notice, extracted from the same package.

Only the Python standard library is used.
"""

import argparse
import glob
import gzip
import io
import json
import os
import re
import subprocess
import sys
import tempfile

PACKAGE = "python3.11-doc"
SOURCES_IN_PACKAGE = "usr/share/doc/python3.11/html/_sources"
DEFAULT_OUTPUT_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "keras_compact",
    "datasets",
)
CORPUS_NAME = "python_docs.jsonl.gz"
LICENSE_NAME = "LICENSE-python-docs.txt"

# Top-level files that are not prose about Python (legal text, tables of
# contents) are not part of the corpus.
EXCLUDED_FILES = {
    "contents.rst.txt",
    "copyright.rst.txt",
    "license.rst.txt",
    "includes/wasm-notavail.rst.txt",
}

# Directives whose indented body is prose: the directive line goes, the body
# stays. Every other directive (code, tables, indexes, toctrees...) is dropped
# together with its body.
PROSE_DIRECTIVES = {
    "abstractmethod", "attribute", "awaitablefunction", "awaitablemethod",
    "c:function", "c:macro", "c:member", "c:struct", "c:type", "c:var",
    "caution", "class", "classmethod", "cmdoption", "coroutinefunction",
    "coroutinemethod", "data", "decorator", "deprecated", "deprecated-removed",
    "describe", "envvar", "epigraph", "exception", "function", "glossary",
    "impl-detail", "important", "method", "note", "object", "opcode",
    "option", "pdbcommand", "seealso", "sidebar", "staticmethod", "topic",
    "versionadded", "versionchanged", "warning", "attention", "hint", "tip",
    "danger", "error", "availability",
}

_DIRECTIVE = re.compile(r"^\.\.\s+([A-Za-z][\w:-]*)::(.*)$")
_SECTION_RULE = re.compile(r"^([=\-~^*#+\"'`:.])\1{2,}\s*$")
_SIMPLE_TABLE_RULE = re.compile(r"^=+( +=+)+\s*$")
_GRID_TABLE = re.compile(r"^[+|]")
_BULLET = re.compile(r"^([*+\-\u2022]|#\.|\d+\.|\(?[a-zA-Z0-9]\))\s+")
_FIELD = re.compile(r"^:[^:`]+:(\s+|$)")
_OPTION_LINE = re.compile(r"^:[\w-]+:")

_ROLE = re.compile(r"(?::[\w.+-]+)+:`([^`]+)`")
_TARGET_IN_ROLE = re.compile(r"^(.*?)\s*<[^<>]+>$", re.S)
_LINK = re.compile(r"`([^`<]*?)\s*<[^`>]+>`__?")
_NAMED_REF = re.compile(r"`([^`]+)`__?")
_LITERAL = re.compile(r"``(.+?)``")
_DEFAULT_ROLE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*\\])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_FOOTNOTE_REF = re.compile(r"\s*\[(#[\w-]*|\d+|\*)\]_")
_SUBSTITUTION = re.compile(r"\|([\w.-]+)\|_?")
_WORD_REF = re.compile(r"(?<=[A-Za-z0-9])_(?=[\s.,;:)]|$)")
_SENTENCE_END = re.compile(r"[.!?:][\"')\]]*$")


def _role_text(match):
    inner = match.group(1)
    target = _TARGET_IN_ROLE.match(inner)
    if target and target.group(1):
        return target.group(1)
    inner = inner.lstrip("!")
    if inner.startswith("~"):
        # `~a.b.c` displays as `c` in the rendered docs.
        inner = inner[1:].split(".")[-1]
    return inner


def clean_inline(text):
    """Reduces reST inline markup in one paragraph to plain text."""
    text = _ROLE.sub(_role_text, text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _LITERAL.sub(lambda m: m.group(1), text)
    text = _NAMED_REF.sub(lambda m: m.group(1), text)
    text = _DEFAULT_ROLE.sub(lambda m: m.group(1), text)
    text = _STRONG.sub(lambda m: m.group(1), text)
    text = _EMPHASIS.sub(lambda m: m.group(1), text)
    text = _FOOTNOTE_REF.sub("", text)
    text = _SUBSTITUTION.sub(lambda m: {"release": "3.11", "version": "3.11"}.get(
        m.group(1), m.group(1)), text)
    text = _WORD_REF.sub("", text)
    # A backslash escapes markup characters; elsewhere it is literal text.
    text = re.sub(r"\\([*`_|\\ ])", lambda m: "" if m.group(1) == " " else m.group(1), text)
    return re.sub(r"\s+", " ", text).strip()


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def rst_to_paragraphs(source):
    """Extracts prose paragraphs from one reST document.

    Returns:
        (title, paragraphs): the first section title (or "") and a list of
        plain-text paragraphs in document order.
    """
    lines = source.expandtabs(8).splitlines()
    paragraphs = []
    title = ""
    current = []  # lines of the paragraph being read
    current_indent = 0
    skip_deeper_than = None  # skip blank lines and lines indented more
    skip_to_blank = False  # doctest blocks end at the next blank line
    in_table = False
    after_directive = False

    def flush():
        nonlocal current
        if current:
            paragraphs.append(" ".join(part.strip() for part in current))
        current = []

    for index, line in enumerate(lines):
        stripped = line.strip()
        indent = _indent(line)
        if skip_to_blank:
            if stripped:
                continue
            skip_to_blank = False
        if skip_deeper_than is not None:
            if not stripped or indent > skip_deeper_than:
                continue
            skip_deeper_than = None
        if in_table:
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if _SIMPLE_TABLE_RULE.match(stripped) and not following:
                in_table = False
            continue
        if not stripped:
            ended_literal = bool(current) and current[-1].rstrip().endswith("::")
            flush_indent = current_indent
            flush()
            after_directive = False
            if ended_literal:
                # "Paragraph::" introduces an indented literal (code) block.
                skip_deeper_than = flush_indent
                _trim_literal_marker(paragraphs)
            continue
        if after_directive and _OPTION_LINE.match(stripped):
            continue  # directive options such as ":noindex:"
        if _SECTION_RULE.match(stripped) and not _SIMPLE_TABLE_RULE.match(stripped):
            if len(current) == 1:
                if not title:
                    title = clean_inline(current[0])
                current = []  # a section title, not prose
            else:
                flush()
            continue
        if _SIMPLE_TABLE_RULE.match(stripped):
            flush()
            in_table = True
            continue
        if _GRID_TABLE.match(stripped) and (stripped.startswith("+-") or
                                            stripped.startswith("+=") or
                                            stripped.startswith("| ")):
            flush()
            skip_to_blank = True
            continue
        if stripped.startswith(">>>"):
            flush()
            skip_to_blank = True
            continue
        if stripped == "::":
            flush()
            skip_deeper_than = indent
            continue
        if stripped.startswith(".. "):
            flush()
            directive = _DIRECTIVE.match(stripped)
            if directive and directive.group(1).lower() in PROSE_DIRECTIVES:
                after_directive = True
            else:
                # Code, tables, comments, link targets, footnotes, toctrees.
                skip_deeper_than = indent
            continue
        bullet = _BULLET.match(stripped)
        if bullet:
            flush()
            current = [stripped[bullet.end():]]
            current_indent = indent + bullet.end()
            continue
        if _FIELD.match(stripped):
            flush()
            current = [_FIELD.sub("", stripped)]
            current_indent = indent
            continue
        if current and indent > current_indent:
            # Definition list: the term line(s) are not prose.
            current = []
        if not current:
            current_indent = indent
        current.append(stripped)
    flush()
    cleaned = (clean_inline(p) for p in paragraphs)
    return title, [p for p in cleaned if _is_prose(p)]


def _trim_literal_marker(paragraphs):
    if paragraphs:
        text = paragraphs[-1].rstrip()
        # "Example::" renders as "Example:", "text ::" as "text".
        text = text[:-2].rstrip() if text.endswith(" ::") else text[:-1]
        paragraphs[-1] = text


def _is_prose(paragraph):
    words = paragraph.split()
    if len(words) < 6 or not _SENTENCE_END.search(paragraph):
        return False
    letters = sum(ch.isalpha() for ch in paragraph)
    # Leftover code or tables are mostly punctuation.
    return letters >= 0.6 * len(paragraph.replace(" ", ""))


def section_of(relative_path):
    """Top-level part of the docs a source file belongs to."""
    parts = relative_path.split("/")
    return parts[0] if len(parts) > 1 else "general"


def build_documents(sources_dir):
    documents = []
    paths = sorted(glob.glob(os.path.join(sources_dir, "**", "*.rst.txt"), recursive=True))
    for path in paths:
        relative = os.path.relpath(path, sources_dir).replace(os.sep, "/")
        if relative in EXCLUDED_FILES:
            continue
        with open(path, encoding="utf-8") as handle:
            title, paragraphs = rst_to_paragraphs(handle.read())
        if not paragraphs:
            continue
        source = relative[: -len(".txt")]
        documents.append({
            "id": source[: -len(".rst")],
            "section": section_of(relative),
            "source": f"Doc/{source}",
            "title": title,
            "paragraphs": paragraphs,
        })
    return documents


def extract_license(sources_dir):
    with open(os.path.join(sources_dir, "license.rst.txt"), encoding="utf-8") as handle:
        text = handle.read()
    with open(os.path.join(sources_dir, "copyright.rst.txt"), encoding="utf-8") as handle:
        notice = handle.read()
    blocks = []
    for heading in ("PSF LICENSE AGREEMENT FOR PYTHON |release|",
                    "ZERO-CLAUSE BSD LICENSE FOR CODE IN THE PYTHON |release| DOCUMENTATION"):
        start = text.index(heading)
        body_start = text.index(".. parsed-literal::", start) + len(".. parsed-literal::")
        body = []
        for line in text[body_start:].splitlines()[1:]:
            if line.strip() and not line.startswith(" "):
                break
            body.append(line[3:] if line.startswith("   ") else line)
        blocks.append(heading.replace("|release|", "3.11") + "\n\n" +
                      "\n".join(body).strip("\n").replace("|release|", "3.11"))
    copyright_lines = [
        line for line in notice.splitlines()
        if line.startswith("Copyright \u00a9") or line.startswith("reserved")
    ]
    header = (
        "The bundled corpus python_docs.jsonl.gz is derived from the Python 3.11\n"
        "documentation (Debian package python3.11-doc, reStructuredText sources),\n"
        "converted to plain prose paragraphs by tools/generators/build_corpus.py. Summary of\n"
        "changes (PSF licence, clause 3): markup, code examples, tables and titles\n"
        "were removed; the remaining prose is unchanged.\n\n"
        "The Python documentation is:\n\n" + "\n".join(copyright_lines) + "\n\n"
        "It is distributed under the PSF License Agreement below; code in the\n"
        "documentation is also available under the Zero-Clause BSD licence.\n"
    )
    return header + "\n\n" + "\n\n\n".join(blocks) + "\n"


def write_jsonl_gz(documents, path):
    buffer = io.BytesIO()
    # mtime=0 and a fixed filename keep the archive byte-reproducible.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        for document in documents:
            gz.write((json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8"))
    temp = path + ".tmp"
    with open(temp, "wb") as handle:
        handle.write(buffer.getvalue())
    os.replace(temp, path)


def download_sources(workdir):
    subprocess.run(["apt-get", "download", PACKAGE], cwd=workdir, check=True)
    deb = sorted(glob.glob(os.path.join(workdir, f"{PACKAGE}_*.deb")))[-1]
    subprocess.run(["dpkg-deb", "-x", deb, os.path.join(workdir, "x")], check=True)
    print(f"downloaded {os.path.basename(deb)}")
    return os.path.join(workdir, "x", SOURCES_IN_PACKAGE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", help="html/_sources folder of python3.11-doc "
                        "(default: apt-get download the package)")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        sources = args.sources or download_sources(workdir)
        documents = build_documents(sources)
        license_text = extract_license(sources)
    os.makedirs(args.output_dir, exist_ok=True)
    corpus_path = os.path.join(args.output_dir, CORPUS_NAME)
    write_jsonl_gz(documents, corpus_path)
    with open(os.path.join(args.output_dir, LICENSE_NAME), "w", encoding="utf-8") as handle:
        handle.write(license_text)
    sections = {}
    for document in documents:
        sections[document["section"]] = sections.get(document["section"], 0) + 1
    paragraphs = sum(len(d["paragraphs"]) for d in documents)
    characters = sum(len(p) for d in documents for p in d["paragraphs"])
    print(f"{len(documents)} documents, {paragraphs} paragraphs, {characters} characters; "
          f"{os.path.getsize(corpus_path)} bytes gzipped -> {corpus_path}")
    print("documents per section:", json.dumps(dict(sorted(sections.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
