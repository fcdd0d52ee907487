"""The distillation job's time estimate and `time_budget` sizing, on measured-like
step times (the measuring itself runs in tests/cli/test_distill_cli.py)."""

import pytest

from keras_compact.training.distillation_job import DistillationJob
from keras_compact.training.distillation_plan import StepTimes
from keras_compact.training.distillation_plan import estimate
from keras_compact.training.distillation_plan import fit_budget
from keras_compact.training.distillation_plan import planned_steps

TIMES = StepTimes(distil=0.2, student=0.05, teacher_example=0.004, augment_text=0.5,
                  setup=2.0)


def _job(tmp_path, **overrides):
    settings = dict(output_dir=str(tmp_path), batch_size=10, num_variants=8,
                    intermediate_epochs=4, prediction_epochs=2)
    return DistillationJob(**{**settings, **overrides})


def test_the_estimate_adds_every_part_of_the_plan(tmp_path):
    job = _job(tmp_path)
    examples, steps = planned_steps(job, 100)
    assert examples == 100 * 9 and steps["intermediate"] == 4 * 90
    assert steps["scratch"] == 360 + 180
    seconds = estimate(job, TIMES, 100)
    assert seconds == pytest.approx({
        "augmentation": 50.0, "general": 0.0, "intermediate": 74.0,
        "teacher logits": 5.6, "prediction": 11.0, "scratch": 29.0})
    # A finished stage costs nothing more.
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "intermediate.keras").write_text("")
    assert estimate(job, TIMES, 100)["intermediate"] == 0


def test_the_budget_picks_the_most_steps_that_fit(tmp_path):
    job = _job(tmp_path)
    full = sum(estimate(job, TIMES, 100).values())
    assert fit_budget(job, TIMES, 100, full / 60 + 0.01) == job
    chosen = fit_budget(job, TIMES, 100, 1.0)
    assert sum(estimate(chosen, TIMES, 100).values()) <= 60
    assert (chosen.num_variants, chosen.intermediate_epochs,
            chosen.prediction_epochs) != (8, 4, 2)
    assert chosen.prediction_epochs >= 1


def test_a_budget_below_one_epoch_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match=r"time_budget=0.01 minutes is too small for one "
                                         r"prediction epoch on the 100 original texts"):
        fit_budget(_job(tmp_path), TIMES, 100, 0.01)
    with pytest.raises(ValueError, match="must be a positive number of minutes"):
        fit_budget(_job(tmp_path), TIMES, 100, 0)
