"""One pretraining job from text (or TFRecords) to a saved model.

TF-only input side (tf.data, SentencePiece through tensorflow-text). Used by
`keras-compact pretrain`, by the main job (`keras-compact main-job`) and by the
notebook; each step prints what it does.
"""

import dataclasses
import math
import os
import zlib

from keras_compact.models.presets import get_preset_config


@dataclasses.dataclass
class PretrainingJob:
    """What to pretrain, on what, for how long. Defaults fit a CPU demo.

    Attributes:
        output_dir: run directory (checkpoints, logs, models, plots).
        corpus: text files (blank line between documents) or None for the
            bundled Python-documentation corpus.
        tfrecords: folder or glob written by `keras-compact make-examples`;
            replaces `corpus` for training (needs `vocab`).
        vocab: SentencePiece .model; None trains one into output_dir/vocab.
        vocab_size: pieces of the trained vocabulary.
        preset: backbone preset whose config is the starting point.
        config: overrides of the preset's config.
        steps, batch_size, sequence_length, max_predictions: the run's shape
            (max_predictions None means 15% of sequence_length plus headroom).
        checkpoint_every: steps between atomic checkpoints.
        learning_rate, warmup_steps: None for the scaled paper rate and 1%.
        mixed_precision: None, "mixed_bfloat16" or "mixed_float16".
        sentence_task: "sop" or "nsp".
        mlm_weight, sentence_weight: weights of the two losses.
        eval_fraction: share of documents held out for evaluation.
        eval_steps: held-out batches per evaluation.
        seed: data seed.
    """

    output_dir: str
    corpus: list = None
    tfrecords: str = None
    vocab: str = None
    vocab_size: int = 8000
    preset: str = "albert_base"
    config: dict = dataclasses.field(default_factory=dict)
    steps: int = 1000
    batch_size: int = 32
    sequence_length: int = 128
    max_predictions: int = None
    checkpoint_every: int = 100
    learning_rate: float = None
    warmup_steps: int = None
    mixed_precision: str = None
    sentence_task: str = "sop"
    mlm_weight: float = 1.0
    sentence_weight: float = 1.0
    eval_fraction: float = 0.05
    eval_steps: int = 20
    seed: int = 0


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def tfrecords_metadata(tfrecords):
    """The metadata of a `make-examples` folder (or glob), or None."""
    from keras_compact.data.tfrecords import find_tfrecord_files

    return find_tfrecord_files(tfrecords)[1]


