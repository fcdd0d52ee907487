"""`keras-compact finetune`, then `distill`, `evaluate`, `predict` and `export` on
small CSV / TSV / JSONL / GLUE files the tests write; then the export in a clean
process on raw text. Tiny models; real tokenizers (a SentencePiece model
trained on the bundled corpus, and all-MiniLM-L6-v2's WordPiece vocabulary)."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_compact.cli.main import main
from tests.conftest import minilm_dir_or_skip
from tests.tasks.fixtures import pair_rows
from tests.tasks.fixtures import single_rows
from tests.tasks.fixtures import write_glue
from tests.tasks.fixtures import write_rows

TINY = json.dumps({"num_layers": 2, "hidden_dim": 32, "num_heads": 2, "intermediate_dim": 64,
                   "embedding_dim": 16})
STUDENT = json.dumps({"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
                      "intermediate_dim": 32, "embedding_dim": 8})
FAST = ["--seq-len", "32", "--batch-size", "8"]
DISTILL = ["--student-config", STUDENT, "--intermediate-epochs", "1", "--prediction-epochs",
           "1", "--num-variants", "2", "--max-augment-examples", "6"] + FAST
CLIENT = os.path.join(os.path.dirname(__file__), "..", "export", "serving_client.py")


def _out(capsys):
    captured = capsys.readouterr()
    return captured.out, captured.err


def _finetune(tmp_path, name, data, tokenizer, extra=()):
    output = str(tmp_path / name)
    code = main(["finetune", "--output-dir", output, "--preset", "tinybert_4", "--config", TINY,
                 "--tokenizer", tokenizer, "--epochs", "2", "--learning-rate", "3e-3",
                 *FAST, *data, *extra])
    assert code == 0
    return output


def test_single_text_csv_end_to_end_with_sentencepiece(tmp_path, spm_model, capsys,
                                                       monkeypatch):
    train = write_rows(tmp_path / "train.csv", single_rows(4))
    dev = write_rows(tmp_path / "dev.csv.gz", single_rows(1))
    test = write_rows(tmp_path / "test.tsv", single_rows(1))
    data = ["--train", train, "--validation", dev, "--text-column", "sentence"]
    run = _finetune(tmp_path, "ft", data, spm_model)
    out, _ = _out(capsys)
    assert "2 classes, single texts" in out and "validation: accuracy" in out
    info = json.loads(open(os.path.join(run, "task.json")).read())
    assert info["label_names"] == ["neg", "pos"]
    # The tokenizer, sequence length and pairing live in classifier.keras's
    # preprocessor only: no copy beside it that could disagree.
    assert "tokenizer" not in info and "sequence_length" not in info
    assert sorted(os.listdir(run)) == ["classifier.keras", "run_settings.json", "task.json"]

    # distill on the same files; the student's run directory is self-contained
    assert main(["distill", "--output-dir", str(tmp_path / "d"), "--teacher",
                 os.path.join(run, "classifier.keras"), *data, *DISTILL]) == 0
    out, _ = _out(capsys)
    assert "teacher embedding table only" in out and "distilled student" in out
    student = str(tmp_path / "d" / "student" / "classifier.keras")

    # evaluate: every metric of the task on a (TSV) file
    assert main(["evaluate", "--model", student, "--data", test]) == 0
    scores = json.loads(_out(capsys)[0])["test.tsv"]
    assert scores["examples"] == 12 and 0.0 <= scores["accuracy"] <= 1.0

    # predict: a file and stdin, to JSONL, agreeing with each other
    assert main(["predict", "--model", student, "--input", test,
                 "--output", str(tmp_path / "p.jsonl")]) == 0
    from_file = [json.loads(l) for l in open(tmp_path / "p.jsonl")]
    assert len(from_file) == 12 and set(from_file[0]["probabilities"]) == {"neg", "pos"}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a wonderful and delightful film\n")))
    assert main(["predict", "--model", student]) == 0
    from_stdin = json.loads(_out(capsys)[0].splitlines()[0])
    assert from_stdin["probabilities"] == pytest.approx(from_file[0]["probabilities"],
                                                        abs=1e-5)

    # export: tokenizer and labels come from the run directory
    base = str(tmp_path / "serving")
    assert main(["export", "--model", student, "--base-dir", base, "--name", "films"]) == 0
    assert "Ops outside TF Serving: none" in _out(capsys)[0]
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"text": ["a wonderful and delightful film"]}))
    result = subprocess.run([sys.executable, CLIENT, "tf2", os.path.join(base, "films", "1"),
                             str(inputs)], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads([l for l in result.stdout.splitlines()
                         if l.startswith("OUTPUTS ")][0][len("OUTPUTS "):])
    assert served["loaded"] == []  # neither keras_compact nor keras_hub
    served = served["outputs"]["tf2"]
    logits = np.asarray(served["logits"][0])
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    expected = [from_file[0]["probabilities"][name] for name in ("neg", "pos")]
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    assert served["labels"][0] == from_file[0]["label"]


def test_pair_regression_jsonl_end_to_end_with_wordpiece(tmp_path, capsys):
    vocab = minilm_dir_or_skip()
    train = write_rows(tmp_path / "train.jsonl.gz", pair_rows(3, regression=True))
    dev = write_rows(tmp_path / "dev.jsonl", pair_rows(1, regression=True))
    data = ["--train", train, "--validation", dev, "--text-column", "premise",
            "--text-b-column", "hypothesis"]
    run = _finetune(tmp_path, "ft", data, vocab)
    out, _ = _out(capsys)
    assert "regression, pairs" in out and "pearson" in out and "spearman" in out
    assert main(["distill", "--output-dir", str(tmp_path / "d"), "--teacher",
                 os.path.join(run, "classifier.keras"), *data, *DISTILL]) == 0
    assert "pearson" in _out(capsys)[0]
    # Issue 19 defect 3: results.json keys the official metric by its name
    # (it was stored as "test_accuracy").
    results = json.loads((tmp_path / "d" / "results.json").read_text())
    assert results["metric"] == "pearson"
    for row in results["table"]:
        assert "test_accuracy" not in row and "test_pearson" in row
        assert row["test_pearson"] == row["scores"]["pearson"]
    student = str(tmp_path / "d" / "student" / "classifier.keras")
    assert main(["evaluate", "--model", student, "--data", dev]) == 0
    scores = json.loads(_out(capsys)[0])["dev.jsonl"]
    assert set(scores) == {"pearson", "spearman", "mse", "examples"}
    assert main(["predict", "--model", student, "--input", dev]) == 0
    rows = [json.loads(l) for l in _out(capsys)[0].splitlines()]
    assert len(rows) == 12 and all(isinstance(r["score"], float) for r in rows)


@pytest.mark.parametrize("task", ["mrpc", "cola", "stsb"])
def test_glue_layouts_finetune_and_evaluate_with_the_official_metric(tmp_path, capsys, task):
    vocab = minilm_dir_or_skip()
    root = write_glue(tmp_path / "glue", task)
    run = _finetune(tmp_path, "ft", ["--glue", task, "--data-dir", root], vocab,
                    extra=["--epochs", "1"])
    out, _ = _out(capsys)
    official = {"mrpc": "f1", "cola": "matthews_corrcoef", "stsb": "pearson"}[task]
    assert f"validation: {official}" in out
    assert main(["evaluate", "--model", os.path.join(run, "classifier.keras"), "--glue", task,
                 "--data-dir", root]) == 0
    scores = json.loads(_out(capsys)[0])["validation"]
    assert official in scores and scores["examples"] == 12


def test_mnli_has_matched_and_mismatched_dev_and_a_hugging_face_backbone(tmp_path, capsys):
    """A Hugging Face folder as --backbone: a tiny BERT written by to_huggingface,
    with the real MiniLM vocabulary beside it."""
    import shutil

    from keras_compact.convert import to_huggingface
    from keras_compact.models import CompactBackbone

    vocab = minilm_dir_or_skip()
    hf_dir = tmp_path / "tiny_bert"
    backbone = CompactBackbone(vocabulary_size=30522, num_layers=2, num_heads=2, hidden_dim=32,
                               intermediate_dim=64, embedding_dim=32, sharing="none",
                               use_embedding_projection=False, max_sequence_length=64,
                               activation="gelu")
    to_huggingface(backbone, str(hf_dir))
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(vocab, name), hf_dir / name)
    root = write_glue(tmp_path / "glue", "mnli")
    code = main(["finetune", "--output-dir", str(tmp_path / "ft"), "--backbone", str(hf_dir),
                 "--glue", "mnli", "--data-dir", root, "--epochs", "1", *FAST])
    assert code == 0
    out, _ = _out(capsys)
    assert "Hugging Face" in out and "3 classes, pairs" in out
    assert "validation_matched: accuracy" in out and "validation_mismatched: accuracy" in out


def test_distill_from_a_hugging_face_classification_folder(tmp_path, capsys):
    """A teacher fine-tuned with transformers: a tiny BertForSequenceClassification
    over the real MiniLM vocabulary, its id2label the task's classes."""
    import shutil

    import torch
    from transformers import BertConfig
    from transformers import BertForSequenceClassification

    vocab = minilm_dir_or_skip()
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=64, id2label={0: "neg", 1: "pos"},
                        label2id={"neg": 0, "pos": 1})
    hf_dir = str(tmp_path / "hf_teacher")
    BertForSequenceClassification(config).save_pretrained(hf_dir)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(vocab, name), os.path.join(hf_dir, name))
    train = write_rows(tmp_path / "train.csv", single_rows(2))
    data = ["--train", train, "--validation", train, "--text-column", "sentence"]
    assert main(["distill", "--output-dir", str(tmp_path / "d"), "--teacher", hf_dir,
                 *data, *DISTILL]) == 0
    out, _ = _out(capsys)
    assert "distilled student" in out
    student = str(tmp_path / "d" / "student" / "classifier.keras")
    assert main(["predict", "--model", student, "--input", train]) == 0
    assert {json.loads(l)["label"] for l in _out(capsys)[0].splitlines()} <= {"neg", "pos"}

    # A teacher of other classes: refused, naming both, before any work.
    config.id2label, config.label2id = {0: "bad", 1: "good"}, {"bad": 0, "good": 1}
    other = str(tmp_path / "hf_other")
    BertForSequenceClassification(config).save_pretrained(other)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(vocab, name), os.path.join(other, name))
    assert main(["distill", "--output-dir", str(tmp_path / "d2"), "--teacher", other,
                 *data, *DISTILL]) == 2
    err = _out(capsys)[1]
    assert "['bad', 'good']" in err and "['neg', 'pos']" in err
    assert not os.path.exists(tmp_path / "d2")


