"""CPU serving speed, raw text in: our exports against ONNX Runtime and
transformers on PyTorch, on the same weights.

Models: the bundled task's classifier (tools/benchmarks/deploy_models.py: the demo's
with --classifier, else a small BERT-shaped one trained once) and the
all-MiniLM-L6-v2 checkpoint as an embedder (mean-pooled sequence output).
Texts: test-split paragraphs joined until each has over 128 tokens, so every
runtime runs the full sequence of 128 at batch 1 and 32.

Runtimes (each gets the same strings; each tokenizes as its users would):
- keras: the Keras model, `predict_on_batch`, features from the in-graph
  tokenizer;
- savedmodel / savedmodel_int8: our raw-text SavedModel, float32 and
  Keras-int8 (`Model.quantize`) weights (the int8 one is what `export`
  refuses to write as too slow; built here from a quantized copy to keep
  the evidence);
- litert / litert_int8: our .tflite, tokenizer inside, float32 and
  dynamic-range int8;
- onnxruntime / onnxruntime_int8: our ONNX export (`export(..., format="onnx",
  quantize="int8")`: Keras' Model.export through tf2onnx; int8 = ONNX
  Runtime's dynamic quantization), fed by the `sentencepiece` library (task)
  or transformers' fast tokenizer (MiniLM);
- torch: transformers' `BertModel` (plus the classifier's Dense head) with
  the same weights (keras_compact.convert.to_huggingface for the task model,
  the checkpoint itself for MiniLM), the same tokenizers as onnxruntime;
- tfidf / fasttext (task model only): raw-text baselines trained here on the
  task's training split, TF-IDF word 1-2-grams + logistic regression
  (scikit-learn) and a fastText supervised classifier (the `fasttext`
  package).

A runtime whose package is missing is skipped, naming what to install. The
first thread setting also measures each task runtime's test accuracy
(`--accuracy-examples`); a PNG plots it against batch-1 latency (`--png`).

Each thread setting runs in its own process (TensorFlow fixes its thread
pools at start-up); within it the runtimes take turns over interleaved
rounds and the fastest call is kept (on a shared machine the least
disturbed one). Prints ms per batch and ratios, from one run:

    python tools/benchmarks/bench_deploy.py --models task minilm --threads 1 2
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SEQ_LEN = 128
RUNTIMES = ("keras", "savedmodel", "savedmodel_int8", "litert", "litert_int8",
            "onnxruntime", "onnxruntime_int8", "torch", "tfidf", "fasttext")
# What to install for each peer runtime: a missing one skips that runtime only.
PEER_PACKAGES = {"onnxruntime": "onnxruntime", "onnxruntime_int8": "onnxruntime",
                 "torch": "torch transformers", "tfidf": "scikit-learn",
                 "fasttext": "fasttext-wheel"}


class SkipRuntime(Exception):
    """A runtime that cannot run here; the message says why and what to install."""


# --------------------------------------------------------------------------- build
def long_texts(count=32, min_chars=1200):
    from keras_compact.data.labelled_task import load_section_task

    texts, current = [], ""
    for text, _ in load_section_task()["test"]:
        current = f"{current} {text}".strip()
        if len(current) >= min_chars:
            texts.append(current)
            current = ""
        if len(texts) == count:
            return texts
    raise SystemExit("not enough test paragraphs")


def build(model_kind, work_dir, classifier_path=None):
    """Writes every runtime's artifact under WORK_DIR/MODEL_KIND; returns a manifest."""
    import numpy as np

    import deploy_models
    from keras_compact.convert.huggingface import to_huggingface
    from keras_compact.export import export
    from keras_compact.export import export_saved_model
    from keras_compact.export.litert import export_litert
    from keras_compact.export.litert import text_archive
    from keras_compact.export.quantize import quantize_model

    out = os.path.join(work_dir, model_kind)
    manifest_path = os.path.join(out, "manifest.json")
    if os.path.isfile(manifest_path):
        with open(manifest_path) as handle:
            return json.load(handle)
    os.makedirs(out, exist_ok=True)
    if model_kind == "task":
        model, labels = deploy_models.task_classifier(os.path.join(work_dir, "classifier"),
                                                      classifier_path)
        tokenizer = labels["vocab"]
        backbone = model.backbone
        export_saved_model(model, tokenizer, os.path.join(out, "savedmodel"), SEQ_LEN)
        export_saved_model(quantize_model(model), tokenizer,
                           os.path.join(out, "savedmodel_int8"), SEQ_LEN)
    else:
        backbone, tokenizer = deploy_models.minilm_backbone()
        model = backbone
        # export_saved_model takes SentencePiece vocabularies; the WordPiece
        # SavedModel is the LiteRT graph (same tokenizer ops), written as is.
        text_archive(model, tokenizer, SEQ_LEN).write_out(
            os.path.join(out, "savedmodel"), verbose=False)
        text_archive(quantize_model(model), tokenizer, SEQ_LEN).write_out(
            os.path.join(out, "savedmodel_int8"), verbose=False)
    model.save(os.path.join(out, "model.keras"))
    export_litert(model, tokenizer, os.path.join(out, "litert.tflite"), SEQ_LEN)
    export_litert(model, tokenizer, os.path.join(out, "litert_int8.tflite"), SEQ_LEN,
                  quantize="int8")
    has_preprocessor = getattr(model, "preprocessor", None) is not None
    export(model, os.path.join(out, "onnx"), format="onnx", sequence_length=SEQ_LEN,
           quantize="int8", vocab=None if has_preprocessor else tokenizer)
    # PyTorch: the BertModel checkpoint (+ the head's weights for the classifier).
    if model_kind == "task":
        to_huggingface(backbone, os.path.join(out, "hf"))
        kernel, bias = model.output_dense.get_weights()
        np.savez(os.path.join(out, "head.npz"), kernel=kernel, bias=bias)
        hf_dir = os.path.join(out, "hf")
    else:
        hf_dir = tokenizer
    if model_kind == "task":
        train_baselines(out)
    manifest = {"kind": model_kind, "tokenizer": tokenizer, "hf_dir": hf_dir,
                "parameters": int(model.count_params())}
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle)
    return manifest


