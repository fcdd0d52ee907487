"""The distillation job's table: every model scored on the test split, with its
parameters and latency, and the table as aligned text."""


def size_ratio(teacher, student):
    ratio = teacher.count_params() / student.count_params()
    return f"{ratio:.1f}x smaller" if ratio >= 1 else f"{1 / ratio:.1f}x larger"


def _smaller(teacher_parameters, parameters):
    """The "smaller" column: 7.5x, or 1/2.5x for a model larger than the teacher."""
    ratio = teacher_parameters / parameters
    return f"{ratio:.1f}x" if ratio >= 1 else f"1/{1 / ratio:.1f}x"


def format_table(table, metric="accuracy"):
    """The teacher / student table as aligned text, with ratios to the teacher.

    Args:
        table: the rows of `run_distillation`.
        metric: the task's official metric; rows hold it as `test_<metric>`.
    """
    teacher = table[0]
    lines = [f"{'model':<18} {'parameters':>12} {'smaller':>8} {'test score':>10} "
             f"{'ms b=1':>8} {'ms b=32':>8} {'speedup b=32':>13}"]
    for row in table:
        lines.append(
            f"{row['model']:<18} {row['parameters']:>12,} "
            f"{_smaller(teacher['parameters'], row['parameters']):>8} "
            f"{row['test_' + metric]:>10.4f} {row['latency_b1_ms']:>8.2f} "
            f"{row['latency_b32_ms']:>8.2f} "
            f"{teacher['latency_b32_ms'] / max(row['latency_b32_ms'], 1e-9):>12.1f}x")
    return "\n".join(lines)


def score_models(job, models, data, preprocessor):
    """One table row per model: parameters, the task's metrics on the test split, and
    latency at batch 1 and 32 (0 when `job.measure_latency` is off)."""
    from keras_compact.utils.latency import median_latency_ms
    from keras_compact.training.tasks import evaluate_split

    latency = {batch: median_latency_ms(models, job.sequence_length, batch) if job.measure_latency
               else dict.fromkeys(models, 0.0) for batch in (1, 32)}
    table = []
    for name, model in models.items():
        scores = evaluate_split(model, data["test"], data["labels"], data["metrics"],
                                batch_size=job.batch_size, preprocessor=preprocessor)
        table.append({
            "model": name,
            "parameters": int(model.count_params()),
            f"test_{data['metrics'][0]}": scores[data["metrics"][0]],
            "scores": scores,
            "latency_b1_ms": latency[1][name],
            "latency_b32_ms": latency[32][name],
        })
    return table
