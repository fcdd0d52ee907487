"""`keras-compact distill` end to end on tiny models: every stage, the
augmented data, the table, reloadable students, resume, and bad input."""

import json
import os

import keras
import pytest

from keras_compact import CompactBackbone
from keras_compact import TextClassifier
from keras_compact.cli.main import main
from keras_compact.models.pretrainer import AlbertPretrainer

TEACHER = dict(num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
               embedding_dim=16, max_sequence_length=32, sharing="all")
STUDENT = '{"num_layers": 1, "num_heads": 2, "hidden_dim": 16, "intermediate_dim": 32, ' \
          '"embedding_dim": 8}'


@pytest.fixture(scope="module")
def teacher_files(tmp_path_factory, spm_model):
    """A (random-weight) pretrainer and a 10-class classifier on its backbone."""
    folder = tmp_path_factory.mktemp("teacher")
    pretrainer = AlbertPretrainer(CompactBackbone(vocabulary_size=4000, **TEACHER))
    pretrainer.save(str(folder / "pretrainer.keras"))
    TextClassifier(pretrainer.backbone, num_classes=10).save(str(folder / "classifier.keras"))
    return str(folder / "pretrainer.keras"), str(folder / "classifier.keras")


def _args(output, spm_model, teacher_files, *extra):
    pretrained, classifier = teacher_files
    return ["distill", "--output-dir", str(output), "--vocab", spm_model,
            "--teacher", classifier, "--pretrained", pretrained,
            "--student-config", STUDENT, "--seq-len", "32", "--batch-size", "8",
            "--general-steps", "2", "--intermediate-epochs", "1",
            "--prediction-epochs", "1", "--num-variants", "2", "--mask-fraction", "0.5",
            "--max-train-examples", "12", "--max-eval-examples", "8",
            "--learning-rate", "1e-3", *extra]


def test_distill_runs_every_stage_and_resumes(tmp_path, spm_model, teacher_files, capsys):
    output = tmp_path / "run"
    assert main(_args(output, spm_model, teacher_files)) == 0
    out = capsys.readouterr().out
    for stage in ("general", "intermediate", "prediction"):
        assert f"Stage {stage}:" in out
    # The prediction stage reads the teacher's logits, computed once (12 + 24 examples).
    assert "Teacher logits: computed once for 36 examples" in out
    # Before any stage: the measured steps and the estimated time.
    assert "ms per distillation step" in out and "Estimated time: ~" in out
    assert "Scratch baseline" in out and "distilled student" in out

    # 2 variants of each of the 12 originals, labelled by the teacher (the
    # originals are read from the task itself, not cached).
    lines = (output / "augmented.jsonl").read_text().splitlines()
    assert len(lines) == 12 * 2
    assert all(0 <= json.loads(line)[1] < 10 for line in lines)

    results = json.loads((output / "results.json").read_text())
    rows = {row["model"]: row for row in results["table"]}
    assert set(rows) == {"teacher", "distilled student", "scratch student"}
    assert rows["teacher"]["parameters"] > rows["distilled student"]["parameters"]
    # Same budget: the scratch student trained for all the distillation steps.
    assert results["steps"] == {"general": 2, "intermediate": 4, "prediction": 4}
    assert "10 steps on the gold labels" in out

    student = keras.saving.load_model(str(output / "student_classifier.keras"))
    backbone = keras.saving.load_model(str(output / "student_backbone.keras"))
    assert isinstance(student, TextClassifier) and isinstance(backbone, CompactBackbone)
    # The student carries no distillation projections.
    assert backbone.count_params() == student.backbone.count_params()
    assert not [n for n in os.listdir(output) if ".tmp" in n]

    # Rerun: every stage and the augmentation are reused, not redone.
    assert main(_args(output, spm_model, teacher_files)) == 0
    out = capsys.readouterr().out
    assert out.count("done before") == 4 and "reusing" in out
    # Killed in the prediction stage: the rerun reuses the teacher's logits.
    os.remove(output / "stages" / "prediction.keras")
    assert main(_args(output, spm_model, teacher_files)) == 0
    out = capsys.readouterr().out
    assert "Teacher logits: reusing" in out and "Stage prediction: 4 steps" in out


def test_distill_bad_input_is_a_clear_error(tmp_path, spm_model, teacher_files, capsys):
    pretrained, classifier = teacher_files
    base = ["distill", "--output-dir", str(tmp_path / "a"), "--vocab", spm_model,
            "--teacher", classifier]
    assert main(base + ["--general-steps", "2"]) == 2
    assert "--pretrained" in capsys.readouterr().err
    deeper = '{"num_layers": 3, "num_heads": 2, "hidden_dim": 16, "intermediate_dim": 32}'
    assert main(base + ["--num-variants", "0", "--student-config", deeper,
                        "--max-train-examples", "8", "--no-scratch-baseline"]) == 2
    err = capsys.readouterr().err
    assert "3" in err and "2" in err and "layers" in err and "Traceback" not in err
    assert main(base + ["--layer-mapping", "a,b"]) == 2
    assert "--layer-mapping" in capsys.readouterr().err
    # A layer copy across widths: named by its flag, before any training.
    assert main(base + ["--student-init", "layers:0", "--student-config", STUDENT]) == 2
    err = capsys.readouterr().err
    assert "--student-init 'layers:0' copies teacher layers" in err
    assert "hidden_dim (32)" in err and len(err.strip().splitlines()) == 1
    assert main(base + ["--student-init", "copy"]) == 2
    assert "Unknown --student-init 'copy'" in capsys.readouterr().err
    # A budget too small for one epoch, after timing a few real steps.
    assert main(base + ["--time-budget", "0.00001", "--student-config", STUDENT,
                        "--seq-len", "32", "--max-train-examples", "8",
                        "--no-scratch-baseline", "--output-dir", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "--time-budget 1e-05 minutes is too small for one prediction epoch" in err
    assert len(err.strip().splitlines()) == 1


def test_general_stage_keeps_a_regression_student_a_regressor(tmp_path, spm_model,
                                                              teacher_files):
    """Issue 19, defect 1: after general distillation the student was rebuilt as a
    TextClassifier, so a regression run exported logits instead of a score."""
    from keras_compact.models import TextRegressor
    from keras_compact.training.distillation_job import DistillationJob
    from keras_compact.training.distillation_job import run_distillation
    from tests.tasks.fixtures import pair_rows
    from tests.tasks.fixtures import write_rows

    pretrained, _ = teacher_files
    teacher = TextRegressor(keras.saving.load_model(pretrained).backbone)
    teacher.save(str(tmp_path / "regressor.keras"))
    rows = write_rows(tmp_path / "train.jsonl", pair_rows(1, regression=True))
    job = DistillationJob(
        output_dir=str(tmp_path / "run"), vocab=spm_model,
        teacher=str(tmp_path / "regressor.keras"), pretrained=pretrained,
        data={"train": rows, "validation": rows, "text_column": "premise",
              "text_b_column": "hypothesis"},
        student_config=json.loads(STUDENT), sequence_length=32, batch_size=8, general_steps=1,
        intermediate_epochs=0, prediction_epochs=1, num_variants=0,
        scratch_baseline=False, measure_latency=False)
    result = run_distillation(job, verbose=0)
    assert isinstance(result["student"], TextRegressor)
    saved = keras.saving.load_model(str(tmp_path / "run" / "student_classifier.keras"))
    assert isinstance(saved, TextRegressor)
