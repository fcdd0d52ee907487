"""`keras-compact finetune`, `evaluate` and `predict`: labelled text files in.

Data: `--train F --validation F [--test F]` (CSV, TSV or JSONL, gzipped or
not) with `--text-column`, `--text-b-column` and `--label-column` (names or
0-based indices), or `--glue TASK --data-dir DIR` (GLUE's folder layout), or
no data option: the bundled section task (`--dataset sections`, which needs
`--vocab`, the SentencePiece model of the backbone), through the same path.

Backbone: `--backbone PATH.keras` (the tokenizer saved inside it or beside
it, or `--tokenizer`), `--backbone HF_DIR` (a Hugging Face BERT / ALBERT folder; its
vocab.txt is the tokenizer), or `--preset NAME` with `--tokenizer`.

Every file is read and checked before training starts, so a bad row fails at
once, naming file, line, column and value, and nothing is written; then the
run-settings check (`keras_compact.utils.run_settings`): a directory holding
a run with other settings or other file contents stops the command before
anything is written, unless `--overwrite`. The run directory (classifier.keras
with its preprocessor inside, task.json with the labels) is self-contained:
`evaluate`, `predict` and `export` need only `--model`.

`finetune` maps its flags to a `keras_compact.training.finetune_job.FinetuneJob`
and runs it (the library checks the settings and the run record, and its
errors come back with flag names); `evaluate` and `predict` call
`keras_compact.training.tasks`.
"""

import json
import os
import sys

from keras_compact.tasks.options import file_spec as _spec
from keras_compact.tasks.options import uses_files
from keras_compact.training.finetune_job import AUTO_PERCENTILE
from keras_compact.training.finetune_job import FRESH_LEARNING_RATE


def add_data_arguments(parser, splits=("train", "validation", "test")):
    """--train/--validation/--test, the columns, --glue, --task, bad-row handling."""
    group = parser.add_argument_group("data")
    help_text = {"train": "Training file (.csv, .tsv, .jsonl, optionally .gz).",
                 "validation": "Validation file (scored each epoch; picks nothing on test).",
                 "test": "Test file, scored once at the end.",
                 "data": "A labelled file to score."}
    for split in splits:
        group.add_argument(f"--{split}", default=None, metavar="FILE", help=help_text[split])
    group.add_argument("--text-column", default=None,
                       help="Column (name or 0-based index) of the text (default: text).")
    group.add_argument("--text-b-column", default=None,
                       help="Column of the second text, for pair tasks.")
    group.add_argument("--label-column", default=None,
                       help="Column of the label (default: label).")
    group.add_argument("--task", default=None, choices=("classification", "regression"),
                       help="Default: regression when the labels are numbers with fractions.")
    group.add_argument("--glue", default=None, metavar="TASK",
                       help="A GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli) "
                       "read from --data-dir in GLUE's layout; scored with its metric.")
    group.add_argument("--data-dir", default=None, help="GLUE root or task folder.")
    group.add_argument("--skip-bad-rows", action="store_true",
                       help="Skip and count rows with a missing column, an empty text or an "
                       "unknown label instead of stopping at the first.")
    group.add_argument("--max-line-bytes", type=int, default=None,
                       help="Longest allowed line, and CSV field, in bytes (default 1 MiB).")
    group.add_argument("--quoting", default=None, choices=("minimal", "none"),
                       help="Whether double quotes enclose fields: minimal (CSV's default; a "
                       "quoted field may hold commas and line breaks) or none (TSV's "
                       "default: quotes are text and each line is one record).")
    return group


def _positive(args, names, integer=True):
    from keras_compact.utils.validation import require_positive

    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            require_positive(f"--{name.replace('_', '-')}", value, integer=integer)


def _check_training_values(args):
    """Bad numbers fail before any file is read or written."""
    from keras_compact.utils.validation import require_in_range

    _positive(args, ("epochs", "batch_size", "max_train_examples",
                     "max_eval_examples", "max_per_section"))
    if not isinstance(getattr(args, "seq_len", None), str):  # "auto", or refused by the job
        _positive(args, ("seq_len",))
    _positive(args, ("learning_rate",), integer=False)
    require_in_range("--dropout", args.dropout, 0, 1)


# ------------------------------------------------------------------ finetune

_DATA_OPTIONS = ("train", "validation", "test", "text_column", "text_b_column",
                 "label_column", "task", "glue", "data_dir", "skip_bad_rows",
                 "max_line_bytes", "quoting")


