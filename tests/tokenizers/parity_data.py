"""Reading the parity sentences (shared by the tests and tools/benchmarks/bench_tokenizers.py)."""

import os
import re

SENTENCES_FILE = os.path.join(os.path.dirname(__file__), "parity_sentences.txt")
_ESCAPE = re.compile(r"\\u\{([0-9A-Fa-f]{1,6})\}")


def parity_sentences(path=SENTENCES_FILE):
    """The sentences of parity_sentences.txt with their \\u{XXXX} escapes decoded."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    return [_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), line)
            for line in lines if line and not line.startswith("%%")]
