"""Reading the vocabulary files of the tokenizers (shared by both kinds)."""

import os


class VocabularyFileNotFoundError(FileNotFoundError, ValueError):
    """A vocabulary path that does not exist (both a FileNotFoundError and a ValueError)."""


def read_existing_file(path, missing_error, missing_message):
    """Returns `(path, bytes)` of a file that must exist.

    Args:
        path: a path-like.
        missing_error: the exception class raised when `path` is not a file.
        missing_message: its message, with `{path}` standing for `repr(path)`.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise missing_error(missing_message.format(path=repr(path)))
    with open(path, "rb") as handle:
        return path, handle.read()
