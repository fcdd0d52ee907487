"""`FinetuneJob` and `run_finetune`: the one fine-tuning path, files or a named dataset.

A job names its data (files through `data`, or a bundled dataset through
`dataset`, e.g. "sections"), its backbone (a `.keras` file, a Hugging Face
folder, or a fresh preset with its tokenizer) and the run's settings.
`run_finetune` checks every setting and reads every data file first, then
the output directory's run record (`keras_compact.utils.run_settings`): a
directory holding a run with other settings or other file contents stops
before anything is written, unless `overwrite`. Then one path,
`keras_compact.training.tasks.finetune_task`, trains, scores and writes
OUTPUT_DIR/classifier.keras (its preprocessor inside) and task.json.

Errors name the job's arguments (`sequence_length=0`); the command line
(`keras-compact finetune`) maps its flags to a job and translates them.

Two settings default to what the model and the data call for:
`learning_rate=None` is `default_learning_rate(backbone)` (by the backbone's
width), and `sequence_length="auto"` is `auto_sequence_length` (the 95th
percentile of the training texts' token counts). Both are printed; the run
record holds the chosen length, so a rerun compares numbers.

Example:
```python
job = FinetuneJob(output_dir="runs/sst", backbone="minilm_hf_dir/",
                  data={"train": "train.csv", "validation": "dev.csv",
                        "text_column": "sentence"})
result = run_finetune(job)
result["scores"]["validation"]["accuracy"]
```
"""

import dataclasses
import errno
import math
import os

import numpy as np

# Fine-tuning rates of a pretrained backbone (`default_learning_rate`): BERT's
# paper fine-tunes its H=768 models at 2e-5..5e-5 (5e-5, the top, was this
# package's default); the main job measured 1e-4 for all-MiniLM-L6-v2 (H=384,
# 22.7M parameters: 65.6% on the section task's validation after 3 epochs,
# where 3e-4 collapsed to the majority class).
BASE_WIDTH = 768
BASE_LEARNING_RATE = 5e-5
MIN_LEARNING_RATE = 2e-5
MAX_LEARNING_RATE = 3e-4
FRESH_LEARNING_RATE = 1e-4
# `sequence_length="auto"`: this percentile of the token counts (specials
# included) of at most AUTO_SAMPLE training examples, rounded up to a multiple
# of AUTO_MULTIPLE (whole tiles for the matrix units), capped at the
# backbone's position table.
AUTO_PERCENTILE = 95
AUTO_SAMPLE = 2000
AUTO_MULTIPLE = 8
DEFAULT_PRESET = "albert_base"
# Caps that only a bundled dataset takes (files are used whole).
_DATASET_CAPS = ("max_train_examples", "max_eval_examples", "max_per_section")


@dataclasses.dataclass
class FinetuneJob:
    """What to fine-tune on which data, and how.

    Attributes:
        output_dir: run directory (classifier.keras, task.json, run record).
        data: None for a bundled dataset, or a dict of file options:
            "train", "validation", "test" (paths), "text_column",
            "text_b_column", "label_column", "task", "glue", "data_dir",
            "skip_bad_rows", "max_line_bytes", "quoting"
            (`keras_compact.tasks.options.task_from_options`).
        dataset: a bundled dataset (`keras_compact.tasks.named`), default
            "sections" when `data` is None.
        backbone: a `.keras` file (CompactBackbone, or a model holding one)
            or a Hugging Face BERT / ALBERT folder.
        preset, config: a fresh backbone instead (default preset
            "albert_base"); `config` overrides its settings.
        tokenizer: a .model, vocab.txt or Hugging Face folder (default: the
            backbone's own).
        sequence_length: packed length of every example, or "auto"
            (default): `auto_sequence_length` of the training texts.
        epochs, batch_size, dropout, seed: the run.
        learning_rate: peak AdamW rate (None: `default_learning_rate` of
            the backbone).
        max_train_examples, max_eval_examples, max_per_section: caps on a
            bundled dataset's splits.
        one_pass_per_epoch: see `finetune_task`.
    """

    output_dir: str
    data: dict = None
    dataset: str = None
    backbone: str = None
    preset: str = None
    config: dict = None
    tokenizer: str = None
    sequence_length: object = "auto"
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = None
    dropout: float = 0.1
    max_train_examples: int = None
    max_eval_examples: int = None
    max_per_section: int = None
    seed: int = 0
    one_pass_per_epoch: bool = False


