"""A rerun with other settings stops instead of reusing the old run's files
(issue 14 item 2): pretrain and distill record a fingerprint of their
settings; a mismatch names the differences and the way out (--output-dir or
--overwrite) and writes nothing."""

import json
import os

import pytest

from keras_compact.cli.main import main

TINY = '{"num_layers": 1, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32, ' \
       '"embedding_dim": 8}'
OTHER = TINY.replace('"num_layers": 1', '"num_layers": 2')


def _snapshot(folder):
    """{relative path: (bytes, mtime_ns)} of everything under `folder`."""
    result = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.stat(path)
            result[os.path.relpath(path, folder)] = (info.st_size, info.st_mtime_ns)
    return result


@pytest.fixture(scope="module")
def faq_text(tmp_path_factory):
    from keras_compact.data import load_default_corpus
    from keras_compact.data import write_text_corpus

    folder = tmp_path_factory.mktemp("settings")
    return write_text_corpus(load_default_corpus(sections=["faq"]), str(folder / "faq.txt"))


def _pretrain(run, spm_model, corpus, config, *extra):
    return ["pretrain", "--output-dir", str(run), "--vocab", spm_model, "--corpus", corpus,
            "--config", config, "--steps", "2", "--checkpoint-every", "1", "--batch-size", "4",
            "--seq-len", "16", "--eval-steps", "0", *extra]


def test_pretrain_rerun_with_another_config_stops_and_writes_nothing(tmp_path, spm_model,
                                                                     faq_text, capsys):
    run = tmp_path / "run"
    assert main(_pretrain(run, spm_model, faq_text, TINY)) == 0
    capsys.readouterr()
    before = _snapshot(run)

    assert main(_pretrain(run, spm_model, faq_text, OTHER)) == 2
    err = capsys.readouterr().err
    assert "holds another pretrain run" in err and "--overwrite" in err
    assert "--output-dir" in err and "config" in err and len(err.strip().splitlines()) == 1
    assert _snapshot(run) == before  # backbone_config.json was not rewritten

    # The same settings resume (nothing left to train), other ones with --overwrite start over.
    assert main(_pretrain(run, spm_model, faq_text, TINY)) == 0
    assert "Resumed from backup at epoch 2" in capsys.readouterr().out
    assert main(_pretrain(run, spm_model, faq_text, OTHER, "--overwrite")) == 0
    assert "Resumed" not in capsys.readouterr().out
    with open(run / "backbone_config.json") as handle:
        assert json.load(handle)["num_layers"] == 2


def test_distill_rerun_with_another_student_stops(tmp_path, spm_model, capsys):
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier

    teacher = str(tmp_path / "classifier.keras")
    TextClassifier(CompactBackbone(vocabulary_size=4000, num_layers=2, num_heads=2,
                                   hidden_dim=16, intermediate_dim=32, embedding_dim=8,
                                   max_sequence_length=32), num_classes=10).save(teacher)
    output = tmp_path / "distill"
    common = ["distill", "--output-dir", str(output), "--vocab", spm_model, "--teacher",
              teacher, "--num-variants", "0", "--intermediate-epochs", "0",
              "--prediction-epochs", "1", "--no-scratch-baseline", "--max-train-examples", "8",
              "--max-eval-examples", "4", "--batch-size", "4", "--seq-len", "16"]
    small = ('{"num_layers": 1, "hidden_dim": 8, "num_heads": 2, "intermediate_dim": 16, '
             '"embedding_dim": 4}')
    assert main(common + ["--student-config", small]) == 0
    capsys.readouterr()
    before = _snapshot(output)
    other = small.replace('"intermediate_dim": 16', '"intermediate_dim": 24')
    assert main(common + ["--student-config", other]) == 2
    err = capsys.readouterr().err
    assert "holds another distill run" in err and "student_config" in err
    assert "--overwrite" in err
    assert _snapshot(output) == before
    assert main(common + ["--student-config", other, "--overwrite"]) == 0
    assert "done before" not in capsys.readouterr().out
    with open(output / "results.json") as handle:
        assert json.load(handle)["job"]["student_config"]["intermediate_dim"] == 24


def test_outputs_without_a_record_and_another_kind_of_run(tmp_path):
    from keras_compact.utils.run_settings import RunSettingsMismatch
    from keras_compact.utils.run_settings import check_run_settings

    (tmp_path / "backup").mkdir()
    with pytest.raises(RunSettingsMismatch, match="no record of the settings"):
        check_run_settings(str(tmp_path), "pretrain", {"a": 1}, ["backup"])
    assert os.listdir(tmp_path) == ["backup"]
    assert check_run_settings(str(tmp_path / "x"), "distill", {"a": 1}) == "new"
    assert check_run_settings(str(tmp_path / "x"), "distill", {"a": 1}) == "resume"
    with pytest.raises(RunSettingsMismatch, match="holds a distill run"):
        check_run_settings(str(tmp_path / "x"), "pretrain", {"a": 1})
