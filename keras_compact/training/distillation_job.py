"""One TinyBERT distillation job, from a fine-tuned teacher to a saved student.

The stages, each one `model.fit` call (Jiao et al., section 3.3):

1. general distillation (optional, `general_steps`): the pretrained teacher
   backbone teaches the student backbone on unlabelled text from the corpus
   (embedding, hidden-state and attention losses);
2. data augmentation of the task's training texts (`TextAugmenter`, the
   teacher MLM and word vectors), labelled by the fine-tuned teacher;
3. task-specific intermediate distillation on the augmented data;
4. prediction-layer distillation (soft cross-entropy on the logits).

Then the student is evaluated on the test split beside the teacher and,
unless turned off, beside the same student trained from scratch on the gold
labels for the same number of optimizer steps at the same batch size.

Each finished stage is saved atomically under OUTPUT_DIR/stages/ and skipped
when the job runs again, so a killed job resumes at the stage it was in.

TF-only input side (tf.data / tensorflow-text datasets); the models train on
any Keras backend. Used by `keras-compact distill`, the main job
(`keras-compact demo`) and notebooks/02_distill_tinybert.ipynb.
"""

import dataclasses
import json
import math
import os
import warnings

import numpy as np

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
        seq_len, batch_size: shape of every batch.
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
        student_embeddings: "random", or "teacher_pca": the distilled
            student's token, position and segment tables start as the
            teacher's projected on their top-E principal directions
            (`init_embeddings_from_teacher`; needs the teacher's vocabulary).
            The scratch baseline always starts from random weights.
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
    seq_len: int = 128
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
    student_embeddings: str = "random"


def _path(job, *parts):
    return os.path.join(job.output_dir, *parts)


def _load_teacher(job, data):
    """The teacher: a classifier.keras, or a Hugging Face sequence-classification folder
    (its outputs put in the task's class order)."""
    from keras_compact.convert.sequence_classification import from_huggingface_classifier
    from keras_compact.convert.sequence_classification import is_huggingface_folder
    from keras_compact.models import TextClassifier

    if not is_huggingface_folder(job.teacher):
        return load_keras_file(job.teacher, "teacher", TextClassifier)
    labels = data["labels"]
    return from_huggingface_classifier(
        job.teacher, sequence_length=job.seq_len, pair=data["pair"],
        label_names=None if labels.regression else labels.names)


def _save(model, path):
    from keras_compact.utils.atomic import atomic_file

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_file(path) as temp:
        model.save(temp)
    return path


def check_job(job):
    """Raises ValueError for settings that cannot run, before any slow work."""
    for name in ("seq_len", "batch_size"):
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
            "runs/demo/pretrainer.keras): its backbone teaches general distillation. Pass "
            "it, or set general_steps to 0.")
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

    `seq_len` must fit the teacher's (and the pretrained backbone's)
    position table, which would otherwise fail inside a TensorFlow graph on
    the first step.
    """
    for what, backbone in (("teacher", teacher.backbone),
                           ("pretrained", getattr(pretrainer, "backbone", None))):
        if backbone is not None and job.seq_len > backbone.max_sequence_length:
            raise ValueError(
                f"--seq-len {job.seq_len} exceeds the {what}'s position table "
                f"(max_sequence_length={backbone.max_sequence_length}); pass --seq-len "
                f"{backbone.max_sequence_length} or less.")


def build_student(job, vocabulary_size, num_classes):
    """A fresh student `TextClassifier` from the job's preset and overrides."""
    from keras_compact.models import CompactBackbone
    from keras_compact.models import TextClassifier
    from keras_compact.models.presets import get_preset_config

    config = {**get_preset_config(job.student_preset), **(job.student_config or {})}
    config["vocabulary_size"] = vocabulary_size
    config["max_sequence_length"] = max(config.get("max_sequence_length", 0), job.seq_len)
    backbone = CompactBackbone(**config, name="student_backbone")
    if num_classes == 1:  # a regression teacher: a regressor student
        from keras_compact.models import TextRegressor

        return TextRegressor(backbone, name="student")
    return TextClassifier(backbone, num_classes=num_classes, name="student")