# -------------------------------------------------------------- bad input, CLI


def test_bad_files_exit_2_naming_file_and_line_and_write_nothing(tmp_path, capsys):
    vocab = minilm_dir_or_skip()
    train = write_rows(tmp_path / "train.csv", single_rows(1))
    rows = single_rows(1)
    rows[3]["label"] = "neutral"
    dev = write_rows(tmp_path / "dev.csv", rows)
    cases = [
        (["--train", str(tmp_path / "missing.csv"), "--validation", dev], "missing.csv"),
        (["--train", train, "--validation", dev, "--text-column", "review"],
         "no column 'review' for --text-column"),
        (["--train", train, "--validation", dev, "--text-column", "sentence"],
         "dev.csv' line 5 has label 'neutral'"),
    ]
    for data, message in cases:
        output = tmp_path / "never"
        code = main(["finetune", "--output-dir", str(output), "--preset", "tinybert_4",
                     "--config", TINY, "--tokenizer", vocab, *data])
        _, err = _out(capsys)
        assert code == 2 and message in err and "Traceback" not in err, err
        assert not output.exists()
    code = main(["finetune", "--output-dir", str(tmp_path / "never"), "--preset",
                 "tinybert_4", "--tokenizer", vocab, "--train", train, "--validation", dev,
                 "--text-column", "sentence", "--skip-bad-rows", "--epochs", "0"])
    assert code == 2 and "--epochs must be a positive integer" in _out(capsys)[1]


