"""Helper process for test_multi_worker.py: 3 Distiller steps (every loss on)
as one of two MultiWorkerMirroredStrategy workers or as a single process,
from the same weights on the same global batch; prints the losses."""

import json
import os
import sys


def main(task_index, ports, weights_path, batch_file):
    task_index = int(task_index)
    if task_index >= 0:
        os.environ["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [f"localhost:{p}" for p in ports.split(",")]},
            "task": {"type": "worker", "index": task_index}})
    from keras_compact.distribution import make_strategy

    strategy = make_strategy("multi_worker") if task_index >= 0 else None
    import contextlib

    import keras
    import numpy as np
    import tensorflow as tf

    from tests.training.distill_loss_run import build_distiller

    arrays = np.load(batch_file)
    features = {k[2:]: arrays[k] for k in arrays if k.startswith("x_")}
    dataset = tf.data.Dataset.from_tensor_slices(features).repeat().batch(8, drop_remainder=True)
    with strategy.scope() if strategy else contextlib.nullcontext():
        distiller = build_distiller()
        distiller.compile(optimizer=keras.optimizers.SGD(0.05))
    distiller.load_weights(weights_path)
    history = distiller.fit(dataset, epochs=3, steps_per_epoch=1, verbose=0).history
    print("RESULT " + json.dumps({"losses": history["loss"],
                                  "hidden": history["hidden_loss"]}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