def init_embeddings_from_teacher(student_backbone, teacher_backbone):
    """Starts the student's embedding tables from the teacher's, reduced to E dims.

    The teacher's token table (V x D) is projected on its top-E principal
    directions (SVD of the centred table); the position and segment tables
    are projected on the same directions, so sums stay consistent. The
    student's E -> H projection stays random: the distillation losses train
    it. Needs the same vocabulary and E <= D.
    """
    import keras

    teacher = teacher_backbone.embeddings
    student = student_backbone.embeddings
    table = np.asarray(keras.ops.convert_to_numpy(teacher.token_embedding.embeddings),
                       dtype="float64")
    width = student.embedding_dim
    if table.shape[0] != student.vocabulary_size or width > table.shape[1]:
        raise ValueError(f"student_embeddings='teacher_pca' needs the teacher's vocabulary "
                         f"({table.shape[0]}) and E <= {table.shape[1]}; the student has "
                         f"{student.vocabulary_size} tokens and E={width}.")
    mean = table.mean(axis=0)
    _, _, directions = np.linalg.svd(table - mean, full_matrices=False)
    basis = directions[:width].T  # D x E
    student.token_embedding.embeddings.assign((table @ basis).astype("float32"))
    positions = np.asarray(keras.ops.convert_to_numpy(
        teacher.position_embedding.position_embeddings), dtype="float64")
    length = student.position_embedding.position_embeddings.shape[0]
    if positions.shape[0] >= length:
        student.position_embedding.position_embeddings.assign(
            (positions[:length] @ basis).astype("float32"))
    segments = np.asarray(keras.ops.convert_to_numpy(teacher.segment_embedding.embeddings),
                          dtype="float64")
    if segments.shape[0] == student.segment_embedding.embeddings.shape[0]:
        student.segment_embedding.embeddings.assign((segments @ basis).astype("float32"))


def _augmented_pairs(job, sources, teacher, pretrainer, tokenizer):
    """Augmented training examples, cached in OUTPUT_DIR/augmented.jsonl.

    With the teacher's pretrainer (MLM) and a SentencePiece single-text task,
    TinyBERT's recipe (`TextAugmenter`: MLM for single-piece words, word
    vectors for the rest), labelled by the teacher. Otherwise (no MLM head,
    e.g. a Hugging Face sentence-embedding checkpoint, or pairs) every word's
    candidates come from word vectors: `--word-vectors`, else the teacher's
    token-embedding table (`EmbeddingAugmenter`); those variants keep their
    source's gold label, which the distiller does not read (it computes the
    teacher's outputs online).
    """
    from keras_compact.distill.augmentation import TextAugmenter
    from keras_compact.distill.augmentation import WordVectors
    from keras_compact.distill.augmentation import augment_task
    from keras_compact.distill.embedding_augmentation import EmbeddingAugmenter
    from keras_compact.utils.atomic import atomic_file

    cache = _path(job, "augmented.jsonl")
    if os.path.isfile(cache):
        with open(cache, encoding="utf-8") as handle:
            pairs = [tuple(json.loads(line)) for line in handle]
        print(f"Augmented data: reusing {cache} ({len(pairs):,} examples)")
        return pairs
    vectors = WordVectors.from_glove(job.word_vectors) if job.word_vectors else None
    pair = bool(sources) and len(sources[0]) == 3
    # The MLM augmenter reads the SentencePiece .model file (--vocab); a
    # tokenizer taken from the teacher's preprocessor has none.
    use_mlm = (pretrainer is not None and tokenizer.kind == "sentencepiece" and not pair
               and tokenizer.vocab_file is not None)
    source_of = job.word_vectors or "teacher embedding table"
    print(f"Augmenting {len(sources):,} training texts x {job.num_variants} variants "
          f"(p_t={job.replace_prob}, K={job.top_k}, candidates: "
          + (f"teacher MLM + {source_of})" if use_mlm else
             f"{source_of} only, the teacher has no MLM head)"), flush=True)
    if use_mlm:
        augmenter = TextAugmenter(
            pretrainer, tokenizer.vocab_file, word_vectors=vectors,
            num_variants=job.num_variants, replace_prob=job.replace_prob, top_k=job.top_k,
            max_seq_len=job.seq_len, mask_fraction=job.mask_fraction, batch_size=64,
            seed=job.seed)
        augmented = augment_task(sources, augmenter, teacher, tokenizer.vocab_file,
                                 seq_len=job.seq_len, keep_originals=False)
        agree = sum(1 for (_, gold), (_, new) in zip(
            [p for p in sources for _ in range(job.num_variants)], augmented) if gold == new)
        print(f"The teacher's label equals the source's gold label for "
              f"{agree / max(1, len(augmented)):.1%} of the variants")
    else:
        texts = [t for example in sources for t in example[:-1]]
        augmenter = EmbeddingAugmenter.from_teacher(
            teacher, tokenizer, texts, word_vectors=vectors, num_variants=job.num_variants,
            replace_prob=job.replace_prob, top_k=job.top_k, seed=job.seed)
        firsts = augmenter.augment([example[0] for example in sources])
        seconds = augmenter.augment([example[1] for example in sources]) if pair else None
        augmented = []
        for i, example in enumerate(sources):
            for v in range(job.num_variants):
                if pair:
                    augmented.append((firsts[i][v], seconds[i][v], example[-1]))
                else:
                    augmented.append((firsts[i][v], example[-1]))
    os.makedirs(job.output_dir, exist_ok=True)
    with atomic_file(cache) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            for example in augmented:
                handle.write(json.dumps([*example[:-1], _json_label(example[-1])]) + "\n")
    print(f"Augmented data: {len(augmented):,} variants")
    return augmented


