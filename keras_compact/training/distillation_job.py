"""One TinyBERT distillation job, from a fine-tuned teacher to a saved student.

The stages, each one `model.fit` call (Jiao et al., section 3.3):

1. general distillation (optional, `general_steps`): the pretrained teacher
   backbone teaches the student backbone on unlabelled text from the corpus
   (embedding, hidden-state and attention losses);
2. data augmentation of the task's training texts (`TextAugmenter`, the
   teacher MLM and word vectors), labelled by the fine-tuned teacher;
3. task-specific intermediate distillation on the augmented data;
4. prediction-layer distillation (soft cross-entropy on the logits), on the
   teacher's logits computed once over the augmented data and cached in
   OUTPUT_DIR/stages/ (`keras_compact.training.teacher_cache`).

Then the student is evaluated on the test split beside the teacher and,
unless turned off, beside the same student trained from scratch on the gold
labels for the same number of optimizer steps at the same batch size.

Each finished stage is saved atomically under OUTPUT_DIR/stages/ and skipped
when the job runs again, so a killed job resumes at the stage it was in.

TF-only input side (tf.data / tensorflow-text datasets); the models train on
any Keras backend. Used by `keras-compact distill`, the main job
(`keras-compact main-job`) and notebooks/02_distill_tinybert.ipynb.

Why it is one module over 500 lines: it is the job's settings (the documented
`DistillationJob` fields, a third of the file), their checks and the order of
the stages; data, stages, planning, teacher cache and report already live in
`distillation_{data,stages,plan,report}.py` and `teacher_cache.py`.
"""

import dataclasses
import json
import math
import os

from keras_compact.training.distillation_data import augmented_pairs
from keras_compact.training.distillation_data import job_task
from keras_compact.training.distillation_data import job_tokenizer
from keras_compact.training.distillation_data import sentencepiece_file
from keras_compact.training.distillation_data import load_teacher
from keras_compact.training.distillation_data import task_info_for_student
from keras_compact.training.distillation_report import format_table  # noqa: F401 (API)
from keras_compact.training.distillation_report import score_models
from keras_compact.training.distillation_report import size_ratio
from keras_compact.training.distillation_stages import distil_stage
from keras_compact.training.distillation_stages import fit_chunks
from keras_compact.training.distillation_stages import job_path
from keras_compact.training.distillation_stages import save_model
from keras_compact.training.distillation_stages import train_scratch
from keras_compact.training.distillation_stages import write_json
from keras_compact.utils.model_files import load_keras_file


