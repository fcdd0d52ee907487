"""Reading labelled CSV / TSV / JSONL (gzipped or not) and GLUE folders, and every
bad input the readers must name: file, line, column or value."""

import os

import pytest

from keras_compact.tasks import glue
from keras_compact.tasks.text_files import DataFileError
from keras_compact.tasks.text_files import FileSpec
from keras_compact.tasks.labels import count_examples
from keras_compact.tasks.labels import infer_labels
from keras_compact.tasks.text_files import iter_rows
from tests.tasks.fixtures import pair_rows
from tests.tasks.fixtures import single_rows
from tests.tasks.fixtures import write_glue
from tests.tasks.fixtures import write_rows


@pytest.mark.parametrize("name", ["d.csv", "d.tsv", "d.jsonl", "d.csv.gz", "d.jsonl.gz",
                                  "d.tsv.gz"])
def test_every_format_reads_the_same_rows(tmp_path, name):
    rows = single_rows(1)
    path = write_rows(tmp_path / name, rows)
    spec = FileSpec(path, text_column="sentence", label_column="label")
    read = list(iter_rows(spec))
    assert [(r.text, r.label) for r in read] == [(r["sentence"], r["label"]) for r in rows]
    first_line = 1 if name.startswith("d.jsonl") else 2  # CSV/TSV: line 1 is the header
    assert read[0].line == first_line
    labels, count = infer_labels(spec)
    assert (labels.kind, labels.names, count) == ("classification", ["neg", "pos"], len(rows))


def test_columns_by_index_pairs_and_quoted_multiline_csv(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('a,b,y\n"first, with comma","line one\nline two",same\nx,y,different\n',
                    encoding="utf-8")
    spec = FileSpec(str(path), text_column="0", text_b_column=1, label_column="y")
    rows = list(iter_rows(spec))
    assert rows[0].text == "first, with comma" and rows[0].text_b == "line one\nline two"
    assert rows[1].line == 4  # the quoted record spans lines 2-3


def test_float_labels_or_task_regression_give_regression(tmp_path):
    path = write_rows(tmp_path / "sts.jsonl", pair_rows(1, regression=True))
    spec = FileSpec(path, "premise", "hypothesis", "label")
    assert infer_labels(spec)[0].kind == "regression"
    ints = write_rows(tmp_path / "ints.csv", [{"t": "a", "y": 1}, {"t": "b", "y": 3},
                                              {"t": "c", "y": 10}])
    labels, _ = infer_labels(FileSpec(ints, "t", label_column="y"))
    assert labels.names == ["1", "3", "10"]  # integers: classes, in numeric order
    assert infer_labels(FileSpec(ints, "t", label_column="y"), task="regression")[0].regression


def test_glue_layouts(tmp_path):
    for task in ("cola", "sst2", "mrpc", "stsb", "mnli", "rte"):
        write_glue(tmp_path, task)
    cola = glue.glue_task("CoLA", tmp_path)
    assert cola["metrics"] == ("matthews_corrcoef",) and not cola["pair"]
    labels, count = infer_labels(cola["train"], label_names=cola["labels"])
    assert count == 36 and labels.names == ["0", "1"]
    assert [r.text for r in iter_rows(cola["test"]["test"], with_labels=False)][0] == \
        "a wonderful and delightful film"
    mnli = glue.glue_task("mnli", tmp_path / "MNLI")
    assert set(mnli["validation"]) == {"validation_matched", "validation_mismatched"}
    assert mnli["pair"] and mnli["metrics"] == ("accuracy",)
    mrpc = glue.glue_task("mrpc", tmp_path)
    row = next(iter_rows(mrpc["train"]))
    assert (row.text_b, row.label) == ("a wonderful and delightful film indeed", "1")
    stsb = glue.glue_task("sts-b", tmp_path)
    assert stsb["labels"] is None and stsb["metrics"] == ("pearson", "spearman")
    with pytest.raises(DataFileError, match="No QQP/train.tsv under"):
        glue.glue_task("qqp", tmp_path)
    with pytest.raises(ValueError, match="Unknown GLUE task 'glue9'"):
        glue.glue_task("glue9", tmp_path)


# ------------------------------------------------------------------ bad input


def _spec(path, **kwargs):
    return FileSpec(str(path), text_column="sentence", label_column="label", **kwargs)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv' does not exist"):
        list(iter_rows(_spec(tmp_path / "nope.csv")))


def test_missing_column_names_the_columns_there(tmp_path):
    path = write_rows(tmp_path / "d.csv", single_rows(1))
    with pytest.raises(DataFileError, match=r"d.csv' line 1: no column 'text' for "
                       r"--text-column; the columns are 'sentence', 'label'"):
        list(iter_rows(FileSpec(path, text_column="text", label_column="label")))
    jsonl = write_rows(tmp_path / "d.jsonl", single_rows(1))
    with pytest.raises(DataFileError, match=r"line 1 has no key 'review' for --text-column"):
        list(iter_rows(FileSpec(jsonl, text_column="review", label_column="label")))


def test_empty_text_and_short_rows_name_the_line_or_are_skipped(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sentence,label\ngood film,pos\n  ,neg\nbad film\nfine,pos\n",
                    encoding="utf-8")
    with pytest.raises(DataFileError, match=r"d.csv' line 3 has an empty text in "
                       r"--text-column 'sentence'.*--skip-bad-rows"):
        list(iter_rows(_spec(path)))
    spec = _spec(path, on_bad_row="skip")
    assert [r.text for r in iter_rows(spec)] == ["good film", "fine"]
    assert spec.skipped == 2


def test_mixed_type_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sentence,label\na,0.5\nb,1.5\nc,positive\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"label column 'label' mixes numbers \(line 2: "
                       r"'0.5'\) and words \(line 4: 'positive'\)"):
        infer_labels(_spec(path))
    with pytest.raises(DataFileError, match=r"line 4 has label 'positive'.*not a number"):
        infer_labels(_spec(path), task="regression")