def check_job(job):
    """Raises ValueError for settings that cannot run, before any work.

    Checks every value (a negative or zero rate, step count, length...), the
    config's keys, and offline examples against the job: vocabulary size,
    sequence length, prediction slots and sentence task must be those the
    records were written with (else the first step would fail inside a
    TensorFlow graph, or a model with unused positions would be built).
    """
    from keras_compact.models.backbone import check_config_keys
    from keras_compact.utils.paths import require_file

    from keras_compact.utils.validation import require_positive

    for name in ("steps", "batch_size", "checkpoint_every"):
        require_positive(f"--{name.replace('_', '-')}", getattr(job, name), integer=True)
    require_positive("sequence_length", job.sequence_length, integer=True)
    if job.sequence_length < 5:
        raise ValueError(f"sequence_length={job.sequence_length} is too short; use at least 5 "
                         "(128 usual).")
    if not _positive_int(job.vocab_size) or job.vocab_size < 6:
        raise ValueError(f"--vocab-size must exceed the 5 special pieces, got {job.vocab_size!r}.")
    if job.learning_rate is not None:
        require_positive("--learning-rate", job.learning_rate)
    if job.warmup_steps is not None and not 0 <= job.warmup_steps <= job.steps:
        raise ValueError(f"--warmup-steps must be in [0, --steps={job.steps}], got "
                         f"{job.warmup_steps!r}.")
    if job.max_predictions is not None and not 1 <= job.max_predictions <= job.sequence_length:
        raise ValueError(f"--max-predictions must be in [1, sequence_length="
                         f"{job.sequence_length}], got {job.max_predictions!r}.")
    if job.eval_steps < 0:
        raise ValueError(f"--eval-steps must be >= 0, got {job.eval_steps!r}.")
    for name in ("mlm_weight", "sentence_weight"):
        value = getattr(job, name)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {value!r}.")
    if not job.mlm_weight and not job.sentence_weight:
        raise ValueError("--mlm-weight and --sentence-weight are both 0: nothing to learn.")
    if not 0 <= job.eval_fraction < 1:
        raise ValueError(f"eval_fraction must be in [0, 1), got {job.eval_fraction!r}.")
    if job.sentence_task not in ("sop", "nsp"):
        raise ValueError(f"--sentence-task must be sop or nsp, got {job.sentence_task!r}.")
    check_config_keys(job.config or {}, "--config")
    if job.vocab:
        require_file(job.vocab, "--vocab", "a SentencePiece .model from `keras-compact vocab`")
    for path in job.corpus or ():
        if os.path.isdir(path):
            raise IsADirectoryError(21, "--corpus takes text files, not a directory", path)
    if not job.tfrecords:
        return
    if not job.vocab:
        raise ValueError(
            f"--tfrecords {job.tfrecords} needs --vocab: the SentencePiece model "
            "the examples were made with (it fixes the vocabulary size).")
    metadata = tfrecords_metadata(job.tfrecords)
    if metadata is None:
        return
    from keras_compact.data.tokenizer import load_sentencepiece_processor

    size = load_sentencepiece_processor(job.vocab).get_piece_size()
    written = metadata.get("vocabulary_size")
    if written is not None and written != size:
        raise ValueError(
            f"--tfrecords {job.tfrecords} were written with a {written}-piece vocabulary "
            f"but --vocab {job.vocab} has {size} pieces; pass the SentencePiece model the "
            "examples were made with, or remake them with `keras-compact make-examples`.")
    for name, flag, value in (("sequence_length", "sequence_length=", job.sequence_length),
                              ("max_predictions", "--max-predictions ", job.max_predictions),
                              ("task", "--sentence-task ", job.sentence_task)):
        if value is not None and name in metadata and metadata[name] != value:
            raise ValueError(
                f"{flag}{value} does not match --tfrecords {job.tfrecords}, written with "
                f"{name}={metadata[name]}; pass {flag}{metadata[name]} (or remake the "
                "examples).")


def run_settings(job):
    """What shapes a pretraining run's results (fingerprinted in OUTPUT_DIR)."""
    from keras_compact.utils.run_settings import file_identity

    settings = dataclasses.asdict(job)
    settings.pop("output_dir")
    settings["vocab"] = file_identity(job.vocab)
    settings["corpus"] = [file_identity(p, content_hash=False) for p in job.corpus or ()]
    if job.tfrecords:
        settings["tfrecords"] = {"path": os.path.abspath(job.tfrecords),
                                 "metadata": tfrecords_metadata(job.tfrecords)}
    return settings


def is_held_out(document_id, eval_fraction):
    """Stable document-level split (a hash of the id, not its position)."""
    bucket = zlib.crc32(document_id.encode("utf-8")) % 10_000
    return bucket < eval_fraction * 10_000


def prepare_vocabulary(job):
    """Returns the job's SentencePiece model, training one if needed."""
    from keras_compact import data

    if job.vocab:
        return job.vocab
    path = os.path.join(job.output_dir, "vocab", "spm.model")
    if os.path.exists(path):
        print(f"Using the vocabulary already trained for this run: {path}")
        return path
    from keras_compact.distribution import is_chief

    if not is_chief():
        raise ValueError(
            "This worker is not the chief and the run has no vocabulary; under "
            "MultiWorkerMirroredStrategy train it first (`keras-compact vocab`) and "
            "pass --vocab to every worker, so that no two workers write it.")
    if job.corpus:
        text_files = list(job.corpus)
    else:
        text_files = [
            data.default_corpus_text_file(
                os.path.join(job.output_dir, "vocab", "corpus.txt")
            )
        ]
    print(f"Training a {job.vocab_size}-piece SentencePiece vocabulary ...")
    data.train_vocabulary(text_files, path, vocab_size=job.vocab_size)
    print(f"Vocabulary: {path}")
    return path


