"""Helper process for test_multi_worker.py: 3 pretraining steps through
`run_pretraining`, as one of two MultiWorkerMirroredStrategy workers
(TF_CONFIG on loopback ports) or as a single process, on the same global
batch and initial weights; prints the losses and saves the final weights."""

import json
import os
import sys


def main(task_index, ports, init_weights, batch_file, output_dir):
    from tests.distribution.strategy_run import join_workers
    from tests.distribution.strategy_run import load_batch

    strategy = join_workers(task_index, ports)
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_compact.training import pretrain
    from tests.conftest import TINY_ALBERT

    features, labels = load_batch(batch_file)
    # Example by example, so the workers' shards make up the same global batch.
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).repeat().batch(
        8, drop_remainder=True)

    original_build = pretrain.build_pretrainer

    def build_from_weights(*args, **kwargs):
        model = original_build(*args, **kwargs)
        model.load_weights(init_weights)
        # Keras clips per replica under a strategy (see the README); without
        # clipping the update does not depend on how the batch is split.
        model.optimizer.global_clipnorm = None
        return model

    pretrain.build_pretrainer = build_from_weights
    losses = []
    logger = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: losses.append(float(logs["loss"])))
    result = pretrain.run_pretraining(
        output_dir, dict(TINY_ALBERT, dropout=0.0), dataset, total_steps=3, batch_size=8,
        steps_per_checkpoint=1, learning_rate=1e-2, warmup_steps=1, strategy=strategy,
        verbose=0, callbacks=[logger])
    weights = result["pretrainer"].get_weights()
    np.save(os.path.join(os.path.dirname(output_dir), f"weights_{task_index}.npy"),
            np.concatenate([np.ravel(w) for w in weights]))
    print("RESULT " + json.dumps({"losses": losses, "chief": result["chief"]}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
