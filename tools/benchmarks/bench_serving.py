"""Latency of an exported TinyBERT-4-shaped classifier: raw text in,
probabilities out, through the SavedModel's serving signature.

Exports `TextClassifier(CompactBackbone.from_preset("tinybert_4"))` (random
weights; speed does not depend on them) with an 8,000-piece SentencePiece
model trained on the bundled corpus, loads it with `tf.saved_model.load`
(as a server would), and times `serving_default` on paragraphs of the
bundled corpus at batch 1 and 32, sequence 128. Prints p50 / p95 ms of the
default export (padding columns trimmed per batch) and of one exported with
`trim_padding=False` (every call [batch, 128]), calls interleaved, and the
speedup of trimming at p50.

    python tools/benchmarks/bench_serving.py [--repeats 50]
"""

import argparse
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from speed_probe import corpus_paragraphs  # noqa: E402
from speed_probe import serving_times_ms  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.data import default_corpus_text_file
    from keras_compact.data import train_vocabulary
    from keras_compact.data.tokenizer import load_sentencepiece_processor
    from keras_compact.export import export_for_serving

    work_dir = tempfile.TemporaryDirectory(prefix="bench_serving_")
    work = work_dir.name
    vocab = train_vocabulary(default_corpus_text_file(os.path.join(work, "corpus.txt")),
                             os.path.join(work, "spm.model"), vocab_size=8000,
                             max_sentences=50000)
    model = TextClassifier(CompactBackbone.from_preset("tinybert_4", vocabulary_size=8000,
                                                      dropout=0.0), num_classes=10)
    serves = {}
    for trim in (True, False):
        path = export_for_serving(model, vocab, work, "tinybert_4", sequence_length=128,
                                  trim_padding=trim)
        serves[trim] = tf.saved_model.load(path).signatures["serving_default"]
    paragraphs = corpus_paragraphs()
    pieces = [len(ids) + 2 for ids in load_sentencepiece_processor(vocab).encode(paragraphs)]
    print(f"{model.count_params():,} parameters; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.2f}; {len(paragraphs):,} paragraphs, median "
          f"{int(np.median(pieces))} tokens with [CLS]/[SEP], "
          f"{np.mean(np.array(pieces) >= 128):.0%} truncated at 128")
    for batch in (1, 32):
        times = serving_times_ms(serves, paragraphs, batch, args.repeats)
        p50 = {}
        for trim, label in ((True, "trimmed (default)"), (False, "trim_padding=False")):
            p50[trim], p95 = np.percentile(times[trim], [50, 95])
            print(f"batch {batch:>2}, {label:<18}: p50 {p50[trim]:7.1f} ms  p95 {p95:7.1f} ms"
                  f"  ({1000 * batch / p50[trim]:.0f} texts/s at p50)")
        print(f"batch {batch:>2}: trimming speedup at p50 {p50[False] / p50[True]:.2f}x")
    work_dir.cleanup()


if __name__ == "__main__":
    main()
