"""Inference speedup of TinyBERT-4 over BERT-base on this machine.

Both are `TextClassifier`s (2 classes) on the presets' architectures
(`tinybert_4`: L=4, H=312, 12 heads, FFN 1200; `bert_base`: L=12, H=768),
fed the same random token ids at sequence 128, batch 1 and 32, through
`predict_on_batch` in the same process. Calls alternate between the two
models so drift in the machine's speed hits both alike. Prints the median
milliseconds per call, examples per second and the speedup (the paper
reports 9.4x on its hardware).

    KERAS_BACKEND=tensorflow python tools/bench_tinybert_inference.py [--repeats 10]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_compact import CompactBackbone  # noqa: E402
from keras_compact import TextClassifier  # noqa: E402

SEQ = 128


def inputs(batch, vocabulary_size):
    rng = np.random.default_rng(0)
    return {
        "token_ids": rng.integers(5, vocabulary_size, (batch, SEQ)).astype("int32"),
        "segment_ids": np.zeros((batch, SEQ), "int32"),
        "padding_mask": np.ones((batch, SEQ), "int32"),
    }


def median_ms(models, batch, repeats):
    """{name: median ms} over `repeats` alternating calls after a warm-up."""
    data = {name: inputs(batch, m.backbone.vocabulary_size) for name, m in models.items()}
    for name, model in models.items():
        for _ in range(2):
            model.predict_on_batch(data[name])
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.predict_on_batch(data[name])
            times[name].append(time.perf_counter() - start)
    return {name: 1000.0 * float(np.median(t)) for name, t in times.items()}


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
        ms = median_ms(models, batch, args.repeats)
        line = "  ".join(f"{name} {ms[name]:.1f} ms ({1000 * batch / ms[name]:.0f} ex/s)"
                         for name in models)
        print(f"batch {batch:>2}: {line}  speedup {ms['bert_base'] / ms['tinybert_4']:.2f}x")


if __name__ == "__main__":
    main()
