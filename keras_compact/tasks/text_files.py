"""Labelled text files: CSV, TSV, JSONL and plain text, gzipped or not, read as streams.

Plain Python (no TensorFlow): rows are read one line at a time, each line
bounded by `max_line_bytes`, so neither a large file nor a file without line
breaks is ever held whole; `keras_compact.tasks.datasets` feeds the rows to
tf.data. The labels (`LabelInfo`, `infer_labels`, `label_id`,
`count_examples`) live in `keras_compact.tasks.labels`.

Every problem is a `DataFileError` (a `ValueError`) that names the file, the
line, and where it applies the column and the value, and says how to fix it:
a missing file, a UTF-16 or otherwise non-UTF-8 file, an over-long line, a
missing column, a row with too few fields, an empty text, a mixed-type label
column, a label that the training split does not have, an empty split. With
`on_bad_row="skip"`, row-level problems (missing field, empty text, unknown or
bad label, a record with another field count than the header, a CSV record
that is not valid CSV) skip the row and are counted instead
(`FileSpec.skipped` after a pass).

Formats: CSV (double quotes may enclose fields, which may then span lines;
RFC 4180); TSV (quotes are plain text unless `quoting="minimal"`, so a
record is exactly one line, as GLUE's files); JSONL (one JSON object or
array per line); "text" (one unlabelled text per line, for prediction;
`.txt` files). A CSV/TSV record whose field count differs from the header's
is a bad row: an unquoted comma or tab would otherwise shift the columns
and turn text into labels. `path="-"` reads standard input with the same
rules. Only regular files (and "-") are read: a FIFO or device would block.

Example:
```python
spec = FileSpec("train.csv", text_column="sentence", label_column="label")
for row in iter_rows(spec):
    row.line, row.text, row.label        # 2, "A fine film.", "positive"
```
"""

import csv
import dataclasses
import json
import os

from keras_compact.tasks.lines import DEFAULT_MAX_LINE_BYTES
from keras_compact.tasks.lines import STDIN
from keras_compact.tasks.lines import DataFileError
from keras_compact.tasks.lines import guess_format
from keras_compact.tasks.lines import iter_lines
from keras_compact.tasks.lines import shown
from keras_compact.tasks.lines import where

FORMATS = ("csv", "tsv", "jsonl", "text")


@dataclasses.dataclass
class Row:
    """One example: its 1-based (first) line, text, optional second text, raw label.

    `end_line` is the record's last physical line (a quoted CSV field may
    hold line breaks); None when it is `line`.
    """

    line: int
    text: str
    text_b: str = None
    label: str = None
    end_line: int = None


