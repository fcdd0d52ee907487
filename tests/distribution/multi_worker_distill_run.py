"""Helper process for test_multi_worker.py: 3 Distiller steps (every loss on)
as one of two MultiWorkerMirroredStrategy workers or as a single process,
from the same weights on the same global batch; prints the losses."""

import json
import sys


def main(task_index, ports, weights_path, batch_file):
    from tests.distribution.strategy_run import join_workers
    from tests.distribution.strategy_run import load_batch

    strategy = join_workers(task_index, ports)
    import contextlib

    import keras
    import tensorflow as tf

    from tests.training.distill_loss_run import build_distiller

    features, _ = load_batch(batch_file)
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
