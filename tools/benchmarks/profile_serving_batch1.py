"""Where a raw-text SavedModel call spends its time at batch 1.

Times, on the exported task classifier of tools/benchmarks/bench_deploy.py: the whole
`serving_default` call (raw text), the `serve_token_ids` call (model only,
ids in), the in-graph tokenizer + packer alone, an empty concrete-function
call (the fixed cost of calling a SavedModel signature from Python), and
ONNX Runtime's call with its host-side tokenization, in one run.

    python tools/benchmarks/profile_serving_batch1.py [--work-dir DIR] [--threads 1]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def fastest(fn, calls=200):
    fn()
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default="/tmp/keras_compact_deploy")
    parser.add_argument("--model", default="task", choices=["task", "minilm"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import bench_deploy
    from keras_compact.export import TextPacker

    manifest = bench_deploy.build(args.model, args.work_dir)
    out = os.path.join(args.work_dir, args.model)
    text = bench_deploy.long_texts(1)
    loaded = tf.saved_model.load(os.path.join(out, "savedmodel"))
    serve = loaded.signatures["serving_default"]
    rows = {"serving_default (raw text)": fastest(lambda: serve(text=tf.constant(text)),
                                                  args.calls)}
    if "serve_token_ids" in loaded.signatures:
        ids = loaded.signatures["serve_token_ids"]
        with open(manifest["tokenizer"], "rb") as handle:
            packer = TextPacker(handle.read(), bench_deploy.SEQ_LEN)
        features = packer(tf.constant(text))
        rows["serve_token_ids (model only)"] = fastest(lambda: ids(**features), args.calls)
        pack = tf.function(lambda t: packer(t))
        rows["tokenizer + packer only"] = fastest(lambda: pack(tf.constant(text)), args.calls)
    empty = tf.function(lambda t: {"x": tf.identity(t)}).get_concrete_function(
        tf.TensorSpec([None], tf.string))
    rows["empty tf.function call"] = fastest(lambda: empty(tf.constant(text)), args.calls)
    onnx = bench_deploy.make_runner("onnxruntime", manifest, out, args.threads)
    rows["onnxruntime incl. host tokenization"] = fastest(lambda: onnx(text), args.calls)
    encode = bench_deploy.host_tokenizer(manifest)
    rows["host tokenization only"] = fastest(lambda: encode(text), args.calls)
    print(f"{args.model}, batch 1, sequence {bench_deploy.SEQ_LEN}, {args.threads} thread(s), "
          "fastest of the calls")
    print("| part | ms |")
    print("|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()
