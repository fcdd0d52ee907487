"""Named datasets: bundled tasks as prepared tasks, the same shape as files give.

`named_task("sections")` is the bundled section task
(`keras_compact.data.labelled_task`: which part of the Python documentation
a paragraph comes from) as in-memory splits with the keys
`keras_compact.tasks.datasets.prepare_task` returns, so fine-tuning,
evaluation and distillation run the same code on it as on a user's files.
Plain Python (the bundled corpus is read with the standard library).

Example:
```python
task = named_task("sections", max_train_examples=4000)
finetune_task(task, backbone, "vocab/spm.model", "runs/teacher")
```
"""

NAMED_DATASETS = ("sections",)


def named_task(name, seed=0, max_train_examples=None, max_eval_examples=None,
               max_per_section=None):
    """A bundled dataset as a prepared task (train, validation and test in memory).

    Args:
        name: "sections" (the only one so far).
        seed: orders the examples of each split (and draws `max_per_section`).
        max_train_examples: keep the first this many training examples.
        max_eval_examples: keep the first this many validation and test
            examples each.
        max_per_section: cap per class in each split (balances classes).

    Returns:
        A dict as `prepare_task`'s: "train" (list of (text, label id)),
        "validation" and "test" ({split: list}), "labels" (`LabelInfo`),
        "counts", "skipped", "name", "metrics", "pair".

    Raises:
        ValueError: an unknown `name` (names the known ones), or a cap that
            is not a positive integer (names the argument).
    """
    from keras_compact.data.labelled_task import load_section_task
    from keras_compact.tasks.kinds import task_kind
    from keras_compact.tasks.labels import LabelInfo
    from keras_compact.utils.validation import require_positive

    if name not in NAMED_DATASETS:
        raise ValueError(f"dataset={name!r} is not a bundled dataset; pass one of "
                         f"{', '.join(NAMED_DATASETS)}, or data files.")
    for argument, value in (("max_train_examples", max_train_examples),
                            ("max_eval_examples", max_eval_examples)):
        if value is not None:
            require_positive(argument, value, integer=True)
    task = load_section_task(max_per_section=max_per_section, seed=seed)
    train = task["train"][:max_train_examples]
    validation = task["validation"][:max_eval_examples]
    test = task["test"][:max_eval_examples]
    return {"train": train, "validation": {"validation": validation}, "test": {"test": test},
            "labels": LabelInfo("classification", task["label_names"]),
            "counts": {"train": len(train), "validation": len(validation), "test": len(test)},
            "skipped": {}, "name": name, "metrics": task_kind("classification").metrics,
            "pair": False}
