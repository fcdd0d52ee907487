"""`keras-compact finetune`, `evaluate` and `predict`: labelled text files in.

Data: `--train F --validation F [--test F]` (CSV, TSV or JSONL, gzipped or
not) with `--text-column`, `--text-b-column` and `--label-column` (names or
0-based indices), or `--glue TASK --data-dir DIR` (GLUE's folder layout), or
no data option: the bundled section task (`--dataset sections`, which needs
`--vocab`, the SentencePiece model of the backbone).

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

The work is in `keras_compact.training.tasks`; this module parses arguments.
"""

import errno
import json
import os
import sys

from keras_compact.tasks.options import file_spec as _spec
from keras_compact.tasks.options import task_from_args
from keras_compact.tasks.options import uses_files
from keras_compact.training.tasks import FRESH_LEARNING_RATE
from keras_compact.training.tasks import PRETRAINED_LEARNING_RATE

# What finetune writes in --output-dir (`--overwrite` removes these): the
# bundled section task, and a run on files.
FINETUNE_OUTPUTS = ("classifier.keras", "labels.json")
FILE_FINETUNE_OUTPUTS = ("classifier.keras", "task.json")


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

    _positive(args, ("epochs", "batch_size", "seq_len", "max_train_examples",
                     "max_eval_examples", "max_per_section"))
    _positive(args, ("learning_rate",), integer=False)
    require_in_range("--dropout", args.dropout, 0, 1)


def input_identity(path, flag, what, folder=None):
    """file_identity of an input file, or of a folder, for the run-settings record.

    Args:
        path: the path given (None: None).
        flag, what: for the error message ("--backbone", "a .keras file ...").
        folder: None: `path` must be a file; a file name (e.g. "config.json"):
            a folder holding it is accepted too (a Hugging Face checkpoint);
            True: any folder is accepted.

    Raises:
        IsADirectoryError, FileNotFoundError: naming `flag` and `path`.
    """
    from keras_compact.utils.paths import require_file
    from keras_compact.utils.run_settings import file_identity
    from keras_compact.utils.run_settings import folder_identity

    if path is None:
        return None
    if folder and os.path.isdir(path):
        if folder is not True and not os.path.isfile(os.path.join(path, folder)):
            raise IsADirectoryError(errno.EISDIR, f"{flag} is a directory without {folder}; "
                                    f"pass {what}", path)
        return folder_identity(path)
    require_file(path, flag, what)
    return file_identity(path)


def run_settings(args, files):
    """The settings fingerprinted for --output-dir: every option, input files by content."""
    settings = {k: v for k, v in vars(args).items()
                if k not in ("func", "command", "output_dir", "overwrite")}
    settings.update(files)
    return settings


# ------------------------------------------------------------------ finetune


def _run_section_finetune(args):
    """The bundled section task (the original `finetune`)."""
    from keras_compact.cli.model_commands import parse_config_json
    from keras_compact.data.tokenizer import load_sentencepiece_processor
    from keras_compact.training.finetune import finetune_section_classifier

    if not args.vocab:
        raise ValueError("The bundled section task needs --vocab (the backbone's "
                         "SentencePiece model); or pass --train/--validation files or --glue.")
    from keras_compact.utils.run_settings import check_run_settings

    files = {"vocab": input_identity(args.vocab, "--vocab", "a SentencePiece .model")}
    parse_config_json(args.config)  # unknown keys fail before the slow work
    vocabulary_size = load_sentencepiece_processor(args.vocab).get_piece_size()
    files["backbone"] = input_identity(
        args.backbone, "--backbone", "the backbone.keras written by `keras-compact pretrain` "
        "(in its --output-dir) or a Hugging Face folder, or drop --backbone to fine-tune a "
        "fresh --preset/--config backbone", folder="config.json")
    # Before anything is written into --output-dir.
    check_run_settings(args.output_dir, "finetune", run_settings(args, files),
                       FINETUNE_OUTPUTS, overwrite=args.overwrite)
    import keras

    # Before any tokenizer exists: set_random_seed deletes SentencePiece
    # resources made before it (the datasets make theirs inside tf.data).
    keras.utils.set_random_seed(args.seed)
    if args.backbone:
        from keras_compact.training.tasks import load_backbone_and_tokenizer

        if args.config or args.preset:
            raise ValueError("--preset/--config build a fresh backbone and cannot be "
                             f"combined with --backbone {args.backbone!r}; drop one.")
        backbone, _, _ = load_backbone_and_tokenizer(args.backbone, tokenizer=args.vocab,
                                                     seq_len=args.seq_len)
        if backbone.vocabulary_size != vocabulary_size:
            raise ValueError(
                f"--backbone {args.backbone!r} has a {backbone.vocabulary_size}-piece "
                f"vocabulary but --vocab {args.vocab!r} has {vocabulary_size} pieces; pass "
                "the SentencePiece model the backbone was pretrained with.")
    else:
        from keras_compact.models import CompactBackbone

        config = parse_config_json(args.config)
        config["vocabulary_size"] = vocabulary_size
        config.setdefault("max_sequence_length", args.seq_len)
        backbone = CompactBackbone.from_preset(args.preset or "albert_base", **config)
    peak = args.learning_rate
    if peak is None:
        peak = PRETRAINED_LEARNING_RATE if args.backbone else FRESH_LEARNING_RATE
    print(f"Backbone: {args.backbone or 'fresh ' + (args.preset or 'albert_base')}")
    result = finetune_section_classifier(
        backbone, args.output_dir, args.vocab, epochs=args.epochs,
        batch_size=args.batch_size, seq_len=args.seq_len, learning_rate=peak,
        dropout=args.dropout, max_train_examples=args.max_train_examples,
        max_eval_examples=args.max_eval_examples, max_per_section=args.max_per_section,
        seed=args.seed)
    for name, path in result["paths"].items():
        print(f"{name}: {path}")
    return 0