@dataclasses.dataclass
class FileSpec:
    """Where one split's examples are and how to read them.

    Attributes:
        path: the file (.csv, .tsv, .jsonl, .json, .txt, each optionally
            .gz), or "-" for standard input.
        text_column, text_b_column, label_column: column names, or 0-based
            indices (ints, or strings of digits when no column has that
            name). `text_b_column` None: single texts. `label_column` None:
            an unlabelled file (prediction).
        format: "csv", "tsv", "jsonl" or "text" (one text per line, no
            labels); default from the file name (required for "-").
        header: CSV/TSV only: the first line names the columns (default).
        quoting: CSV/TSV only: "minimal" (fields may be double-quoted, the
            csv module's rule) or "none" (quotes are text). Default: minimal
            for CSV, none for TSV.
        max_line_bytes: longest allowed line in bytes, and longest CSV field.
        on_bad_row: "error" or "skip" (row-level problems only).

    After a pass, `skipped` and `skip_reasons` count the bad rows skipped,
    and `multiline` the records that spanned several lines.
    """

    path: str
    text_column: object = "text"
    text_b_column: object = None
    label_column: object = "label"
    format: str = None
    header: bool = True
    quoting: str = None
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    on_bad_row: str = "error"
    skipped: int = dataclasses.field(default=0, compare=False)
    skip_reasons: dict = dataclasses.field(default_factory=dict, compare=False)
    multiline: int = dataclasses.field(default=0, compare=False)

    def __post_init__(self):
        self.path = os.fspath(self.path)
        if self.format is None:
            if self.path == STDIN:
                raise DataFileError("Reading standard input needs its format: one of "
                                    f"{', '.join(FORMATS)} (--input-format).")
            self.format = guess_format(self.path)
        if self.format not in FORMATS:
            raise DataFileError(f"The format {self.format!r} of {shown(self.path)} is not one "
                                f"of {', '.join(FORMATS)}.")
        if self.on_bad_row not in ("error", "skip"):
            raise ValueError(f"on_bad_row must be 'error' or 'skip', got {self.on_bad_row!r}.")
        if self.quoting is None:
            self.quoting = "minimal" if self.format == "csv" else "none"
        if self.quoting not in ("minimal", "none"):
            raise ValueError(f"quoting must be 'minimal' or 'none', got {self.quoting!r}.")
        if (not isinstance(self.max_line_bytes, int) or isinstance(self.max_line_bytes, bool)
                or self.max_line_bytes < 16):
            raise ValueError(f"max_line_bytes (--max-line-bytes) must be an integer >= 16, "
                             f"got {self.max_line_bytes!r}.")
        if self.format == "text":
            self.header = False
            if self.text_column in ("text", None):
                self.text_column = 0
            if self.label_column is not None or self.text_b_column is not None:
                what = "labels" if self.label_column is not None else "second texts"
                raise DataFileError(
                    f"{shown(self.path)} is read as plain text, one text per line (.txt or "
                    f"--input-format text), which holds no {what}; give a labelled or paired "
                    "file as .csv, .tsv or .jsonl.")

    @property
    def pair(self):
        return self.text_b_column is not None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _resolve_column(spec, role, column, header):
    """The 0-based index (CSV/TSV) of `column`, or raises naming what exists."""
    if column is None:
        return None
    if isinstance(column, int) and not isinstance(column, bool):
        return column
    column = str(column)
    if header is not None and column in header:
        positions = [i for i, name in enumerate(header) if name == column]
        if len(positions) > 1:
            raise DataFileError(
                f"{shown(spec.path)} line 1: the header names {column!r} (--{role}-column) "
                f"{len(positions)} times (0-based columns {', '.join(map(str, positions))}); "
                "rename the duplicates, or pass the column's 0-based index.")
        return positions[0]
    if column.isdigit():
        return int(column)
    available = ", ".join(repr(c) for c in header) if header else "none (header=False)"
    raise DataFileError(f"{shown(spec.path)} line 1: no column {column!r} for --{role}-column; "
                        f"the columns are {available}. Pass one of them, or a 0-based index.")


class _BadRow(Exception):
    pass


