"""Accuracy of the deployed forms on the bundled task's test split.

Runs the task classifier (tools/benchmarks/deploy_models.py) on every test paragraph at
sequence 128 as: the Keras model (float32, features from the training
pipeline's packer), the int8 SavedModel (Keras `Model.quantize`), LiteRT
float32 and LiteRT dynamic-range int8 (both raw text in, tokenizer inside),
and the ONNX export float32 / int8 (ONNX Runtime, the training packer's ids).
Prints each accuracy, its difference from float32 (goal: within 1 point),
and the largest |logit| difference of LiteRT float32 vs Keras on raw text
(goal: 1e-4). Uses the artifacts tools/benchmarks/bench_deploy.py builds.

    python tools/benchmarks/check_deploy_accuracy.py [--limit 0]
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default="/tmp/keras_compact_deploy")
    parser.add_argument("--classifier", default=None)
    parser.add_argument("--limit", type=int, default=0, help="first N test examples (0: all)")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    import keras
    import numpy as np
    import tensorflow as tf

    import bench_deploy
    from keras_compact.data.labelled_task import load_section_task
    from keras_compact.export import TextPacker
    from keras_compact.export.litert import litert_interpreter

    manifest = bench_deploy.build("task", args.work_dir, args.classifier)
    out = os.path.join(args.work_dir, "task")
    test = load_section_task()["test"]
    if args.limit:
        test = test[: args.limit]
    texts = [t for t, _ in test]
    labels = np.array([y for _, y in test])
    model = keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)
    with open(manifest["tokenizer"], "rb") as handle:
        packer = TextPacker(handle.read(), bench_deploy.SEQ_LEN)
    int8 = tf.saved_model.load(os.path.join(out, "savedmodel_int8")).signatures[
        "serving_default"]
    runners = {name: litert_interpreter(os.path.join(out, f"{name}.tflite")).get_signature_runner()
               for name in ("litert", "litert_int8")}
    from keras_compact.export.litert import litert_text_ops
    from keras_compact.preprocessing import pack

    import onnxruntime

    sessions = {name: onnxruntime.InferenceSession(os.path.join(out, "onnx", file),
                                                   providers=["CPUExecutionProvider"])
                for name, file in (("onnx", "model.onnx"), ("onnx_int8", "model.int8.onnx"))}
    fast = litert_text_ops(manifest["tokenizer"])
    same_ids = []
    logits = {name: [] for name in ("keras", "savedmodel_int8", "litert", "litert_int8",
                                    "onnx", "onnx_int8")}
    for start in range(0, len(texts), args.batch):
        batch = texts[start: start + args.batch]
        features = packer(tf.constant(batch))
        # The ids LiteRT's tokenizer (tensorflow-text's fast op) gives, for the report.
        fast_ids = pack(fast.tokenize(tf.constant(batch)), sequence_length=bench_deploy.SEQ_LEN,
                        cls_id=fast.cls_id, sep_id=fast.sep_id, pad_id=fast.pad_id)
        same_ids.append((features["token_ids"].numpy() == fast_ids["token_ids"].numpy()).all(1))
        logits["keras"].append(keras.ops.convert_to_numpy(model.predict_on_batch(features)))
        logits["savedmodel_int8"].append(int8(text=tf.constant(batch))["logits"].numpy())
        for name, runner in runners.items():
            logits[name].append(runner(text=np.array(batch))["logits"])
        feeds = {k: v.numpy().astype(np.int32) for k, v in features.items()}
        for name, session in sessions.items():
            logits[name].append(session.run(["logits"], feeds)[0])
    logits = {k: np.concatenate(v) for k, v in logits.items()}
    base = (logits["keras"].argmax(-1) == labels).mean()
    print(f"bundled task test split: {len(texts)} examples, sequence {bench_deploy.SEQ_LEN}")
    print("| model | accuracy | vs float32 (points) | prediction agreement | max abs logit diff |")
    print("|---|---|---|---|---|")
    for name, value in logits.items():
        accuracy = (value.argmax(-1) == labels).mean()
        agree = (value.argmax(-1) == logits["keras"].argmax(-1)).mean()
        diff = np.abs(value - logits["keras"]).max()
        print(f"| {name} | {100 * accuracy:.2f} | {100 * (accuracy - base):+.2f} | "
              f"{100 * agree:.2f}% | {diff:.2e} |")
    same_ids = np.concatenate(same_ids)
    litert_diff = np.abs(logits["litert"] - logits["keras"]).max()
    same_diff = np.abs(logits["litert"] - logits["keras"])[same_ids].max()
    print(f"- LiteRT float32 vs Keras, raw text: max |logit diff| {litert_diff:.2e} over all "
          f"{len(texts)} texts (goal <= 1e-4: {'met' if litert_diff <= 1e-4 else 'NOT met'}); "
          f"{same_diff:.2e} over the {same_ids.sum()} texts whose ids LiteRT's tokenizer "
          f"reproduces exactly ({(~same_ids).sum()} differ: tensorflow-text's "
          "FastSentencepieceTokenize vs the SentencepieceOp the training pipeline uses)")
    onnx_diff = np.abs(logits["onnx"] - logits["keras"]).max()
    print(f"- ONNX float32 vs Keras, same ids: max |logit diff| {onnx_diff:.2e} (goal <= 1e-4: "
          f"{'met' if onnx_diff <= 1e-4 else 'NOT met'})")
    for name in ("savedmodel_int8", "litert", "litert_int8", "onnx", "onnx_int8"):
        points = 100 * abs((logits[name].argmax(-1) == labels).mean() - base)
        print(f"- {name}: {points:.2f} points from float32 (goal <= 1: "
              f"{'met' if points <= 1 else 'NOT met'})")


if __name__ == "__main__":
    main()