def _json_label(value):
    return float(value) if isinstance(value, float) else int(value)


def fit_chunks(steps, lines=10):
    """(epochs, steps_per_epoch) covering `steps` with at most `lines` epochs.

    Long stages run as a few "epochs" of a repeated dataset so the progress
    shows a line per chunk; the total is rounded up to a whole number of them.
    """
    epochs = max(1, min(steps, lines))
    return epochs, math.ceil(steps / epochs)


def _distil(job, name, teacher, student, dataset, steps, learning_rate, verbose, **kwargs):
    """One stage: a Distiller fit for `steps`, the student saved atomically."""
    from keras_compact.distill import Distiller
    from keras_compact.training.finetune import make_adamw

    done = _path(job, "stages", f"{name}.keras")
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
    _save(student, done)
    return student


def job_task(job):
    """The job's data: the bundled section task, or its files (every row checked).

    Returns:
        A dict: "train" (a FileSpec or an in-memory list), "test" (same),
        "test_name", "labels" (`LabelInfo`), "train_count", "test_count",
        "metrics", "name", "pair".
    """
    from keras_compact.tasks.text_files import LabelInfo

    if not job.data:
        from keras_compact.data.labelled_task import load_section_task

        task = load_section_task(seed=job.seed)
        train = task["train"][: job.max_train_examples]
        test = task["test"][: job.max_eval_examples]
        return {"train": train, "test": test, "test_name": "test",
                "labels": LabelInfo("classification", task["label_names"]),
                "train_count": len(train), "test_count": len(test),
                "metrics": ("accuracy",), "name": "sections", "pair": False}
    from keras_compact.tasks.options import task_from_options

    task = task_from_options(job.data)
    evaluation = {**task["validation"], **{k: v for k, v in task["test"].items()
                                          if v.label_column is not None}}
    name = job.test_split or ("test" if "test" in evaluation else next(iter(evaluation)))
    if name not in evaluation:
        raise ValueError(f"test_split={name!r} is not a labelled split; have "
                         f"{sorted(evaluation)}.")
    train = task["train"]
    train_count = task["counts"]["train"]
    if job.max_train_examples and job.max_train_examples < train_count:
        from keras_compact.tasks.datasets import read_examples

        train = read_examples(train, task["labels"], job.max_train_examples)
        train_count = len(train)
    return {"train": train, "test": evaluation[name], "test_name": name,
            "labels": task["labels"], "train_count": train_count,
            "test_count": task["counts"][name], "metrics": task["metrics"],
            "name": task.get("name"), "pair": task["pair"]}


