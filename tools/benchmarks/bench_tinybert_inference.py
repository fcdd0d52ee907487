"""Inference speedup of TinyBERT-4 over BERT-base on this machine.

Both are `TextClassifier`s (2 classes) on the presets' architectures
(`tinybert_4`: L=4, H=312, 12 heads, FFN 1200; `bert_base`: L=12, H=768),
fed random token ids (no padding) at sequence 128, batch 1 and 32, through
`predict_on_batch` in the same process (`median_latency_ms`). Calls alternate between the two
models so drift in the machine's speed hits both alike. Prints the median
milliseconds per call, examples per second and the speedup (the paper
reports 9.4x on its hardware).

    KERAS_BACKEND=tensorflow python tools/benchmarks/bench_tinybert_inference.py [--repeats 10]
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_compact import CompactBackbone  # noqa: E402
from keras_compact import TextClassifier  # noqa: E402
from keras_compact.utils.latency import median_latency_ms  # noqa: E402

SEQ = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    models = {
        name: TextClassifier(CompactBackbone.from_preset(name, dropout=0.0), num_classes=2)
        for name in ("bert_base", "tinybert_4")
    }
    print(f"backend {keras.backend.backend()}, {os.cpu_count()} CPUs, sequence {SEQ}")
    for name, model in models.items():
        print(f"{name:>11}: {model.count_params():,} parameters")
    ratio = models["bert_base"].count_params() / models["tinybert_4"].count_params()
    print(f"parameters: tinybert_4 is {ratio:.1f}x smaller")
    for batch in args.batches:
        ms = median_latency_ms(models, SEQ, batch, repeats=args.repeats, warmup=2)
        line = "  ".join(f"{name} {ms[name]:.1f} ms ({1000 * batch / ms[name]:.0f} ex/s)"
                         for name in models)
        print(f"batch {batch:>2}: {line}  speedup {ms['bert_base'] / ms['tinybert_4']:.2f}x")


if __name__ == "__main__":
    main()