def train_baselines(out):
    """TF-IDF + LR and fastText on the task's training split (each if installed)."""
    from keras_compact.data.labelled_task import load_section_task
    from keras_compact.utils.atomic import atomic_file

    train = load_section_task()["train"]
    texts, labels = [t for t, _ in train], [y for _, y in train]
    try:
        import pickle

        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                                                 min_df=2),
                                 LogisticRegression(C=10.0, max_iter=1000)).fit(texts, labels)
        with atomic_file(os.path.join(out, "tfidf.pkl")) as temp, open(temp, "wb") as handle:
            pickle.dump(pipeline, handle)
    except ImportError:
        print("# tfidf baseline skipped: pip install scikit-learn", file=sys.stderr)
    try:
        import fasttext
    except ImportError:
        print("# fasttext baseline skipped: pip install fasttext-wheel", file=sys.stderr)
        return
    path = os.path.join(out, "fasttext_train.txt")
    with open(path, "w", encoding="utf-8") as handle:
        for text, label in train:
            handle.write(f"__label__{label} {_one_line(text)}\n")
    # 200k bigram buckets of 64 dims: 60 MB instead of the default 2M x 100 (800 MB).
    fasttext.train_supervised(path, epoch=10, wordNgrams=2, dim=64, bucket=200_000, seed=0,
                              thread=1, verbose=0).save_model(os.path.join(out, "fasttext.bin"))
    os.remove(path)


def _one_line(text):  # fastText reads one example per line
    return " ".join(text.split())


# --------------------------------------------------------------------------- measure
def timed(fn, budget_s, min_calls=2):
    """The fastest of at least `min_calls` calls within `budget_s`, in ms."""
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * min(times)


