"""General distillation of an ALBERT-style student with its pretraining losses.

One `PretrainingDistiller.fit` on the pretraining pipeline's batches (n-gram
masked MLM + SOP labels): the student's MLM and SOP losses, soft MLM targets
from a pretrained teacher `AlbertPretrainer`, and the intermediate losses of
an objective (TinyBERT, MiniLM, MiniLMv2) from the loss table. Checkpoints,
resume, logs and tf.distribute work as in `keras_compact.training.pretrain`.

TF-only input side (tf.data / tensorflow-text); the models train on any
Keras backend. Used by `keras-compact distill-general`.
"""

import dataclasses
import json
import os

from keras_compact.training.pretraining_job import preset_config_with


@dataclasses.dataclass
class PretrainingDistillationJob:
    """What to distil, on what, for how long. Defaults fit a CPU demo.

    Attributes:
        output_dir: run directory (checkpoints, logs, models).
        teacher: the teacher's `AlbertPretrainer` .keras (`keras-compact
            pretrain` writes OUTPUT/pretrainer.keras).
        vocab: the teacher's SentencePiece .model.
        corpus: text files, or None for the bundled corpus.
        tfrecords: pretraining TFRecords instead of the corpus.
        student_preset, student_config: the student backbone.
        objective: "tinybert", "minilm", "minilmv2" or "none".
        weights: {loss name: weight} overriding the stage defaults (mlm,
            sop, soft_mlm and the objective's losses are 1).
        mlm_temperature: temperature of the soft MLM targets.
        relation_heads, relation_teacher_layer, relation_student_layer,
        layer_mapping: see `Distiller`.
        steps, batch_size, sequence_length, max_predictions, checkpoint_every,
        learning_rate, warmup_steps, eval_fraction, eval_steps, seed: as in
            `PretrainingJob`.
    """

    output_dir: str
    teacher: str
    vocab: str
    corpus: list = None
    tfrecords: str = None
    student_preset: str = "albert_base"
    student_config: dict = dataclasses.field(default_factory=dict)
    objective: str = "tinybert"
    weights: dict = dataclasses.field(default_factory=dict)
    mlm_temperature: float = 1.0
    relation_heads: int = None
    relation_teacher_layer: int = None
    relation_student_layer: int = None
    layer_mapping: object = "uniform"
    steps: int = 1000
    batch_size: int = 32
    sequence_length: int = 128
    max_predictions: int = None
    checkpoint_every: int = 100
    learning_rate: float = None
    warmup_steps: int = None
    eval_fraction: float = 0.05
    eval_steps: int = 20
    seed: int = 0


OUTPUTS = ("backup", "history.csv", "mapping.txt", "student_pretrainer.keras",
           "student_backbone.keras", "job.json")


def student_config_for(job, vocabulary_size):
    """The student preset's config with the job's overrides."""
    return preset_config_with(job.student_preset, job.student_config,
                              vocabulary_size, job.sequence_length)


def build_distiller(teacher, student_config, job):
    """A `PretrainingDistiller` from a teacher pretrainer and a student config.

    Checks every teacher / student mismatch before any weight is trained.
    """
    from keras_compact.distill import PretrainingDistiller
    from keras_compact.models import CompactBackbone
    from keras_compact.models.pretrainer import AlbertPretrainer

    student = AlbertPretrainer(CompactBackbone(**student_config, name="student_backbone"),
                               name="student")
    weights = {f"{name}_weight": value for name, value in (job.weights or {}).items()}
    return PretrainingDistiller(
        teacher, student, objective=job.objective, mlm_temperature=job.mlm_temperature,
        relation_heads=job.relation_heads, relation_teacher_layer=job.relation_teacher_layer,
        relation_student_layer=job.relation_student_layer,
        layer_mapping=job.layer_mapping, **weights)


def _load_teacher(path):
    from keras_compact.models.pretrainer import AlbertPretrainer
    from keras_compact.utils.model_files import load_keras_file

    return load_keras_file(path, "teacher", AlbertPretrainer,
                           fix="pass the pretrainer.keras written by `keras-compact pretrain` "
                           "(the soft MLM targets need its MLM head).")


