"""Entry point of the `keras-compact` command.

Each subcommand lives in its own module under `keras_compact.cli` and exposes
`register(subparsers)`, which adds its parser and sets `func` to the function
that runs it. Modules are imported lazily by name so `keras-compact --help`
does not pay for importing TensorFlow.
"""

import argparse
import errno
import importlib
import os
import sys
import zipfile

# Modules that contribute subcommands, in the order `--help` lists them.
COMMAND_MODULES = (
    "keras_compact.cli.model_commands",
    "keras_compact.cli.data_commands",
    "keras_compact.cli.train_commands",
    "keras_compact.cli.task_commands",
    "keras_compact.cli.distill_commands",
    "keras_compact.cli.pretrain_distill_commands",
    "keras_compact.cli.export_commands",
)


def _import_tensorflow_quietly():
    """Imports TensorFlow with its C++ start-up lines hidden.

    On a CPU machine every command would otherwise open with "Could not find
    cuda drivers", "failed call to cuInit" and CPU-feature lines: TensorFlow
    writes them to file descriptor 2 before its log level
    (TF_CPP_MIN_LOG_LEVEL) applies or at error level, so only pointing the
    descriptor elsewhere during the import and device discovery hides them. A user who
    sets TF_CPP_MIN_LOG_LEVEL=0 sees everything; an import error is raised
    after stderr is back.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow

                # Device discovery logs "failed call to cuInit" at error
                # level on machines without a GPU; do it here, once.
                tensorflow.config.list_physical_devices("GPU")
            except ImportError:
                pass  # the command that needs it reports it, with stderr back
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-compact",
        description="Compact BERT-family models (ALBERT, TinyBERT) for Keras 3.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


# Why an OSError happened, in the user's terms (errno -> cause and fix).
_OS_CAUSES = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EACCES: "permission denied; use a path you may write, or fix its permissions",
    errno.EPERM: "operation not permitted; use a path you may write",
    errno.EROFS: "read-only file system; write somewhere writable",
    errno.ENOTDIR: "a component of the path is a file, not a directory",
    errno.EISDIR: "is a directory; pass a file",
    errno.EEXIST: "already exists",
    errno.ENOENT: "does not exist",
}


def describe_error(error):
    """One line naming the path (when known) and the cause of `error`."""
    if isinstance(error, OSError) and (error.filename is not None or error.strerror):
        cause = error.strerror or str(error)
        if error.errno is not None and cause == os.strerror(error.errno):
            # The system's wording ("No space left on device"): add the fix.
            cause = _OS_CAUSES.get(error.errno, cause)
        paths = [os.fsdecode(p) if isinstance(p, (str, bytes, os.PathLike)) else str(p)
                 for p in (error.filename, error.filename2) if p is not None]
        message = f"{' -> '.join(paths)}: {cause}" if paths else cause
    elif isinstance(error, zipfile.BadZipFile):
        message = f"not a readable .keras/zip file ({error}); the file is damaged or " \
                  "truncated, write it again"
    elif type(error).__module__.startswith("tensorflow"):
        # tf.errors.OpError: the op's message, without the graph dump.
        message = f"{type(error).__name__}: {getattr(error, 'message', str(error))}"
    else:
        message = str(error)
    return " ".join(message.split())


def _handled_errors():
    handled = [ValueError, OSError, zipfile.BadZipFile]
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and hasattr(tensorflow, "errors"):
        handled.append(tensorflow.errors.OpError)
    return tuple(handled)


def main(argv=None):
    """Runs one subcommand; bad input or a failing file system exit with code 2.

    The error boundary: a ValueError (bad value), an OSError (missing,
    unwritable, read-only or full storage; a path that is a file or a
    directory), a damaged .keras/zip file or a TensorFlow data error prints
    ONE line, `keras-compact CMD: error: PATH: cause`, and returns 2. Every
    write goes through `keras_compact.utils.atomic`, so a failed command
    leaves no partial output. Set KERAS_COMPACT_TRACEBACK=1 for the traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    _import_tensorflow_quietly()
    # The console script skips the eager imports of `keras_compact/__init__`
    # (for a fast --help); a command that runs gets the same registered
    # classes as `import keras_compact`.
    from keras_compact import register_keras_classes

    register_keras_classes()
    try:
        return args.func(args) or 0
    except Exception as error:
        if not isinstance(error, _handled_errors()) or os.environ.get(
                "KERAS_COMPACT_TRACEBACK"):
            raise
        sys.stdout.flush()
        print(f"keras-compact {args.command}: error: {describe_error(error)}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