def default_learning_rate(backbone, pretrained=True):
    """The peak AdamW rate for fine-tuning `backbone` when none is given.

    A pretrained backbone gets 5e-5 x 768 / its width (`hidden_dim`),
    rounded to two digits and kept within [2e-5, 3e-4]: BERT-base's (H=768)
    5e-5 from the BERT paper's 2e-5..5e-5, and all-MiniLM-L6-v2's (H=384)
    1e-4 measured by the main job. Narrower models take larger steps: with
    Adam every weight moves by about the rate per step, so a layer's output
    moves in proportion to its fan-in, and a rate inversely proportional to
    the width keeps that movement alike (the muP rule for Adam, Yang et al.
    2022, "Tensor Programs V"). 3e-4 is the largest rate the compact BERTs of
    Turc et al. 2019 ("Well-Read Students") were fine-tuned with. A fresh
    (untrained) backbone keeps 1e-4.

    Args:
        backbone: a `CompactBackbone`, or its width (int).
        pretrained: False for a freshly initialised backbone.

    Returns:
        The rate (float).

    Example:
    ```python
    default_learning_rate(384)   # 1e-4 (all-MiniLM-L6-v2)
    default_learning_rate(768)   # 5e-5 (BERT-base)
    ```
    """
    if not pretrained:
        return FRESH_LEARNING_RATE
    width = backbone if isinstance(backbone, int) else backbone.hidden_dim
    rate = float(f"{BASE_LEARNING_RATE * BASE_WIDTH / width:.2g}")
    return min(MAX_LEARNING_RATE, max(MIN_LEARNING_RATE, rate))


def _sampled_examples(split, labels, count, sample):
    """(texts, texts_b or None) of at most `sample` examples of a split, evenly
    spaced over its `count` rows (a file sorted by label is sampled across
    its labels), in one pass."""
    from keras_compact.tasks.datasets import example_dataset
    from keras_compact.tasks.datasets import is_pair

    def batches():  # batched: element by element, tf.data is slow in Python
        return example_dataset(split, labels).batch(1024).as_numpy_iterator()

    if count is None:
        count = sum(len(batch[0]) for batch in batches())
    keep = np.unique(np.linspace(0, count - 1, min(count, sample)).round().astype(int))
    texts, texts_b, start = [], [], 0
    for text, text_b, _ in batches():
        rows = keep[(keep >= start) & (keep < start + len(text))] - start
        texts += text[rows].tolist()
        texts_b += text_b[rows].tolist()
        start += len(text)
    return texts, (texts_b if is_pair(split) else None)


def auto_sequence_length(split, labels, tokenizer, max_length, count=None,
                         percentile=AUTO_PERCENTILE, sample=AUTO_SAMPLE):
    """A packed length from the training texts' token counts.

    The texts of at most `sample` training examples (evenly spaced over the
    split) are tokenized with the model's tokenizer; each example counts its
    pieces plus its specials ([CLS] a [SEP], or [CLS] a [SEP] b [SEP]). The
    `percentile`-th percentile of those counts (numpy's linear
    interpolation), rounded up to a multiple of 8, capped at `max_length`.

    Args:
        split: the training split (a `FileSpec` or an in-memory list).
        labels: the task's `LabelInfo` (rows whose label is skipped are not counted).
        tokenizer: a `keras_compact.tokenizers` tokenizer.
        max_length: the backbone's position table (`max_sequence_length`).
        count: the split's example count, when known.
        percentile, sample: the rule's settings.

    Returns:
        (length, the percentile's value before rounding, examples counted).
    """
    import tensorflow as tf

    from keras_compact.preprocessing.packing import CHARS_PER_TOKEN
    from keras_compact.preprocessing.packing import bound_text_length

    texts, texts_b = _sampled_examples(split, labels, count, sample)
    if not texts:
        raise ValueError("sequence_length='auto' needs training texts; the split is empty.")

    def pieces(strings):  # bounded per text, as the preprocessor does
        counts = []
        for start in range(0, len(strings), 256):
            batch = bound_text_length(tf.constant(strings[start:start + 256]),
                                      CHARS_PER_TOKEN * max_length)
            ids = tokenizer.tokenize(batch)  # eagerly keras-hub tokenizers give lists
            counts.append(ids.row_lengths().numpy() if hasattr(ids, "row_lengths")
                          else np.array([len(row) for row in ids]))
        return np.concatenate(counts)

    lengths = pieces(texts) + 2
    if texts_b is not None:
        lengths = lengths + pieces(texts_b) + 1
    value = float(np.percentile(lengths, percentile))
    length = AUTO_MULTIPLE * math.ceil(value / AUTO_MULTIPLE)
    return min(max(length, AUTO_MULTIPLE), max_length), value, len(texts)