def test_help_is_fast_and_does_not_start_tensorflow(tmp_path):
    # The launcher pip writes for the `keras-compact` console script; only a
    # process started under that name skips the eager imports of
    # `keras_compact/__init__` (everywhere else, importing registers classes).
    launcher = tmp_path / "keras-compact"
    launcher.write_text(
        "import sys\n"
        "from keras_compact.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, str(launcher)], capture_output=True, text=True,
                            timeout=60)
    assert "finetune" in result.stdout and "predict" in result.stdout, result.stdout
    assert result.stderr.split() == ["False", "False"], result.stderr[-2000:]


def test_file_finetune_checks_its_run_settings_before_writing(tmp_path, spm_model, capsys):
    """Issue 14's run record on the file path too: a rerun into the same
    --output-dir with another training file (same name, other content) stops
    before writing anything; --overwrite replaces the run."""
    train = write_rows(tmp_path / "train.csv", single_rows(2))
    dev = write_rows(tmp_path / "dev.csv", single_rows(1))
    data = ["--train", train, "--validation", dev, "--text-column", "sentence"]
    run = _finetune(tmp_path, "ft", data, spm_model, extra=["--epochs", "1"])
    model = os.path.join(run, "classifier.keras")
    written = os.stat(model).st_mtime_ns
    write_rows(tmp_path / "train.csv", single_rows(3))
    _out(capsys)
    args = ["finetune", "--output-dir", run, "--preset", "tinybert_4", "--config", TINY,
            "--tokenizer", spm_model, "--epochs", "1", "--learning-rate", "3e-3", *FAST, *data]
    assert main(args) == 2
    _, err = _out(capsys)
    assert "other settings" in err and "train" in err and "--overwrite" in err, err
    assert os.stat(model).st_mtime_ns == written
    assert main(args + ["--overwrite"]) == 0
    assert os.stat(model).st_mtime_ns != written