def sequence_length_flag(value):
    """--seq-len: "auto" or a number of tokens (argparse `type`); anything else stays a
    string that the library refuses, naming it."""
    try:
        return int(value)
    except ValueError:
        return value


def finetune_job_from_args(args):
    """The `FinetuneJob` of the parsed flags (plain Python)."""
    from keras_compact.cli.model_commands import parse_config_json
    from keras_compact.training.finetune_job import FinetuneJob

    data = None
    if uses_files(args):
        if args.dataset:
            raise ValueError(f"--dataset {args.dataset} is a bundled dataset; drop "
                             "--train/--glue, or drop --dataset.")
        data = {name: getattr(args, name) for name in _DATA_OPTIONS}
    return FinetuneJob(
        output_dir=args.output_dir, data=data, dataset=args.dataset,
        backbone=args.backbone, preset=args.preset,
        config=parse_config_json(args.config) if args.config else None,
        tokenizer=args.tokenizer or args.vocab, sequence_length=args.seq_len,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        dropout=args.dropout, max_train_examples=args.max_train_examples,
        max_eval_examples=args.max_eval_examples, max_per_section=args.max_per_section,
        seed=args.seed)


def job_flags(job):
    """{FinetuneJob argument: its flag}, for `flags_in_errors`."""
    from keras_compact.cli import flags as flag_names

    flags = flag_names.job_flags(job)
    flags.update({name: "--" + name.replace("_", "-") for name in _DATA_OPTIONS})
    flags["tokenizer"] = "--tokenizer/--vocab"
    return flags


def run_finetune(args):
    from keras_compact.cli.flags import flags_in_errors
    from keras_compact.training.finetune_job import run_finetune as run_job

    _check_training_values(args)
    job = finetune_job_from_args(args)
    with flags_in_errors(job_flags(job)):
        result = run_job(job, overwrite=args.overwrite)
    for name, path in result["paths"].items():
        print(f"{name}: {path}")
    sys.stdout.flush()
    return 0


# ------------------------------------------------------------------ evaluate


def run_evaluate(args):
    from keras_compact.training.tasks import evaluate_split
    from keras_compact.training.tasks import load_task_model

    _positive(args, ("batch_size",))
    model, info = load_task_model(args.model)
    labels = info["label_info"]
    if args.glue:
        from keras_compact.tasks import glue

        layout = glue.glue_task(args.glue, args.data_dir or ".",
                                on_bad_row="skip" if args.skip_bad_rows else "error",
                                max_line_bytes=args.max_line_bytes)
        splits = layout["validation"]
        metrics = layout["metrics"]
    else:
        if not args.data:
            raise ValueError("Pass --data FILE (a labelled file), or --glue TASK --data-dir DIR.")
        splits = {os.path.basename(args.data): _spec(args, args.data, defaults=info)}
        metrics = info["metrics"]
    from keras_compact.tasks.labels import count_examples

    scores = {}
    for split, spec in splits.items():
        count = count_examples(spec, labels)  # every row checked before scoring
        scores[split] = evaluate_split(model, spec, labels, metrics, batch_size=args.batch_size)
        scores[split]["examples"] = count
        if spec.skipped:
            scores[split]["skipped_rows"] = spec.skipped
    print(json.dumps(scores, indent=1))
    return 0


# ------------------------------------------------------------------- predict