@dataclasses.dataclass
class DistillationJob:
    """What to distil into what, on which data, for how long.

    Attributes:
        output_dir: run directory (stages, augmented data, models, results).
        vocab: the teacher's SentencePiece .model (the section task's
            original argument; same as `tokenizer`).
        teacher: fine-tuned `TextClassifier` .keras (e.g. from `keras-compact
            finetune`), or a Hugging Face `*ForSequenceClassification` folder.
        pretrained: the teacher's `AlbertPretrainer` .keras (from
            `keras-compact pretrain`): its MLM proposes replacements and its
            backbone teaches general distillation. Needed when
            `general_steps > 0`. Without it, augmentation takes candidates
            from the teacher's embedding table
            (`distill.embedding_augmentation`).
        tokenizer: the teacher's tokenizer (.model, vocab.txt or Hugging Face
            folder); default `vocab`, else the one saved beside the teacher.
        data: None for the bundled section task, or a dict of file options:
            "train", "validation", "test" (paths), "text_column",
            "text_b_column", "label_column", "task", "glue", "data_dir",
            "skip_bad_rows", "max_line_bytes".
        test_split: which evaluation split the table scores (default: "test"
            when labelled, else the first validation split).
        student_preset, student_config: the student backbone (preset plus
            overrides; vocabulary size and sequence length are set here).
        sequence_length, batch_size: shape of every batch.
        general_steps, general_learning_rate: general distillation.
        intermediate_epochs, prediction_epochs: task-specific stages, in
            passes over the augmented data.
        learning_rate: peak AdamW rate of the task-specific stages.
        temperature: prediction-loss temperature.
        layer_mapping: "uniform", "top", "bottom" or a list.
        attention_weight: None (on) or 0 (e.g. different head counts).
        objective: intermediate losses of the general and intermediate
            stages: "tinybert" (embedding, hidden, attention), "minilm"
            (attention KL, value relation; equal heads) or "minilmv2" (Q-Q,
            K-K, V-V relations; any head count).
        relation_heads, relation_teacher_layer: MiniLMv2's relation heads
            and the teacher layer of MiniLM / MiniLMv2 (None: defaults).
        num_variants, replace_prob, top_k, mask_fraction, word_vectors:
            augmentation (N_a, p_t, K; see `TextAugmenter`); num_variants=0
            distils on the original texts only.
        max_train_examples: cap on the task's training texts.
        max_augment_examples: cap on the training texts that get variants.
        max_eval_examples: cap on test examples.
        scratch_baseline: also train the student from scratch (same steps).
        scratch_learning_rate: its peak rate (None: `learning_rate`).
        seed: initial weights, data order, augmentation.
        measure_latency: time the models for the table (False: 0, e.g. when
            the caller measures them with others).
        student_init: how the distilled student starts: "random", "pca",
            "svd", "every-other" or "layers:I,J,..." (teacher layers,
            0-based); see `keras_compact.distill.student_init`. The scratch
            baseline always starts from random weights.
        time_budget: minutes, or None. Before the first stage the job
            prints its estimated time (a few steps timed on real batches);
            with a budget it also sizes num_variants and the task stages'
            epochs to fit (`keras_compact.training.distillation_plan`).
    """

    output_dir: str
    vocab: str = None
    teacher: str = None
    pretrained: str = None
    tokenizer: str = None
    data: dict = None
    test_split: str = None
    student_preset: str = "tinybert_4"
    student_config: dict = dataclasses.field(default_factory=dict)
    sequence_length: int = 128
    batch_size: int = 32
    general_steps: int = 0
    general_learning_rate: float = 1e-4
    intermediate_epochs: int = 10
    prediction_epochs: int = 3
    learning_rate: float = 5e-5
    temperature: float = 1.0
    layer_mapping: object = "uniform"
    attention_weight: float = None
    objective: str = "tinybert"
    relation_heads: int = None
    relation_teacher_layer: int = None
    num_variants: int = 20
    replace_prob: float = 0.4
    top_k: int = 15
    mask_fraction: float = None
    word_vectors: str = None
    max_train_examples: int = None
    max_augment_examples: int = None
    max_eval_examples: int = None
    scratch_baseline: bool = True
    scratch_learning_rate: float = None
    seed: int = 0
    measure_latency: bool = True
    student_init: str = "random"
    time_budget: float = None


