"""How long a distillation job will take, and a plan that fits a time budget.

Before the first stage, `measure_step_times` times a few real optimizer steps
on the task's own batches: a distillation step (teacher forward + student
step, as in general and intermediate distillation), a student-only step (the
prediction stage on cached teacher logits, and the scratch baseline), the
teacher's forward pass per example (caching its logits) and, when the
augmented data is not cached yet, augmenting a few texts. `estimate` turns
them into seconds per part of the job for the planned steps.

With `time_budget` (minutes), `fit_budget` picks the number of augmented
variants and of epochs of the two task-specific stages that fit: the plan
with the most distillation steps, then the most variants. The choice is
saved in OUTPUT_DIR/stages/plan.json, so a resumed run keeps it. A budget
too small for one prediction epoch on the original texts is an error.

The figures are estimates from a few steps on this machine (the first call
of each step, which traces and compiles, is not timed).
"""

import contextlib
import dataclasses
import io
import json
import math
import os
import tempfile
import time
import warnings

from keras_compact.training.distillation_stages import fit_chunks
from keras_compact.training.distillation_stages import job_path
from keras_compact.training.distillation_stages import write_json

_TIMED_STEPS = 3
_SAMPLE_TEXTS = 4


@dataclasses.dataclass
class StepTimes:
    """Seconds per distillation step, student-only step, teacher example, and
    augmented source text; `setup`: seconds each stage spends once (tracing
    and compiling its step: the first call's extra time)."""

    distil: float
    student: float
    teacher_example: float
    augment_text: float
    setup: float = 0.0


def _timed(function, setups, repeats=_TIMED_STEPS):
    """Seconds per call after the first; the first call's extra time (tracing
    and compiling) is appended to `setups`."""
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    seconds = (time.perf_counter() - start) / repeats
    setups.append(max(0.0, first - seconds))
    return seconds


def measure_step_times(job, loaded, student, intermediate_options):
    """Times a few steps on a real batch; the student's weights are restored."""
    import numpy as np

    from keras_compact.distill import Distiller
    from keras_compact.tasks.datasets import make_dataset

    data = loaded.data
    features, labels = next(iter(make_dataset(
        data["train"], **loaded.common, batch_size=job.batch_size,
        count=data["train_count"]).as_numpy_iterator()))
    logits = np.asarray(loaded.teacher.predict_on_batch(features), "float32")
    weights = student.get_weights()
    try:
        with warnings.catch_warnings():
            # The intermediate losses leave the pooler and head without gradients.
            warnings.filterwarnings("ignore", message="Gradients do not exist")
            distil = Distiller(loaded.teacher, student, stage="intermediate",
                               layer_mapping=job.layer_mapping, **intermediate_options)
            distil.compile(optimizer="adam")
            cached = Distiller(loaded.teacher, student, stage="prediction",
                               cached_teacher_logits=True)
            cached.compile(optimizer="adam")
            setups = []
            times = StepTimes(
                distil=_timed(lambda: distil.train_on_batch(features), setups),
                student=_timed(lambda: cached.train_on_batch(
                    {**features, "teacher_logits": logits}), setups),
                teacher_example=_timed(lambda: loaded.teacher.predict_on_batch(features),
                                       []) / len(labels),
                augment_text=0.0)
            times.setup = max(setups)
    finally:
        student.set_weights(weights)
    if job.num_variants and not os.path.isfile(job_path(job, "augmented.jsonl")):
        times.augment_text = _augment_seconds_per_text(job, loaded)
    return times


def _augment_seconds_per_text(job, loaded):
    """Augments a few training texts in a scratch folder (the cost is per source
    text: the candidates are found once per word, then sampled per variant)."""
    from keras_compact.tasks.datasets import read_examples
    from keras_compact.training.distillation_data import augmented_pairs

    train = loaded.data["train"]
    sources = (train[:_SAMPLE_TEXTS] if isinstance(train, list)
               else read_examples(train, loaded.data["labels"], _SAMPLE_TEXTS))
    with tempfile.TemporaryDirectory() as folder:
        sample = dataclasses.replace(job, output_dir=folder)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            augmented_pairs(sample, sources, loaded.teacher, loaded.pretrainer,
                            loaded.tokenizer)
        return (time.perf_counter() - start) / max(1, len(sources))


