"""Entry point of the `keras-compact` command.

Each subcommand lives in its own module under `keras_compact.cli` and exposes
`register(subparsers)`, which adds its parser and sets `func` to the function
that runs it. Modules are imported lazily by name so `keras-compact --help`
does not pay for importing TensorFlow.
"""

import argparse
import importlib
import sys

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


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError) as error:
        # Bad input: a one-line message that names the value, no traceback.
        print(f"keras-compact {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
