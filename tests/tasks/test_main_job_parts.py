"""Pieces of the main job that run fast: the baselines, the student's embedding
start from the teacher's, the table and the goals."""

import pytest

from keras_compact.tasks.labels import LabelInfo
from keras_compact.training import main_job
from tests.conftest import minilm_dir_or_skip
from tests.tasks.fixtures import NEGATIVE
from tests.tasks.fixtures import POSITIVE


def _task():
    train = [(t, 1) for t in POSITIVE * 3] + [(t, 0) for t in NEGATIVE * 2]
    return {"train": train, "validation": {"validation": train[::2]},
            "test": {"test": [(t, 1) for t in POSITIVE] + [(t, 0) for t in NEGATIVE[:2]]},
            "labels": LabelInfo("classification", ["neg", "pos"])}


def test_majority_and_tfidf_baselines():
    task = _task()
    majority = main_job.majority_row(task)
    assert majority["test_accuracy"] == pytest.approx(6 / 8)  # label 1 is the majority
    tfidf = main_job.tfidf_row(task)
    assert tfidf["test_accuracy"] == 1.0  # the test texts are training texts
    assert "C=" in tfidf["note"] and tfidf["parameters"] > 0
    assert tfidf["latency_b1_ms"] > 0 and tfidf["latency_b32_ms"] > 0


def test_table_and_goals():
    rows = [{"model": "majority class", "parameters": 0, "test_accuracy": 0.5,
             "latency_b1_ms": 0.0, "latency_b32_ms": 0.0},
            {"model": "TF-IDF + LR", "parameters": 10, "test_accuracy": 0.69,
             "latency_b1_ms": 1.0, "latency_b32_ms": 2.0},
            {"model": "MiniLM teacher", "parameters": 1000, "test_accuracy": 0.72,
             "latency_b1_ms": 10.0, "latency_b32_ms": 200.0, "note": "the teacher"},
            {"model": "distilled student", "parameters": 100, "test_accuracy": 0.70,
             "latency_b1_ms": 2.0, "latency_b32_ms": 20.0}]
    table = main_job.format_main_table(rows)
    assert "10.0x" in table and "the teacher" in table
    measured = main_job.goals(rows)
    assert measured["student_beats_tfidf"] and measured["keeps_97_percent"]
    assert measured["student_over_teacher"] == pytest.approx(0.70 / 0.72)


@pytest.mark.parametrize("flags, policy", [
    ("fpu sse2 avx512f avx512_vnni avx512_bf16", "mixed_bfloat16"),
    ("fpu sse2 amx_bf16 amx_tile", "mixed_bfloat16"),
    ("fpu sse2 avx2 avx512f", "float32")])
def test_teacher_trains_in_bf16_only_where_the_cpu_has_bf16_instructions(tmp_path, flags,
                                                                       policy):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert main_job.teacher_dtype_policy(str(cpuinfo)) == policy
    assert main_job.teacher_dtype_policy(str(tmp_path / "missing")) == "float32"


def test_a_teacher_folder_is_reused_only_with_the_same_settings(tmp_path):
    """Issue 19 defect 4: an existing MiniLM teacher folder was reused without a
    look at its settings, so a rerun with --overwrite and another seed kept the
    old teacher. Each step now checks its run record before reusing anything."""
    from keras_compact.utils.run_settings import RunSettingsMismatch

    minilm_dir_or_skip()
    task = dict(_task(), counts={"train": 34, "validation": 17, "test": 8})
    folder = tmp_path / "minilm_teacher"
    folder.mkdir()
    (folder / "classifier.keras").write_bytes(b"left by an interrupted run")
    # No record of the settings that made it: not silently reused.
    with pytest.raises(RunSettingsMismatch, match="no record"):
        main_job.finetune_minilm(str(folder), task, seed=0)
    record = main_job.minilm_teacher_settings(task, seed=0)
    from keras_compact.utils.run_settings import check_run_settings

    (folder / "classifier.keras").unlink()
    check_run_settings(str(folder), "finetune", record)
    (folder / "classifier.keras").write_bytes(b"a finished seed-0 teacher")
    assert main_job.finetune_minilm(str(folder), task, seed=0) == str(folder / "classifier.keras")
    with pytest.raises(RunSettingsMismatch, match="seed"):
        main_job.finetune_minilm(str(folder), task, seed=1)
