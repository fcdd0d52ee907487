"""`keras-compact distill-general`: general distillation of an ALBERT-style
student with MLM + SOP + soft MLM targets + intermediate losses.

Runs `keras_compact.training.pretraining_distillation`: one
`PretrainingDistiller.fit` on the pretraining pipeline (corpus or TFRecords),
resumable after a kill. The teacher is the `pretrainer.keras` written by
`keras-compact pretrain` (its MLM head gives the soft targets).
"""

import sys

from keras_compact.cli.distill_commands import _layer_mapping
from keras_compact.cli.flags import FLAG_NAMES
from keras_compact.cli.flags import flags_in_errors
from keras_compact.cli.model_commands import parse_config_json


def _weights(pairs):
    from keras_compact.distill.loss_table import LOSS_NAMES

    weights = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or name not in LOSS_NAMES:
            raise ValueError(f"--weight {pair!r} is not NAME=VALUE with NAME one of "
                             f"{', '.join(LOSS_NAMES)}.")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"--weight {pair!r}: {value!r} is not a number.") from None
    return weights


def job_from_args(args):
    from keras_compact.training.pretraining_distillation import PretrainingDistillationJob

    weights = _weights(args.weight)
    for name in ("mlm", "sop", "soft_mlm"):
        value = getattr(args, f"{name}_weight")
        if value is not None:
            weights[name] = value
    return PretrainingDistillationJob(
        output_dir=args.output_dir, teacher=args.teacher, vocab=args.vocab,
        corpus=args.corpus, tfrecords=args.tfrecords, student_preset=args.student_preset,
        student_config=parse_config_json(args.student_config), objective=args.objective,
        weights=weights, mlm_temperature=args.mlm_temperature,
        relation_heads=args.relation_heads, relation_teacher_layer=args.teacher_layer,
        relation_student_layer=args.student_layer,
        layer_mapping=_layer_mapping(args.layer_mapping), steps=args.steps,
        batch_size=args.batch_size, sequence_length=args.seq_len,
        max_predictions=args.max_predictions, checkpoint_every=args.checkpoint_every,
        learning_rate=args.learning_rate, warmup_steps=args.warmup_steps,
        eval_steps=args.eval_steps, seed=args.seed)


def run_distill_general(args):
    from keras_compact.cli.train_commands import _strategy
    from keras_compact.training.pretraining_distillation import run_pretraining_distillation

    job = job_from_args(args)
    verbose = "auto" if sys.stdout.isatty() else 2
    with flags_in_errors(FLAG_NAMES):
        result = run_pretraining_distillation(job, strategy=_strategy(args.strategy),
                                              verbose=verbose)
    history = result["history"]
    if history:
        last = {k: v[-1] for k, v in history.items()}
        print("\n== Last epoch")
        for key in sorted(last):
            print(f"{key:>28}: {last[key]:.4f}")
    print("\n== Written")
    for name, path in result["paths"].items():
        print(f"{name:>16}: {path}")
    sys.stdout.flush()
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "distill-general", help="General distillation of an ALBERT-style student: "
        "MLM + SOP + soft MLM targets + TinyBERT/MiniLM/MiniLMv2 losses (model.fit).")
    arg = parser.add_argument
    arg("--output-dir", required=True,
        help="Run directory; rerunning the same command resumes.")
    arg("--teacher", required=True, metavar="PRETRAINER.keras",
        help="The teacher's AlbertPretrainer (pretrainer.keras from `pretrain`).")
    arg("--vocab", required=True, metavar="PATH.model",
        help="The teacher's SentencePiece model.")
    arg("--corpus", nargs="+", metavar="FILE", default=None,
        help="Text files (blank line between documents); default: bundled corpus.")
    arg("--tfrecords", default=None, help="Pretraining TFRecords instead of --corpus.")
    arg("--student-preset", default="albert_base")
    arg("--student-config", default=None,
        help="JSON overrides of the student's config, e.g. '{\"num_layers\": 4}'.")
    arg("--objective", default="tinybert", choices=("tinybert", "minilm", "minilmv2",
                                                    "none"),
        help="Intermediate losses: tinybert (embedding, hidden, attention), minilm "
        "(attention KL, value relation; equal heads), minilmv2 (Q-Q, K-K, V-V "
        "relations; any heads), none.")
    arg("--mlm-weight", type=float, default=None, help="Student MLM loss (default 1).")
    arg("--sop-weight", type=float, default=None, help="Student SOP loss (default 1).")
    arg("--soft-mlm-weight", type=float, default=None,
        help="Soft MLM targets from the teacher (default 1).")
    arg("--weight", action="append", metavar="NAME=VALUE",
        help="Weight of any loss of the table, e.g. --weight attention=0 "
        "--weight vv_relation=2 (repeatable).")
    arg("--mlm-temperature", type=float, default=1.0)
    arg("--relation-heads", type=int, default=None,
        help="MiniLMv2 relation heads (must divide both widths).")
    arg("--teacher-layer", type=int, default=None,
        help="Teacher layer of MiniLM/MiniLMv2 (1-based; default the last).")
    arg("--student-layer", type=int, default=None)
    arg("--layer-mapping", default="uniform",
        help="uniform, top, bottom or comma-separated teacher layers (TinyBERT).")
    arg("--steps", type=int, default=1000)
    arg("--batch-size", type=int, default=32)
    arg("--seq-len", type=int, default=128)
    arg("--max-predictions", type=int, default=None)
    arg("--checkpoint-every", type=int, default=100)
    arg("--learning-rate", type=float, default=None)
    arg("--warmup-steps", type=int, default=None)
    arg("--eval-steps", type=int, default=20)
    arg("--strategy", default="none", choices=("none", "mirrored", "multi_worker"),
        help="tf.distribute strategy (TensorFlow backend).")
    arg("--seed", type=int, default=0)
    parser.set_defaults(func=run_distill_general)
