"""Issue 22 on the command line: task.json is checked against its model, bad
numbers and options that would be ignored are refused, stdin and .txt input
follow the file readers' rules, and the messages name what the user gave.

The run directories are built without training: a tiny TextClassifier (and a
TextRegressor) with its preprocessor over a small real WordPiece vocabulary
file, saved by `save_task_model` as `finetune` saves its result. One test
trains (two steps, to a NaN loss): the refusal to save needs a real
diverging fit."""

import json
import os
import shutil

import numpy as np
import pytest

from keras_compact.cli.main import main
from tests.tasks.fixtures import single_rows
from tests.tasks.fixtures import write_rows

WORDS = ["a", "wonderful", "and", "delightful", "film", "great", "acting", "story", "dull",
         "boring", "mess", "terrible", "awful", "plot", "truly", "work", "i", "loved", "hated",
         "it", "every", "minute", "of", "##s", "##ly", ",", ".", "first", "second", "text"]


def _one_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"classifier", "regressor", "backbone"}: run directories / files, untrained."""
    import keras

    from keras_compact.models import CompactBackbone
    from keras_compact.models import TextClassifier
    from keras_compact.models import TextRegressor
    from keras_compact.tokenizers import load_tokenizer
    from keras_compact.training.tasks import make_preprocessor
    from keras_compact.training.tasks import save_task_model

    root = tmp_path_factory.mktemp("runs")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS) + "\n",
                     encoding="utf-8")
    tokenizer = load_tokenizer(str(vocab))
    keras.utils.set_random_seed(0)

    def backbone():
        return CompactBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=2, hidden_dim=16, intermediate_dim=32,
                               embedding_dim=8, max_sequence_length=16)

    info = {"name": None, "labels": {"kind": "classification", "names": ["neg", "neu", "pos"]},
            "label_names": ["neg", "neu", "pos"], "text_column": "sentence",
            "text_b_column": None, "label_column": "label", "pair": False, "sequence_length": 16,
            "metrics": ["accuracy"]}
    classifier = TextClassifier(backbone(), num_classes=3,
                                preprocessor=make_preprocessor(tokenizer, 16, False))
    save_task_model(classifier, str(root / "classifier"), info)
    regression = dict(info, labels={"kind": "regression", "names": None}, label_names=None,
                      metrics=["pearson", "spearman", "mse"])
    regressor = TextRegressor(backbone(), preprocessor=make_preprocessor(tokenizer, 16, False))
    save_task_model(regressor, str(root / "regressor"), regression)
    path = str(root / "backbone.keras")
    backbone().save(path)
    return {"classifier": str(root / "classifier"), "regressor": str(root / "regressor"),
            "backbone": path, "root": root, "tokenizer": tokenizer}


def _copy_run(runs, tmp_path, name="classifier"):
    target = tmp_path / name
    shutil.copytree(runs[name], target)
    return target


# -------------------------------------------------------- 4. task.json checks


@pytest.mark.parametrize("edit, message", [
    (lambda i: i["labels"].update(names=["neg", "pos"]) or i.update(label_names=["neg", "pos"]),
     "names 2 classes ['neg', 'pos'] but the model beside it is a classifier of 3 classes"),
    (lambda i: i["labels"].update(names=list("abcde")) or i.update(label_names=list("abcde")),
     "names 5 classes"),
    (lambda i: i.update(labels={"kind": "regression", "names": None}, label_names=None,
                        metrics=["mse"]),
     "describes a regression task but the model beside it is a classifier of 3 classes"),
    (lambda i: ["not", "an", "object"], "holds a JSON list, not the object"),
    (lambda i: i.pop("labels") and i, "has no 'labels' object"),
    (lambda i: i.update(metrics=["accuracy", "bleu"]), "names the metric 'bleu' (unknown)"),
    (lambda i: i.update(metrics=["pearson"]), "names the metric 'pearson' (a regression "
     "metric)"),
    (lambda i: i["labels"].update(kind="ranking"), "has labels.kind 'ranking'"),
    (lambda i: i.update(label_names=["pos", "neu", "neg"]), "has label_names ['pos', 'neu', "
     "'neg'] but labels.names ['neg', 'neu', 'pos']"),
])
def test_a_task_json_that_does_not_fit_its_model_is_refused(runs, tmp_path, capsys, edit,
                                                          message):
    run = _copy_run(runs, tmp_path)
    task_json = run / "task.json"
    info = json.loads(task_json.read_text())
    edited = edit(info)
    task_json.write_text(json.dumps(info if edited is None else edited))
    data = tmp_path / "texts.txt"
    data.write_text("a wonderful film\n")
    for argv in (["predict", "--model", str(run / "classifier.keras"), "--input", str(data)],
                 ["export", "--model", str(run / "classifier.keras"), "--base-dir",
                  str(tmp_path / "serving"), "--name", "m"]):
        assert main(argv) == 2
        line = _one_line(capsys)
        assert str(task_json) in line and message in line, line
    assert not (tmp_path / "serving").exists()


def test_a_regression_task_json_beside_a_regressor_works_and_not_beside_a_classifier(
        runs, tmp_path, capsys):
    data = tmp_path / "texts.txt"
    data.write_text("a wonderful film\n")
    assert main(["predict", "--model", runs["regressor"], "--input", str(data)]) == 0
    assert isinstance(json.loads(capsys.readouterr().out)["score"], float)
    run = _copy_run(runs, tmp_path, "regressor")
    info = json.loads((run / "task.json").read_text())
    info.update(labels={"kind": "classification", "names": ["a", "b"]}, label_names=["a", "b"],
                metrics=["accuracy"])
    (run / "task.json").write_text(json.dumps(info))
    assert main(["predict", "--model", str(run), "--input", str(data)]) == 2
    assert "describes a classification task but the model beside it is a regressor" in \
        _one_line(capsys)


# ---------------------------------------------------------- 11. messages


def test_a_backbone_or_a_text_file_given_as_model(runs, tmp_path, capsys):
    assert main(["predict", "--model", runs["backbone"]]) == 2
    line = _one_line(capsys)
    assert "holds a CompactBackbone, not a TextClassifier: a backbone has no task head" in line
    fake = tmp_path / "classifier.keras"
    fake.write_text("just some text\n")
    for argv in (["predict", "--model", str(fake)],
                 ["export", "--model", str(fake), "--base-dir", str(tmp_path / "s"), "--name",
                  "m"]):
        assert main(argv) == 2
        line = _one_line(capsys)
        assert f"'{fake}' is not a .keras file (a .keras file is a zip archive" in line, line
        assert "File not found" not in line


def test_a_read_only_output_is_named_as_given(runs, tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    data = tmp_path / "texts.txt"
    data.write_text("a wonderful film\n")
    try:
        assert main(["predict", "--model", runs["classifier"], "--input", str(data),
                     "--output", str(folder / "p.jsonl")]) == 2
        line = _one_line(capsys)
    finally:
        os.chmod(folder, 0o755)
    assert f"{folder / 'p.jsonl'}: permission denied" in line and "kctmp" not in line


def test_the_temporary_name_of_a_failed_open_is_replaced_by_the_path(tmp_path):
    from keras_compact.utils.atomic import atomic_file

    target = tmp_path / "out.jsonl"
    with pytest.raises(FileNotFoundError) as error:
        with atomic_file(str(target)) as temp:
            open(os.path.join(temp, "inside"), "w")  # fails naming another path: kept
    assert "kctmp" in str(error.value.filename)
    with pytest.raises(IsADirectoryError) as error:
        with atomic_file(str(target)) as temp:
            os.mkdir(temp)
            open(temp, "w")
    assert error.value.filename == str(target) and not os.listdir(tmp_path)


# ------------------------------------------------ 6. numbers and ignored options


def test_bad_numbers_and_ignored_options_are_refused(runs, tmp_path, capsys):
    data = write_rows(tmp_path / "d.csv", [dict(r, label="pos") for r in single_rows(1)])
    model = runs["classifier"]
    cases = [
        (["predict", "--model", model, "--input", data, "--batch-size", "0"],
         "--batch-size must be a positive integer, got 0"),
        (["evaluate", "--model", model, "--data", data, "--batch-size", "0"],
         "--batch-size must be a positive integer, got 0"),
        (["predict", "--model", model, "--input", data, "--max-line-bytes", "0"],
         "max_line_bytes (--max-line-bytes) must be an integer >= 16, got 0"),
        (["evaluate", "--model", model, "--data", data, "--max-line-bytes", "0"],
         "max_line_bytes (--max-line-bytes) must be an integer >= 16, got 0"),
        (["predict", "--model", model, "--input", data, "--text-b-column", "label"],
         "the model classifies single texts and would ignore a second text; drop "
         "--text-b-column"),
        (["evaluate", "--model", model, "--data", data, "--text-b-column", "sentence"],
         "The model classifies single texts, but the data has second texts"),
        (["export", "--model", model, "--base-dir", str(tmp_path / "s"), "--name", "m",
          "--format", "litert", "--fixed-width"], "--fixed-width applies to SavedModels"),
        (["export", "--model", model, "--base-dir", str(tmp_path / "s"), "--name", "a\nb"],
         "model_name (--name) 'a\\nb' must be a plain name"),
        (["export", "--model", model, "--base-dir", str(tmp_path / "s"), "--name", "../up"],
         "must be a plain name"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        line = _one_line(capsys)
        assert message in line, (argv, line)
    assert not (tmp_path / "s").exists()


def test_finetune_refuses_infinite_rates_before_reading_files(tmp_path, capsys):
    output = tmp_path / "never"
    for rate in ("inf", "nan", "-1"):
        assert main(["finetune", "--output-dir", str(output), "--preset", "tinybert_4",
                     "--train", str(tmp_path / "missing.csv"), "--validation",
                     str(tmp_path / "missing.csv"), "--learning-rate", rate]) == 2
        assert "--learning-rate must be a positive number" in _one_line(capsys)
    assert not output.exists()


def test_a_model_with_nan_weights_is_never_saved(runs, tmp_path):
    import keras

    from keras_compact.training.tasks import load_task_model
    from keras_compact.training.tasks import save_task_model

    model, info = load_task_model(runs["classifier"])
    weight = model.backbone.weights[0]
    value = keras.ops.convert_to_numpy(weight.value).copy()
    value.flat[0] = np.nan
    weight.assign(value)
    info = {k: v for k, v in info.items() if k != "label_info"}
    with pytest.raises(ValueError, match=r"was not saved: its weight .* holds NaN or infinite "
                       r"values, so training diverged"):
        save_task_model(model, str(tmp_path / "out"), info)
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_a_fit_whose_loss_goes_nan_stops_and_saves_nothing(runs, tmp_path):
    from keras_compact.models import CompactBackbone
    from keras_compact.tasks.datasets import prepare_task
    from keras_compact.tasks.text_files import FileSpec
    from keras_compact.training.tasks import finetune_task

    train = write_rows(tmp_path / "train.csv", single_rows(1))
    task = prepare_task(FileSpec(train, "sentence"))
    tokenizer = runs["tokenizer"]
    backbone = CompactBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=2, hidden_dim=16, intermediate_dim=32,
                               embedding_dim=8, max_sequence_length=16)
    with pytest.raises(ValueError, match=r"Training diverged: the loss became NaN or infinite "
                       r"in epoch 1 of 2 .*nothing was saved"):
        finetune_task(task, backbone, tokenizer, str(tmp_path / "run"), epochs=2,
                      batch_size=4, sequence_length=16, learning_rate=1e30, verbose=0)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------ 7. stdin and .txt


def test_predict_reads_txt_and_stdin_one_text_per_line(runs, tmp_path, capsys, monkeypatch):
    import io
    import sys

    texts = tmp_path / "texts.txt"
    texts.write_text('a wonderful film\n\n{"text": "braces are text here"}\n', encoding="utf-8")
    assert main(["predict", "--model", runs["classifier"], "--input", str(texts)]) == 0
    from_file = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in from_file] == [1, 3]

    def stdin(data):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(
            io.BytesIO(data.encode()))))

    stdin(texts.read_text())
    assert main(["predict", "--model", runs["classifier"]]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == from_file
    stdin('{"sentence": "fine"}\n{"sentence": 12345}\n')
    assert main(["predict", "--model", runs["classifier"], "--input-format", "jsonl"]) == 2
    assert "<stdin> line 2 holds a JSON number in --text-column 'sentence', not a string" in \
        _one_line(capsys)
    stdin('{"sentence": "fine"}\n{"sentence": null}\n{"sentence": "ok"}\n')
    assert main(["predict", "--model", runs["classifier"], "--input", "-", "--input-format",
                 "jsonl", "--skip-bad-rows"]) == 0
    assert [json.loads(line)["line"] for line in capsys.readouterr().out.splitlines()] == [1, 3]


# --------------------------------------------------- 9. distill into the teacher


def test_distill_refuses_an_output_directory_holding_the_teacher(runs, tmp_path, capsys):
    run = _copy_run(runs, tmp_path)
    (run / "run_settings.json").write_text('{"kind": "finetune"}')
    before = {p: (run / p).read_bytes() for p in os.listdir(run)}
    train = write_rows(tmp_path / "train.csv", single_rows(1))
    for output in (run, tmp_path):
        assert main(["distill", "--output-dir", str(output), "--teacher",
                     str(run / "classifier.keras"), "--train", train, "--validation", train,
                     "--text-column", "sentence", "--overwrite"]) == 2
        line = _one_line(capsys)
        assert "holds the teacher" in line and "new --output-dir" in line
    assert {p: (run / p).read_bytes() for p in os.listdir(run)} == before