def test_empty_split(tmp_path):
    header_only = tmp_path / "d.csv"
    header_only.write_text("sentence,label\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"d.csv' holds no examples"):
        infer_labels(_spec(header_only))
    empty = tmp_path / "e.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"e.jsonl' holds no examples"):
        infer_labels(_spec(empty))


def test_label_only_in_validation(tmp_path):
    train = write_rows(tmp_path / "train.csv", single_rows(1))
    rows = single_rows(1)
    rows[5]["label"] = "neutral"
    dev = write_rows(tmp_path / "dev.csv", rows)
    labels, _ = infer_labels(_spec(train))
    with pytest.raises(DataFileError, match=r"dev.csv' line 7 has label 'neutral' in "
                       r"--label-column 'label', which the training split does not have"):
        count_examples(_spec(dev), labels)
    spec = _spec(dev, on_bad_row="skip")
    assert count_examples(spec, labels) == len(rows) - 1 and spec.skipped == 1


def test_utf16_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sentence,label\ngood,pos\n", encoding="utf-16")
    with pytest.raises(DataFileError, match=r"d.csv' is encoded as UTF-16.*must be UTF-8"):
        list(iter_rows(_spec(path)))
    no_bom = tmp_path / "n.csv"
    no_bom.write_bytes("sentence,label\n".encode("utf-16-le"))
    with pytest.raises(DataFileError, match=r"NUL bytes.*UTF-16"):
        list(iter_rows(_spec(no_bom)))
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"sentence,label\ncaf\xe9,pos\n")
    with pytest.raises(DataFileError, match=r"l.csv' line 2 is not valid UTF-8 \(byte 0xe9"):
        list(iter_rows(_spec(latin)))


def test_one_gigabyte_single_line_file_fails_fast(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as handle:  # sparse: 1 GiB of NULs after a JSON-ish start
        handle.write(b'{"sentence": "')
        handle.seek((1 << 30) - 1)
        handle.write(b"x")
    assert os.path.getsize(path) == 1 << 30
    with pytest.raises(DataFileError, match=r"huge.jsonl' line 1 is longer than 1,048,576 "
                       r"bytes"):
        list(iter_rows(_spec(path)))
    small = tmp_path / "long.csv"
    small.write_text("sentence,label\n" + "word " * 100 + ",pos\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"long.csv' line 2 is longer than 64 bytes"):
        list(iter_rows(_spec(small, max_line_bytes=64)))
