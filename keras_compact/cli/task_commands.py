"""`keras-compact finetune`: fine-tune a classifier on the bundled section task.

The task (`keras_compact.data.labelled_task`): predict which top-level
section of the Python documentation a paragraph comes from; splits are by
document. The backbone is either a saved `CompactBackbone` (`--backbone
runs/demo/backbone.keras`, as written by `keras-compact pretrain`) or a
fresh one from `--preset` / `--config` (the baseline a pretrained backbone
should beat).

Optimizer: AdamW (weight decay 0.01, not on biases and LayerNorm), linear
warmup over the first 10% of steps then cosine decay to 0. Default peak rate
5e-5 with `--backbone` (the usual BERT/ALBERT fine-tuning rate, small enough
not to wash out pretrained weights) and 1e-4 for a fresh backbone (it has
nothing to preserve; an unmeasured choice, tune it with --learning-rate).
"""

import os
import sys

PRETRAINED_LEARNING_RATE = 5e-5
FRESH_LEARNING_RATE = 1e-4
# What finetune writes in --output-dir (`--overwrite` removes these).
FINETUNE_OUTPUTS = ("classifier.keras", "labels.json")


def _load_backbone(path):
    import keras

    from keras_compact.models import CompactBackbone

    from keras_compact.utils.paths import require_file

    require_file(path, "--backbone", "the backbone.keras written by `keras-compact "
                 "pretrain` (in its --output-dir), or drop --backbone to fine-tune a fresh "
                 "--preset/--config backbone")
    try:
        backbone = keras.saving.load_model(path, compile=False)
    except Exception as error:  # zip, config or weight errors from Keras
        raise ValueError(f"--backbone {path!r} could not be loaded as a Keras model "
                         f"({type(error).__name__}: {error}).") from None
    if not isinstance(backbone, CompactBackbone):
        raise ValueError(f"--backbone {path!r} holds a {type(backbone).__name__}, not a "
                         "CompactBackbone; pass backbone.keras, not pretrainer.keras.")
    return backbone


def _build_backbone(args, vocabulary_size):
    from keras_compact.cli.model_commands import parse_config_json
    from keras_compact.models import CompactBackbone

    if args.backbone:
        if args.config or args.preset:
            raise ValueError("--preset/--config build a fresh backbone and cannot be "
                             f"combined with --backbone {args.backbone!r}; drop one.")
        backbone = _load_backbone(args.backbone)
        if backbone.vocabulary_size != vocabulary_size:
            raise ValueError(
                f"--backbone {args.backbone!r} has a {backbone.vocabulary_size}-piece "
                f"vocabulary but --vocab {args.vocab!r} has {vocabulary_size} pieces; pass "
                "the SentencePiece model the backbone was pretrained with.")
        return backbone
    config = parse_config_json(args.config)
    config["vocabulary_size"] = vocabulary_size
    config.setdefault("max_sequence_length", args.seq_len)
    return CompactBackbone.from_preset(args.preset or "albert_base", **config)


def run_finetune(args):
    from keras_compact.data.tokenizer import load_sentencepiece_processor

    for name in ("epochs", "batch_size", "seq_len"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got "
                             f"{getattr(args, name)}.")
    for name in ("max_train_examples", "max_eval_examples", "max_per_section"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}.")
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise ValueError(f"--learning-rate must be positive, got {args.learning_rate}.")
    if not 0 <= args.dropout < 1:
        raise ValueError(f"--dropout must be in [0, 1), got {args.dropout}.")
    from keras_compact.cli.model_commands import parse_config_json
    from keras_compact.utils.paths import require_file
    from keras_compact.utils.run_settings import check_run_settings
    from keras_compact.utils.run_settings import file_identity

    require_file(args.vocab, "--vocab", "a SentencePiece .model")
    parse_config_json(args.config)  # unknown keys fail before the slow work
    vocabulary_size = load_sentencepiece_processor(args.vocab).get_piece_size()
    if args.backbone:
        require_file(args.backbone, "--backbone", "the backbone.keras written by "
                     "`keras-compact pretrain`")
    settings = {k: v for k, v in vars(args).items()
                if k not in ("func", "command", "output_dir", "overwrite")}
    settings["vocab"] = file_identity(args.vocab)
    settings["backbone"] = file_identity(args.backbone)
    # Before anything is written into --output-dir.
    check_run_settings(args.output_dir, "finetune", settings, FINETUNE_OUTPUTS,
                       overwrite=args.overwrite)

    import keras

    # Before any tokenizer exists: set_random_seed deletes SentencePiece
    # resources made before it (the datasets make theirs inside tf.data).
    keras.utils.set_random_seed(args.seed)
    from keras_compact.training.finetune import finetune_section_classifier

    backbone = _build_backbone(args, vocabulary_size)
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
    sys.stdout.flush()
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "finetune", help="Fine-tune a TextClassifier on the bundled section task "
        "(which part of the Python docs a paragraph comes from).")
    parser.add_argument("--output-dir", required=True,
                        help="Where classifier.keras and labels.json are written.")
    parser.add_argument("--vocab", required=True, metavar="PATH.model",
                        help="SentencePiece model (the backbone's, with --backbone).")
    parser.add_argument("--backbone", default=None, metavar="PATH.keras",
                        help="Saved CompactBackbone, e.g. backbone.keras from "
                        "`keras-compact pretrain` (default: a fresh --preset).")
    parser.add_argument("--preset", default=None,
                        help="Fresh backbone's preset (default albert_base).")
    parser.add_argument("--config", default=None,
                        help="JSON overrides of the fresh backbone's config.")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=f"Peak AdamW rate (default {PRETRAINED_LEARNING_RATE:g} with "
                        f"--backbone, {FRESH_LEARNING_RATE:g} for a fresh backbone).")
    parser.add_argument("--dropout", type=float, default=0.1,
                        help="Dropout before the classification layer.")
    parser.add_argument("--max-train-examples", type=int, default=None)
    parser.add_argument("--max-eval-examples", type=int, default=None,
                        help="Cap on validation and on test examples each.")
    parser.add_argument("--max-per-section", type=int, default=None,
                        help="Cap on examples per section in each split (balances classes).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace a run with other settings in --output-dir.")
    parser.set_defaults(func=run_finetune)
