"""Peak memory and time of one raw-text request of a given size, in a clean
process (tensorflow and tensorflow_text only, as TF Serving).

    python memory_probe.py SAVED_MODEL NUM_BYTES

Prints "PROBE {json}" with "max_rss_mb" (the process's peak resident set
size after the request) and "seconds" (the fastest of three requests).
"""

import sys

for _name in ("keras_compact", "keras_hub"):
    sys.modules[_name] = None  # any import of them now raises ImportError

import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (registers the tokenizer ops)

if __name__ == "__main__":
    path, num_bytes = sys.argv[1], int(sys.argv[2])
    serve = tf.saved_model.load(path).signatures["serving_default"]
    serve(text=tf.constant(["warm up the graph"]))
    words = "Lists are mutable sequences of objects and tuples are not. "
    text = tf.constant([(words * (num_bytes // len(words) + 1))[:num_bytes]])
    times = []
    for _ in range(3):
        start = time.perf_counter()
        outputs = serve(text=text)
        next(iter(outputs.values())).numpy()
        times.append(time.perf_counter() - start)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("PROBE " + json.dumps({"max_rss_mb": peak_kb / 1024, "seconds": min(times)}))
