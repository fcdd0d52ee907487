"""Checks that run before any work (issue 14 item 7), values that were
accepted or misreported (item 10) and stale shards of an earlier
make-examples (item 9)."""

import glob
import json
import os

import pytest

from keras_compact.cli.main import build_parser
from keras_compact.cli.main import main

TINY = '{"num_layers": 1, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32, ' \
       '"embedding_dim": 8}'


@pytest.fixture(scope="module")
def examples(tmp_path_factory, spm_model):
    """32-token SOP examples of the faq section, in 2 shards, and the text."""
    from keras_compact.data import load_default_corpus
    from keras_compact.data import write_text_corpus

    folder = tmp_path_factory.mktemp("early")
    text = write_text_corpus(load_default_corpus(sections=["faq"]), str(folder / "faq.txt"))
    output = str(folder / "examples")
    assert main(["make-examples", "--input", text, "--vocab", spm_model, "--output-dir",
                 output, "--num-shards", "2", "--seq-len", "32", "--no-progress"]) == 0
    return output, text


@pytest.fixture(scope="module")
def other_vocab(tmp_path_factory, examples):
    from keras_compact.data import train_vocabulary

    folder = tmp_path_factory.mktemp("other_vocab")
    return train_vocabulary(examples[1], str(folder / "spm.model"), vocab_size=300)


