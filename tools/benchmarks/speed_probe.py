"""Times one version of keras_compact: the probe `bench_vs_previous.py` runs.

Prints one JSON line: train tokens/s of the ALBERT-base pretraining step
(batch 8, sequence 128, LAMB) and median `predict_on_batch` latency of a
compiled tinybert_4 classifier (sequence 128, batch 1 and 32), for each
dtype policy; with --vocab, also the p50 latency of that classifier
exported for TF Serving (`export_for_serving`, the version's defaults),
raw paragraphs of the bundled corpus in, at batch 1 and 32. Uses only APIs
every version has had (hence its own latency loop rather than
`keras_compact.utils.latency.median_latency_ms`), and compiles with the defaults
("auto"), so it times what a user of that version gets. Which keras_compact
is timed is whichever `import keras_compact` finds first
(bench_vs_previous.py sets PYTHONPATH); its path is in the output.

Its timing helpers are shared by the other tools/ benchmarks.

    python tools/benchmarks/speed_probe.py --policies float32 mixed_bfloat16
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

BATCH, SEQ, PREDICTIONS = 8, 128, 20


def pretraining_batch(vocabulary_size):
    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(5, vocabulary_size, (BATCH, SEQ)).astype("int32"),
        "segment_ids": (np.arange(SEQ) >= SEQ // 2)[None].repeat(BATCH, 0).astype("int32"),
        "padding_mask": np.ones((BATCH, SEQ), "int32"),
        "mask_positions": np.sort(rng.integers(1, SEQ, (BATCH, PREDICTIONS)), -1).astype("int32"),
    }
    y = {
        "mlm_ids": rng.integers(5, vocabulary_size, (BATCH, PREDICTIONS)).astype("int32"),
        "mlm_weights": np.ones((BATCH, PREDICTIONS), "float32"),
        "sop_label": rng.integers(0, 2, (BATCH,)).astype("int32"),
    }
    return x, y


def best_tokens_per_second(models, data, steps, rounds):
    """Best train tokens/s of each model over `rounds` fits of `steps` steps.

    Each model first fits 2 steps (trace, compile, warm up); then the models
    take turns, so a change in the machine's load hits all of them alike.

    Args:
        models: dict of name -> compiled model taking `data`.
        data: a `tf.data.Dataset` of (batch of BATCH x SEQ, labels).

    Returns:
        dict of name -> tokens/s.
    """
    for model in models.values():
        model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
    seconds = {name: float("inf") for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
            seconds[name] = min(seconds[name], (time.perf_counter() - start) / steps)
    return {name: BATCH * SEQ / s for name, s in seconds.items()}


def corpus_paragraphs():
    """Paragraphs of the bundled corpus over 200 characters: serving inputs."""
    from keras_compact.data import load_default_corpus

    return [p for d in load_default_corpus() for p in d.paragraphs if len(p) > 200]


def serving_times_ms(signatures, paragraphs, batch, repeats):
    """Per-call milliseconds of raw-text serving signatures, interleaved.

    Every call gets different paragraphs (cycling if they run short); each
    signature serves the same batches, taking turns call by call, after 3
    warm-up calls.

    Returns:
        dict of name -> list of `repeats` milliseconds.
    """
    import tensorflow as tf

    texts = [tf.constant([paragraphs[(i * batch + j) % len(paragraphs)]
                          for j in range(batch)]) for i in range(repeats)]
    for serve in signatures.values():
        for t in texts[:3]:
            serve(text=t)
    times = {name: [] for name in signatures}
    for t in texts:
        for name, serve in signatures.items():
            start = time.perf_counter()
            serve(text=t)["probabilities"].numpy()
            times[name].append(1000.0 * (time.perf_counter() - start))
    return times


def train_tokens_per_second(policy, steps):
    import tensorflow as tf

    from keras_compact import CompactBackbone
    from keras_compact.models.pretrainer import AlbertPretrainer
    from keras_compact.optimizers import make_lamb_optimizer

    backbone = CompactBackbone.from_preset("albert_base", dtype=policy)
    model = AlbertPretrainer(backbone)
    model.compile(optimizer=make_lamb_optimizer(BATCH, total_steps=10_000))
    data = tf.data.Dataset.from_tensors(pretraining_batch(backbone.vocabulary_size)).repeat()
    tokens = best_tokens_per_second({policy: model}, data, steps, rounds=2)[policy]
    return tokens, bool(model.jit_compile)


def inference_ms(policy, batch, repeats):
    import keras

    from keras_compact import CompactBackbone
    from keras_compact.models.classifier import TextClassifier

    backbone = CompactBackbone.from_preset("tinybert_4", dtype=policy)
    model = TextClassifier(backbone, num_classes=2)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(5, backbone.vocabulary_size, (batch, SEQ)).astype("int32"),
        "segment_ids": np.zeros((batch, SEQ), "int32"),
        "padding_mask": np.ones((batch, SEQ), "int32"),
    }
    for _ in range(3):
        model.predict_on_batch(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def serving_p50_ms(vocab, repeats):
    import tempfile

    import tensorflow as tf

    from keras_compact import CompactBackbone
    from keras_compact.export import export_for_serving
    from keras_compact.models.classifier import TextClassifier

    model = TextClassifier(CompactBackbone.from_preset("tinybert_4", vocabulary_size=8000,
                                                      dropout=0.0), num_classes=10)
    paragraphs = corpus_paragraphs()
    result = {}
    with tempfile.TemporaryDirectory(prefix="speed_probe_") as work:
        path = export_for_serving(model, vocab, work, "probe", sequence_length=SEQ)
        serve = {"default": tf.saved_model.load(path).signatures["serving_default"]}
        for batch in (1, 32):
            times = serving_times_ms(serve, paragraphs, batch, repeats)["default"]
            result[f"serve_b{batch}_ms"] = float(np.median(times))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--vocab", default=None,
                        help="An 8,000-piece SentencePiece model: also time serving.")
    args = parser.parse_args()
    import keras_compact

    result = {"keras_compact": os.path.dirname(keras_compact.__file__)}
    for policy in args.policies:
        tokens, jit = train_tokens_per_second(policy, args.train_steps)
        result[policy] = {
            "train_tokens_per_s": tokens,
            "train_jit_compile": jit,
            "infer_b1_ms": inference_ms(policy, 1, args.repeats),
            "infer_b32_ms": inference_ms(policy, 32, max(5, args.repeats // 4)),
        }
    if args.vocab:
        result["serving"] = serving_p50_ms(args.vocab, 3 * args.repeats)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
