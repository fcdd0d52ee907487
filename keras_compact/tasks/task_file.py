"""task.json, the labels, columns and metrics saved beside a fine-tuned model.

`finetune` and `distill` write it next to classifier.keras; `evaluate`,
`predict`, `export` and `distill` (a teacher's) read it back. Whatever reads
it goes through `read_task_file`, which refuses a file that is not a JSON
object, lacks `labels`, has an unknown label kind, class names that are not
a list of distinct strings, `label_names` that disagree with `labels`, or a
metric the package does not compute; and through
`check_task_file_against_model`, which refuses class names whose count is
not the model's output count, and a kind that is not the model's head (a
regression task.json beside a classifier, or the reverse). Either way the
error names the file, so a stale or edited task.json never prints wrong
labels.

Example:
```python
info = read_task_file("runs/sst/task.json")
check_task_file_against_model(info, model, "runs/sst/task.json")
```
"""

import json
import os

from keras_compact.tasks.kinds import TASK_KINDS

TASK_FILE = "task.json"
_FIX = ("write it again with `keras-compact finetune`, or restore the task.json of the run "
        "that wrote this model")


def _refuse(path, problem):
    raise ValueError(f"{path!r} {problem}; {_FIX}.")


def read_task_file(path):
    """Reads and checks a task.json; returns its dict.

    Args:
        path: the task.json file.

    Returns:
        The JSON object, with `labels` = {"kind": ..., "names": [...] or None}.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: not JSON, not an object, no or bad `labels`, `label_names`
            other than `labels["names"]`, an unknown or misplaced metric, a
            column that is not a string (each names `path`).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No {TASK_FILE} at {path!r}: it holds the labels and columns "
                                "of the model beside it; keep the run directory together.")
    with open(path, "rb") as handle:
        raw = handle.read(1 << 24)
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        _refuse(path, f"is not valid JSON ({error})")
    if not isinstance(info, dict):
        _refuse(path, f"holds a JSON {type(info).__name__}, not the object `finetune` writes")
    if "seq_len" in info:  # written before the rename to `sequence_length` (issue 19)
        info.setdefault("sequence_length", info.pop("seq_len"))
    labels = info.get("labels")
    if not isinstance(labels, dict):
        _refuse(path, "has no 'labels' object ({'kind': ..., 'names': [...]})"
                if labels is None else f"has 'labels' of type {type(labels).__name__}, not "
                "an object")
    kind, names = labels.get("kind"), labels.get("names")
    if kind not in TASK_KINDS:
        _refuse(path, f"has labels.kind {kind!r}, not " + " or ".join(
            repr(k) for k in TASK_KINDS))
    if TASK_KINDS[kind].has_names:
        if not (isinstance(names, list) and len(names) >= 2
                and all(isinstance(n, str) for n in names)):
            _refuse(path, f"has labels.names {names!r}; a {kind} task's are a list of at "
                    "least 2 strings")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            _refuse(path, f"names the classes {twice} more than once in labels.names")
    elif names is not None:
        _refuse(path, f"has labels.names {names!r} for a {kind} task (null expected)")
    if "label_names" in info and info["label_names"] != names:
        _refuse(path, f"has label_names {info['label_names']!r} but labels.names {names!r}")
    metrics = info.get("metrics", [])
    if not (isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)):
        _refuse(path, f"has metrics {metrics!r}, not a list of metric names")
    allowed = TASK_KINDS[kind].allowed_metrics
    for metric in metrics:
        if metric not in allowed:
            other = next((k for k, row in TASK_KINDS.items()
                          if metric in row.allowed_metrics), None)
            why = (f"a {other} metric" if other else "unknown")
            _refuse(path, f"names the metric {metric!r} ({why}); a {kind} task is scored "
                    f"with {', '.join(allowed)}")
    for key in ("text_column", "text_b_column", "label_column", "name"):
        if info.get(key) is not None and not isinstance(info[key], str):
            _refuse(path, f"has {key} {info[key]!r}, not a string")
    if "pair" in info and not isinstance(info["pair"], bool):
        _refuse(path, f"has pair {info['pair']!r}, not true or false")
    return info


def check_task_file_against_model(info, model, path):
    """Raises unless `info`'s labels fit `model`'s head.

    Args:
        info: from `read_task_file`.
        model: the loaded `TextClassifier` / `TextRegressor` beside it.
        path: the task.json, for the message.

    Raises:
        ValueError: a regression task.json beside a classifier (or the
            reverse), or a class count other than the model's outputs.
    """
    from keras_compact.models import TextRegressor

    kind, names = info["labels"]["kind"], info["labels"].get("names")
    row = TASK_KINDS[kind]
    regressor = isinstance(model, TextRegressor)
    head = "a regressor (one score)" if regressor else (
        f"a classifier of {getattr(model, 'num_classes', '?')} classes")
    # The most specific class first: a TextRegressor is also a TextClassifier.
    fits = type(model) is row.model_class() or (
        isinstance(model, row.model_class()) and not regressor)
    if not fits:
        _refuse(path, f"describes a {kind} task but the model beside it is {head}")
    if row.has_names and len(names) != model.num_classes:
        _refuse(path, f"names {len(names)} classes {names} but the model beside it is {head}")
