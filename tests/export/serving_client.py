"""A TF Serving stand-in for the export tests: imports only tensorflow and
tensorflow_text (TF Serving links only their ops), loads a SavedModel and
runs one of its signatures through the TF2 loader ("tf2") and/or the TF1
session-based loader that TF Serving uses ("session").

keras_compact and keras_hub are made unimportable before anything loads, so
a SavedModel that needed them would fail here. Keras itself cannot be
blocked: tensorflow_text imports `tf.keras` for its own layers; this script
never uses it.

    python serving_client.py tf2,session SAVED_MODEL INPUTS.json [SIGNATURE]

INPUTS.json maps input names to lists; prints "OUTPUTS {json}" with each
loader's outputs.
"""

import sys

for _name in ("keras_compact", "keras_hub"):
    sys.modules[_name] = None  # any import of them now raises ImportError

import json  # noqa: E402

import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (registers the SentencePiece ops)


def run_tf2(path, inputs, signature_name):
    signature = tf.saved_model.load(path).signatures[signature_name]
    outputs = signature(**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in outputs.items()}


def run_session(path, inputs, signature_name):
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        signature = meta.signature_def[signature_name]
        feed = {signature.inputs[k].name: v for k, v in inputs.items()}
        names = sorted(signature.outputs)
        values = session.run([signature.outputs[n].name for n in names], feed_dict=feed)
        return dict(zip(names, values))


def _plain(array):
    if array.dtype == object:  # tf.string outputs
        return [x.decode("utf-8") for x in array.ravel()]
    return array.tolist()


if __name__ == "__main__":
    loaders, path, inputs_file = sys.argv[1:4]
    signature_name = sys.argv[4] if len(sys.argv) > 4 else "serving_default"
    with open(inputs_file, encoding="utf-8") as handle:
        inputs = json.load(handle)
    runners = {"tf2": run_tf2, "session": run_session}
    results = {}
    for loader in loaders.split(","):
        outputs = runners[loader](path, inputs, signature_name)
        results[loader] = {k: _plain(v) for k, v in outputs.items()}
    loaded = sorted(m for m in sys.modules
                    if m.split(".")[0] in ("keras_compact", "keras_hub") and sys.modules[m])
    print("OUTPUTS " + json.dumps({"outputs": results, "loaded": loaded}))
