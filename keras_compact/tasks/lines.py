"""Lines of a data file: UTF-8, gzipped or not, bounded, from a regular file or stdin.

The byte layer under `keras_compact.tasks.text_files` (plain Python, no
TensorFlow). `iter_lines` reads at most `max_line_bytes + 1` bytes per
line, so a file without line breaks fails at once instead of being read
whole; it refuses what it cannot read sensibly before reading it: a missing
path, a directory, a FIFO, socket or device (it would block or never end;
"-" is standard input), a UTF-16/32 or otherwise non-UTF-8 file, and names
the file and the last line read when a gzip file is truncated or corrupt.
Every problem is a `DataFileError` (a `ValueError`), or `FileNotFoundError`.
"""

import codecs
import contextlib
import gzip
import io
import os
import stat
import sys
import zlib

# One line (one CSV record) may hold at most this many bytes: a file without
# line breaks fails fast instead of being read whole.
DEFAULT_MAX_LINE_BYTES = 1 << 20
STDIN = "-"  # the path that means standard input


class DataFileError(ValueError):
    """A data file cannot be used; the message names file, line, column, value."""


def shown(path):
    """How messages name a data file: its quoted path, or <stdin>."""
    return "<stdin>" if path == STDIN else repr(path)


def where(line, end=None):
    """"line 5", or "lines 5-9" for a record over several physical lines."""
    return f"line {line}" if end is None or end == line else f"lines {line}-{end}"


def guess_format(path):
    """"csv", "tsv", "jsonl" or "text" from a file name (".gz" ignored)."""
    name = os.path.basename(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, fmt in ((".csv", "csv"), (".tsv", "tsv"), (".tab", "tsv"), (".txt", "text"),
                        (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl")):
        if name.endswith(suffix):
            return fmt
    raise DataFileError(f"Cannot tell the format of {path!r} from its name; name it .csv, "
                        ".tsv, .jsonl or .txt (one text per line), optionally .gz (predict "
                        "also takes --input-format).")


def check_readable(path):
    """Raises unless `path` is "-" (stdin) or an existing regular file.

    A FIFO, socket or device would block or never end, so it is refused
    before it is opened.
    """
    if path == STDIN:
        return
    if not os.path.exists(path):
        raise FileNotFoundError(f"Data file {path!r} does not exist; check the path.")
    if os.path.isdir(path):
        raise DataFileError(f"Data file {path!r} is a directory; pass a file (for a GLUE "
                            "task folder use --glue TASK --data-dir DIR).")
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else (
            "a socket" if stat.S_ISSOCK(mode) else "a device or other special file")
        raise DataFileError(f"Data file {path!r} is {kind}, not a regular file; pass a "
                            "file, or '-' to read standard input.")


def _open_binary(path):
    check_readable(path)
    if path == STDIN:
        handle = sys.stdin.buffer
        magic = handle.peek(2)[:2] if hasattr(handle, "peek") else b""
        stream = contextlib.nullcontext(handle)  # never close the process's stdin
        return gzip.GzipFile(fileobj=handle, mode="rb") if magic == b"\x1f\x8b" else stream
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
                f"{shown(path)} is encoded as {name} (byte-order mark {bom.hex(' ')}); data files "
                f"must be UTF-8. Convert it, e.g. `iconv -f {name} -t UTF-8 IN > OUT`.")
    if not boms_only and b"\x00" in first_bytes:
        raise DataFileError(
            f"{shown(path)} line 1 holds NUL bytes, as UTF-16 text without a byte-order mark "
            "does; data files must be UTF-8. Convert it, e.g. `iconv -f UTF-16 -t UTF-8`.")


def iter_lines(path, max_line_bytes=DEFAULT_MAX_LINE_BYTES):
    """(line number, decoded line) for each line of a UTF-8 file, gzipped or not.

    Reads at most `max_line_bytes + 1` bytes per line, so a file without line
    breaks fails at once with a `DataFileError` instead of being read whole.
    A truncated or corrupt gzip file is a `DataFileError` naming the file and
    the last line read.
    """
    with _open_binary(path) as handle:
        number = 0
        while True:
            try:
                raw = handle.readline(max_line_bytes + 1)
            except (EOFError, zlib.error, gzip.BadGzipFile) as error:
                reached = f"after line {number}" if number else "before its first line"
                raise DataFileError(
                    f"{shown(path)} is a damaged gzip file: {error or type(error).__name__} "
                    f"({reached}); the file is truncated or corrupt, copy or compress it "
                    "again.") from None
            if not raw:
                return
            number += 1
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            elif number == 1:
                _check_encoding(path, raw[:4], boms_only=True)
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise DataFileError(
                    f"{shown(path)} line {number} is longer than {max_line_bytes:,} bytes "
                    "(--max-line-bytes); is it one huge line, or a file of another format? "
                    "Put one example per line, or raise --max-line-bytes.")
            if number == 1:
                _check_encoding(path, raw[:4096])
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataFileError(
                    f"{shown(path)} line {number} is not valid UTF-8 (byte {raw[error.start]:#04x} "
                    f"at column {error.start + 1}); data files must be UTF-8.") from None
            yield number, text



def open_text(path):
    """An iterable of text lines of a UTF-8 file (helper for tests and tools)."""
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8")
