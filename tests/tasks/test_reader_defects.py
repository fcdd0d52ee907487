"""Issue 22: inputs the data-file readers used to accept silently or crash on.

Each test writes a small file of one kind of damage: a TSV text that starts
with a quote, a CSV row with an unquoted comma, labels 1 and 1.0, a damaged
gzip file, a 200,000-character CSV field, a FIFO, a header naming a column
twice, JSON texts that are not strings, and a plain .txt of texts. Nothing
here trains a model."""

import gzip
import io
import os
import sys
import threading

import pytest

from keras_compact.tasks.text_files import DataFileError
from keras_compact.tasks.text_files import FileSpec
from keras_compact.tasks.labels import count_examples
from keras_compact.tasks.labels import infer_labels
from keras_compact.tasks.text_files import iter_rows
from tests.tasks.fixtures import single_rows
from tests.tasks.fixtures import write_rows


def _spec(path, **kwargs):
    kwargs.setdefault("text_column", "sentence")
    return FileSpec(str(path), **kwargs)


# ------------------------------------------------------- 1. quotes in TSV


def _tsv_with_a_stray_quote(tmp_path):
    lines = ["sentence\tlabel"]
    for i in range(12):
        text = f"review number {i}"
        if i == 3:
            text = '"Quoted" opening, then more words'
        if i == 7:
            text = '"unbalanced opening quote'
        lines.append(f"{text}\t{'pos' if i % 2 else 'neg'}")
    path = tmp_path / "reviews.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_tsv_quotes_are_text_so_every_line_is_one_example(tmp_path):
    path = _tsv_with_a_stray_quote(tmp_path)
    rows = list(iter_rows(_spec(path)))
    assert len(rows) == 12 and [r.line for r in rows] == list(range(2, 14))
    assert rows[3].text == '"Quoted" opening, then more words'
    assert rows[7].text == '"unbalanced opening quote' and rows[7].label == "pos"
    assert infer_labels(_spec(path))[0].names == ["neg", "pos"]


def test_quoted_tsv_on_request_refuses_a_quote_that_runs_over_rows(tmp_path):
    path = _tsv_with_a_stray_quote(tmp_path)
    with pytest.raises(DataFileError, match=r"reviews.tsv' lines? \d+(-\d+)? is not valid "
                       r"TSV.*--skip-bad-rows"):
        list(iter_rows(_spec(path, quoting="minimal")))
    spec = _spec(path, quoting="minimal", on_bad_row="skip")
    rows = list(iter_rows(spec))
    assert spec.skipped >= 1
    # No example swallows other rows: each is one physical line.
    assert all("\n" not in r.text and "\t" not in r.text for r in rows)