def host_tokenizer(manifest):
    """strings -> int32 (ids, segments, mask) [batch, 128], outside TensorFlow."""
    import numpy as np

    if manifest["kind"] == "task":
        import sentencepiece as spm

        processor = spm.SentencePieceProcessor(model_file=manifest["tokenizer"])
        cls, sep = processor.piece_to_id("[CLS]"), processor.piece_to_id("[SEP]")

        def encode(texts):
            ids = np.zeros((len(texts), SEQ_LEN), np.int32)
            for row, pieces in enumerate(processor.encode(list(texts))):
                row_ids = [cls] + pieces[: SEQ_LEN - 2] + [sep]
                ids[row, : len(row_ids)] = row_ids
            return ids, np.zeros_like(ids), (ids > 0).astype(np.int32)

        return encode
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(manifest["tokenizer"])

    def encode(texts):
        batch = tokenizer(list(texts), max_length=SEQ_LEN, truncation=True,
                          padding="max_length", return_tensors="np")
        return (batch["input_ids"].astype(np.int32), batch["token_type_ids"].astype(np.int32),
                batch["attention_mask"].astype(np.int32))

    return encode


def make_runner(name, manifest, out, threads):
    """A function of a list of strings for runtime `name`; SkipRuntime if it cannot run."""
    if name in ("tfidf", "fasttext") and manifest["kind"] != "task":
        raise SkipRuntime(f"{name}: a text classifier baseline, task model only")
    try:
        return _runner(name, manifest, out, threads)
    except ImportError:
        raise SkipRuntime(f"{name}: pip install {PEER_PACKAGES.get(name, name)}") from None


