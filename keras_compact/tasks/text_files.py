"""Labelled text files: CSV, TSV and JSONL, gzipped or not, read as streams.

Plain Python (no TensorFlow): rows are read one line at a time, each line
bounded by `max_line_bytes`, so neither a large file nor a file without line
breaks is ever held whole; `keras_compact.tasks.datasets` feeds the rows to
tf.data.

Every problem is a `DataFileError` (a `ValueError`) that names the file, the
line, and where it applies the column and the value, and says how to fix it:
a missing file, a UTF-16 or otherwise non-UTF-8 file, an over-long line, a
missing column, a row with too few fields, an empty text, a mixed-type label
column, a label that the training split does not have, an empty split. With
`on_bad_row="skip"`, row-level problems (missing field, empty text, unknown or
bad label) skip the row and are counted instead (`FileSpec.skipped` after a
pass).

Example:
```python
spec = FileSpec("train.csv", text_column="sentence", label_column="label")
for row in iter_rows(spec):
    row.line, row.text, row.label        # 2, "A fine film.", "positive"
```
"""

import codecs
import csv
import dataclasses
import gzip
import io
import json
import math
import os

FORMATS = ("csv", "tsv", "jsonl")
# One line (one CSV record) may hold at most this many bytes: a file without
# line breaks fails fast instead of being read whole.
DEFAULT_MAX_LINE_BYTES = 1 << 20


class DataFileError(ValueError):
    """A data file cannot be used; the message names file, line, column, value."""


@dataclasses.dataclass
class Row:
    """One example: its 1-based line, text, optional second text, raw label."""

    line: int
    text: str
    text_b: str = None
    label: str = None


