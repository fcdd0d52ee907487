"""Pretraining runs: model.fit with checkpoints, resume, logs and plots.

TF-only input side: it takes `tf.data` datasets (from `keras_compact.data`);
the model itself trains on whichever Keras backend is active. Pass a
`tf.distribute` strategy to train across devices (TensorFlow backend).
"""

import json
import os

import keras

from keras_compact.distribution import is_chief
from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.pretrainer import AlbertPretrainer
from keras_compact.optimizers import make_lamb_optimizer
from keras_compact.analysis import plot_training_curves
from keras_compact.training.checkpointing import AtomicBackupAndRestore
from keras_compact.training.checkpointing import EpochHistoryLogger
from keras_compact.training.checkpointing import resumed_input
from keras_compact.utils.atomic import atomic_file
from keras_compact.utils.atomic import clean_stale_temporaries

MIXED_PRECISION_POLICIES = (None, "mixed_bfloat16", "mixed_float16")

# What a pretraining run writes in its output directory (`--overwrite`
# removes these); the main job's teacher/ and distill/ build on it.
PRETRAIN_OUTPUTS = ("backup", "logs", "history.csv", "pretrainer.keras", "backbone.keras",
                    "curves.png", "backbone_config.json", "vocab", "teacher", "distill")


def read_history_csv(path):
    """Reads a history CSV back into {metric: [values per epoch]}.

    Rows are keyed by their "epoch" column: a row written again for the
    same epoch (an epoch redone after a resume) replaces the earlier one,
    and rows come out in epoch order.
    """
    from keras_compact.training.checkpointing import read_history_rows

    rows = read_history_rows(path)
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            history.setdefault(key, []).append(value)
    return history


def build_pretrainer(
    backbone_config,
    batch_size,
    total_steps,
    learning_rate=None,
    warmup_steps=None,
    mixed_precision=None,
    sentence_task="sop",
    mlm_weight=1.0,
    sentence_weight=1.0,
    jit_compile="auto",
):
    """Builds and compiles an `AlbertPretrainer` from a backbone config.

    Call it inside `strategy.scope()` to place variables on a strategy.
    """
    if mixed_precision not in MIXED_PRECISION_POLICIES:
        raise ValueError(
            f"mixed_precision={mixed_precision!r} is not supported; use None, "
            "'mixed_bfloat16' or 'mixed_float16'."
        )
    backbone = CompactBackbone(**backbone_config, dtype=mixed_precision)
    pretrainer = AlbertPretrainer(
        backbone,
        sentence_task=sentence_task,
        mlm_weight=mlm_weight,
        sentence_weight=sentence_weight,
    )
    pretrainer.compile(
        optimizer=make_lamb_optimizer(
            batch_size=batch_size,
            total_steps=total_steps,
            learning_rate=learning_rate,
            warmup_steps=warmup_steps,
        ),
        jit_compile=jit_compile,
    )
    return pretrainer


