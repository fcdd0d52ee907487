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
import os

PRETRAINED_LEARNING_RATE = 5e-5
FRESH_LEARNING_RATE = 1e-4
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
        sequence_length: packed length of every example.
        epochs, batch_size, dropout, seed: the run.
        learning_rate: peak AdamW rate (None: 5e-5 with `backbone`, 1e-4 for
            a fresh one).
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
    sequence_length: int = 128
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = None
    dropout: float = 0.1
    max_train_examples: int = None
    max_eval_examples: int = None
    max_per_section: int = None
    seed: int = 0
    one_pass_per_epoch: bool = False


def check_finetune_job(job):
    """Raises ValueError (naming the argument) for settings that cannot run."""
    from keras_compact.models.backbone import check_config_keys
    from keras_compact.utils.validation import require_in_range
    from keras_compact.utils.validation import require_positive

    for name in ("epochs", "batch_size", "sequence_length"):
        require_positive(name, getattr(job, name), integer=True)
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


def run_finetune(job, overwrite=False, verbose=2):
    """Runs `job`: checks, reads the data, trains, scores and writes the run directory.

    Args:
        job: a `FinetuneJob`.
        overwrite: replace a run with other settings in `job.output_dir`.
        verbose: 0 prints no per-epoch line.

    Returns:
        A dict: "classifier", "scores" (split -> metric -> value), "paths".

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
    check_run_settings(job.output_dir, "finetune", run_settings(job), FINETUNE_OUTPUTS,
                       overwrite=overwrite)
    # Before any tokenizer exists: set_random_seed deletes SentencePiece
    # resources made before it (the datasets make theirs inside tf.data).
    keras.utils.set_random_seed(job.seed)
    preset = None if job.backbone else (job.preset or DEFAULT_PRESET)
    backbone, tokenizer, description = load_backbone_and_tokenizer(
        job.backbone, preset=preset, config=job.config, tokenizer=job.tokenizer,
        sequence_length=job.sequence_length)
    learning_rate = job.learning_rate
    if learning_rate is None:
        learning_rate = PRETRAINED_LEARNING_RATE if job.backbone else FRESH_LEARNING_RATE
    print(f"Backbone: {description}")
    return finetune_task(task, backbone, tokenizer, job.output_dir, epochs=job.epochs,
                         batch_size=job.batch_size, sequence_length=job.sequence_length,
                         learning_rate=learning_rate, dropout=job.dropout, seed=job.seed,
                         verbose=verbose, one_pass_per_epoch=job.one_pass_per_epoch)