@dataclasses.dataclass
class FileSpec:
    """Where one split's examples are and how to read them.

    Attributes:
        path: the file (.csv, .tsv, .jsonl, .json, each optionally .gz).
        text_column, text_b_column, label_column: column names, or 0-based
            indices (ints, or strings of digits when no column has that
            name). `text_b_column` None: single texts. `label_column` None:
            an unlabelled file (prediction).
        format: "csv", "tsv" or "jsonl"; default from the file name.
        header: CSV/TSV only: the first line names the columns (default).
        quoting: CSV/TSV only: "minimal" (fields may be quoted, the csv
            module's rule) or "none" (quotes are text, as GLUE's TSVs).
        max_line_bytes: longest allowed line (record) in bytes.
        on_bad_row: "error" or "skip" (row-level problems only).
    """

    path: str
    text_column: object = "text"
    text_b_column: object = None
    label_column: object = "label"
    format: str = None
    header: bool = True
    quoting: str = "minimal"
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    on_bad_row: str = "error"
    skipped: int = dataclasses.field(default=0, compare=False)
    skip_reasons: dict = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self):
        self.path = os.fspath(self.path)
        if self.format is None:
            self.format = guess_format(self.path)
        if self.format not in FORMATS:
            raise DataFileError(f"format={self.format!r} for {self.path!r} is not one of "
                                f"{', '.join(FORMATS)}.")
        if self.on_bad_row not in ("error", "skip"):
            raise ValueError(f"on_bad_row must be 'error' or 'skip', got {self.on_bad_row!r}.")
        if self.quoting not in ("minimal", "none"):
            raise ValueError(f"quoting must be 'minimal' or 'none', got {self.quoting!r}.")
        if not isinstance(self.max_line_bytes, int) or self.max_line_bytes < 16:
            raise ValueError(f"max_line_bytes must be an integer >= 16, got "
                             f"{self.max_line_bytes!r}.")

    @property
    def pair(self):
        return self.text_b_column is not None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def guess_format(path):
    """"csv", "tsv" or "jsonl" from a file name (".gz" ignored)."""
    name = os.path.basename(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, fmt in ((".csv", "csv"), (".tsv", "tsv"), (".tab", "tsv"), (".txt", "tsv"),
                        (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl")):
        if name.endswith(suffix):
            return fmt
    raise DataFileError(f"Cannot tell the format of {path!r} from its name; name it .csv, "
                        ".tsv or .jsonl (optionally .gz), or pass format='csv'|'tsv'|'jsonl'.")


def _open_binary(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"Data file {path!r} does not exist; check the path.")
    if os.path.isdir(path):
        raise DataFileError(f"Data file {path!r} is a directory; pass a file (for a GLUE "
                            "task folder use --glue TASK --data-dir DIR).")
    handle = open(path, "rb")
    magic = handle.read(2)
    handle.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=handle, mode="rb")
    return handle


def _check_encoding(path, first_bytes, boms_only=False):
    boms = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
            (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
    for bom, name in boms:
        if first_bytes.startswith(bom):
            raise DataFileError(
                f"{path!r} is encoded as {name} (byte-order mark {bom.hex(' ')}); data files "
                f"must be UTF-8. Convert it, e.g. `iconv -f {name} -t UTF-8 IN > OUT`.")
    if not boms_only and b"\x00" in first_bytes:
        raise DataFileError(
            f"{path!r} line 1 holds NUL bytes, as UTF-16 text without a byte-order mark "
            "does; data files must be UTF-8. Convert it, e.g. `iconv -f UTF-16 -t UTF-8`.")


def iter_lines(path, max_line_bytes=DEFAULT_MAX_LINE_BYTES):
    """(line number, decoded line) for each line of a UTF-8 file, gzipped or not.

    Reads at most `max_line_bytes + 1` bytes per line, so a file without line
    breaks fails at once with a `DataFileError` instead of being read whole.
    """
    with _open_binary(path) as handle:
        number = 0
        while True:
            raw = handle.readline(max_line_bytes + 1)
            if not raw:
                return
            number += 1
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            elif number == 1:
                _check_encoding(path, raw[:4], boms_only=True)
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise DataFileError(
                    f"{path!r} line {number} is longer than {max_line_bytes:,} bytes "
                    "(max_line_bytes); is it one huge line, or a file of another format? "
                    "Put one example per line, or raise max_line_bytes.")
            if number == 1:
                _check_encoding(path, raw[:4096])
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataFileError(
                    f"{path!r} line {number} is not valid UTF-8 (byte {raw[error.start]:#04x} "
                    f"at column {error.start + 1}); data files must be UTF-8.") from None
            yield number, text


def _resolve_column(spec, role, column, header):
    """The 0-based index (CSV/TSV) of `column`, or raises naming what exists."""
    if column is None:
        return None
    if isinstance(column, int) and not isinstance(column, bool):
        return column
    column = str(column)
    if header is not None and column in header:
        return header.index(column)
    if column.isdigit():
        return int(column)
    available = ", ".join(repr(c) for c in header) if header else "none (header=False)"
    raise DataFileError(f"{spec.path!r} line 1: no column {column!r} for --{role}-column; "
                        f"the columns are {available}. Pass one of them, or a 0-based index.")


class _BadRow(Exception):
    pass


def _records(spec):
    """(line, fields list or dict) for each record of the file."""
    lines = iter_lines(spec.path, spec.max_line_bytes)
    if spec.format == "jsonl":
        for number, text in lines:
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                yield number, _BadRow(f"is not valid JSON ({error.msg} at column {error.colno})")
                continue
            if not isinstance(value, (dict, list)):
                yield number, _BadRow(f"is a JSON {type(value).__name__}, not an object")
                continue
            yield number, value
        return
    delimiter = "," if spec.format == "csv" else "\t"
    quoting = csv.QUOTE_NONE if spec.quoting == "none" else csv.QUOTE_MINIMAL
    # Track the physical line each record starts on (quoted fields may span lines).
    state = {"line": 0}

    def counted():
        for number, text in lines:
            state["line"] = number
            yield text

    reader = csv.reader(counted(), delimiter=delimiter, quoting=quoting, strict=False)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataFileError(f"{spec.path!r} line {state['line']}: {error}.") from None
        line, start = start, state["line"] + 1
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield line, fields


def _field(spec, fields, column, index, role):
    if isinstance(fields, dict):
        if isinstance(column, int) or (isinstance(column, str) and column.isdigit()
                                       and column not in fields):
            keys = list(fields)
            if int(column) >= len(keys):
                raise _BadRow(f"has {len(keys)} fields, no index {column} for --{role}-column")
            return fields[keys[int(column)]]
        if column not in fields:
            raise _BadRow(f"has no key {column!r} for --{role}-column (keys: "
                          f"{', '.join(repr(k) for k in fields)})")
        return fields[column]
    if index is None:  # a JSON array row: columns by index only
        if not (isinstance(column, int) or str(column).isdigit()):
            raise _BadRow(f"is a JSON array; name --{role}-column by 0-based index, "
                          f"not {column!r}")
        index = int(column)
    if index >= len(fields):
        raise _BadRow(f"has {len(fields)} fields, too few for --{role}-column {column!r} "
                      f"(index {index})")
    return fields[index]


def _as_text(value, column, role):
    if value is None:
        raise _BadRow(f"has no value in --{role}-column {column!r}")
    if isinstance(value, (dict, list)):
        raise _BadRow(f"holds a JSON {type(value).__name__} in --{role}-column {column!r}")
    return value if isinstance(value, str) else json.dumps(value)


def _bad(spec, line, reason):
    """Raises for a bad row, or counts it when skipping."""
    message = f"{spec.path!r} line {line} {reason}."
    if spec.on_bad_row == "error":
        raise DataFileError(message + " Fix the row, or pass --skip-bad-rows to skip and "
                            "count such rows.")
    spec.skipped += 1
    kind = reason.split(" (")[0]
    spec.skip_reasons[kind] = spec.skip_reasons.get(kind, 0) + 1


def iter_rows(spec, with_labels=True):
    """Yields a `Row` per example of `spec`, streaming.

    Args:
        spec: a `FileSpec`.
        with_labels: read `spec.label_column` (False for prediction).

    Raises:
        FileNotFoundError: the file does not exist.
        DataFileError: see the module docstring.
    """
    spec.skipped = 0
    spec.skip_reasons = {}
    records = _records(spec)
    indices = {}
    roles = [("text", spec.text_column), ("text-b", spec.text_b_column)]
    if with_labels:
        roles.append(("label", spec.label_column))
    header = None
    if spec.format != "jsonl":
        if spec.header:
            first = next(records, None)
            if first is None:
                raise DataFileError(f"{spec.path!r} is empty: no header and no examples.")
            if isinstance(first[1], _BadRow):
                raise DataFileError(f"{spec.path!r} line 1 {first[1]}.")
            header = [h.strip() for h in first[1]]
        for role, column in roles:
            indices[role] = _resolve_column(spec, role, column, header)
    for line, fields in records:
        if isinstance(fields, _BadRow):
            _bad(spec, line, str(fields))
            continue
        try:
            text = _as_text(_field(spec, fields, spec.text_column, indices.get("text"),
                                   "text"), spec.text_column, "text")
            if not text.strip():
                raise _BadRow(f"has an empty text in --text-column {spec.text_column!r}")
            text_b = None
            if spec.text_b_column is not None:
                text_b = _as_text(_field(spec, fields, spec.text_b_column,
                                         indices.get("text-b"), "text-b"),
                                  spec.text_b_column, "text-b")
                if not text_b.strip():
                    raise _BadRow("has an empty text in --text-b-column "
                                  f"{spec.text_b_column!r}")
            label = None
            if with_labels:
                label = _as_text(_field(spec, fields, spec.label_column, indices.get("label"),
                                        "label"), spec.label_column, "label").strip()
                if not label:
                    raise _BadRow(f"has an empty label in --label-column {spec.label_column!r}")
        except _BadRow as reason:
            _bad(spec, line, str(reason))
            continue
        yield Row(line, text, text_b, label)


def _as_number(value):
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclasses.dataclass
class LabelInfo:
    """What the labels are: class names (in id order) or a regression target."""

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
        return 1 if self.regression else len(self.names)

    def to_json(self):
        return {"kind": self.kind, "names": self.names}

    @classmethod
    def from_json(cls, value):
        return cls(kind=value["kind"], names=value.get("names"))


def infer_labels(spec, task=None, label_names=None):
    """Reads a training split once and returns its `LabelInfo` and example count.

    Classification labels are the distinct values, sorted (numerically when
    all are integers); labels that are numbers with a fraction (e.g. "3.8"),
    or `task="regression"`, make a regression task.

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
    for row in iter_rows(spec):
        number = _as_number(row.label)
        if label_names is not None and task != "regression" and row.label not in label_names:
            _bad(spec, row.line, f"has label {row.label!r} in --label-column "
                 f"{spec.label_column!r}, not one of {label_names}")
            continue
        if number is None:
            if task == "regression":
                _bad(spec, row.line, f"has label {row.label!r} in --label-column "
                     f"{spec.label_column!r}, not a number (task: regression)")
                continue
            first_word = first_word or (row.line, row.label)
        else:
            first_number = first_number or (row.line, row.label)
            fractional = fractional or not float(number).is_integer()
        if first_number and first_word and task != "classification":
            raise DataFileError(
                f"{spec.path!r}: the label column {spec.label_column!r} mixes numbers (line "
                f"{first_number[0]}: {first_number[1]!r}) and words (line {first_word[0]}: "
                f"{first_word[1]!r}). Fix the rows, or pass --task classification to treat "
                "every label as a class name.")
        if len(values) <= 100_000:
            values.add(row.label)
        count += 1
    if count == 0:
        skipped = f" ({spec.skipped} bad rows skipped)" if spec.skipped else ""
        raise DataFileError(f"{spec.path!r} holds no examples{skipped}; a split needs at "
                            "least one labelled row.")
    if task == "regression" or (task is None and label_names is None and fractional
                                and not first_word):
        return LabelInfo("regression"), count
    if label_names is not None:
        return LabelInfo("classification", list(label_names)), count
    if first_word is None:
        names = sorted(values, key=lambda v: (float(v), v))
    else:
        names = sorted(values)
    if len(names) < 2:
        raise DataFileError(f"{spec.path!r}: every training label is {names[0]!r}; a "
                            "classifier needs at least 2 classes (or pass --task regression).")
    return LabelInfo("classification", names), count


def label_id(labels, spec, row):
    """The training id (or float target) of `row.label`, or raises / counts it."""
    if labels.regression:
        number = _as_number(row.label)
        if number is None:
            return _bad(spec, row.line, f"has label {row.label!r} in --label-column "
                        f"{spec.label_column!r}, not a number (the task is regression)")
        return number
    index = labels.ids.get(row.label)
    if index is None:
        shown = labels.names if len(labels.names) <= 20 else labels.names[:20] + ["..."]
        return _bad(spec, row.line, f"has label {row.label!r} in --label-column "
                    f"{spec.label_column!r}, which the training split does not have "
                    f"(training labels: {shown})")
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
        raise DataFileError(f"{spec.path!r} holds no examples{skipped}; the split is empty.")
    return count


def read_texts(stream, spec_like=None):
    """Rows of unlabelled texts from an open text stream (e.g. stdin), as JSONL or lines.

    Each line is a JSON object (with the spec's text columns) or, when it
    does not start with "{", the text itself.
    """
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFileError(f"<stdin> line {number} is not valid JSON ({error.msg}).") \
                    from None
            text_column = spec_like.text_column if spec_like else "text"
            text_b_column = spec_like.text_b_column if spec_like else None
            if text_column not in value:
                raise DataFileError(f"<stdin> line {number} has no key {text_column!r} "
                                    f"(keys: {', '.join(map(repr, value))}).")
            text_b = value.get(text_b_column) if text_b_column else None
            if text_b_column and text_b is None:
                raise DataFileError(f"<stdin> line {number} has no key {text_b_column!r}.")
            yield Row(number, str(value[text_column]), text_b, None)
        else:
            yield Row(number, line.rstrip("\r\n"), None, None)


def open_text(path):
    """An iterable of text lines of a UTF-8 file (helper for tests and tools)."""
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8")