def test_a_tsv_row_with_another_field_count_is_a_bad_row(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("sentence\tlabel\ngood\tpos\nbad\textra tab\tneg\nfine\tpos\n"
                    "short\nok\tneg\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"d.tsv' line 3 has 3 fields where the header "
                       r"has 2 \(an unquoted tab"):
        list(iter_rows(_spec(path)))
    spec = _spec(path, on_bad_row="skip")
    assert [r.text for r in iter_rows(spec)] == ["good", "fine", "ok"]
    assert spec.skipped == 2


def test_multiline_csv_records_are_counted_and_errors_name_their_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('sentence,label\n"two\nlines",pos\nplain,neg\n"three\nlines\nhere",\n',
                    encoding="utf-8")
    spec = _spec(path, on_bad_row="skip")
    rows = list(iter_rows(spec))
    assert [(r.line, r.end_line) for r in rows] == [(2, 3), (4, None)]
    assert spec.multiline == 1 and spec.skipped == 1
    with pytest.raises(DataFileError, match=r"d.csv' lines 5-7 has an empty label"):
        list(iter_rows(_spec(path)))


# --------------------------------------------- 2. unquoted commas in CSV


def test_an_unquoted_comma_is_a_bad_row_not_a_new_class(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sentence,label\ngreat film,pos\nhello world, this is one text,pos\n"
                    "awful film,neg\nso so,neutral\nyes, no, maybe,neg\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"d.csv' line 3 has 3 fields where the header has "
                       r"2 \(an unquoted comma inside a text shifts the columns; quote"):
        infer_labels(_spec(path))
    spec = _spec(path, on_bad_row="skip")
    labels, count = infer_labels(spec)
    assert labels.names == ["neg", "neutral", "pos"] and count == 3 and spec.skipped == 2
    quoted = tmp_path / "q.csv"
    quoted.write_text('sentence,label\n"hello world, this is one text",pos\nbad,neg\n',
                      encoding="utf-8")
    assert next(iter_rows(_spec(quoted))).text == "hello world, this is one text"


# --------------------------------------------------- 3. 1 and 1.0 are one class


@pytest.mark.parametrize("name", ["d.csv", "d.jsonl"])
def test_integer_valued_labels_are_one_class_per_integer(tmp_path, name):
    rows = [{"sentence": f"text {i}", "label": value}
            for i, value in enumerate([1, 1.0, 2, "2.0", 0, "1", 10])]
    path = write_rows(tmp_path / name, rows)
    labels, count = infer_labels(_spec(path))
    assert labels.names == ["0", "1", "2", "10"] and count == 7
    ids = [labels.class_id(r.label) for r in iter_rows(_spec(path))]
    assert ids == [1, 1, 2, 2, 0, 1, 3]
    # Word labels stay as written; GLUE's fixed "0"/"1" take "1.0" too.
    words = write_rows(tmp_path / ("w" + name), [{"sentence": "a", "label": "1"},
                                                 {"sentence": "b", "label": "one"}])
    assert infer_labels(_spec(words), task="classification")[0].names == ["1", "one"]
    glue = infer_labels(_spec(path), label_names=["0", "1", "2", "10"])[0]
    assert count_examples(_spec(path), glue) == 7


# ------------------------------------------------------ 5. damaged gzip


def test_truncated_corrupt_and_bad_crc_gzip_name_the_file_and_line(tmp_path):
    good = write_rows(tmp_path / "good.csv.gz", single_rows(40))
    data = open(good, "rb").read()
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(data[: len(data) // 2])
    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(data[:40] + bytes(b ^ 0x5A for b in data[40:80]) + data[80:])
    bad_crc = tmp_path / "crc.csv.gz"
    bad_crc.write_bytes(data[:-8] + bytes(b ^ 0xFF for b in data[-8:-4]) + data[-4:])
    for path in (truncated, corrupt, bad_crc):
        with pytest.raises(DataFileError, match=rf"{path.name}' is a damaged gzip file: .*"
                           r"\((after line \d+|before its first line)\)"):
            list(iter_rows(_spec(path)))


# ------------------------------------------- 7. plain text, JSON texts, stdin


def test_a_txt_file_is_one_text_per_line(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text('first text\n\n"quoted" second, with\ttab\n{"looks": "like json"}\n',
                    encoding="utf-8")
    rows = list(iter_rows(FileSpec(str(path), label_column=None), with_labels=False))
    assert [(r.line, r.text) for r in rows] == [
        (1, "first text"), (3, '"quoted" second, with\ttab'), (4, '{"looks": "like json"}')]
    with pytest.raises(DataFileError, match=r"texts.txt' is read as plain text, one text per "
                       r"line.*holds no labels"):
        FileSpec(str(path))


def test_json_texts_must_be_strings(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "fine"}\n{"text": null}\n{"text": 12345}\n{"text": ""}\n'
                    '{"text": ["a", "b"]}\n{"text": true}\n{"text": "ok", "text": "twice"}\n',
                    encoding="utf-8")
    spec = FileSpec(str(path), label_column=None, on_bad_row="skip")
    assert [r.text for r in iter_rows(spec, with_labels=False)] == ["fine"]
    assert spec.skipped == 6
    messages = []
    for line in range(2, 8):
        lines = path.read_text().splitlines()
        one = tmp_path / f"one{line}.jsonl"
        one.write_text(lines[line - 1] + "\n", encoding="utf-8")
        with pytest.raises(DataFileError) as error:
            list(iter_rows(FileSpec(str(one), label_column=None), with_labels=False))
        messages.append(str(error.value))
    assert "no value in --text-column" in messages[0]
    assert "JSON number in --text-column 'text', not a string" in messages[1]
    assert "empty text" in messages[2] and "JSON list" in messages[3]
    assert "JSON boolean" in messages[4] and "key 'text' twice" in messages[5]


def test_stdin_is_read_by_the_same_reader(tmp_path, monkeypatch):
    data = b'{"text": "fine"}\n{"text": 12345}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    with pytest.raises(DataFileError, match=r"<stdin> line 2 holds a JSON number"):
        list(iter_rows(FileSpec("-", format="jsonl", label_column=None), with_labels=False))
    lines = b'{"text": "not json to a text reader"}\nsecond\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(lines))))
    rows = list(iter_rows(FileSpec("-", format="text", label_column=None), with_labels=False))
    assert [r.text for r in rows] == ['{"text": "not json to a text reader"}', "second"]
    with pytest.raises(DataFileError, match="standard input needs its format"):
        FileSpec("-", label_column=None)


# -------------------------------------------------- 8. CSV fields > 131,072


def test_a_csv_field_longer_than_the_csv_modules_limit(tmp_path):
    text = "word " * 40_000  # 200,000 characters
    path = tmp_path / "long.csv"
    path.write_text(f'sentence,label\n"{text}",pos\n"{text}\nmore",neg\n', encoding="utf-8")
    rows = list(iter_rows(_spec(path)))
    assert [len(r.text) for r in rows] == [200_000, 200_005]
    spec = _spec(path, max_line_bytes=150_000)
    with pytest.raises(DataFileError, match=r"line 2 is longer than 150,000 bytes"):
        list(iter_rows(spec))


# ------------------------------------------------------------- 10. FIFO


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    result = {}

    def read():
        try:
            list(iter_rows(_spec(fifo)))
        except DataFileError as error:
            result["error"] = str(error)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the reader, then fail
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "pipe.csv' is a FIFO (named pipe), not a regular file" in result["error"]
    assert "'-' to read standard input" in result["error"]


# ------------------------------------------------- 11. a column named twice


def test_a_header_naming_the_column_twice_is_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sentence,label,sentence\na,pos,b\nc,neg,d\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"d.csv' line 1: the header names 'sentence' "
                       r"\(--text-column\) 2 times \(0-based columns 0, 2\)"):
        list(iter_rows(_spec(path)))
    assert [r.text for r in iter_rows(_spec(path, text_column="2"))] == ["b", "d"]


def test_gzip_stdin_and_gz_files_still_read(tmp_path, monkeypatch):
    path = write_rows(tmp_path / "d.tsv.gz", single_rows(1))
    assert count_examples(_spec(path)) == 12
    data = gzip.compress(b"one\ntwo\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    rows = iter_rows(FileSpec("-", format="text", label_column=None), with_labels=False)
    assert [r.text for r in rows] == ["one", "two"]