def _unique_keys(pairs):
    """A JSON object's dict; a key given twice would silently keep one of two values."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _BadRow(f"has the key {twice!r} twice; keep one")
    return value


def _records(spec):
    """(first line, last line, fields list or dict, or a _BadRow) per record."""
    lines = iter_lines(spec.path, spec.max_line_bytes)
    if spec.format == "jsonl":
        for number, text in lines:
            if not text.strip():
                continue
            try:
                value = json.loads(text, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as error:
                yield number, number, _BadRow(
                    f"is not valid JSON ({error.msg} at column {error.colno})")
                continue
            except _BadRow as reason:
                yield number, number, reason
                continue
            if not isinstance(value, (dict, list)):
                yield number, number, _BadRow(
                    f"is a JSON {type(value).__name__}, not an object")
                continue
            yield number, number, value
        return
    if spec.format == "text" or spec.quoting == "none":
        # One record per line: quotes are text, so no record spans lines.
        for number, text in lines:
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            yield number, number, [text] if spec.format == "text" else text.split(
                "," if spec.format == "csv" else "\t")
        return
    # Quoted fields may hold delimiters and line breaks (RFC 4180). strict:
    # a quote that opens a field and closes mid-field is an error, not text
    # that runs on over the following rows.
    csv.field_size_limit(max(csv.field_size_limit(), spec.max_line_bytes + 1))
    state = {"line": 0}

    def counted():
        for number, text in lines:
            state["line"] = number
            yield text

    reader = csv.reader(counted(), delimiter="," if spec.format == "csv" else "\t",
                        quoting=csv.QUOTE_MINIMAL, strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            line, end, start = start, state["line"], state["line"] + 1
            if "field limit" in str(error):
                reason = (f"has a field longer than {spec.max_line_bytes:,} characters "
                          "(--max-line-bytes); raise --max-line-bytes")
            else:
                reason = (f"is not valid {spec.format.upper()} ({error}): a double quote "
                          "opens a quoted field that does not close cleanly; quote the "
                          'whole field and double the quotes inside it (""), or pass '
                          "--quoting none if quotes are plain text")
            yield line, end, _BadRow(reason)
            continue
        line, end, start = start, state["line"], state["line"] + 1
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield line, end, fields


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


def _as_text(value, column, role, string=False):
    """A field as text; `string`: a JSON text must be a JSON string, not 12 or true."""
    if value is None:
        raise _BadRow(f"has no value in --{role}-column {column!r}")
    if isinstance(value, (dict, list)) or (string and not isinstance(value, str)):
        kind = {bool: "boolean", int: "number", float: "number"}.get(type(value),
                                                                    type(value).__name__)
        raise _BadRow(f"holds a JSON {kind} in --{role}-column {column!r}, not a string")
    return value if isinstance(value, str) else json.dumps(value)


def _bad(spec, line, reason, end=None):
    """Raises for a bad row, or counts it when skipping."""
    message = f"{shown(spec.path)} {where(line, end)} {reason}."
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
    spec.multiline = 0
    records = _records(spec)
    indices = {}
    roles = [("text", spec.text_column), ("text-b", spec.text_b_column)]
    if with_labels:
        roles.append(("label", spec.label_column))
    header = None
    width = None  # the field count every CSV/TSV record must have
    if spec.format in ("csv", "tsv"):
        if spec.header:
            first = next(records, None)
            if first is None:
                raise DataFileError(f"{shown(spec.path)} is empty: no header and no examples.")
            if isinstance(first[2], _BadRow):
                raise DataFileError(f"{shown(spec.path)} {where(*first[:2])} (the header) "
                                    f"{first[2]}.")
            header = [h.strip() for h in first[2]]
            width = (len(header), "the header")
        for role, column in roles:
            indices[role] = _resolve_column(spec, role, column, header)
    elif spec.format == "text":
        indices["text"] = 0
    for line, end, fields in records:
        if isinstance(fields, _BadRow):
            _bad(spec, line, str(fields), end)
            continue
        if spec.format in ("csv", "tsv"):
            if width is None:  # no header: the first record sets the count
                width = (len(fields), f"line {line}")
            if len(fields) != width[0]:
                separator = "comma" if spec.format == "csv" else "tab"
                _bad(spec, line, f"has {len(fields)} fields where {width[1]} has {width[0]} "
                     f"(an unquoted {separator} inside a text shifts the columns"
                     + ("; quote such texts" if spec.format == "csv" else "") + ")", end)
                continue
        try:
            text = _as_text(_field(spec, fields, spec.text_column, indices.get("text"),
                                   "text"), spec.text_column, "text", spec.format == "jsonl")
            if not text.strip():
                raise _BadRow(f"has an empty text in --text-column {spec.text_column!r}")
            text_b = None
            if spec.text_b_column is not None:
                text_b = _as_text(_field(spec, fields, spec.text_b_column,
                                         indices.get("text-b"), "text-b"),
                                  spec.text_b_column, "text-b", spec.format == "jsonl")
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
            _bad(spec, line, str(reason), end)
            continue
        if end != line:
            spec.multiline += 1
        yield Row(line, text, text_b, label, end if end != line else None)
