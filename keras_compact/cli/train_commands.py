"""`keras-compact pretrain` and `keras-compact demo` (the main job)."""

import json
import os
import shutil
import sys

from keras_compact.cli.model_commands import parse_config_json

# The main job's recipe and budgets live in the library
# (keras_compact.training.main_job).
from keras_compact.training.main_job import ALBERT_FINETUNE as DEMO_FINETUNE  # noqa: E402
from keras_compact.training.main_job import PRETRAIN_ARGS as DEMO_ARGS  # noqa: E402
from keras_compact.training.main_job import PRETRAIN_CONFIG as DEMO_CONFIG  # noqa: E402


def _add_job_arguments(parser, defaults):
    parser.add_argument("--output-dir", default=defaults.get("output_dir"),
                        required="output_dir" not in defaults,
                        help="Run directory; rerunning resumes from its checkpoint.")
    parser.add_argument("--corpus", nargs="+", metavar="FILE", default=None,
                        help="Text files, one sentence or paragraph per line, a blank "
                        "line between documents (default: the bundled corpus).")
    parser.add_argument("--tfrecords", default=None,
                        help="Folder written by `keras-compact make-examples` "
                        "(replaces --corpus; needs --vocab).")
    parser.add_argument("--vocab", default=None, metavar="PATH.model",
                        help="SentencePiece model (default: train one on the corpus).")
    parser.add_argument("--vocab-size", type=int, default=defaults.get("vocab_size", 8000))
    parser.add_argument("--preset", default="albert_base")
    parser.add_argument("--config", default=None,
                        help="JSON overrides of the preset's config.")
    parser.add_argument("--steps", type=int, default=defaults.get("steps", 1000))
    parser.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 32))
    parser.add_argument("--seq-len", type=int, default=defaults.get("seq_len"),
                        help="Tokens per example (default: the --tfrecords' length, "
                        "else 128).")
    parser.add_argument("--max-predictions", type=int, default=None)
    parser.add_argument("--checkpoint-every", type=int,
                        default=defaults.get("checkpoint_every", 100))
    parser.add_argument("--learning-rate", type=float,
                        default=defaults.get("learning_rate"),
                        help="Peak LAMB rate (default: 0.00176 * sqrt(batch / 4096)).")
    parser.add_argument("--warmup-steps", type=int, default=defaults.get("warmup_steps"))
    parser.add_argument("--mixed-precision", default=None,
                        choices=("mixed_bfloat16", "mixed_float16"))
    parser.add_argument("--sentence-task", default="sop", choices=("sop", "nsp"))
    parser.add_argument("--mlm-weight", type=float, default=1.0)
    parser.add_argument("--sentence-weight", type=float,
                        default=defaults.get("sentence_weight", 1.0),
                        help="Weight of the SOP (or NSP) loss beside the MLM loss.")
    parser.add_argument("--eval-steps", type=int, default=defaults.get("eval_steps", 20))
    parser.add_argument("--strategy", default="none",
                        choices=("none", "mirrored", "multi_worker"),
                        help="tf.distribute strategy (TensorFlow backend); multi_worker "
                        "reads the cluster from TF_CONFIG.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace a run with other settings in --output-dir (by "
                        "default a rerun must have the same settings: it resumes).")


def _job_from_args(args, base_config=None):
    from keras_compact.training.pretraining_job import PretrainingJob

    if args.tfrecords and not args.vocab:
        raise ValueError(
            f"--tfrecords {args.tfrecords} needs --vocab: the SentencePiece model "
            "the examples were made with (it fixes the vocabulary size)."
        )
    config = dict(base_config or {})
    config.update(parse_config_json(args.config))
    seq_len = args.seq_len
    if seq_len is None:  # the records' length, so the model has no unused positions
        from keras_compact.training.pretraining_job import tfrecords_metadata

        metadata = tfrecords_metadata(args.tfrecords) if args.tfrecords else None
        seq_len = (metadata or {}).get("max_seq_len", 128)
    return PretrainingJob(
        output_dir=args.output_dir, corpus=args.corpus, tfrecords=args.tfrecords,
        vocab=args.vocab, vocab_size=args.vocab_size, preset=args.preset,
        config=config, steps=args.steps, batch_size=args.batch_size,
        seq_len=seq_len, max_predictions=args.max_predictions,
        checkpoint_every=args.checkpoint_every, learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps, mixed_precision=args.mixed_precision,
        sentence_task=args.sentence_task, mlm_weight=args.mlm_weight,
        sentence_weight=args.sentence_weight, eval_steps=args.eval_steps, seed=args.seed,
    )


def _strategy(name):
    if name == "none":
        return None
    from keras_compact.distribute import make_strategy

    return make_strategy(name)


