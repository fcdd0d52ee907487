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

import json
import os
import sys

PRETRAINED_LEARNING_RATE = 5e-5
FRESH_LEARNING_RATE = 1e-4


def _load_backbone(path):
    import keras

    from keras_compact.models import CompactBackbone

    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"--backbone {path!r} does not exist; pass the backbone.keras written by "
            "`keras-compact pretrain` (in its --output-dir), or drop --backbone to "
            "fine-tune a fresh --preset/--config backbone.")
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


def _print_epoch(epoch, logs):
    """One line per epoch: train and validation loss and accuracy."""
    logs = logs or {}
    values = "  ".join(f"{name} {logs[key]:.4f}" for name, key in (
        ("loss", "loss"), ("train_accuracy", "accuracy"), ("val_loss", "val_loss"),
        ("val_accuracy", "val_accuracy")) if key in logs)
    print(f"epoch {epoch + 1}: {values}", flush=True)


def run_finetune(args):
    from keras_compact.data.labelled_task import label_counts
    from keras_compact.data.labelled_task import load_section_task
    from keras_compact.data.labelled_task import majority_rate
    from keras_compact.data.labelled_task import make_classification_dataset
    from keras_compact.data.tokenizer import load_sentencepiece_processor

    for name in ("epochs", "batch_size", "seq_len"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got "
                             f"{getattr(args, name)}.")
    for name in ("max_train_examples", "max_eval_examples", "max_per_section"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}.")
    vocabulary_size = load_sentencepiece_processor(args.vocab).get_piece_size()
    if args.backbone and not os.path.isfile(args.backbone):
        _load_backbone(args.backbone)  # raises before the slow work

    import keras

    # Before any tokenizer exists: set_random_seed deletes SentencePiece
    # resources made before it (the datasets make theirs inside tf.data).
    keras.utils.set_random_seed(args.seed)
    from keras_compact.models import TextClassifier
    from keras_compact.utils.atomic import atomic_file

    task = load_section_task(max_per_section=args.max_per_section, seed=args.seed)
    names = task["label_names"]
    train = task["train"][: args.max_train_examples]
    validation = task["validation"][: args.max_eval_examples]
    test = task["test"][: args.max_eval_examples]
    if len(train) < args.batch_size:
        raise ValueError(f"{len(train)} training examples is less than one batch of "
                         f"--batch-size {args.batch_size}; raise --max-train-examples or "
                         "lower --batch-size.")
    print(f"Section task: {len(names)} classes ({', '.join(names)}); "
          f"train {len(train)}, validation {len(validation)}, test {len(test)} paragraphs")
    print(f"Train class counts: {dict(zip(names, label_counts(train, len(names))))}")
    print(f"Majority-class accuracy: validation {majority_rate(validation):.4f}, "
          f"test {majority_rate(test):.4f}")

    backbone = _build_backbone(args, vocabulary_size)
    if backbone.max_sequence_length < args.seq_len:
        raise ValueError(f"--seq-len {args.seq_len} exceeds the backbone's "
                         f"max_sequence_length={backbone.max_sequence_length}; lower --seq-len.")
    classifier = TextClassifier(backbone, num_classes=len(names), dropout=args.dropout)

    common = dict(spm_model_path=args.vocab, batch_size=args.batch_size, seq_len=args.seq_len)
    train_ds = make_classification_dataset(train, shuffle=True, seed=args.seed, **common)
    val_ds = make_classification_dataset(validation, **common)
    test_ds = make_classification_dataset(test, **common)

    steps = (len(train) // args.batch_size) * args.epochs
    peak = args.learning_rate or (
        PRETRAINED_LEARNING_RATE if args.backbone else FRESH_LEARNING_RATE)
    warmup = max(1, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=max(1, steps - warmup), alpha=0.0,
        warmup_target=peak, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    classifier.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    source = args.backbone or f"fresh {args.preset or 'albert_base'}"
    print(f"Fine-tuning {source} ({backbone.count_params():,} backbone parameters): "
          f"{args.epochs} epochs of {steps // args.epochs} steps, AdamW peak {peak:g}")
    classifier.fit(train_ds, validation_data=val_ds, epochs=args.epochs, verbose=0,
                   shuffle=False,  # the dataset shuffles; silences Keras's warning
                   callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=_print_epoch)])
    scores = classifier.evaluate(test_ds, return_dict=True, verbose=0)
    print(f"test_accuracy {scores['accuracy']:.4f}  test_loss {scores['loss']:.4f}  "
          f"(majority class {majority_rate(test):.4f})")

    path = os.path.join(args.output_dir, "classifier.keras")
    with atomic_file(path) as temp:
        classifier.save(temp)
    labels_path = os.path.join(args.output_dir, "labels.json")
    with atomic_file(labels_path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump({"label_names": names, "seq_len": args.seq_len,
                       "vocab": os.path.abspath(args.vocab),
                       "test_accuracy": float(scores["accuracy"])}, handle, indent=1)
    print(f"classifier: {path}")
    print(f"labels: {labels_path}")
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
    parser.set_defaults(func=run_finetune)