def preset_config_with(preset, overrides, vocabulary_size, sequence_length):
    """A preset's config with overrides, the vocabulary size and, unless
    overridden, `max_sequence_length=sequence_length`."""
    config = {**get_preset_config(preset), **(overrides or {})}
    config["vocabulary_size"] = vocabulary_size
    # Positions beyond the run's length would never be trained.
    config["max_sequence_length"] = (overrides or {}).get(
        "max_sequence_length", sequence_length
    )
    return config


def backbone_config_for(job, vocabulary_size):
    """The preset's config with the job's overrides and vocabulary size."""
    config = preset_config_with(job.preset, job.config, vocabulary_size, job.sequence_length)
    if config["max_sequence_length"] < job.sequence_length:
        raise ValueError(
            f"max_sequence_length={config['max_sequence_length']} is shorter "
            f"than sequence_length={job.sequence_length}; raise it or shorten sequence_length."
        )
    return config


def make_datasets(job, vocab_path):
    """(train, held-out) datasets of the element format of keras_compact.data."""
    from keras_compact import data

    max_predictions = job.max_predictions
    if max_predictions is None:
        max_predictions = data.default_max_predictions(job.sequence_length)
    common = dict(
        tokenizer_or_model_path=vocab_path,
        batch_size=job.batch_size,
        sequence_length=job.sequence_length,
        max_predictions=max_predictions,
        task=job.sentence_task,
    )
    if job.tfrecords:
        train = data.read_pretraining_tfrecords(
            job.tfrecords, batch_size=job.batch_size, seed=job.seed
        )
        return train, None
    if job.corpus:
        documents = data.load_text_corpus(job.corpus)
    else:
        documents = data.load_default_corpus()
    train_docs = [d for d in documents if not is_held_out(d.id, job.eval_fraction)]
    held_docs = [d for d in documents if is_held_out(d.id, job.eval_fraction)]
    print(
        f"Documents: {len(train_docs)} for training, {len(held_docs)} held out."
    )
    train = data.make_pretraining_dataset(train_docs, seed=job.seed, **common)
    held = None
    if held_docs and job.eval_steps:
        held = data.make_pretraining_dataset(
            held_docs, seed=job.seed + 1, **common
        )
    return train, held


def run_job(job, strategy=None, verbose="auto", overwrite=False):
    """Runs the job: vocabulary, data, `fit` with resume, saved models, plot.

    Checks every setting first (`check_job`), then the output directory's
    run record (`keras_compact.utils.run_settings`): a rerun with the same
    settings resumes, one with other settings stops before writing anything
    unless `overwrite`.
    """
    from keras_compact.tokenizers import load_tokenizer
    from keras_compact.distribution import is_chief
    from keras_compact.training.pretrain import PRETRAIN_OUTPUTS
    from keras_compact.training.pretrain import run_pretraining
    from keras_compact.utils.run_settings import check_run_settings

    import keras

    check_job(job)
    settings = run_settings(job)
    check_run_settings(job.output_dir, "pretrain", settings, PRETRAIN_OUTPUTS,
                       overwrite=overwrite, write=is_chief())

    # Same initial weights and data order for the same seed. Set before any
    # tokenizer is built: re-seeding TF drops existing SentencePiece resources.
    keras.utils.set_random_seed(job.seed)
    vocab_path = prepare_vocabulary(job)
    vocabulary_size = load_tokenizer(vocab_path).vocabulary_size()
    config = backbone_config_for(job, vocabulary_size)
    train, held = make_datasets(job, vocab_path)
    result = run_pretraining(
        job.output_dir,
        config,
        train,
        total_steps=job.steps,
        batch_size=job.batch_size,
        eval_dataset=held,
        eval_steps=job.eval_steps,
        steps_per_checkpoint=job.checkpoint_every,
        learning_rate=job.learning_rate,
        warmup_steps=job.warmup_steps,
        mixed_precision=job.mixed_precision,
        sentence_task=job.sentence_task,
        mlm_weight=job.mlm_weight,
        sentence_weight=job.sentence_weight,
        strategy=strategy,
        verbose=verbose,
        run_settings=settings,
    )
    result["vocab"] = vocab_path
    return result