def run_pretraining(
    output_dir,
    backbone_config,
    train_dataset,
    total_steps,
    batch_size,
    eval_dataset=None,
    eval_steps=20,
    steps_per_checkpoint=100,
    learning_rate=None,
    warmup_steps=None,
    mixed_precision=None,
    sentence_task="sop",
    mlm_weight=1.0,
    sentence_weight=1.0,
    strategy=None,
    jit_compile="auto",
    verbose="auto",
    callbacks=None,
    run_settings=None,
    overwrite=False,
):
    """Pretrains an ALBERT-style model with MLM + SOP; resumable after a kill.

    Writes into `output_dir`: `backup/` (atomic checkpoints every
    `steps_per_checkpoint` steps; a rerun of the same command resumes from
    the newest), `logs/` (TensorBoard), `history.csv`, then at the end
    `pretrainer.keras`, `backbone.keras` (atomic) and `curves.png`.

    Args:
        output_dir: str. Run directory.
        backbone_config: dict of `CompactBackbone` arguments.
        train_dataset: repeating `tf.data.Dataset` of (features, labels).
        total_steps: int. Optimizer steps in all.
        batch_size: int. Global batch size of `train_dataset`.
        eval_dataset: optional dataset of held-out batches.
        eval_steps: int. Held-out batches per evaluation.
        steps_per_checkpoint: int. Steps between checkpoints (one Keras
            "epoch" each).
        learning_rate: peak rate, or None for the paper's rate scaled to
            `batch_size` (see `scaled_learning_rate`).
        warmup_steps: int or None (1% of the steps).
        mixed_precision: None, "mixed_bfloat16" or "mixed_float16".
        sentence_task: "sop" or "nsp".
        mlm_weight, sentence_weight: weights of the MLM and SOP losses.
        strategy: optional `tf.distribute.Strategy`.
        jit_compile: passed to `compile`.
        verbose: passed to `fit`.
        callbacks: optional extra Keras callbacks for `fit`.
        run_settings: dict of the settings that shape the run, recorded in
            `output_dir` (`keras_compact.utils.run_settings`); None records
            this function's own arguments. A rerun with other settings stops
            before writing anything.
        overwrite: replace a previous run with other settings.

    Resume is exact: the checkpoint holds the random seed generators'
    states (dropout masks) besides weights and optimizer, the history CSV is
    keyed by epoch and written before the checkpoint pointer moves, and the
    input streams skip the batches the restored epochs consumed, so a killed
    and resumed run logs the losses of the uninterrupted one.

    Under MultiWorkerMirroredStrategy (`TF_CONFIG`) every worker trains,
    restores from `output_dir/backup` (shared storage) and only the chief
    (`keras_compact.distribution.is_chief`) writes anything.

    Returns:
        dict with "pretrainer", "history" (all epochs, resumed ones
        included; empty on other workers), "initial_epoch", "chief" and the
        "paths" (written by the chief).
    """
    if total_steps < 1 or steps_per_checkpoint < 1:
        raise ValueError(
            f"total_steps={total_steps} and steps_per_checkpoint="
            f"{steps_per_checkpoint} must be positive."
        )
    steps_per_checkpoint = min(steps_per_checkpoint, total_steps)
    if total_steps % steps_per_checkpoint:
        raise ValueError(
            f"total_steps={total_steps} must be a multiple of "
            f"steps_per_checkpoint={steps_per_checkpoint} so checkpoints fall "
            "on the same steps after a resume."
        )
    paths = {
        "backup": os.path.join(output_dir, "backup"),
        "logs": os.path.join(output_dir, "logs"),
        "history": os.path.join(output_dir, "history.csv"),
        "pretrainer": os.path.join(output_dir, "pretrainer.keras"),
        "backbone": os.path.join(output_dir, "backbone.keras"),
        "curves": os.path.join(output_dir, "curves.png"),
        "config": os.path.join(output_dir, "backbone_config.json"),
    }
    chief = is_chief()  # under MultiWorkerMirroredStrategy only the chief writes
    if run_settings is None:
        run_settings = {
            "backbone_config": backbone_config, "total_steps": total_steps,
            "batch_size": batch_size, "steps_per_checkpoint": steps_per_checkpoint,
            "learning_rate": learning_rate, "warmup_steps": warmup_steps,
            "mixed_precision": mixed_precision, "sentence_task": sentence_task,
            "mlm_weight": mlm_weight, "sentence_weight": sentence_weight,
            "eval_steps": eval_steps,
        }
    from keras_compact.utils.run_settings import check_run_settings

    # Before anything is written: a different run's checkpoints are never reused.
    check_run_settings(output_dir, "pretrain", run_settings, PRETRAIN_OUTPUTS,
                       overwrite=overwrite, write=chief)
    if chief:
        os.makedirs(output_dir, exist_ok=True)
        clean_stale_temporaries(output_dir)
        with atomic_file(paths["config"]) as temp:
            with open(temp, "w") as handle:
                json.dump(backbone_config, handle, indent=2)

    def build():
        return build_pretrainer(
            backbone_config,
            batch_size=batch_size,
            total_steps=total_steps,
            learning_rate=learning_rate,
            warmup_steps=warmup_steps,
            mixed_precision=mixed_precision,
            sentence_task=sentence_task,
            mlm_weight=mlm_weight,
            sentence_weight=sentence_weight,
            jit_compile=jit_compile,
        )

    if strategy is not None:
        with strategy.scope():
            pretrainer = build()
    else:
        pretrainer = build()

    backup = AtomicBackupAndRestore(paths["backup"], write=chief)
    callbacks = [*(callbacks or [])]
    if chief:
        # The history row goes first: a kill between it and the checkpoint
        # only makes the resumed run write that epoch's row again (keyed).
        callbacks = [EpochHistoryLogger(paths["history"]), backup, *callbacks,
                     keras.callbacks.TensorBoard(paths["logs"], update_freq="epoch")]
    else:
        callbacks = [backup, *callbacks]
    latest = backup.latest()
    done = latest["epoch"] if latest else 0
    pretrainer.fit(
        resumed_input(train_dataset, done * steps_per_checkpoint),
        epochs=total_steps // steps_per_checkpoint,
        steps_per_epoch=steps_per_checkpoint,
        validation_data=resumed_input(eval_dataset, done * eval_steps),
        validation_steps=eval_steps if eval_dataset is not None else None,
        callbacks=callbacks,
        verbose=verbose,
    )
    if not chief:  # the chief saves the models; "paths" says where
        return {"pretrainer": pretrainer, "history": {}, "chief": False,
                "initial_epoch": backup.restored_epoch, "paths": paths}
    with atomic_file(paths["pretrainer"]) as temp:
        pretrainer.save(temp)
    with atomic_file(paths["backbone"]) as temp:
        pretrainer.backbone.save(temp)
    history = read_history_csv(paths["history"])
    if history:
        plot_training_curves(
            history,
            paths["curves"],
            title="ALBERT pretraining (MLM + SOP)",
            step_scale=steps_per_checkpoint,
        )
    return {
        "pretrainer": pretrainer,
        "history": history,
        "chief": True,
        "initial_epoch": backup.restored_epoch,
        "paths": paths,
    }
