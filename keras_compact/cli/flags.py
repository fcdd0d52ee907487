"""Library errors in command-line words: Python argument names become flags.

The library names the argument a Python caller passed (`sequence_length=0`,
"backbone is a directory"); a command that maps flags to a job translates
them (`--seq-len 0`, "--backbone is a directory") with `flags_in_errors`.
"""

import contextlib
import dataclasses
import re

# Library arguments whose flag is not --name-with-dashes.
FLAG_NAMES = {"sequence_length": "--seq-len"}


def flag_for(name):
    """The flag of the library argument `name` (`sequence_length` -> `--seq-len`)."""
    return FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def job_flags(job):
    """{argument: flag} for every field of a job dataclass, for `flags_in_errors`."""
    return {field.name: flag_for(field.name) for field in dataclasses.fields(job)}


def translate(message, flags):
    """`message` with each `name=` (and a leading `name `) of `flags` as its flag.

    Args:
        message: the library's message.
        flags: {Python argument name: "--flag"}.
    """
    for name, flag in flags.items():
        message = re.sub(rf"(?<![\w\-.]){re.escape(name)}=(?!=)", f"{flag} ", message)
        message = re.sub(rf"^{re.escape(name)}(?= )", flag, message)
    return message


@contextlib.contextmanager
def flags_in_errors(flags):
    """Re-raises a ValueError or OSError inside with its message translated."""
    try:
        yield
    except OSError as error:
        if error.strerror:
            error.strerror = translate(error.strerror, flags)
        elif error.args and isinstance(error.args[0], str):
            error.args = (translate(error.args[0], flags), *error.args[1:])
        raise
    except ValueError as error:
        if error.args and isinstance(error.args[0], str):
            error.args = (translate(error.args[0], flags), *error.args[1:])
        raise