def check_job(job):
    """Raises ValueError for settings that cannot run, before any slow work."""
    for name in ("sequence_length", "batch_size"):
        if getattr(job, name) < 1:
            raise ValueError(f"{name} must be positive, got {name}={getattr(job, name)}.")
    for name in ("general_steps", "intermediate_epochs", "prediction_epochs",
                 "num_variants"):
        if getattr(job, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {name}={getattr(job, name)}.")
    if not (job.intermediate_epochs or job.prediction_epochs or job.general_steps):
        raise ValueError("Every stage has 0 steps or epochs; set general_steps, "
                         "intermediate_epochs or prediction_epochs.")
    if job.general_steps and not job.pretrained:
        raise ValueError(
            f"general_steps={job.general_steps} needs the teacher's pretrainer (--pretrained "
            "runs/main_job/pretrainer.keras): its backbone teaches general distillation. Pass "
            "it, or set general_steps to 0.")
    from keras_compact.distill.student_init import parse_student_init

    parse_student_init(job.student_init)  # the syntax; the shapes once the teacher is loaded
    if job.time_budget is not None and (isinstance(job.time_budget, bool) or not isinstance(
            job.time_budget, (int, float)) or not job.time_budget > 0):
        raise ValueError(f"time_budget={job.time_budget!r} must be a positive number of "
                         "minutes.")
    if not job.teacher:
        raise ValueError("teacher is required: the fine-tuned classifier.keras.")
    output = os.path.realpath(job.output_dir)
    for name in ("teacher", "pretrained"):
        path = getattr(job, name)
        # --overwrite would replace the run record (and outputs) of the run that
        # wrote the teacher: its directory is another run's.
        if path and os.path.commonpath([output, os.path.realpath(path)]) == output:
            raise ValueError(
                f"output_dir (--output-dir) {job.output_dir!r} holds the {name} "
                f"{path!r}; distilling there would overwrite the run that wrote it. Pass a "
                "new --output-dir, e.g. a sibling folder.")
    from keras_compact.utils.validation import require_positive

    for name in ("learning_rate", "general_learning_rate", "scratch_learning_rate",
                 "temperature"):
        value = getattr(job, name)
        if name == "scratch_learning_rate" and value is None:
            continue
        require_positive(f"--{name.replace('_', '-')}", value)
    from keras_compact.models.backbone import check_config_keys
    from keras_compact.models.presets import get_preset_config
    from keras_compact.utils.paths import require_file

    check_config_keys(job.student_config or {}, "--student-config")
    get_preset_config(job.student_preset)  # an unknown preset names the valid ones
    from keras_compact.convert.sequence_classification import is_huggingface_folder

    for name in ("teacher", "vocab", "pretrained", "word_vectors"):
        path = getattr(job, name)
        if path and not (name == "teacher" and is_huggingface_folder(path)):
            require_file(path, f"--{name.replace('_', '-')}", _EXPECTED_FILES[name])


_EXPECTED_FILES = {
    "teacher": "the classifier.keras written by `keras-compact finetune`, or a Hugging "
               "Face sequence-classification folder",
    "vocab": "the teacher's SentencePiece .model",
    "pretrained": "the pretrainer.keras written by `keras-compact pretrain`",
    "word_vectors": "a GloVe-format text file of word vectors",
}

# What a distillation run writes in its output directory (`--overwrite` removes these).
DISTILL_OUTPUTS = ("stages", "augmented.jsonl", "student_classifier.keras",
                   "student_backbone.keras", "scratch_classifier.keras", "results.json",
                   "student")


def run_settings(job):
    """What shapes a distillation run's results (fingerprinted in OUTPUT_DIR)."""
    from keras_compact.utils.run_settings import file_identity

    settings = dataclasses.asdict(job)
    settings.pop("output_dir")
    for name in ("vocab", "teacher", "pretrained", "word_vectors", "tokenizer"):
        path = getattr(job, name)
        settings[name] = (file_identity(path) if path is None or not os.path.isdir(path)
                          else {"folder": os.path.abspath(path)})
    if job.data:  # the data files by content, not only by name
        settings["data"] = dict(job.data)
        for name in ("train", "validation", "test"):
            if job.data.get(name):
                settings["data"][name] = file_identity(job.data[name])
    return settings


def check_against_teacher(job, teacher, pretrainer=None):
    """Checks the job against the loaded teacher, before any training.

    `sequence_length` must fit the teacher's (and the pretrained backbone's)
    position table, which would otherwise fail inside a TensorFlow graph on
    the first step.
    """
    for what, backbone in (("teacher", teacher.backbone),
                           ("pretrained", getattr(pretrainer, "backbone", None))):
        if backbone is not None and job.sequence_length > backbone.max_sequence_length:
            raise ValueError(
                f"sequence_length={job.sequence_length} exceeds the {what}'s position table "
                f"(max_sequence_length={backbone.max_sequence_length}); pass sequence_length="
                f"{backbone.max_sequence_length} or less.")


def build_student(job, vocabulary_size, num_classes):
    """A fresh student task model from the job's preset and overrides."""
    from keras_compact.models import CompactBackbone
    from keras_compact.models.presets import get_preset_config

    config = {**get_preset_config(job.student_preset), **(job.student_config or {})}
    config["vocabulary_size"] = vocabulary_size
    config["max_sequence_length"] = max(config.get("max_sequence_length", 0), job.sequence_length)
    backbone = CompactBackbone(**config, name="student_backbone")
    return student_on(backbone, num_classes)


def student_on(backbone, num_classes):
    """The student task model on `backbone`: a `TextRegressor` for a one-output
    (regression) teacher, else a `TextClassifier` with the teacher's classes."""
    from keras_compact.models import TextClassifier
    from keras_compact.models import TextRegressor

    if num_classes == 1:
        return TextRegressor(backbone, name="student")
    return TextClassifier(backbone, num_classes=num_classes, name="student")


@dataclasses.dataclass
class _Loaded:
    """Everything `prepare` read and checked: what the stages run on."""

    data: dict
    tokenizer: object
    teacher: object
    pretrainer: object
    student: object
    preprocessor: object = None  # the student's: the tokenizer, sequence_length, pairing

    @property
    def common(self):
        """Dataset arguments every stage shares."""
        return dict(labels=self.data["labels"], preprocessor=self.preprocessor)


def prepare(job):
    """Checks the settings, reads the data, loads the teacher, builds the student.

    Everything that can fail on bad input fails here, before any file is written
    or any step trained.

    Returns:
        A `_Loaded`: data (see `job_task`), tokenizer, teacher, pretrainer (or
        None) and the untrained student.
    """
    import keras

    from keras_compact.models.pretrainer import AlbertPretrainer

    check_job(job)
    tokenizer = job_tokenizer(job)
    data = job_task(job)  # every file read and checked before any slow work
    # Before any tokenizer resource: re-seeding drops SentencePiece resources made earlier.
    keras.utils.set_random_seed(job.seed)
    teacher = load_teacher(job, data)
    if tokenizer is None:
        tokenizer = job_tokenizer(job, teacher)
    check_teacher_fits_task(job, teacher, tokenizer, data)
    pretrainer = (load_keras_file(job.pretrained, "pretrained", AlbertPretrainer)
                  if job.pretrained else None)
    student = build_student(job, teacher.backbone.vocabulary_size, teacher.num_classes)
    start_student(job, student, teacher)
    check_student_fits_teacher(job, student, teacher, pretrainer)
    print(f"Teacher {teacher.count_params():,} parameters, student "
          f"{student.count_params():,} ({size_ratio(teacher, student)})")
    from keras_compact.training.tasks import make_preprocessor

    return _Loaded(data, tokenizer, teacher, pretrainer, student,
                   make_preprocessor(tokenizer, job.sequence_length, data["pair"]))


def check_teacher_fits_task(job, teacher, tokenizer, data):
    """The teacher must cover the tokenizer's ids and have one output per class."""
    labels = data["labels"]
    size = int(tokenizer.vocabulary_size())
    if teacher.backbone.vocabulary_size < size:
        source = job.tokenizer or job.vocab or "the teacher's tokenizer"
        raise ValueError(f"The teacher has a {teacher.backbone.vocabulary_size}-token "
                         f"vocabulary but {source!r} has {size}; pass the tokenizer the "
                         "teacher was trained with.")
    if teacher.num_classes != labels.num_classes:
        raise ValueError(f"The teacher has {teacher.num_classes} outputs, the task "
                         f"{data['name'] or ''} has {labels.num_classes} "
                         f"({'regression' if labels.regression else 'classes'}).")


def start_student(job, student, teacher):
    """Sets the student's initial weights from the teacher as `job.student_init` asks."""
    from keras_compact.distill.student_init import init_student_from_teacher

    print(init_student_from_teacher(student, teacher, job.student_init))


def check_student_fits_teacher(job, student, teacher, pretrainer):
    """Depth, layer mapping, sequence length and size, before the slow work."""
    from keras_compact.distill.layer_mapping import layer_mapping as make_layer_mapping

    make_layer_mapping(student.backbone.num_layers, teacher.backbone.num_layers,
                       job.layer_mapping)
    check_against_teacher(job, teacher, pretrainer)
    if student.count_params() > teacher.count_params():
        raise ValueError(
            f"The student ({job.student_preset} with --student-config "
            f"{json.dumps(job.student_config)}) has {student.count_params():,} parameters, "
            f"more than its teacher's {teacher.count_params():,}; distillation makes a "
            "smaller model. Pick a smaller --student-preset / --student-config.")


def start_run_directory(job, overwrite):
    """Checks OUTPUT_DIR's run record (a run with other settings stops here unless
    `overwrite`) and removes temporaries a killed run left."""
    from keras_compact.utils.atomic import clean_stale_temporaries
    from keras_compact.utils.run_settings import check_run_settings

    check_run_settings(job.output_dir, "distill", run_settings(job), DISTILL_OUTPUTS,
                       overwrite=overwrite)
    for folder in (job.output_dir, job_path(job, "stages")):
        clean_stale_temporaries(folder)


def intermediate_loss_options(job):
    """The Distiller arguments of the general and intermediate stages."""
    heads = {} if job.attention_weight is None else {"attention_weight": job.attention_weight}
    if job.objective != "tinybert":
        heads.update(objective=job.objective, relation_heads=job.relation_heads,
                     relation_teacher_layer=job.relation_teacher_layer)
    return heads


def general_stage(job, loaded, student, verbose):
    """General distillation on the bundled corpus: the pretrainer's backbone
    teaches the student's; returns the student on its new backbone and the steps."""
    from keras_compact.data.pipeline import make_text_features_dataset

    vocab_file = sentencepiece_file(job, loaded.teacher)
    if vocab_file is None:
        raise ValueError("general_steps > 0 reads the bundled corpus with a SentencePiece "
                         "tokenizer file: pass --vocab (the teacher's .model), or set "
                         "general_steps to 0 for this teacher.")
    general_data = make_text_features_dataset(
        None, vocab_file, batch_size=job.batch_size, sequence_length=job.sequence_length,
        seed=job.seed)
    backbone = distil_stage(job, "general", loaded.pretrainer.backbone, student.backbone,
                            general_data, job.general_steps, job.general_learning_rate,
                            verbose, stage="general", **intermediate_loss_options(job))
    # The same head kind as the teacher's: a regressor stays a regressor.
    return student_on(backbone, loaded.teacher.num_classes), math.prod(
        fit_chunks(job.general_steps))


def task_examples(job, loaded):
    """The task-specific stages' examples, packed once: training texts plus
    augmented variants. Returns (features dict of numpy arrays, labels)."""
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.tasks.datasets import read_examples
    from keras_compact.training.teacher_cache import packed_examples

    data = loaded.data
    augmented = []
    if job.num_variants:
        train = data["train"]
        sources = (train if isinstance(train, list) else
                   read_examples(train, data["labels"], job.max_augment_examples))
        augmented = augmented_pairs(job, sources[: job.max_augment_examples],
                                    loaded.teacher, loaded.pretrainer, loaded.tokenizer)
    return packed_examples(make_dataset(
        data["train"], **loaded.common, batch_size=256,
        count=data["train_count"], extra=augmented))


def task_stages(job, loaded, student, verbose):
    """Intermediate-layer then prediction-layer distillation on the task data;
    returns the student and {stage: steps}.

    The prediction stage reads the teacher's logits computed once
    (`keras_compact.training.teacher_cache`), so its steps run the student only.
    """
    from keras_compact.training import teacher_cache

    features, labels = task_examples(job, loaded)
    per_epoch = max(1, len(labels) // job.batch_size)
    logits = None
    if job.prediction_epochs and not os.path.isfile(job_path(job, "stages",
                                                             "prediction.keras")):
        logits = teacher_cache.teacher_logits(job, run_settings(job), loaded.teacher,
                                              features)
    dataset = teacher_cache.cached_dataset(features, labels, logits, job.batch_size,
                                           job.seed)
    steps = {}
    for stage, epochs, extra in (("intermediate", job.intermediate_epochs,
                                  intermediate_loss_options(job)),
                                 ("prediction", job.prediction_epochs,
                                  {"cached_teacher_logits": True})):
        steps[stage] = math.prod(fit_chunks(epochs * per_epoch)) if epochs else 0
        if epochs:
            student = distil_stage(job, stage, loaded.teacher, student, dataset,
                                   steps[stage], job.learning_rate, verbose, stage=stage,
                                   **extra)
    return student, steps


def save_student(job, loaded, student):
    """The distilled student's files; with task files, also a self-contained run
    directory as `finetune` writes. Returns {name: path}."""
    paths = {"student": save_model(student, job_path(job, "student_classifier.keras")),
             "student_backbone": save_model(student.backbone,
                                            job_path(job, "student_backbone.keras"))}
    if job.data:
        from keras_compact.training.tasks import save_task_model

        info = task_info_for_student(job, loaded.data)
        paths.update(save_task_model(student, job_path(job, "student"), info,
                                     loaded.preprocessor))
    return paths


def run_distillation(job, verbose="auto", overwrite=False):
    """Runs every stage of `job`; returns a dict of results and paths.

    Every setting is checked first (`prepare`), then the output directory's run
    record (`keras_compact.utils.run_settings`): a rerun with the same settings
    resumes at the first unfinished stage; one with other settings stops
    before writing anything unless `overwrite` (which removes the previous
    run's outputs).

    Returns:
        A dict: "student" (distilled `TextClassifier`), "teacher", "scratch"
        (or None), "table" (list of row dicts: model, parameters,
        test_<metric> (the task's official metric by its name, e.g.
        test_matthews_corrcoef on CoLA), scores, latency_b1_ms, latency_b32_ms),
        "steps", "paths", "metric".
    """
    from keras_compact.training.distillation_plan import plan_job

    loaded = prepare(job)
    start_run_directory(job, overwrite)  # nothing was written before this
    job = plan_job(job, loaded, loaded.student, intermediate_loss_options(job),
                   job.time_budget)
    student, steps = loaded.student, {"general": 0}
    if job.general_steps:
        student, steps["general"] = general_stage(job, loaded, student, verbose)
    student, task_steps = task_stages(job, loaded, student, verbose)
    steps.update(task_steps)
    paths = save_student(job, loaded, student)

    models = {"teacher": loaded.teacher, "distilled student": student}
    scratch = None
    if job.scratch_baseline:
        teacher = loaded.teacher
        scratch = train_scratch(
            job, loaded.data,
            lambda: build_student(job, teacher.backbone.vocabulary_size, teacher.num_classes),
            sum(steps.values()),
            dict(**loaded.common, batch_size=job.batch_size), verbose)
        paths["scratch"] = save_model(scratch, job_path(job, "scratch_classifier.keras"))
        models["scratch student"] = scratch
    table = score_models(job, models, loaded.data, loaded.preprocessor)
    metric = loaded.data["metrics"][0]
    results = {"table": table, "steps": steps, "test_examples": loaded.data["test_count"],
               "test_split": loaded.data["test_name"], "metric": metric,
               "job": dataclasses.asdict(job)}
    paths["results"] = write_json(results, job_path(job, "results.json"))
    return {"student": student, "teacher": loaded.teacher, "scratch": scratch,
            "table": table, "steps": steps, "paths": paths, "metric": metric}