def run_predict(args):
    from keras_compact.tasks.text_files import iter_rows
    from keras_compact.training.tasks import load_task_model
    from keras_compact.training.tasks import predict_rows

    _positive(args, ("batch_size",))
    model, info = load_task_model(args.model)
    path = args.input or "-"
    input_format = args.input_format
    if input_format is None and path == "-":  # a pair needs columns: JSONL
        input_format = "jsonl" if info["pair"] else "text"
    if args.text_b_column and not info["pair"]:
        raise ValueError(f"--text-b-column {args.text_b_column!r}: the model classifies single "
                         "texts and would ignore a second text; drop --text-b-column.")
    rows = iter_rows(_spec(args, path, label=False, defaults=info, format=input_format),
                     with_labels=False)
    output = sys.stdout
    if args.output:
        from keras_compact.utils.atomic import atomic_file

        count = 0
        with atomic_file(args.output) as temp:
            with open(temp, "w", encoding="utf-8") as handle:
                for result in predict_rows(model, info, rows, args.batch_size):
                    handle.write(json.dumps(result) + "\n")
                    count += 1
        print(f"{count} predictions: {args.output}", file=sys.stderr)
        return 0
    for result in predict_rows(model, info, rows, args.batch_size):
        output.write(json.dumps(result) + "\n")
    output.flush()
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "finetune", help="Fine-tune a classifier or regressor on CSV/TSV/JSONL files, a GLUE "
        "task, or the bundled section task; from a .keras backbone, a Hugging Face folder "
        "or a preset.")
    parser.add_argument("--output-dir", required=True,
                        help="Where classifier.keras (preprocessor inside) and task.json are "
                        "written.")
    add_data_arguments(parser)
    parser.add_argument("--dataset", default=None, choices=("sections",),
                        help="A bundled dataset instead of files (default when no file is "
                        "given: sections, the Python-docs section task).")
    parser.add_argument("--backbone", default=None, metavar="PATH.keras|HF_DIR",
                        help="Saved CompactBackbone (or a model holding one), or a Hugging "
                        "Face BERT/ALBERT folder.")
    parser.add_argument("--preset", default=None, help="A fresh backbone of this preset.")
    parser.add_argument("--config", default=None,
                        help="JSON overrides of the fresh backbone's config.")
    parser.add_argument("--tokenizer", default=None, metavar="PATH",
                        help="A .model, vocab.txt or Hugging Face folder (default: the "
                        "backbone's).")
    parser.add_argument("--vocab", default=None, metavar="PATH.model",
                        help="SentencePiece model (the section task; same as --tokenizer).")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=sequence_length_flag, default="auto",
                        metavar="N|auto",
                        help=f"Packed length (default auto: the {AUTO_PERCENTILE}th percentile "
                        "of the training texts' token counts, rounded up to a multiple of 8, "
                        "at most the backbone's position table).")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Peak AdamW rate (default: 5e-5 x 768 / the backbone's width "
                        "for --backbone, within 2e-5..3e-4, e.g. 1e-4 for MiniLM-L6; "
                        f"{FRESH_LEARNING_RATE:g} for a fresh backbone).")
    parser.add_argument("--dropout", type=float, default=0.1,
                        help="Dropout before the output layer.")
    parser.add_argument("--max-train-examples", type=int, default=None,
                        help="Section task only: cap on training examples.")
    parser.add_argument("--max-eval-examples", type=int, default=None,
                        help="Section task only: cap on validation and test examples each.")
    parser.add_argument("--max-per-section", type=int, default=None,
                        help="Section task only: cap per class in each split.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace a run with other settings in --output-dir.")
    parser.set_defaults(func=run_finetune)

    evaluate = subparsers.add_parser(
        "evaluate", help="Every metric of a fine-tuned model's task on a labelled file "
        "(or a GLUE task's dev splits).")
    evaluate.add_argument("--model", required=True, metavar="PATH.keras",
                          help="classifier.keras of a `finetune` or `distill` run.")
    add_data_arguments(evaluate, splits=("data",))
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.set_defaults(func=run_evaluate)

    predict = subparsers.add_parser(
        "predict", help="Predictions of a fine-tuned model as JSONL, from a file or stdin "
        "(one text per line, or with --input-format jsonl JSON objects with the text "
        "columns).")
    predict.add_argument("--model", required=True, metavar="PATH.keras")
    predict.add_argument("--input", default=None, metavar="FILE",
                         help="CSV/TSV/JSONL file, or .txt of one text per line (default or "
                         "'-': stdin).")
    predict.add_argument("--input-format", default=None,
                         choices=("text", "jsonl", "csv", "tsv"),
                         help="How to read --input: text (one text per line), jsonl, csv or "
                         "tsv. Default: by the file's extension (.txt: text); stdin: text, "
                         "or jsonl for a model of text pairs.")
    predict.add_argument("--output", default=None, metavar="FILE.jsonl",
                         help="Write here, atomically (default: stdout).")
    predict.add_argument("--text-column", default=None)
    predict.add_argument("--text-b-column", default=None)
    predict.add_argument("--skip-bad-rows", action="store_true")
    predict.add_argument("--max-line-bytes", type=int, default=None)
    predict.add_argument("--quoting", default=None, choices=("minimal", "none"))
    predict.add_argument("--batch-size", type=int, default=32)
    predict.set_defaults(func=run_predict)
