"""Command-line interface: `keras-compact SUBCOMMAND ...`."""
