"""The distillation job's training stages: one `Distiller.fit` per stage, the
scratch baseline, and the atomic files they leave in the run directory.

Each finished stage is saved under OUTPUT_DIR/stages/ and loaded instead of
retrained when the job runs again. Used by `keras_compact.training.distillation_job`.
"""

import json
import math
import os
import warnings

from keras_compact.utils.model_files import load_keras_file


def job_path(job, *parts):
    return os.path.join(job.output_dir, *parts)


def save_model(model, path):
    from keras_compact.utils.atomic import atomic_file

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_file(path) as temp:
        model.save(temp)
    return path


def write_json(value, path):
    from keras_compact.utils.atomic import atomic_file

    with atomic_file(path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=1)
    return path


def fit_chunks(steps, lines=10):
    """(epochs, steps_per_epoch) covering `steps` with at most `lines` epochs.

    Long stages run as a few "epochs" of a repeated dataset so the progress
    shows a line per chunk; the total is rounded up to a whole number of them.
    """
    epochs = max(1, min(steps, lines))
    return epochs, math.ceil(steps / epochs)


def distil_stage(job, name, teacher, student, dataset, steps, learning_rate, verbose, **kwargs):
    """One stage: a Distiller fit for `steps`, the student saved atomically."""
    from keras_compact.distill import Distiller
    from keras_compact.optimizers import make_adamw

    done = job_path(job, "stages", f"{name}.keras")
    if os.path.isfile(done):
        print(f"Stage {name}: done before, loading {done}")
        return load_keras_file(done, "stage checkpoint", type(student))
    distiller = Distiller(teacher, student, layer_mapping=job.layer_mapping,
                          temperature=job.temperature, **kwargs)
    epochs, per_epoch = fit_chunks(steps)
    distiller.compile(optimizer=make_adamw(epochs * per_epoch, learning_rate))
    print(distiller.mapping_report())
    print(f"Stage {name}: {steps} steps, losses {', '.join(distiller.enabled_losses)}, "
          f"teacher layers {list(distiller.teacher_layers)}, AdamW peak {learning_rate:g}")
    with warnings.catch_warnings():
        # The intermediate stages leave the pooler and logits without
        # gradients by design; Keras would warn about it every run.
        warnings.filterwarnings("ignore", message="Gradients do not exist")
        distiller.fit(dataset.repeat(), epochs=epochs, steps_per_epoch=per_epoch,
                      verbose=verbose, shuffle=False)  # the dataset shuffles
    save_model(student, done)
    return student


def train_scratch(job, data, build, total_steps, common, verbose):
    """The same student, fresh (`build()` after re-seeding: the distilled student's
    initial weights), trained on the gold labels for `total_steps`."""
    import keras

    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.optimizers import make_adamw
    from keras_compact.training.tasks import compile_task_model

    done = job_path(job, "stages", "scratch.keras")
    if os.path.isfile(done):
        print(f"Scratch baseline: done before, loading {done}")
        from keras_compact.models import TextClassifier

        return load_keras_file(done, "stage checkpoint", TextClassifier)
    keras.utils.set_random_seed(job.seed)  # the distilled student's initial weights
    scratch = build()
    train = make_dataset(data["train"], **common, shuffle=True, seed=job.seed,
                         count=data["train_count"])
    epochs, per_epoch = fit_chunks(total_steps)
    rate = job.scratch_learning_rate or job.learning_rate
    compile_task_model(scratch, data["labels"], make_adamw(per_epoch * epochs, rate))
    print(f"Scratch baseline: the same student from its initial weights, "
          f"{per_epoch * epochs} steps on the gold labels, AdamW peak {rate:g}")
    scratch.fit(train.repeat(), epochs=epochs, steps_per_epoch=per_epoch, verbose=verbose,
                shuffle=False)
    save_model(scratch, done)
    return scratch
