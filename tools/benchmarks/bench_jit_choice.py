"""XLA or not, on a CPU-only TensorFlow machine: why the models keep Keras'
default there (no XLA; see the README's "Speed").

For each dtype policy, times the same models compiled with jit_compile=True
(XLA) and False (TensorFlow's graph executor with oneDNN kernels), in one
process, alternating: the ALBERT-base pretraining step (batch 8, sequence
128; tokens/s) and tinybert_4 classifier inference (sequence 128, batch 1
and 32; median ms). Also prints the matmul rate of each path (a 1024x768 by
768x3072 product), the roofline the step runs against.

    python tools/benchmarks/bench_jit_choice.py [--policies float32 mixed_bfloat16]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from speed_probe import BATCH  # noqa: E402
from speed_probe import SEQ  # noqa: E402
from speed_probe import best_tokens_per_second  # noqa: E402
from speed_probe import pretraining_batch  # noqa: E402

from keras_compact import CompactBackbone  # noqa: E402
from keras_compact.models.classifier import TextClassifier  # noqa: E402
from keras_compact.models.pretrainer import AlbertPretrainer  # noqa: E402
from keras_compact.optimizers import make_lamb_optimizer  # noqa: E402
from keras_compact.utils.latency import median_latency_ms  # noqa: E402

PATHS = {True: "XLA", False: "oneDNN"}


def train_flops_per_token(backbone, predictions=20):
    """Matmul FLOPs of one training token: 3x the forward (forward, and the
    two backward products), 2 FLOPs a multiply-add."""
    hidden, inner = backbone.hidden_dim, backbone.intermediate_dim
    per_layer = 4 * hidden * hidden + 2 * hidden * inner + 2 * SEQ * hidden
    projection = backbone.embedding_dim * hidden
    mlm_head = predictions / SEQ * (hidden * backbone.embedding_dim
                                    + backbone.embedding_dim * backbone.vocabulary_size)
    forward = backbone.num_layers * per_layer + projection + mlm_head
    return 3 * 2 * forward


def matmul_gflops(dtype, jit_compile, repeats=20):
    a = tf.cast(tf.random.normal((1024, 768)), dtype)
    b = tf.cast(tf.random.normal((768, 3072)), dtype)
    matmul = tf.function(tf.matmul, jit_compile=jit_compile)
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            result = matmul(a, b)
        result.numpy()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * 1024 * 768 * 3072 / best / 1e9


def train_rates(policy, steps, rounds):
    data = None
    models = {}
    for jit in PATHS:
        backbone = CompactBackbone.from_preset("albert_base", dtype=policy)
        model = AlbertPretrainer(backbone)
        model.compile(optimizer=make_lamb_optimizer(BATCH, total_steps=10_000),
                      jit_compile=jit)
        if data is None:
            data = tf.data.Dataset.from_tensors(
                pretraining_batch(backbone.vocabulary_size)).repeat()
        models[jit] = model
    flops = train_flops_per_token(models[True].backbone)
    return best_tokens_per_second(models, data, steps, rounds), flops


def inference_latencies(policy, repeats):
    models = {}
    for jit in PATHS:
        model = TextClassifier(CompactBackbone.from_preset("tinybert_4", dtype=policy),
                               num_classes=2)
        model.jit_compile = jit
        models[jit] = model
    return {batch: median_latency_ms(models, SEQ, batch, repeats=repeats)
            for batch in (1, 32)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    for policy in args.policies:
        dtype = "bfloat16" if "bfloat16" in policy else "float32"
        peak = {jit: matmul_gflops(dtype, jit) for jit in PATHS}
        print(f"{policy}: matmul {dtype} GFLOP/s: XLA {peak[True]:.0f}, "
              f"oneDNN {peak[False]:.0f}", flush=True)
        rate, flops = train_rates(policy, args.steps, args.rounds)
        print(f"{policy}: train tokens/s (ALBERT-base): XLA {rate[True]:.1f}, oneDNN "
              f"{rate[False]:.1f}, oneDNN/XLA {rate[False] / rate[True]:.3f}", flush=True)
        print(f"{policy}: train matmul GFLOP/s ({flops / 1e6:.0f} MFLOP/token): "
              + ", ".join(f"{PATHS[jit]} {rate[jit] * flops / 1e9:.0f} "
                          f"({rate[jit] * flops / 1e9 / peak[jit]:.0%} of its matmul rate)"
                          for jit in PATHS), flush=True)
        for batch, ms in inference_latencies(policy, args.repeats).items():
            print(f"{policy}: infer batch {batch} (tinybert_4) ms: XLA {ms[True]:.2f}, "
                  f"oneDNN {ms[False]:.2f}, speedup of oneDNN {ms[True] / ms[False]:.3f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
