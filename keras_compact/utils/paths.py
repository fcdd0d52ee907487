"""Checks of the paths a command is given, with messages that name the flag."""

import errno
import os


def require_file(path, flag, what="a file"):
    """Raises unless `path` is an existing regular file.

    A directory passed where a file is expected is reported as a directory
    (not as "does not exist"), a missing path as missing.

    Args:
        path: the path given.
        flag: how the user passed it, e.g. "--teacher".
        what: what the flag expects, e.g. "the classifier.keras from finetune".

    Raises:
        IsADirectoryError, FileNotFoundError: with `flag`, `path` and `what`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"{flag} is a directory; pass {what}", path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, f"{flag} does not exist; pass {what}", path)
    if not os.path.isfile(path):
        raise ValueError(f"{flag} {path!r} is not a regular file; pass {what}.")
    return path