def run_finetune(args):
    from keras_compact.cli.model_commands import parse_config_json

    _check_training_values(args)
    if not uses_files(args) or args.dataset == "sections":
        if uses_files(args):
            raise ValueError("--dataset sections is the bundled task; drop --train/--glue, "
                             "or drop --dataset.")
        return _run_section_finetune(args)
    from keras_compact.utils.run_settings import check_run_settings

    config = parse_config_json(args.config)  # unknown keys fail before the slow work
    task = task_from_args(args)  # reads and checks every file; nothing written yet
    files = {split: input_identity(getattr(args, split), f"--{split}", "a CSV, TSV or JSONL "
                                   "file") for split in ("train", "validation", "test")}
    if args.glue:
        files["data_dir"] = input_identity(args.data_dir, "--data-dir", "the GLUE folder",
                                           folder=True)
    files["backbone"] = input_identity(args.backbone, "--backbone", "a .keras file or a "
                                       "Hugging Face folder", folder="config.json")
    for flag in ("tokenizer", "vocab"):
        files[flag] = input_identity(getattr(args, flag), f"--{flag}",
                                     "a .model, vocab.txt or Hugging Face folder", folder=True)
    # Before anything is written into --output-dir.
    check_run_settings(args.output_dir, "finetune", run_settings(args, files),
                       FILE_FINETUNE_OUTPUTS, overwrite=args.overwrite)
    import keras

    from keras_compact.training.tasks import finetune_task
    from keras_compact.training.tasks import load_backbone_and_tokenizer

    keras.utils.set_random_seed(args.seed)
    backbone, tokenizer, description = load_backbone_and_tokenizer(
        args.backbone, preset=args.preset, config=config,
        tokenizer=args.tokenizer or args.vocab, seq_len=args.seq_len)
    peak = args.learning_rate
    if peak is None:
        peak = PRETRAINED_LEARNING_RATE if args.backbone else FRESH_LEARNING_RATE
    print(f"Backbone: {description}; tokenizer: {tokenizer.kind} {tokenizer.source} "
          f"({tokenizer.vocabulary_size:,} tokens)")
    result = finetune_task(task, backbone, tokenizer, args.output_dir, epochs=args.epochs,
                           batch_size=args.batch_size, seq_len=args.seq_len,
                           learning_rate=peak, dropout=args.dropout, seed=args.seed)
    for name, path in result["paths"].items():
        print(f"{name}: {path}")
    sys.stdout.flush()
    return 0


# ------------------------------------------------------------------ evaluate


def run_evaluate(args):
    from keras_compact.training.tasks import evaluate_split
    from keras_compact.training.tasks import load_task_model

    _positive(args, ("batch_size",))
    model, info, tokenizer = load_task_model(args.model)
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
    from keras_compact.tasks.text_files import count_examples

    scores = {}
    for split, spec in splits.items():
        count = count_examples(spec, labels)  # every row checked before scoring
        scores[split] = evaluate_split(model, spec, labels, tokenizer, info["seq_len"],
                                       metrics, batch_size=args.batch_size)
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
    model, info, tokenizer = load_task_model(args.model)
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
                for result in predict_rows(model, info, tokenizer, rows, args.batch_size):
                    handle.write(json.dumps(result) + "\n")
                    count += 1
        print(f"{count} predictions: {args.output}", file=sys.stderr)
        return 0
    for result in predict_rows(model, info, tokenizer, rows, args.batch_size):
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
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=f"Peak AdamW rate (default {PRETRAINED_LEARNING_RATE:g} with "
                        f"--backbone, {FRESH_LEARNING_RATE:g} for a fresh backbone).")
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
