"""Where Keras int8 time goes on CPU TensorFlow: one MiniLM feed-forward
matmul ([batch*128, 384] x [384, 1536]) and one attention projection
(EinsumDense "btc,cnd->btnd", 384 -> 12 x 32), float32 vs Keras' int8 path
pieces, in one run:

- float32: the float layer;
- int8 layer: the Keras layer after `quantize("int8")` (activation
  quantization + int8 x int8 -> int32 matmul + rescale);
- int8 matmul only: `tf.matmul(int8, int8, output_type=int32)`, the kernel
  TensorFlow picks for it;
- activation quantize only: Keras' per-token abs-max quantizer.

    python tools/benchmarks/bench_int8_kernels.py [--tokens 4096] [--threads 0]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def timed(fn, calls=10):
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096, help="batch x sequence")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    import keras
    import numpy as np

    from keras.quantizers import abs_max_quantize

    x = tf.constant(np.random.default_rng(0).standard_normal((args.tokens, 384)), tf.float32)
    x3 = tf.reshape(x, (-1, 128, 384))
    dense = keras.layers.Dense(1536)
    dense.build((None, 384))
    einsum = keras.layers.EinsumDense("btc,cnd->btnd", output_shape=(128, 12, 32))
    einsum.build((None, 128, 384))
    results = {}
    for name, layer, inputs in (("dense 384->1536", dense, x), ("einsum 384->12x32", einsum, x3)):
        call = tf.function(lambda v, layer=layer: layer(v))
        results[f"{name} float32"] = timed(lambda: call(inputs), args.calls)
        layer.quantize("int8")
        call = tf.function(lambda v, layer=layer: layer(v))
        results[f"{name} Keras int8"] = timed(lambda: call(inputs), args.calls)
    a = tf.cast(tf.clip_by_value(x * 20, -127, 127), tf.int8)
    w = tf.cast(tf.random.uniform((384, 1536), -127, 127), tf.int8)
    int8_mm = tf.function(lambda: tf.matmul(a, w, output_type=tf.int32))
    float_mm = tf.function(lambda: tf.matmul(x, tf.cast(w, tf.float32)))
    quant = tf.function(lambda: abs_max_quantize(x, axis=-1))
    results["matmul only: float32"] = timed(float_mm, args.calls)
    results["matmul only: int8 x int8 -> int32"] = timed(int8_mm, args.calls)
    results["activation abs-max quantize only"] = timed(quant, args.calls)
    base = results["dense 384->1536 float32"]
    print(f"{args.tokens} tokens, {args.threads or os.cpu_count()} thread(s); "
          "ratio = dense float32 time / this")
    print("| op | ms | ratio |")
    print("|---|---|---|")
    for name, ms in results.items():
        print(f"| {name} | {ms:.2f} | {base / ms:.2f}x |")


if __name__ == "__main__":
    main()