def run_pretraining_distillation(job, strategy=None, verbose="auto", callbacks=None):
    """Runs the job: data, `fit` with resume, saved student, history.

    Writes into `job.output_dir`: `backup/` (atomic checkpoints every
    `checkpoint_every` steps; rerunning the same job resumes), `history.csv`,
    `mapping.txt` (the mismatch report), then `student_pretrainer.keras` and
    `student_backbone.keras` (atomic; no distillation-only weights).

    Returns:
        dict with "distiller", "history", "initial_epoch", "paths".
    """
    import keras

    from keras_compact.tokenizers import load_tokenizer
    from keras_compact.distribution import is_chief
    from keras_compact.optimizers import make_lamb_optimizer
    from keras_compact.training.checkpointing import AtomicBackupAndRestore
    from keras_compact.training.checkpointing import EpochHistoryLogger
    from keras_compact.training.checkpointing import resumed_input
    from keras_compact.training.pretrain import read_history_csv
    from keras_compact.training.pretraining_job import PretrainingJob
    from keras_compact.training.pretraining_job import make_datasets
    from keras_compact.utils.atomic import atomic_file

    if job.steps < 1 or job.checkpoint_every < 1:
        raise ValueError(f"steps={job.steps} and checkpoint_every={job.checkpoint_every} "
                         "must be positive.")
    every = min(job.checkpoint_every, job.steps)
    if job.steps % every:
        raise ValueError(f"steps={job.steps} must be a multiple of checkpoint_every="
                         f"{every} so checkpoints fall on the same steps after a resume.")
    if not os.path.isfile(job.vocab):
        raise FileNotFoundError(f"vocab {job.vocab!r} does not exist.")
    keras.utils.set_random_seed(job.seed)
    vocabulary_size = load_tokenizer(job.vocab).vocabulary_size()
    student_config = student_config_for(job, vocabulary_size)
    paths = {name: os.path.join(job.output_dir, file) for name, file in (
        ("backup", "backup"), ("history", "history.csv"), ("mapping", "mapping.txt"),
        ("student", "student_pretrainer.keras"), ("backbone", "student_backbone.keras"))}

    def build():
        teacher = _load_teacher(job.teacher)
        distiller = build_distiller(teacher, student_config, job)
        distiller.compile(optimizer=make_lamb_optimizer(
            batch_size=job.batch_size, total_steps=job.steps,
            learning_rate=job.learning_rate, warmup_steps=job.warmup_steps))
        return distiller

    if strategy is not None:
        with strategy.scope():
            distiller = build()
    else:
        distiller = build()
    report = distiller.mapping_report()
    print(report)
    chief = is_chief()
    from keras_compact.utils.run_settings import check_run_settings
    from keras_compact.utils.run_settings import file_identity

    settings = dataclasses.asdict(job)
    settings.pop("output_dir")
    for name in ("teacher", "vocab"):
        settings[name] = file_identity(getattr(job, name))
    # Before anything is written: a different run's checkpoints are never reused.
    check_run_settings(job.output_dir, "distill-general", settings, OUTPUTS, write=chief)
    if chief:
        os.makedirs(job.output_dir, exist_ok=True)
        with atomic_file(paths["mapping"]) as temp:
            with open(temp, "w") as handle:
                handle.write(report + "\n")
    data_job = PretrainingJob(
        output_dir=job.output_dir, corpus=job.corpus, tfrecords=job.tfrecords,
        vocab=job.vocab, steps=job.steps, batch_size=job.batch_size,
        sequence_length=job.sequence_length,
        max_predictions=job.max_predictions, eval_fraction=job.eval_fraction,
        eval_steps=job.eval_steps, seed=job.seed)
    train, held = make_datasets(data_job, job.vocab)
    backup = AtomicBackupAndRestore(paths["backup"], write=chief)
    all_callbacks = [backup, *(callbacks or [])]
    if chief:
        # The row goes before the checkpoint, keyed by epoch (as in pretraining).
        all_callbacks.insert(0, EpochHistoryLogger(paths["history"]))
    latest = backup.latest()
    done = latest["epoch"] if latest else 0
    print(f"Distilling {job.steps} steps: losses {', '.join(distiller.enabled_losses)}")
    # A resumed fit continues the input streams where the checkpoint left them.
    distiller.fit(resumed_input(train, done * every), epochs=job.steps // every,
                  steps_per_epoch=every,
                  validation_data=resumed_input(held, done * job.eval_steps),
                  validation_steps=job.eval_steps if held else None,
                  callbacks=all_callbacks, verbose=verbose)
    if chief:
        for key, model in (("student", distiller.student),
                           ("backbone", distiller.student.backbone)):
            with atomic_file(paths[key]) as temp:
                model.save(temp)
        with atomic_file(os.path.join(job.output_dir, "job.json")) as temp:
            with open(temp, "w") as handle:
                json.dump(dataclasses.asdict(job), handle, indent=1)
    return {"distiller": distiller, "history": read_history_csv(paths["history"]),
            "initial_epoch": backup.restored_epoch, "paths": paths}