def check_finetune_job(job):
    """Raises ValueError (naming the argument) for settings that cannot run."""
    from keras_compact.models.backbone import check_config_keys
    from keras_compact.utils.validation import require_in_range
    from keras_compact.utils.validation import require_positive

    for name in ("epochs", "batch_size"):
        require_positive(name, getattr(job, name), integer=True)
    if job.sequence_length != "auto":
        if isinstance(job.sequence_length, str):
            raise ValueError(f"sequence_length={job.sequence_length!r} is neither a number of "
                             "tokens nor 'auto'; pass e.g. 128, or 'auto' (from the training "
                             "texts).")
        require_positive("sequence_length", job.sequence_length, integer=True)
    for name in _DATASET_CAPS:
        if getattr(job, name) is not None:
            require_positive(name, getattr(job, name), integer=True)
    if job.learning_rate is not None:
        require_positive("learning_rate", job.learning_rate)
    require_in_range("dropout", job.dropout, 0, 1)
    if not job.output_dir:
        raise ValueError("output_dir is required: the run directory.")
    if job.data and job.dataset:
        raise ValueError(f"dataset={job.dataset!r} is a bundled dataset and data names files; "
                         "pass one of them.")
    if job.data:
        caps = [name for name in _DATASET_CAPS if getattr(job, name) is not None]
        if caps:
            raise ValueError(f"{caps[0]} caps a bundled dataset (dataset=...); data files are "
                             f"used whole: drop {caps[0]}.")
    if job.backbone and (job.preset or job.config):
        raise ValueError("preset and config build a fresh backbone and cannot be combined "
                         f"with backbone={job.backbone!r}; drop one.")
    check_config_keys(job.config or {}, "config")


def input_identity(path, argument, what, folder=None):
    """`file_identity` of an input file (or folder) for the run record.

    Args:
        path: the path given (None: None).
        argument, what: for the error message ("backbone", "a .keras file ...").
        folder: None: `path` must be a file; a file name (e.g. "config.json"):
            a folder holding it is accepted too; True: any folder is accepted.

    Raises:
        IsADirectoryError, FileNotFoundError: naming `argument` and `path`.
    """
    from keras_compact.utils.paths import require_file
    from keras_compact.utils.run_settings import file_identity
    from keras_compact.utils.run_settings import folder_identity

    if path is None:
        return None
    if folder and os.path.isdir(path):
        if folder is not True and not os.path.isfile(os.path.join(path, folder)):
            raise IsADirectoryError(errno.EISDIR, f"{argument} is a directory without "
                                    f"{folder}; pass {what}", path)
        return folder_identity(path)
    require_file(path, argument, what)
    return file_identity(path)


def run_settings(job):
    """What shapes a fine-tuning run (fingerprinted in OUTPUT_DIR): every setting,
    input files by content."""
    settings = dataclasses.asdict(job)
    settings.pop("output_dir")
    settings["backbone"] = input_identity(
        job.backbone, "backbone", "a .keras file (e.g. the backbone.keras written by "
        "`keras-compact pretrain`) or a Hugging Face folder, or drop backbone to fine-tune a "
        "fresh preset", folder="config.json")
    settings["tokenizer"] = input_identity(job.tokenizer, "tokenizer", "a .model, vocab.txt "
                                           "or Hugging Face folder", folder=True)
    if job.data:  # each data option at the top, so a difference names it ("train")
        settings.pop("data")
        settings.update(job.data)
        for name in ("train", "validation", "test"):
            settings[name] = input_identity(job.data.get(name), name,
                                            "a CSV, TSV or JSONL file")
        if job.data.get("glue"):
            settings["data_dir"] = input_identity(job.data.get("data_dir"), "data_dir",
                                                  "the GLUE folder", folder=True)
    return settings


def job_task(job):
    """The job's prepared task: its files read and checked, or a bundled dataset."""
    if job.data:
        from keras_compact.tasks.options import task_from_options

        return task_from_options(job.data)
    from keras_compact.tasks.named import named_task

    return named_task(job.dataset or "sections", seed=job.seed,
                      max_train_examples=job.max_train_examples,
                      max_eval_examples=job.max_eval_examples,
                      max_per_section=job.max_per_section)


