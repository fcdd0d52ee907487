"""`keras-compact pretrain` and `keras-compact main-job` (alias `demo`)."""

import sys

from keras_compact.cli.flags import FLAG_NAMES
from keras_compact.cli.flags import flags_in_errors
from keras_compact.cli.model_commands import parse_config_json

# The main job's recipe, budgets and steps live in the library
# (keras_compact.training.main_job); this module maps flags to them.
from keras_compact.training.main_job import DEFAULT_OUTPUT_DIR as MAIN_JOB_DIR
from keras_compact.training.main_job import PRETRAIN_ARGS as MAIN_JOB_ARGS
from keras_compact.training.main_job import PRETRAIN_CONFIG as MAIN_JOB_CONFIG
from keras_compact.training.main_job import print_curves


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
    parser.add_argument("--seq-len", type=int, default=defaults.get("sequence_length"),
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
    sequence_length = args.seq_len
    if sequence_length is None:  # the records' length, so the model has no unused positions
        from keras_compact.training.pretraining_job import tfrecords_metadata

        metadata = tfrecords_metadata(args.tfrecords) if args.tfrecords else None
        sequence_length = (metadata or {}).get("sequence_length", 128)
    return PretrainingJob(
        output_dir=args.output_dir, corpus=args.corpus, tfrecords=args.tfrecords,
        vocab=args.vocab, vocab_size=args.vocab_size, preset=args.preset,
        config=config, steps=args.steps, batch_size=args.batch_size,
        sequence_length=sequence_length, max_predictions=args.max_predictions,
        checkpoint_every=args.checkpoint_every, learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps, mixed_precision=args.mixed_precision,
        sentence_task=args.sentence_task, mlm_weight=args.mlm_weight,
        sentence_weight=args.sentence_weight, eval_steps=args.eval_steps, seed=args.seed,
    )


def _strategy(name):
    if name == "none":
        return None
    from keras_compact.distribution import make_strategy

    return make_strategy(name)


def run_pretrain(args):
    from keras_compact.training.pretraining_job import run_job

    job = _job_from_args(args)
    # One line per checkpoint interval when the output is a log, not a tty.
    verbose = "auto" if sys.stdout.isatty() else 2
    with flags_in_errors(FLAG_NAMES):
        result = run_job(job, strategy=_strategy(args.strategy), verbose=verbose,
                         overwrite=args.overwrite)
    if not result["chief"]:
        print(f"Worker finished; the chief writes the models into {job.output_dir}.")
        return 0
    print_curves(result["history"], job.checkpoint_every, job.sentence_task)
    for name in ("pretrainer", "backbone", "curves"):
        print(f"{name}: {result['paths'][name]}")
    return 0


def run_main_job_command(args):
    from keras_compact.training.main_job import run_main_job

    with flags_in_errors(FLAG_NAMES):
        run_main_job(_job_from_args(args, base_config=MAIN_JOB_CONFIG),
                     strategy=_strategy(args.strategy), overwrite=args.overwrite,
                     pretrain_only=args.pretrain_only, verbose=2)
    return 0


def register(subparsers):
    pretrain = subparsers.add_parser(
        "pretrain", help="Pretrain an ALBERT-style model with MLM + SOP (model.fit)."
    )
    _add_job_arguments(pretrain, {})
    pretrain.set_defaults(func=run_pretrain)

    main_job = subparsers.add_parser(
        "main-job", aliases=["demo"],
        help="The main job on the bundled data: vocabulary, ALBERT pretraining "
        "(MLM + SOP) and fine-tuning; the pretrained all-MiniLM-L6-v2 teacher fine-tuned; "
        "TinyBERT distillation into an ALBERT-style student 9x smaller; majority-class and "
        "TF-IDF + LR baselines; one table of every model.")
    _add_job_arguments(main_job, dict(MAIN_JOB_ARGS, output_dir=MAIN_JOB_DIR))
    main_job.add_argument("--pretrain-only", action="store_true",
                          help="Stop after pretraining (skip fine-tuning, distillation, "
                          "table).")
    main_job.set_defaults(func=run_main_job_command)
