"""Label handling for labelled text files: the label vocabulary and label ids.

Plain Python. `infer_labels` reads a training split once
(`keras_compact.tasks.text_files.iter_rows`) and fixes the task's labels
(`LabelInfo`: class names in id order, or a regression target); `label_id`
maps a row's raw label to its id or score; `count_examples` checks every row
of a split against the labels. Problems are `DataFileError`s naming the
file, line, column and value.
"""

import dataclasses
import math

from keras_compact.tasks.lines import DataFileError
from keras_compact.tasks.lines import shown
from keras_compact.tasks.text_files import _bad
from keras_compact.tasks.text_files import iter_rows


def _as_number(value):
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def integer_key(value):
    """"1" for "1", "1.0", "01" or "1e0": the class key of an integer-valued label, else None."""
    number = _as_number(value)
    if number is None or not number.is_integer():
        return None
    try:
        return str(int(value))  # exact for integers beyond float precision
    except ValueError:
        return str(int(number))


@dataclasses.dataclass
class LabelInfo:
    """What the labels are: class names (in id order) or a regression target.

    When every class name is an integer ("0", "1", ...), a label is looked up
    by its integer value, so "1" and "1.0" are one class.
    """

    kind: str  # "classification" or "regression"
    names: list = None

    @property
    def regression(self):
        return self.kind == "regression"

    @property
    def ids(self):
        if getattr(self, "_ids", None) is None:
            self._ids = {name: i for i, name in enumerate(self.names or [])}
        return self._ids

    @property
    def num_classes(self):
        from keras_compact.tasks.kinds import task_kind

        return len(self.names) if task_kind(self.kind).has_names else 1

    def class_id(self, label):
        """The id of a raw label string, or None when it is no class."""
        index = self.ids.get(label)
        if index is None and self.names and all(integer_key(n) == n for n in self.names):
            index = self.ids.get(integer_key(label))
        return index

    def to_json(self):
        return {"kind": self.kind, "names": self.names}

    @classmethod
    def from_json(cls, value):
        return cls(kind=value["kind"], names=value.get("names"))


def infer_labels(spec, task=None, label_names=None):
    """Reads a training split once and returns its `LabelInfo` and example count.

    Classification labels are the distinct values, sorted; when all are
    integer-valued numbers, classes are keyed by the integer ("1" and "1.0"
    are class "1") and sorted numerically. Labels that are numbers with a
    fraction (e.g. "3.8"), or `task="regression"`, make a regression task.

    Args:
        spec: the training `FileSpec`.
        task: None (infer), "classification" or "regression".
        label_names: a fixed label list (e.g. a GLUE task's); labels outside
            it are bad rows.

    Raises:
        DataFileError: an empty split, a mixed-type label column (numbers and
            words; names the first line of each), a non-number label under
            `task="regression"`.
    """
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}.")
    first_number = first_word = None
    values = set()
    fractional = False
    count = 0
    fixed = LabelInfo("classification", list(label_names)) if label_names else None
    for row in iter_rows(spec):
        number = _as_number(row.label)
        if fixed is not None and task != "regression" and fixed.class_id(row.label) is None:
            _bad(spec, row.line, f"has label {row.label!r} in --label-column "
                 f"{spec.label_column!r}, not one of {label_names}", row.end_line)
            continue
        if number is None:
            if task == "regression":
                _bad(spec, row.line, f"has label {row.label!r} in --label-column "
                     f"{spec.label_column!r}, not a number (task: regression)", row.end_line)
                continue
            first_word = first_word or (row.line, row.label)
        else:
            first_number = first_number or (row.line, row.label)
            fractional = fractional or not float(number).is_integer()
        if first_number and first_word and task != "classification":
            raise DataFileError(
                f"{shown(spec.path)}: the label column {spec.label_column!r} mixes numbers (line "
                f"{first_number[0]}: {first_number[1]!r}) and words (line {first_word[0]}: "
                f"{first_word[1]!r}). Fix the rows, or pass --task classification to treat "
                "every label as a class name.")
        if len(values) <= 100_000:
            values.add(row.label)
        count += 1
    if count == 0:
        skipped = f" ({spec.skipped} bad rows skipped)" if spec.skipped else ""
        raise DataFileError(f"{shown(spec.path)} holds no examples{skipped}; a split needs at "
                            "least one labelled row.")
    if task == "regression" or (task is None and label_names is None and fractional
                                and not first_word):
        return LabelInfo("regression"), count
    if label_names is not None:
        return LabelInfo("classification", list(label_names)), count
    if first_word is None:  # integers: one class per integer value
        names = sorted({integer_key(v) for v in values}, key=int)
    else:
        names = sorted(values)
    if len(names) < 2:
        raise DataFileError(f"{shown(spec.path)}: every training label is {names[0]!r}; a "
                            "classifier needs at least 2 classes (or pass --task regression).")
    return LabelInfo("classification", names), count


def label_id(labels, spec, row):
    """The training id (or float target) of `row.label`, or raises / counts it."""
    if labels.regression:
        number = _as_number(row.label)
        if number is None:
            return _bad(spec, row.line, f"has label {row.label!r} in --label-column "
                        f"{spec.label_column!r}, not a number (the task is regression)",
                        row.end_line)
        return number
    index = labels.class_id(row.label)
    if index is None:
        names = labels.names if len(labels.names) <= 20 else labels.names[:20] + ["..."]
        return _bad(spec, row.line, f"has label {row.label!r} in --label-column "
                    f"{spec.label_column!r}, which the training split does not have "
                    f"(training labels: {names})", row.end_line)
    return index


def count_examples(spec, labels=None):
    """Streams `spec` once, checking every row (and label, given `labels`).

    Returns:
        The number of usable examples.

    Raises:
        DataFileError: a bad row (under on_bad_row="error"), or no examples.
    """
    count = 0
    for row in iter_rows(spec, with_labels=labels is not None):
        if labels is not None and label_id(labels, spec, row) is None:
            continue
        count += 1
    if count == 0:
        skipped = f" ({spec.skipped} bad rows skipped)" if spec.skipped else ""
        raise DataFileError(f"{shown(spec.path)} holds no examples{skipped}; the split is "
                            "empty.")
    return count
