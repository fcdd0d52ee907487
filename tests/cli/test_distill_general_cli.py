"""`keras-compact distill-general` end to end on tiny models: MLM + SOP + soft
MLM + MiniLMv2 relations with a student of another head count, the saved
student, resume, and bad input."""

import os

import keras
import pytest

from keras_compact import CompactBackbone
from keras_compact.cli.main import main
from keras_compact.models.pretrainer import AlbertPretrainer

TEACHER = dict(num_layers=2, num_heads=4, hidden_dim=32, intermediate_dim=64,
               embedding_dim=16, max_sequence_length=32, sharing="all")
STUDENT = ('{"num_layers": 1, "num_heads": 2, "hidden_dim": 16, "intermediate_dim": 32, '
           '"embedding_dim": 8}')


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("teacher")
    AlbertPretrainer(CompactBackbone(vocabulary_size=4000, **TEACHER)).save(
        str(folder / "pretrainer.keras"))
    return str(folder / "pretrainer.keras")


def _args(output, spm_model, teacher, *extra):
    return ["distill-general", "--output-dir", str(output), "--teacher", teacher,
            "--vocab", spm_model, "--student-config", STUDENT, "--objective", "minilmv2",
            "--relation-heads", "4", "--teacher-layer", "1", "--soft-mlm-weight", "2",
            "--mlm-temperature", "2", "--steps", "4", "--checkpoint-every", "2",
            "--batch-size", "4", "--seq-len", "32", "--eval-steps", "1", *extra]


def test_distill_general_trains_saves_and_resumes(tmp_path, spm_model, teacher_file,
                                                  capsys):
    output = tmp_path / "run"
    assert main(_args(output, spm_model, teacher_file)) == 0
    out = capsys.readouterr().out
    assert "Heads: differ (2 vs 4)" in out
    assert "qq_relation, kk_relation, vv_relation, mlm, sop, soft_mlm" in out
    student = keras.saving.load_model(str(output / "student_pretrainer.keras"))
    assert isinstance(student, AlbertPretrainer)
    assert student.backbone.num_heads == 2
    history = (output / "history.csv").read_text().splitlines()
    assert len(history) == 3 and "soft_mlm_loss" in history[0]
    assert "val_mlm_accuracy" in history[0]
    assert not [n for n in os.listdir(output) if ".tmp" in n]
    # Rerun: training resumes at the end (nothing left to do), same files.
    assert main(_args(output, spm_model, teacher_file)) == 0
    assert len((output / "history.csv").read_text().splitlines()) == 3


def test_distill_general_bad_input(tmp_path, spm_model, teacher_file, capsys):
    run = str(tmp_path / "bad")
    assert main(_args(run, spm_model, teacher_file, "--relation-heads", "3")) == 2
    err = capsys.readouterr().err
    assert "relation_heads=3 must divide both widths" in err and "Traceback" not in err
    assert main(_args(run, spm_model, teacher_file, "--teacher-layer", "3")) == 2
    assert "relation_teacher_layer=3 is out of range" in capsys.readouterr().err
    assert main(_args(run, spm_model, teacher_file, "--weight", "qr=1")) == 2
    assert "--weight 'qr=1'" in capsys.readouterr().err
    assert main(_args(run, spm_model, spm_model)) == 2
    assert "is not a .keras file" in capsys.readouterr().err


def test_task_distill_with_minilmv2_objective(tmp_path, spm_model, teacher_file, capsys):
    """`keras-compact distill --objective minilmv2`: a student with another head
    count, relation losses in the intermediate stage."""
    from keras_compact import TextClassifier

    teacher = keras.saving.load_model(teacher_file)
    classifier = str(tmp_path / "classifier.keras")
    TextClassifier(teacher.backbone, num_classes=10).save(classifier)
    args = ["distill", "--output-dir", str(tmp_path / "run"), "--vocab", spm_model,
            "--teacher", classifier, "--student-config", STUDENT, "--seq-len", "32",
            "--batch-size", "4", "--intermediate-epochs", "1", "--prediction-epochs", "0",
            "--num-variants", "0", "--max-train-examples", "8", "--max-eval-examples",
            "4", "--no-scratch-baseline", "--objective", "minilmv2",
            "--relation-heads", "8"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "losses qq_relation, kk_relation, vv_relation" in out
    assert "relation_heads=8" in out
