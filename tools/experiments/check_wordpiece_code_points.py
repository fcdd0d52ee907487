#!/usr/bin/env python3
"""WordPieceTokenizer against transformers' BertTokenizer on every code point.

Tokenizes "a{c}b A{c}{c}" for each of the 1,112,064 Unicode scalar values
with the all-MiniLM-L6-v2 (uncased) vocabulary, and with a cased vocab.txt if
given, and prints the mismatches (code point, category, name).

    python tools/experiments/check_wordpiece_code_points.py [--cased-vocab PATH/vocab.txt]
"""

import argparse
import collections
import os
import sys
import time
import unicodedata

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cased-vocab", default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
    import tensorflow as tf
    from transformers import BertTokenizer

    from keras_compact.pretrained import minilm_l6_dir
    from keras_compact.tokenizers import WordPieceTokenizer

    folder = minilm_l6_dir()
    cases = [("uncased", WordPieceTokenizer.from_huggingface(folder),
              BertTokenizer.from_pretrained(folder))]
    if args.cased_vocab:
        cases.append(("cased", WordPieceTokenizer(args.cased_vocab, lowercase=False),
                      BertTokenizer(args.cased_vocab, do_lower_case=False)))
    code_points = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    texts = [f"a{chr(cp)}b A{chr(cp)}{chr(cp)}" for cp in code_points]
    for name, ours, reference in cases:
        start = time.perf_counter()
        want = reference(texts, add_special_tokens=False)["input_ids"]
        tokenize = tf.function(lambda s, t=ours: t(s))
        got = []
        for i in range(0, len(texts), 65536):
            got += tokenize(tf.constant(texts[i:i + 65536])).to_list()
        bad = [cp for cp, a, b in zip(code_points, got, want) if a != b]
        categories = collections.Counter(unicodedata.category(chr(cp)) for cp in bad)
        print(f"{name}: {len(code_points)} code points, {len(bad)} mismatched "
              f"{dict(categories)} ({time.perf_counter() - start:.0f} s)")
        for cp in bad[:100]:
            print(f"  U+{cp:04X} {unicodedata.category(chr(cp))} "
                  f"{unicodedata.name(chr(cp), '?')}")


if __name__ == "__main__":
    main()