def _runner(name, manifest, out, threads):
    import numpy as np

    if name == "tfidf":
        import pickle

        path = os.path.join(out, "tfidf.pkl")
        if not os.path.isfile(path):
            raise SkipRuntime("tfidf: not trained (delete the work dir to rebuild)")
        with open(path, "rb") as handle:
            pipeline = pickle.load(handle)
        return pipeline.predict_proba
    if name == "fasttext":
        import fasttext

        path = os.path.join(out, "fasttext.bin")
        if not os.path.isfile(path):
            raise SkipRuntime("fasttext: not trained (delete the work dir to rebuild)")
        model = fasttext.load_model(path)
        return lambda texts: model.predict([_one_line(t) for t in texts])

    if name in ("keras",):
        import keras
        import tensorflow as tf

        from keras_compact.export.litert import litert_text_ops
        from keras_compact.preprocessing import pack as pack_ids

        model = keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)
        ops = litert_text_ops(manifest["tokenizer"])
        pack = tf.function(lambda texts: pack_ids(
            ops.tokenize(texts), sequence_length=SEQ_LEN, cls_id=ops.cls_id, sep_id=ops.sep_id,
            pad_id=ops.pad_id))
        return lambda texts: model.predict_on_batch(pack(tf.constant(texts)))
    if name.startswith("savedmodel"):
        import tensorflow as tf

        serve = tf.saved_model.load(os.path.join(out, name)).signatures["serving_default"]
        return lambda texts: serve(text=tf.constant(texts))
    if name.startswith("litert"):
        from keras_compact.export.litert import litert_interpreter

        interpreter = litert_interpreter(os.path.join(out, name + ".tflite"),
                                         num_threads=threads)
        runner = interpreter.get_signature_runner()
        return lambda texts: runner(text=np.array(texts))
    encode = host_tokenizer(manifest)
    if name.startswith("onnxruntime"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        model_file = "model.int8.onnx" if name.endswith("int8") else "model.onnx"
        session = ort.InferenceSession(os.path.join(out, "onnx", model_file), options,
                                       providers=["CPUExecutionProvider"])
        output = ["logits" if manifest["kind"] == "task" else "embedding"]

        def run(texts):
            ids, segments, mask = encode(texts)
            return session.run(output, {"token_ids": ids, "segment_ids": segments,
                                        "padding_mask": mask})
        return run
    if name == "torch":
        import torch
        from transformers import BertModel

        torch.set_num_threads(threads)
        bert = BertModel.from_pretrained(manifest["hf_dir"]).eval()
        head = None
        if manifest["kind"] == "task":
            weights = np.load(os.path.join(out, "head.npz"))
            head = torch.nn.Linear(*weights["kernel"].shape)
            head.weight.data = torch.from_numpy(weights["kernel"].T.copy())
            head.bias.data = torch.from_numpy(weights["bias"])

        @torch.inference_mode()
        def run(texts):
            ids, segments, mask = (torch.from_numpy(a.astype(np.int64)) for a in encode(texts))
            result = bert(input_ids=ids, token_type_ids=segments, attention_mask=mask)
            if head is not None:
                return head(result.pooler_output)
            m = mask[:, :, None].float()
            return (result.last_hidden_state * m).sum(1) / m.sum(1)
        return run
    raise ValueError(name)


def predicted_labels(name, output):
    """Class ids from one runtime's output for a batch (task model)."""
    import numpy as np

    if name == "fasttext":
        return np.array([int(labels[0].replace("__label__", "")) for labels in output[0]])
    if isinstance(output, dict):
        output = output["logits"]
    elif isinstance(output, list):
        output = output[0]
    return np.asarray(output.detach() if hasattr(output, "detach") else output).argmax(-1)


def accuracies(runners, count, batch=32):
    """Each runner's accuracy on the first `count` test paragraphs."""
    import numpy as np

    from keras_compact.data.labelled_task import load_section_task

    test = load_section_task()["test"][:count]
    texts, labels = [t for t, _ in test], np.array([y for _, y in test])
    scores = {}
    for name, run in runners.items():
        predicted = np.concatenate([predicted_labels(name, run(texts[i: i + batch]))
                                    for i in range(0, len(texts), batch)])
        scores[name] = float((predicted == labels).mean())
    return scores


def child(args):
    """One thread setting: prints one JSON line of {runtime: {batch: ms}}."""
    threads = args.threads[0] or os.cpu_count()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    manifest = build(args.models[0], args.work_dir, args.classifier)
    out = os.path.join(args.work_dir, args.models[0])
    texts = long_texts()
    runners, skipped = {}, {}
    for name in args.runtimes:
        try:
            runners[name] = make_runner(name, manifest, out, threads)
        except SkipRuntime as reason:
            skipped[name] = str(reason)
            print(f"# skipped {reason}", file=sys.stderr, flush=True)
    scores = (accuracies(runners, args.accuracy_examples)
              if args.accuracy_examples and manifest["kind"] == "task" else {})
    for run in runners.values():  # warm-up: tracing, allocation
        for b in args.batches:
            run(texts[:b])
    # Rounds interleave the runtimes, so load from other processes on a shared
    # machine hits them alike; the fastest call of all rounds is kept.
    samples = {name: {str(b): [] for b in args.batches} for name in runners}
    for round_index in range(args.rounds):
        for name, run in runners.items():
            for b in args.batches:
                samples[name][str(b)].append(timed(lambda: run(texts[:b]), args.seconds))
        print(f"# {args.models[0]} threads={threads} round {round_index + 1}: "
              + json.dumps({n: {b: round(min(v), 1) for b, v in per.items()}
                            for n, per in samples.items()}), file=sys.stderr, flush=True)
    results = {name: {b: min(v) for b, v in per.items()} for name, per in samples.items()}
    print(json.dumps({"threads": threads, "results": results, "skipped": skipped,
                      "accuracy": scores}), flush=True)


def plot(measured, path):
    """Accuracy against batch-1 latency, one marker per runtime and thread setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = next((m["accuracy"] for m in measured if m["accuracy"]), {})
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for marker, m in zip("os^v", measured):
        for name, accuracy in scores.items():
            ms = m["results"].get(name, {}).get("1")
            if ms:
                axes.scatter(ms, 100 * accuracy, marker=marker)
                axes.annotate(f"{name} ({m['threads']}t)", (ms, 100 * accuracy), fontsize=7,
                              xytext=(3, 3), textcoords="offset points")
    axes.set(xscale="log", xlabel="batch-1 latency, ms (log scale)",
             ylabel="test accuracy, % (bundled section task)",
             title="Accuracy against latency, raw text in")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"\nPNG: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["task", "minilm"],
                        choices=["task", "minilm"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2],
                        help="intra-op threads per setting; 0 = all cores")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="time budget per (runtime, batch, round)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved rounds; the fastest call is kept")
    parser.add_argument("--work-dir", default="/tmp/keras_compact_deploy")
    parser.add_argument("--classifier", default=None,
                        help="a fine-tuned classifier.keras (task.json, vocab/spm.model beside)")
    parser.add_argument("--accuracy-examples", type=int, default=500,
                        help="test paragraphs for each task runtime's accuracy (0: none)")
    parser.add_argument("--png", default=None,
                        help="accuracy-vs-latency plot (default WORK_DIR/accuracy_latency.png)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    task_measured = []
    for kind in args.models:
        build(kind, args.work_dir, args.classifier)  # once, before timing
        for index, threads in enumerate(args.threads):
            command = [sys.executable, os.path.abspath(__file__), "--child", "--models", kind,
                       "--threads", str(threads), "--seconds", str(args.seconds),
                       "--rounds", str(args.rounds),
                       "--accuracy-examples", str(args.accuracy_examples if index == 0 else 0),
                       "--work-dir", args.work_dir, "--batches", *map(str, args.batches),
                       "--runtimes", *args.runtimes]
            if args.classifier:
                command += ["--classifier", args.classifier]
            line = subprocess.run(command, check=True, stdout=subprocess.PIPE,
                                  text=True).stdout.strip().splitlines()[-1]
            measured = json.loads(line)
            report(kind, measured, args.batches)
            if kind == "task":
                task_measured.append(measured)
    if any(m["accuracy"] for m in task_measured):
        plot(task_measured, args.png or os.path.join(args.work_dir, "accuracy_latency.png"))


def report(kind, measured, batches):
    results, threads = measured["results"], measured["threads"]
    print(f"\n## {kind}, {threads} thread(s), sequence {SEQ_LEN}, raw text in "
          "(ms per batch, fastest call of interleaved rounds; ratio = that runtime's speed / "
          "float32 SavedModel's)")
    print("| runtime | " + " | ".join(f"batch {b} ms | ratio" for b in batches) + " |")
    print("|---|" + "---|---|" * len(batches))
    for name, per_batch in results.items():
        cells = []
        for b in batches:
            ms = per_batch[str(b)]
            base = results.get("savedmodel", {}).get(str(b))
            cells.append(f"{ms:.1f} | {base / ms:.2f}x" if base else f"{ms:.1f} | -")
        print(f"| {name} | " + " | ".join(cells) + " |")
    pairs = []
    sm, ort_ = results.get("savedmodel"), results.get("onnxruntime")
    if sm and ort_ and "1" in sm:
        pairs.append(f"SavedModel vs ONNX Runtime at batch 1: {ort_['1'] / sm['1']:.2f}x "
                     "(goal >= 1.00x)")
    q = results.get("savedmodel_int8")
    if sm and q and "32" in sm:
        pairs.append(f"int8 vs float32 SavedModel at batch 32: {sm['32'] / q['32']:.2f}x "
                     "(goal >= 1.50x)")
    lq, lf = results.get("litert_int8"), results.get("litert")
    if lq and lf and "32" in lf:
        pairs.append(f"LiteRT int8 vs LiteRT float32 at batch 32: {lf['32'] / lq['32']:.2f}x")
    oq = results.get("onnxruntime_int8")
    if oq and ort_:
        pairs += [f"ONNX Runtime int8 vs ONNX Runtime float32 at batch {b}: "
                  f"{ort_[str(b)] / oq[str(b)]:.2f}x" for b in batches]
    if measured.get("accuracy"):
        pairs.append("accuracy on the first test paragraphs: " + ", ".join(
            f"{name} {100 * value:.2f}%" for name, value in measured["accuracy"].items()))
    pairs += [f"skipped {reason}" for reason in measured.get("skipped", {}).values()]
    for line in pairs:
        print(f"- {line}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