def _error(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_tfrecords_of_another_vocabulary_fail_before_any_work(tmp_path, examples,
                                                              other_vocab, capsys):
    """Item 7: records written with a 4,000-piece vocabulary and a 300-piece
    --vocab: an error naming both sizes, and the run directory is not made."""
    run = tmp_path / "run"
    assert main(["pretrain", "--output-dir", str(run), "--tfrecords", examples[0],
                 "--vocab", other_vocab, "--config", TINY, "--steps", "2",
                 "--checkpoint-every", "1", "--batch-size", "2", "--eval-steps", "0"]) == 2
    line = _error(capsys)
    assert "4000-piece vocabulary" in line and "300 pieces" in line
    assert not run.exists()


def test_tfrecords_length_is_checked_and_is_the_default(tmp_path, examples, spm_model,
                                                        capsys):
    """Item 10: --seq-len 64 on 32-token records is an error (it built a
    64-position model); without --seq-len the records' length is used."""
    run = tmp_path / "run"
    assert main(["pretrain", "--output-dir", str(run), "--tfrecords", examples[0],
                 "--vocab", spm_model, "--config", TINY, "--seq-len", "64", "--steps", "2",
                 "--checkpoint-every", "1", "--batch-size", "2", "--eval-steps", "0"]) == 2
    line = _error(capsys)
    assert "--seq-len 64 does not match" in line and "written with --seq-len 32" in line
    assert not run.exists()
    from keras_compact.cli.train_commands import _job_from_args

    args = build_parser().parse_args(["pretrain", "--output-dir", str(run), "--tfrecords",
                                      examples[0], "--vocab", spm_model])
    assert _job_from_args(args).sequence_length == 32


@pytest.mark.parametrize("argv, message", [
    (["pretrain", "--learning-rate", "-1"], "--learning-rate must be a positive number"),
    (["pretrain", "--learning-rate", "0"], "--learning-rate must be a positive number"),
    (["pretrain", "--steps", "0"], "--steps must be a positive integer"),
    (["pretrain", "--seq-len", "0"], "--seq-len must be a positive integer"),
    (["pretrain", "--vocab-size", "0"], "--vocab-size must exceed"),
    (["distill", "--learning-rate", "-1", "--num-variants", "0"],
     "--learning-rate must be a positive number"),
    (["finetune", "--learning-rate", "0"], "--learning-rate must be a positive number"),
    (["finetune", "--learning-rate", "inf"], "--learning-rate must be a positive number, got "
     "inf; only finite values can train"),
    (["finetune", "--learning-rate", "nan"], "--learning-rate must be a positive number"),
])
def test_bad_training_values_are_rejected(argv, message, tmp_path, spm_model, examples,
                                         capsys):
    """Item 10: a negative or zero rate, step count or length is an error."""
    # Tiny settings first (the value under test comes after and wins), so a
    # version without the checks trains briefly instead of for hours.
    extra = {"pretrain": ["--vocab", spm_model, "--corpus", examples[1], "--config", TINY,
                          "--steps", "2", "--checkpoint-every", "1", "--batch-size", "2",
                          "--seq-len", "16", "--eval-steps", "0"],
             "finetune": ["--vocab", spm_model, "--config", TINY, "--epochs", "1",
                          "--max-train-examples", "4", "--max-eval-examples", "2",
                          "--batch-size", "2", "--seq-len", "16"],
             "distill": ["--vocab", spm_model, "--teacher", spm_model]}[argv[0]]
    run = tmp_path / "run"
    assert main([argv[0], "--output-dir", str(run), *extra, *argv[1:]]) == 2
    assert message in _error(capsys)
    assert not run.exists()


def test_zero_is_not_a_default(tmp_path, spm_model, examples, capsys):
    """Item 10: `export --seq-len 0` and `vocab --vocab-size 0` used to fall
    back to the defaults (falsy checks); they are errors now."""
    assert main(["vocab", "--input", examples[1], "--output", str(tmp_path / "v.model"),
                 "--vocab-size", "0"]) == 2
    assert "--vocab-size 0 is too small" in _error(capsys)
    assert not (tmp_path / "v.model").exists()

    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier

    model = TextClassifier(CompactBackbone(vocabulary_size=4000, num_layers=1, num_heads=2,
                                           hidden_dim=16, intermediate_dim=32,
                                           max_sequence_length=16), num_classes=2)
    model.save(str(tmp_path / "c.keras"))
    assert main(["export", "--model", str(tmp_path / "c.keras"), "--vocab", spm_model,
                 "--base-dir", str(tmp_path / "base"), "--name", "m", "--seq-len", "0"]) == 2
    line = _error(capsys)
    assert "--seq-len 0" in line  # the library's sequence_length=0, named as the flag
    assert not (tmp_path / "base" / "m" / "1").exists()


def test_a_directory_passed_as_a_file_is_reported_as_a_directory(tmp_path, spm_model,
                                                                  capsys):
    """Item 10: not "does not exist"."""
    folder = tmp_path / "folder"
    folder.mkdir()
    for argv, flag in (
            (["finetune", "--output-dir", str(tmp_path / "f"), "--vocab", spm_model,
              "--backbone", str(folder)], "--backbone"),
            (["distill", "--output-dir", str(tmp_path / "d"), "--vocab", spm_model,
              "--teacher", str(folder), "--num-variants", "0"], "--teacher"),
            (["export", "--model", str(folder), "--vocab", spm_model, "--base-dir",
              str(tmp_path / "b"), "--name", "m"], "--model"),
            (["vocab", "--input", str(folder), "--output", str(tmp_path / "v.model")],
             str(folder))):
        assert main(argv) == 2
        line = _error(capsys)
        assert flag in line and "is a directory" in line and "does not exist" not in line


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier

    folder = tmp_path_factory.mktemp("teacher")
    backbone = CompactBackbone(vocabulary_size=4000, num_layers=2, num_heads=2, hidden_dim=16,
                               intermediate_dim=32, embedding_dim=8, max_sequence_length=32)
    TextClassifier(backbone, num_classes=10).save(str(folder / "classifier.keras"))
    return str(folder / "classifier.keras")


def _distill(output, spm_model, teacher, *extra):
    return ["distill", "--output-dir", str(output), "--vocab", spm_model, "--teacher", teacher,
            "--num-variants", "0", "--general-steps", "0", "--intermediate-epochs", "0",
            "--prediction-epochs", "1", "--no-scratch-baseline", "--max-train-examples", "8",
            "--max-eval-examples", "4", "--batch-size", "4", *extra]


def test_distill_seq_len_beyond_the_teachers_positions(tmp_path, spm_model, teacher, capsys):
    """Item 7: --seq-len 64 with a 32-position teacher fails before any work."""
    output = tmp_path / "d"
    assert main(_distill(output, spm_model, teacher, "--seq-len", "64", "--student-config",
                         TINY)) == 2
    line = _error(capsys)
    assert "--seq-len 64" in line and "max_sequence_length=32" in line
    assert not output.exists()


def test_a_student_larger_than_its_teacher_is_rejected(tmp_path, spm_model, teacher, capsys):
    """Item 10: it was accepted and reported as "0.1x smaller"."""
    wide = '{"num_layers": 2, "hidden_dim": 128, "num_heads": 2, "intermediate_dim": 512}'
    output = tmp_path / "d"
    assert main(_distill(output, spm_model, teacher, "--seq-len", "32", "--student-config",
                         wide)) == 2
    line = _error(capsys)
    assert "more than its teacher's" in line and "--student-config" in line
    assert not output.exists()
    from keras_compact.training.distillation_job import format_table

    row = {"test_accuracy": 0.5, "latency_b1_ms": 1.0, "latency_b32_ms": 1.0}
    table = format_table([dict(row, model="teacher", parameters=100),
                          dict(row, model="other", parameters=250)])
    assert "1/2.5x" in table and "0.4x" not in table


def test_a_second_make_examples_replaces_the_stale_shards(tmp_path, spm_model, examples):
    """Item 9: 4 shards then 2 into the same folder: a glob sees only the 2."""
    output = str(tmp_path / "ex")
    common = ["make-examples", "--input", examples[1], "--vocab", spm_model, "--output-dir",
              output, "--seq-len", "32", "--no-progress"]
    assert main(common + ["--num-shards", "4"]) == 0
    assert main(common + ["--num-shards", "2"]) == 0
    shards = sorted(os.path.basename(p) for p in glob.glob(os.path.join(output, "*.tfrecord")))
    with open(os.path.join(output, "pretraining-metadata.json")) as handle:
        assert shards == sorted(json.load(handle)["files"])
    assert len(shards) == 2 and not [n for n in os.listdir(output) if n.startswith(".")]