def _job_tokenizer(job, teacher=None):
    """The teacher's tokenizer: --tokenizer/--vocab, else the one inside the teacher's
    .keras (its preprocessor), else one saved beside it."""
    from keras_compact.tasks.datasets import load_text_tokenizer
    from keras_compact.training.tasks import find_tokenizer_beside

    if job.tokenizer or job.vocab:
        return load_text_tokenizer(job.tokenizer or job.vocab)
    if teacher is None:
        return None
    preprocessor = getattr(teacher, "preprocessor", None)
    if preprocessor is not None:
        from keras_compact.tasks.datasets import text_tokenizer_from_layer

        return text_tokenizer_from_layer(preprocessor.tokenizer,
                                         source=f"{job.teacher} (preprocessor)")
    source = find_tokenizer_beside(job.teacher)
    if source is None:
        raise ValueError(f"No tokenizer for teacher {job.teacher!r}: pass --tokenizer (a "
                         ".model, vocab.txt or Hugging Face folder).")
    return load_text_tokenizer(source)


def run_distillation(job, verbose="auto", overwrite=False):
    """Runs every stage of `job`; returns a dict of results and paths.

    Every setting is checked first, then the output directory's run record
    (`keras_compact.utils.run_settings`): a rerun with the same settings
    resumes at the first unfinished stage; one with other settings stops
    before writing anything unless `overwrite` (which removes the previous
    run's outputs).

    Returns:
        A dict: "student" (distilled `TextClassifier`), "teacher", "scratch"
        (or None), "table" (list of row dicts: model, parameters,
        test_<metric> (the task's official metric by its name, e.g.
        test_matthews_corrcoef on CoLA), scores, latency_b1_ms,
        latency_b32_ms), "paths".
    """
    import keras

    from keras_compact.data.pipeline import make_text_features_dataset
    from keras_compact.distill.layer_mapping import layer_mapping as make_layer_mapping
    from keras_compact.models import TextClassifier
    from keras_compact.models.pretrainer import AlbertPretrainer
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.tasks.datasets import read_examples

    check_job(job)
    tokenizer = _job_tokenizer(job)
    data = job_task(job)  # every file read and checked before any slow work
    labels = data["labels"]
    # Before any tokenizer resource: re-seeding drops SentencePiece resources made earlier.
    keras.utils.set_random_seed(job.seed)
    teacher = _load_teacher(job, data)
    if tokenizer is None:
        tokenizer = _job_tokenizer(job, teacher)
    if teacher.backbone.vocabulary_size < tokenizer.vocabulary_size:
        raise ValueError(f"The teacher has a {teacher.backbone.vocabulary_size}-token "
                         f"vocabulary but {tokenizer.source!r} has "
                         f"{tokenizer.vocabulary_size}; pass the tokenizer the teacher was "
                         "trained with.")
    if teacher.num_classes != labels.num_classes:
        raise ValueError(f"The teacher has {teacher.num_classes} outputs, the task "
                         f"{data['name'] or ''} has {labels.num_classes} "
                         f"({'regression' if labels.regression else 'classes'}).")
    pretrainer = (load_keras_file(job.pretrained, "pretrained", AlbertPretrainer)
                  if job.pretrained else None)
    vocabulary_size = teacher.backbone.vocabulary_size
    common = dict(labels=labels, tokenizer=tokenizer, seq_len=job.seq_len,
                  batch_size=job.batch_size)
    student = build_student(job, vocabulary_size, teacher.num_classes)
    if job.student_embeddings == "teacher_pca":
        init_embeddings_from_teacher(student.backbone, teacher.backbone)
        print(f"Student embeddings: the teacher's tables on their top "
              f"{student.backbone.embedding_dim} principal directions")
    elif job.student_embeddings != "random":
        raise ValueError(f"student_embeddings must be 'random' or 'teacher_pca', got "
                         f"{job.student_embeddings!r}.")
    # A student deeper than its teacher or a bad mapping: say so before the slow work.
    make_layer_mapping(student.backbone.num_layers, teacher.backbone.num_layers,
                       job.layer_mapping)
    check_against_teacher(job, teacher, pretrainer)
    if student.count_params() > teacher.count_params():
        raise ValueError(
            f"The student ({job.student_preset} with --student-config "
            f"{json.dumps(job.student_config)}) has {student.count_params():,} parameters, "
            f"more than its teacher's {teacher.count_params():,}; distillation makes a "
            "smaller model. Pick a smaller --student-preset / --student-config.")
    print(f"Teacher {teacher.count_params():,} parameters, student "
          f"{student.count_params():,} ({_size_ratio(teacher, student)})")

    # Nothing was written so far; a different run in OUTPUT_DIR stops here.
    from keras_compact.utils.atomic import clean_stale_temporaries
    from keras_compact.utils.run_settings import check_run_settings

    check_run_settings(job.output_dir, "distill", run_settings(job), DISTILL_OUTPUTS,
                       overwrite=overwrite)
    for folder in (job.output_dir, _path(job, "stages")):
        clean_stale_temporaries(folder)
    heads = {} if job.attention_weight is None else {"attention_weight": job.attention_weight}
    if job.objective != "tinybert":
        heads.update(objective=job.objective, relation_heads=job.relation_heads,
                     relation_teacher_layer=job.relation_teacher_layer)

    steps = {"general": math.prod(fit_chunks(job.general_steps)) if job.general_steps else 0}
    if job.general_steps:
        if tokenizer.kind != "sentencepiece" or tokenizer.vocab_file is None:
            raise ValueError("general_steps > 0 reads the bundled corpus with a SentencePiece "
                             "tokenizer file: pass --vocab (the teacher's .model), or set "
                             "general_steps to 0 for this teacher.")
        general_data = make_text_features_dataset(
            None, tokenizer.vocab_file, batch_size=job.batch_size, max_seq_len=job.seq_len,
            seed=job.seed)
        backbone = _distil(job, "general", pretrainer.backbone, student.backbone,
                           general_data, job.general_steps, job.general_learning_rate,
                           verbose, stage="general", **heads)
        student = TextClassifier(backbone, num_classes=teacher.num_classes, name="student")

    augmented = []
    if job.num_variants:
        train = data["train"]
        sources = (train if isinstance(train, list) else
                   read_examples(train, labels, job.max_augment_examples))
        augmented = _augmented_pairs(job, sources[: job.max_augment_examples], teacher,
                                     pretrainer, tokenizer)
    total = data["train_count"] + len(augmented)
    task_data = make_dataset(data["train"], **common, shuffle=True, seed=job.seed,
                             count=data["train_count"], extra=augmented)
    per_epoch = max(1, total // job.batch_size)
    for stage, epochs, extra in (("intermediate", job.intermediate_epochs, heads),
                                 ("prediction", job.prediction_epochs, {})):
        steps[stage] = math.prod(fit_chunks(epochs * per_epoch)) if epochs else 0
        if epochs:
            student = _distil(job, stage, teacher, student, task_data, steps[stage],
                              job.learning_rate, verbose, stage=stage, **extra)

    paths = {"student": _save(student, _path(job, "student_classifier.keras")),
             "student_backbone": _save(student.backbone, _path(job, "student_backbone.keras"))}
    if job.data:  # a self-contained run directory, as `finetune` writes
        from keras_compact.training.tasks import save_task_model

        info = _task_info_for_student(job, data, tokenizer)
        paths.update(save_task_model(student, _path(job, "student"), info, tokenizer))
    models = [("teacher", teacher), ("distilled student", student)]
    scratch = None
    if job.scratch_baseline:
        scratch = _train_scratch(job, data, vocabulary_size, teacher.num_classes,
                                 sum(steps.values()), common, verbose)
        paths["scratch"] = _save(scratch, _path(job, "scratch_classifier.keras"))
        models.append(("scratch student", scratch))

    from keras_compact.training.finetune import median_latency_ms
    from keras_compact.training.tasks import evaluate_split

    models = dict(models)
    latency = {batch: median_latency_ms(models, job.seq_len, batch) if job.measure_latency
               else dict.fromkeys(models, 0.0) for batch in (1, 32)}
    table = []
    for name, model in models.items():
        scores = evaluate_split(model, data["test"], labels, tokenizer, job.seq_len,
                                data["metrics"], batch_size=job.batch_size)
        table.append({
            "model": name,
            "parameters": int(model.count_params()),
            f"test_{data['metrics'][0]}": scores[data["metrics"][0]],
            "scores": scores,
            "latency_b1_ms": latency[1][name],
            "latency_b32_ms": latency[32][name],
        })
    results = {"table": table, "steps": steps, "test_examples": data["test_count"],
               "test_split": data["test_name"], "metric": data["metrics"][0],
               "job": dataclasses.asdict(job)}
    paths["results"] = _write_json(results, _path(job, "results.json"))
    return {"student": student, "teacher": teacher, "scratch": scratch, "table": table,
            "steps": steps, "paths": paths, "metric": data["metrics"][0]}


def _task_info_for_student(job, data, tokenizer):
    from keras_compact.tasks.task_file import TASK_FILE
    from keras_compact.tasks.task_file import read_task_file

    info_path = os.path.join(os.path.dirname(os.path.abspath(job.teacher)), TASK_FILE)
    if os.path.isfile(info_path):
        info = read_task_file(info_path)
    else:
        options = job.data
        info = {"name": data["name"], "labels": data["labels"].to_json(),
                "label_names": data["labels"].names,
                "text_column": options.get("text_column") or "text",
                "text_b_column": options.get("text_b_column"),
                "label_column": options.get("label_column") or "label",
                "pair": data["pair"], "metrics": list(data["metrics"])}
    info = {k: v for k, v in info.items() if k not in ("tokenizer", "scores")}
    info["seq_len"] = job.seq_len
    return info


def _train_scratch(job, data, vocabulary_size, num_classes, total_steps, common, verbose):
    """The same student, fresh, trained on the gold labels for `total_steps`."""
    import keras

    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.training.finetune import make_adamw
    from keras_compact.training.tasks import compile_task_model

    done = _path(job, "stages", "scratch.keras")
    if os.path.isfile(done):
        print(f"Scratch baseline: done before, loading {done}")
        from keras_compact.models import TextClassifier

        return load_keras_file(done, "stage checkpoint", TextClassifier)
    keras.utils.set_random_seed(job.seed)  # the distilled student's initial weights
    scratch = build_student(job, vocabulary_size, num_classes)
    train = make_dataset(data["train"], **common, shuffle=True, seed=job.seed,
                         count=data["train_count"])
    epochs, per_epoch = fit_chunks(total_steps)
    rate = job.scratch_learning_rate or job.learning_rate
    compile_task_model(scratch, data["labels"], make_adamw(per_epoch * epochs, rate))
    print(f"Scratch baseline: the same student from its initial weights, "
          f"{per_epoch * epochs} steps on the gold labels, AdamW peak {rate:g}")
    scratch.fit(train.repeat(), epochs=epochs, steps_per_epoch=per_epoch, verbose=verbose,
                shuffle=False)
    _save(scratch, done)
    return scratch


def _write_json(value, path):
    from keras_compact.utils.atomic import atomic_file

    with atomic_file(path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=1)
    return path


def _size_ratio(teacher, student):
    ratio = teacher.count_params() / student.count_params()
    return f"{ratio:.1f}x smaller" if ratio >= 1 else f"{1 / ratio:.1f}x larger"


def _smaller(teacher_parameters, parameters):
    """The "smaller" column: 7.5x, or 1/2.5x for a model larger than the teacher."""
    ratio = teacher_parameters / parameters
    return f"{ratio:.1f}x" if ratio >= 1 else f"1/{1 / ratio:.1f}x"


def format_table(table, metric="accuracy"):
    """The teacher / student table as aligned text, with ratios to the teacher.

    Args:
        table: the rows of `run_distillation`.
        metric: the task's official metric; rows hold it as `test_<metric>`.
    """
    teacher = table[0]
    lines = [f"{'model':<18} {'parameters':>12} {'smaller':>8} {'test score':>10} "
             f"{'ms b=1':>8} {'ms b=32':>8} {'speedup b=32':>13}"]
    for row in table:
        lines.append(
            f"{row['model']:<18} {row['parameters']:>12,} "
            f"{_smaller(teacher['parameters'], row['parameters']):>8} "
            f"{row['test_' + metric]:>10.4f} {row['latency_b1_ms']:>8.2f} "
            f"{row['latency_b32_ms']:>8.2f} "
            f"{teacher['latency_b32_ms'] / max(row['latency_b32_ms'], 1e-9):>12.1f}x")
    return "\n".join(lines)