def print_curves(history, steps_per_epoch, task="sop"):
    """Prints one row per checkpoint interval: the MLM and SOP curves."""
    columns = ["mlm_loss", "mlm_accuracy", f"{task}_loss", f"{task}_accuracy",
               "val_mlm_accuracy", f"val_{task}_accuracy"]
    columns = [c for c in columns if c in history]
    print("step  " + "  ".join(f"{c:>18}" for c in columns))
    for i in range(len(history.get("loss", []))):
        values = "  ".join(f"{history[c][i]:>18.4f}" for c in columns if i < len(history[c]))
        print(f"{(i + 1) * steps_per_epoch:>4}  {values}")


def run_pretrain(args):
    from keras_compact.training.pretraining_job import run_job

    job = _job_from_args(args)
    # One line per checkpoint interval when the output is a log, not a tty.
    verbose = "auto" if sys.stdout.isatty() else 2
    result = run_job(job, strategy=_strategy(args.strategy), verbose=verbose,
                     overwrite=args.overwrite)
    if not result["chief"]:
        print(f"Worker finished; the chief writes the models into {job.output_dir}.")
        return 0
    print_curves(result["history"], job.checkpoint_every, job.sentence_task)
    for name in ("pretrainer", "backbone", "curves"):
        print(f"{name}: {result['paths'][name]}")
    return 0


def _finetune_teacher(args, job, vocab):
    """Fine-tunes the pretrained backbone on the section task (reused if done)."""
    import keras

    from keras_compact.training.finetune import finetune_section_classifier

    teacher_dir = os.path.join(args.output_dir, "teacher")
    path = os.path.join(teacher_dir, "classifier.keras")
    if os.path.exists(path):
        print(f"Done before: {path}")
        return path
    keras.utils.set_random_seed(args.seed)
    backbone = keras.saving.load_model(os.path.join(args.output_dir, "backbone.keras"))
    result = finetune_section_classifier(backbone, teacher_dir, vocab, seq_len=job.seq_len,
                                         seed=args.seed, **DEMO_FINETUNE)
    return result["paths"]["classifier"]


def run_demo(args):
    import time

    from keras_compact.training.main_job import run_main_job
    from keras_compact.training.pretraining_job import make_datasets
    from keras_compact.training.pretraining_job import run_job

    started = time.perf_counter()
    # What a finished run leaves last; anything less is resumed.
    finished = os.path.join(args.output_dir, "pretrainer.keras") if args.pretrain_only \
        else os.path.join(args.output_dir, "main_table.json")
    if os.path.exists(finished):
        print(f"Starting over: {args.output_dir} holds a finished run.")
        shutil.rmtree(args.output_dir)
    job = _job_from_args(args, base_config=DEMO_CONFIG)
    print("== keras-compact main job: vocabulary, ALBERT pretraining (MLM + SOP)")
    print(json.dumps({k: v for k, v in vars(job).items() if v is not None}, indent=1))
    result = run_job(job, strategy=_strategy(args.strategy), verbose=2,
                     overwrite=args.overwrite)
    pretrainer = result["pretrainer"]
    pretrainer.backbone.summary()
    print(f"Backbone parameters: {pretrainer.backbone.count_params():,}")
    print("\n== Training curves (per checkpoint interval)")
    print_curves(result["history"], job.checkpoint_every, job.sentence_task)
    _, held = make_datasets(job, result["vocab"])
    if held is not None:
        scores = pretrainer.evaluate(held, steps=50, return_dict=True, verbose=0)
        print("\n== Held-out documents (50 batches, fresh masks and pairs)")
        for name, value in scores.items():
            print(f"{name:>20}: {value:.4f}")
    print("\n== Written")
    for name in ("pretrainer", "backbone", "curves", "history", "logs"):
        print(f"{name:>12}: {result['paths'][name]}")
    if args.pretrain_only:
        return 0

    print("\n== Fine-tuning the from-scratch ALBERT teacher on the bundled section task")
    teacher = _finetune_teacher(args, job, result["vocab"])
    run_main_job(args.output_dir, teacher, seed=args.seed, verbose=2, pretrain_steps=job.steps)
    print(f"\nMain job wall time: {(time.perf_counter() - started) / 60:.1f} minutes")
    return 0


def register(subparsers):
    pretrain = subparsers.add_parser(
        "pretrain", help="Pretrain an ALBERT-style model with MLM + SOP (model.fit)."
    )
    _add_job_arguments(pretrain, {})
    pretrain.set_defaults(func=run_pretrain)

    demo = subparsers.add_parser(
        "demo", help="The main job on the bundled data: vocabulary, ALBERT pretraining "
        "(MLM + SOP) and fine-tuning; the pretrained all-MiniLM-L6-v2 teacher fine-tuned; "
        "TinyBERT distillation into an ALBERT-style student 9x smaller; majority-class and "
        "TF-IDF + LR baselines; one table of every model."
    )
    _add_job_arguments(demo, dict(DEMO_ARGS, output_dir="runs/demo"))
    demo.add_argument("--pretrain-only", action="store_true",
                      help="Stop after pretraining (skip fine-tuning, distillation, table).")
    demo.set_defaults(func=run_demo)
