"""One pretraining job from text (or TFRecords) to a saved model.

TF-only input side (tf.data, SentencePiece through tensorflow-text). Used by
`keras-compact pretrain`, by the main job (`keras-compact demo`) and by the
notebook; each step prints what it does.
"""

import dataclasses
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
        steps, batch_size, seq_len, max_predictions: the run's shape
            (max_predictions None means 15% of seq_len plus headroom).
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
    seq_len: int = 128
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
    from keras_compact.distribute import is_chief

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


def backbone_config_for(job, vocabulary_size):
    """The preset's config with the job's overrides and vocabulary size."""
    config = get_preset_config(job.preset)
    config.update(job.config or {})
    config["vocabulary_size"] = vocabulary_size
    # Positions beyond the run's length would never be trained.
    config["max_sequence_length"] = (job.config or {}).get(
        "max_sequence_length", job.seq_len
    )
    if config["max_sequence_length"] < job.seq_len:
        raise ValueError(
            f"max_sequence_length={config['max_sequence_length']} is shorter "
            f"than seq_len={job.seq_len}; raise it or shorten --seq-len."
        )
    return config


def make_datasets(job, vocab_path):
    """(train, held-out) datasets of the element format of keras_compact.data."""
    from keras_compact import data

    max_predictions = job.max_predictions or data.default_max_predictions(
        job.seq_len
    )
    common = dict(
        tokenizer_or_model_path=vocab_path,
        batch_size=job.batch_size,
        max_seq_len=job.seq_len,
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


def run_job(job, strategy=None, verbose="auto"):
    """Runs the job: vocabulary, data, `fit` with resume, saved models, plot."""
    from keras_compact.data import load_tokenizer
    from keras_compact.training.pretrain import run_pretraining

    import keras

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
    )
    result["vocab"] = vocab_path
    return result