def _resolve_sequence_length(job, task):
    """(job with a number for "auto", loaded (backbone, tokenizer, description) or None)."""
    import keras

    from keras_compact.training.tasks import load_backbone_and_tokenizer

    if job.sequence_length != "auto":
        return job, None
    keras.utils.set_random_seed(job.seed)  # before any tokenizer exists (see run_finetune)
    if job.backbone:
        loaded = load_backbone_and_tokenizer(job.backbone, tokenizer=job.tokenizer,
                                             sequence_length=None)
        tokenizer, max_length = loaded[1], loaded[0].max_sequence_length
    else:
        from keras_compact.models.presets import get_preset_config
        from keras_compact.tokenizers import load_tokenizer

        preset = job.preset or DEFAULT_PRESET
        if not job.tokenizer:
            raise ValueError(f"preset={preset!r} builds a fresh backbone; pass tokenizer= (a "
                             ".model, vocab.txt or Hugging Face folder) for its vocabulary.")
        loaded = None  # the fresh backbone is built with the chosen length as its table
        tokenizer = load_tokenizer(job.tokenizer)
        config = {**get_preset_config(preset), **(job.config or {})}
        max_length = config.get("max_sequence_length", 512)
    length, value, examples = auto_sequence_length(task["train"], task["labels"], tokenizer,
                                                   max_length, count=task["counts"]["train"])
    print(f"Sequence length {length} (auto): the {AUTO_PERCENTILE}th percentile of "
          f"{examples:,} training examples' token counts, specials included, is {value:.1f}; "
          f"rounded up to a multiple of {AUTO_MULTIPLE}, at most {max_length}")
    return dataclasses.replace(job, sequence_length=length), loaded


def run_finetune(job, overwrite=False, verbose=2):
    """Runs `job`: checks, reads the data, trains, scores and writes the run directory.

    Args:
        job: a `FinetuneJob`.
        overwrite: replace a run with other settings in `job.output_dir`.
        verbose: 0 prints no per-epoch line.

    Returns:
        A dict: "classifier", "scores" (split -> metric -> value), "paths",
        "training" (see `finetune_task`).

    Raises:
        ValueError / OSError: bad settings or data (naming the argument, the
            file, line and column), or `RunSettingsMismatch`; nothing is
            written then.
    """
    import keras

    from keras_compact.training.tasks import FINETUNE_OUTPUTS
    from keras_compact.training.tasks import finetune_task
    from keras_compact.training.tasks import load_backbone_and_tokenizer
    from keras_compact.utils.run_settings import check_run_settings

    check_finetune_job(job)
    task = job_task(job)  # every file read and checked; nothing written yet
    run_settings(job)  # the input files checked before any is loaded
    # "auto" becomes a number first: the run record compares numbers.
    job, loaded = _resolve_sequence_length(job, task)
    check_run_settings(job.output_dir, "finetune", run_settings(job), FINETUNE_OUTPUTS,
                       overwrite=overwrite)
    if loaded is None:
        # Before any tokenizer exists: set_random_seed deletes SentencePiece
        # resources made before it (the datasets make theirs inside tf.data).
        keras.utils.set_random_seed(job.seed)
        preset = None if job.backbone else (job.preset or DEFAULT_PRESET)
        loaded = load_backbone_and_tokenizer(
            job.backbone, preset=preset, config=job.config, tokenizer=job.tokenizer,
            sequence_length=job.sequence_length)
    backbone, tokenizer, description = loaded
    print(f"Backbone: {description}")
    learning_rate = job.learning_rate
    if learning_rate is None:
        learning_rate = default_learning_rate(backbone, pretrained=bool(job.backbone))
        print(f"Learning rate {learning_rate:g} (default for a "
              + (f"pretrained backbone of width {backbone.hidden_dim}"
                 if job.backbone else "fresh backbone") + ")")
    return finetune_task(task, backbone, tokenizer, job.output_dir, epochs=job.epochs,
                         batch_size=job.batch_size, sequence_length=job.sequence_length,
                         learning_rate=learning_rate, dropout=job.dropout, seed=job.seed,
                         verbose=verbose, one_pass_per_epoch=job.one_pass_per_epoch)
