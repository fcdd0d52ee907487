"""Data options (the command line's --train/--validation/--test, columns, --glue)
to a prepared task. Plain Python until `prepare_task` (which reads the files).

`args` is any object with the attributes below (an argparse namespace, or the
`data` dict of a `DistillationJob` via `task_from_options`).
"""


def file_spec(args, path, label=True, defaults=None, format=None):
    from keras_compact.tasks.text_files import DEFAULT_MAX_LINE_BYTES
    from keras_compact.tasks.text_files import FileSpec

    defaults = defaults or {}
    return FileSpec(
        path, text_column=args.text_column or defaults.get("text_column") or "text",
        text_b_column=args.text_b_column or defaults.get("text_b_column"),
        label_column=(args.label_column or defaults.get("label_column") or "label")
        if label else None,
        on_bad_row="skip" if args.skip_bad_rows else "error",
        quoting=getattr(args, "quoting", None), format=format,
        max_line_bytes=(DEFAULT_MAX_LINE_BYTES if args.max_line_bytes is None
                        else args.max_line_bytes))


def uses_files(args):
    return bool(getattr(args, "train", None) or getattr(args, "glue", None))


def task_from_args(args):
    """The prepared task (every file read and checked) from --train... or --glue."""
    from keras_compact.tasks import glue
    from keras_compact.tasks.datasets import prepare_task

    if args.glue:
        if not args.data_dir:
            raise ValueError(f"--glue {args.glue} needs --data-dir (the GLUE root or the "
                             "task's folder).")
        layout = glue.glue_task(args.glue, args.data_dir,
                                on_bad_row="skip" if args.skip_bad_rows else "error",
                                max_line_bytes=args.max_line_bytes)
        test = {k: v for k, v in layout["test"].items() if v.label_column is not None}
        return prepare_task(layout["train"], layout["validation"], test,
                            task="regression" if layout["labels"] is None else None,
                            label_names=layout["labels"], name=layout["name"])
    if not args.validation:
        raise ValueError(f"--train {args.train} needs --validation FILE too (scored each "
                         "epoch; split off part of the training data if you have none).")
    return prepare_task(file_spec(args, args.train), file_spec(args, args.validation),
                        file_spec(args, args.test) if args.test else None, task=args.task)




def task_from_options(options):
    """`task_from_args` for a dict of data options (missing ones default to None)."""
    known = dict(train=None, validation=None, test=None, text_column=None,
                 text_b_column=None, label_column=None, task=None, glue=None,
                 data_dir=None, skip_bad_rows=False, max_line_bytes=None, quoting=None)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"Unknown data options {unknown}; known: {sorted(known)}.")
    known.update(options)
    return task_from_args(type("DataOptions", (), known)())