def planned_steps(job, train_count):
    """(examples per epoch, {part: optimizer steps}) of `job`'s plan."""
    augmented = min(train_count, job.max_augment_examples or train_count)
    examples = train_count + augmented * job.num_variants
    per_epoch = max(1, examples // job.batch_size)

    def steps(count):
        return math.prod(fit_chunks(count)) if count else 0

    parts = {"general": steps(job.general_steps),
             "intermediate": steps(job.intermediate_epochs * per_epoch),
             "prediction": steps(job.prediction_epochs * per_epoch)}
    parts["scratch"] = sum(parts.values()) if job.scratch_baseline else 0
    return examples, parts


def estimate(job, times, train_count):
    """{part: seconds} of the job's remaining work (finished stages cost 0)."""
    examples, steps = planned_steps(job, train_count)
    augmented = min(train_count, job.max_augment_examples or train_count)
    done = {name: os.path.isfile(job_path(job, "stages", f"{name}.keras"))
            for name in ("general", "intermediate", "prediction", "scratch")}
    seconds = {
        "augmentation": augmented * times.augment_text if job.num_variants else 0.0,
        "general": steps["general"] * times.distil,
        "intermediate": steps["intermediate"] * times.distil,
        "teacher logits": (examples * times.teacher_example
                           if steps["prediction"] else 0.0),
        "prediction": steps["prediction"] * times.student,
        "scratch": steps["scratch"] * times.student,
    }
    for name in ("general", "intermediate", "prediction", "scratch"):
        if steps[name]:  # each stage traces its own step once
            seconds[name] += times.setup
    if seconds["teacher logits"]:
        seconds["teacher logits"] += times.setup
    for name, finished in done.items():
        if finished:
            seconds[name] = 0.0
    if done["prediction"]:
        seconds["teacher logits"] = 0.0
    return seconds


def describe(seconds):
    """One line: the total and each part, in minutes."""
    parts = ", ".join(f"{name} {value / 60:.1f}" for name, value in seconds.items() if value)
    return f"~{sum(seconds.values()) / 60:.1f} min ({parts or 'nothing left'})"


def _halvings(value):
    values = []
    while value > 0:
        values.append(value)
        value //= 2
    return values + [0]


def fit_budget(job, times, train_count, minutes):
    """The job with num_variants and epochs sized to fit `minutes`.

    Candidates: num_variants from the job's value down by halves to 0,
    intermediate epochs from the job's down to 0, prediction epochs from the
    job's down to 1. Picks the one with the most distillation steps that fits
    (ties: more variants). Raises ValueError when none does.
    """
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        raise ValueError(f"time_budget={minutes!r} must be a positive number of minutes.")
    best = None
    for variants in _halvings(job.num_variants):
        for intermediate in range(job.intermediate_epochs, -1, -1):
            for prediction in range(max(1, job.prediction_epochs), 0, -1):
                plan = dataclasses.replace(job, num_variants=variants,
                                           intermediate_epochs=intermediate,
                                           prediction_epochs=prediction)
                if sum(estimate(plan, times, train_count).values()) > minutes * 60:
                    continue
                _, steps = planned_steps(plan, train_count)
                key = (steps["intermediate"] + steps["prediction"], variants)
                if best is None or key > best[0]:
                    best = (key, plan)
    if best is None:
        smallest = dataclasses.replace(job, num_variants=0, intermediate_epochs=0,
                                       prediction_epochs=1)
        need = sum(estimate(smallest, times, train_count).values()) / 60
        raise ValueError(
            f"time_budget={minutes:g} minutes is too small for one prediction epoch on "
            f"the {train_count:,} original texts (~{need:.1f} min here); pass at least "
            f"{math.ceil(need)} or fewer examples (max_train_examples).")
    return best[1]


def plan_job(job, loaded, student, intermediate_options, time_budget=None):
    """Prints the estimated time; with `time_budget`, returns the job resized to
    fit it (the choice saved in stages/plan.json and reused on a rerun)."""
    train_count = loaded.data["train_count"]
    record = job_path(job, "stages", "plan.json")
    if time_budget is not None and os.path.isfile(record):
        with open(record, encoding="utf-8") as handle:
            chosen = json.load(handle)
        print(f"Time budget: keeping the plan chosen before ({record}): "
              + ", ".join(f"{k}={v}" for k, v in chosen.items()))
        return dataclasses.replace(job, **chosen)
    _, steps = planned_steps(job, train_count)
    if all(os.path.isfile(job_path(job, "stages", f"{name}.keras"))
           for name, count in steps.items() if count):
        return job  # every stage done: nothing to time
    times = measure_step_times(job, loaded, student, intermediate_options)
    print(f"Measured: {times.setup:.1f} s to set up a stage, "
          f"{times.distil * 1000:.0f} ms per distillation step, "
          f"{times.student * 1000:.0f} ms per student step, "
          f"{times.teacher_example * 1000:.1f} ms per teacher example"
          + (f", {times.augment_text:.2f} s per augmented text" if times.augment_text
             else ""))
    if time_budget is not None:
        job = fit_budget(job, times, train_count, time_budget)
        chosen = {"num_variants": job.num_variants,
                  "intermediate_epochs": job.intermediate_epochs,
                  "prediction_epochs": job.prediction_epochs}
        write_json(chosen, record)
        print(f"Time budget {time_budget:g} min: "
              + ", ".join(f"{k}={v}" for k, v in chosen.items()))
    print(f"Estimated time: {describe(estimate(job, times, train_count))}", flush=True)
    return job
