"""GLUE's directory layouts: which file, which columns, which labels, which metric.

Plain Python. A GLUE task folder is the one the GLUE download script writes
(`CoLA/`, `SST-2/`, `MRPC/`, `STS-B/`, `QQP/`, `MNLI/`, `QNLI/`, `RTE/`,
`WNLI/`), holding `train.tsv`, `dev.tsv` (MNLI: `dev_matched.tsv` and
`dev_mismatched.tsv`) and `test.tsv` (no labels). Pass the task folder
itself or the GLUE root above it.

The TSVs are read with quotes as plain text (GLUE's sentences contain
unbalanced quotes); CoLA's train and dev files have no header, so its
columns go by index. The official metrics are
`GLUE_METRICS` (also `keras_compact.metrics.GLUE_METRICS`).

Example:
```python
task = glue_task("mrpc", "glue_data/")
task["train"].path           # "glue_data/MRPC/train.tsv"
task["metrics"]              # ("f1", "accuracy")
```
"""

import os

from keras_compact.tasks.text_files import DataFileError
from keras_compact.tasks.text_files import FileSpec

# GLUE task -> the metrics its leaderboard reports, official one first
# (re-exported as keras_compact.metrics.GLUE_METRICS).
GLUE_METRICS = {
    "cola": ("matthews_corrcoef",),
    "sst2": ("accuracy",),
    "mrpc": ("f1", "accuracy"),
    "stsb": ("pearson", "spearman"),
    "qqp": ("f1", "accuracy"),
    "mnli": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
}

# name -> folder, text column(s), label column, labels (None: regression),
# header of train/dev, evaluation splits -> file names.
GLUE_LAYOUTS = {
    "cola": dict(folder="CoLA", text="3", text_b=None, label="1", labels=["0", "1"],
                 header=False, test_text="sentence"),
    "sst2": dict(folder="SST-2", text="sentence", text_b=None, label="label",
                 labels=["0", "1"]),
    "mrpc": dict(folder="MRPC", text="#1 String", text_b="#2 String", label="Quality",
                 labels=["0", "1"]),
    "stsb": dict(folder="STS-B", text="sentence1", text_b="sentence2", label="score",
                 labels=None),
    "qqp": dict(folder="QQP", text="question1", text_b="question2", label="is_duplicate",
                labels=["0", "1"]),
    "mnli": dict(folder="MNLI", text="sentence1", text_b="sentence2", label="gold_label",
                 labels=["contradiction", "entailment", "neutral"],
                 validation={"validation_matched": "dev_matched.tsv",
                             "validation_mismatched": "dev_mismatched.tsv"},
                 test={"test_matched": "test_matched.tsv",
                       "test_mismatched": "test_mismatched.tsv"}),
    "qnli": dict(folder="QNLI", text="question", text_b="sentence", label="label",
                 labels=["entailment", "not_entailment"]),
    "rte": dict(folder="RTE", text="sentence1", text_b="sentence2", label="label",
                labels=["entailment", "not_entailment"]),
    "wnli": dict(folder="WNLI", text="sentence1", text_b="sentence2", label="label",
                 labels=["0", "1"]),
}
assert set(GLUE_LAYOUTS) == set(GLUE_METRICS)


def glue_name(name):
    """The canonical task key ("sst2") for "SST-2", "sst_2", "STS-B", ..."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in GLUE_LAYOUTS:
        raise ValueError(f"Unknown GLUE task {name!r}; known: "
                         f"{', '.join(sorted(GLUE_LAYOUTS))}.")
    return key


def _task_folder(key, directory):
    folder = GLUE_LAYOUTS[key]["folder"]
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"GLUE directory {directory!r} does not exist.")
    for candidate in (os.path.join(directory, folder), directory):
        if os.path.isfile(os.path.join(candidate, "train.tsv")):
            return candidate
    raise DataFileError(f"No {folder}/train.tsv under {directory!r}: pass the GLUE root "
                        f"(holding {folder}/) or the {folder} folder itself.")


def glue_task(name, directory, on_bad_row="error", max_line_bytes=None):
    """The files, columns, labels and metrics of one GLUE task.

    Args:
        name: "cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte" or
            "wnli" (GLUE's spellings such as "SST-2" work too).
        directory: the GLUE root or the task folder.
        on_bad_row, max_line_bytes: passed to each `FileSpec`.

    Returns:
        A dict: "name", "train" (FileSpec), "validation" (dict split name ->
        FileSpec; MNLI has matched and mismatched), "test" (dict, possibly
        empty; unlabelled), "labels" (list of label strings, or None for
        STS-B's regression), "metrics" (official first), "pair".

    Raises:
        FileNotFoundError / DataFileError: the folder or a dev file is missing.
    """
    key = glue_name(name)
    layout = GLUE_LAYOUTS[key]
    folder = _task_folder(key, directory)
    extra = {"on_bad_row": on_bad_row}
    if max_line_bytes is not None:  # 0 is refused by FileSpec, not a default
        extra["max_line_bytes"] = max_line_bytes

    def spec(filename, label=True, text=None):
        return FileSpec(os.path.join(folder, filename), format="tsv", quoting="none",
                        text_column=text or layout["text"], text_b_column=layout["text_b"],
                        label_column=layout["label"] if label else None,
                        header=layout.get("header", True) if label else True, **extra)

    validation = {split: spec(filename) for split, filename in
                  layout.get("validation", {"validation": "dev.tsv"}).items()}
    for split, file_spec in validation.items():
        if not os.path.isfile(file_spec.path):
            raise FileNotFoundError(f"GLUE {layout['folder']}: {file_spec.path!r} does not "
                                    f"exist ({split} split).")
    test = {}
    for split, filename in layout.get("test", {"test": "test.tsv"}).items():
        if os.path.isfile(os.path.join(folder, filename)):
            test[split] = spec(filename, label=False, text=layout.get("test_text"))
    return {"name": key, "train": spec("train.tsv"), "validation": validation, "test": test,
            "labels": layout["labels"], "metrics": GLUE_METRICS[key],
            "pair": layout["text_b"] is not None}
