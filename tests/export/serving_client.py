"""A TF Serving stand-in for test_export.py: imports only tensorflow and
tensorflow_text (as the server links only their ops), loads a SavedModel
and runs its raw-text signature, through the TF2 loader ("tf2") or the TF1
session-based loader that TF Serving uses ("session")."""

import json
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)


def run_tf2(path, texts):
    signature = tf.saved_model.load(path).signatures["serving_default"]
    return {k: v.numpy().tolist() for k, v in signature(text=tf.constant(texts)).items()}


def run_session(path, texts):
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        signature = meta.signature_def["serving_default"]
        feed = {signature.inputs["text"].name: texts}
        names = sorted(signature.outputs)
        values = session.run([signature.outputs[n].name for n in names], feed_dict=feed)
        return {n: v.tolist() for n, v in zip(names, values)}


if __name__ == "__main__":
    loader, path, texts_file = sys.argv[1:4]
    with open(texts_file, encoding="utf-8") as handle:
        texts = json.load(handle)
    outputs = (run_tf2 if loader == "tf2" else run_session)(path, texts)
    outputs = {k: [x.decode() if isinstance(x, bytes) else x for x in v]
               if k == "labels" else v for k, v in outputs.items()}
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("keras_compact", "keras_hub"))
    print("OUTPUTS " + json.dumps({"outputs": outputs, "leaked": leaked}))
