"""Accuracy of the exported formats on the bundled section task's test split.

Exports a fine-tuned section classifier (a .keras file with its
preprocessor inside, as `keras-compact finetune` / the main job write it)
through the library's one entry point, `keras_compact.export.export`:

- `saved_model` float32 (raw text in; served through `serving_default`);
- `onnx` float32 `model.onnx` and the dynamic int8 `model.int8.onnx` it
  writes with `quantize="int8"` (token ids in: the ids come from the
  model's own `model.preprocessor`, as an app would compute them from the
  tokenizer files beside the model);
- with `--litert`, LiteRT float32 and dynamic-range int8 too (raw text in).

Runs each on every test paragraph and prints one table: accuracy,
agreement with Keras' argmax, max |logit diff| against Keras, and the
format's rule as PASS/FAIL: float32 formats must give Keras' logits within
1e-4, int8 formats must stay within 1 accuracy point of Keras float32.

Without a classifier path it fine-tunes a tiny one first (2 layers, H=64,
a 2,000-piece SentencePiece vocabulary, 3,000 training paragraphs at
sequence 64; about 2 minutes on 2 cores), so the tool runs anywhere:

    python tools/benchmarks/check_deploy_accuracy.py [runs/main_job/student/classifier.keras]
        [--work-dir /tmp/keras_compact_check_deploy] [--limit 0] [--litert]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FLOAT_TOLERANCE = 1e-4
INT8_POINTS = 1.0
TINY = dict(num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=256, sharing="none",
            max_sequence_length=128)


def tiny_classifier(work_dir):
    """A small section classifier fine-tuned here (cached in WORK_DIR/tiny)."""
    import keras

    from keras_compact import CompactBackbone
    from keras_compact.data import default_corpus_text_file
    from keras_compact.data import train_vocabulary
    from keras_compact.tasks.named import named_task
    from keras_compact.training.tasks import finetune_task

    out = os.path.join(work_dir, "tiny")
    path = os.path.join(out, "classifier.keras")
    if os.path.isfile(path):
        return path
    keras.utils.set_random_seed(0)
    vocab = os.path.join(out, "vocab", "spm.model")
    if not os.path.isfile(vocab):
        corpus = default_corpus_text_file(os.path.join(out, "corpus.txt"))
        train_vocabulary(corpus, vocab, vocab_size=2000, max_sentences=20000, seed=0)
    backbone = CompactBackbone(vocabulary_size=2000, **TINY)
    task = named_task("sections", max_train_examples=3000, max_eval_examples=200)
    finetune_task(task, backbone, vocab, out, epochs=1, sequence_length=64,
                  learning_rate=2e-3, verbose=0)
    return path


def _check_labels(path, label_names):
    """Refuses a classifier whose task.json names other classes (one line)."""
    from keras_compact.tasks.task_file import read_task_file

    info_path = os.path.join(os.path.dirname(os.path.abspath(path)), "task.json")
    if not os.path.isfile(info_path):
        return
    names = read_task_file(info_path).get("label_names")
    if names is not None and list(names) != list(label_names):
        raise SystemExit(f"{path}: its task.json names the classes {names}, not the bundled "
                         f"section task's {label_names}; pass a classifier fine-tuned on "
                         "the section task.")


def rows_for(logits, labels):
    """(name, accuracy %, agreement %, max |diff|, rule, PASS/FAIL) per format."""
    import numpy as np

    keras_logits = logits["keras"]
    keras_accuracy = 100 * (keras_logits.argmax(-1) == labels).mean()
    rows = []
    for name, value in logits.items():
        accuracy = 100 * (value.argmax(-1) == labels).mean()
        agree = 100 * (value.argmax(-1) == keras_logits.argmax(-1)).mean()
        diff = float(np.abs(value - keras_logits).max())
        if name == "keras":
            rule, verdict = "reference", "-"
        elif "int8" in name:
            rule = f"within {INT8_POINTS:g} point of Keras"
            verdict = "PASS" if abs(accuracy - keras_accuracy) <= INT8_POINTS else "FAIL"
        else:
            rule = f"logits within {FLOAT_TOLERANCE:g}"
            verdict = "PASS" if diff <= FLOAT_TOLERANCE else "FAIL"
        rows.append((name, accuracy, agree, diff, rule, verdict))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("classifier", nargs="?", default=None,
                        help="a fine-tuned section classifier (.keras with its preprocessor); "
                             "default: fine-tune a tiny one")
    parser.add_argument("--work-dir", default="/tmp/keras_compact_check_deploy")
    parser.add_argument("--limit", type=int, default=0, help="first N test examples (0: all)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--litert", action="store_true",
                        help="also LiteRT float32 and int8 (slower to convert)")
    args = parser.parse_args()
    if args.classifier and not os.path.isfile(args.classifier):
        raise SystemExit(f"classifier={args.classifier!r} is not a file; pass the .keras file "
                         "a fine-tuning run wrote (e.g. runs/main_job/.../classifier.keras).")
    import shutil

    import keras
    import numpy as np
    import tensorflow as tf

    from keras_compact.data.labelled_task import load_section_task
    from keras_compact.export import export

    started = time.perf_counter()
    path = args.classifier or tiny_classifier(args.work_dir)
    trained_s = time.perf_counter() - started
    task = load_section_task()
    _check_labels(path, task["label_names"])
    model = keras.saving.load_model(path, compile=False)
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:
        raise SystemExit(f"{path} has no preprocessor; pass a classifier saved by fine-tuning "
                         "(it carries its tokenizer and sequence length).")
    test = task["test"][: args.limit or None]
    texts = [t for t, _ in test]
    labels = np.array([y for _, y in test])

    exports = os.path.join(args.work_dir, "exports")
    shutil.rmtree(exports, ignore_errors=True)
    started = time.perf_counter()
    saved = export(model, os.path.join(exports, "saved_model"), format="saved_model")
    export(model, os.path.join(exports, "onnx"), format="onnx", quantize="int8")
    if args.litert:
        for name, quantize in (("litert", None), ("litert_int8", "int8")):
            export(model, os.path.join(exports, f"{name}.tflite"), format="litert",
                   quantize=quantize)
    export_s = time.perf_counter() - started

    import onnxruntime

    serve = tf.saved_model.load(saved).signatures["serving_default"]
    sessions = {name: onnxruntime.InferenceSession(os.path.join(exports, "onnx", file),
                                                   providers=["CPUExecutionProvider"])
                for name, file in (("onnx", "model.onnx"), ("onnx_int8", "model.int8.onnx"))}
    runners = {}
    if args.litert:
        from keras_compact.export.litert import litert_interpreter

        runners = {name: litert_interpreter(os.path.join(exports, f"{name}.tflite"))
                   .get_signature_runner() for name in ("litert", "litert_int8")}
    logits = {name: [] for name in ("keras", "saved_model", *sessions, *runners)}
    for start in range(0, len(texts), args.batch):
        batch = texts[start: start + args.batch]
        features = preprocessor(tf.constant(batch))
        logits["keras"].append(keras.ops.convert_to_numpy(model.predict_on_batch(features)))
        logits["saved_model"].append(serve(text=tf.constant(batch))["logits"].numpy())
        feeds = {k: keras.ops.convert_to_numpy(v).astype(np.int32) for k, v in features.items()}
        for name, session in sessions.items():
            logits[name].append(session.run(["logits"], feeds)[0])
        for name, runner in runners.items():
            logits[name].append(runner(text=np.array(batch))["logits"])
    logits = {k: np.concatenate(v) for k, v in logits.items()}

    print(f"classifier: {path} ({model.count_params():,} parameters, sequence "
          f"{preprocessor.sequence_length}); bundled section task test split: {len(texts)} "
          f"examples; {'fine-tuned here in %.0f s, ' % trained_s if not args.classifier else ''}"
          f"exported in {export_s:.0f} s")
    print("| format | accuracy (%) | agreement with Keras argmax (%) | max abs logit diff "
          "vs Keras | rule | result |")
    print("|---|---|---|---|---|---|")
    for name, accuracy, agree, diff, rule, verdict in rows_for(logits, labels):
        print(f"| {name} | {accuracy:.2f} | {agree:.2f} | {diff:.2e} | {rule} | {verdict} |")


if __name__ == "__main__":
    main()
