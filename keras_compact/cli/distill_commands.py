"""`keras-compact distill`: TinyBERT distillation of a fine-tuned classifier.

`--objective minilm|minilmv2` swaps the intermediate losses for MiniLM's or
MiniLMv2's (the latter takes a student of any head count). General
distillation with the student's MLM + SOP losses is `keras-compact
distill-general` (`pretrain_distill_commands.py`).

Runs `keras_compact.training.distillation_job`: optional general
distillation on the corpus, data augmentation, task-specific intermediate
then prediction-layer distillation, and (by default) the same student
trained from scratch for the same steps; prints the teacher / student table.
Rerunning the same command resumes at the first unfinished stage.
"""

import sys

from keras_compact.cli.flags import flag_for
from keras_compact.cli.flags import flags_in_errors
from keras_compact.cli.model_commands import parse_config_json


def add_distillation_arguments(parser, defaults=None):
    """The `distill` options; `defaults` overrides their default values."""
    from keras_compact.training.distillation_job import DistillationJob

    base = {f.name: f.default for f in DistillationJob.__dataclass_fields__.values()}
    base.update(defaults or {})
    arg = parser.add_argument
    arg("--student-preset", default=base["student_preset"],
        help="Student backbone preset (default tinybert_4).")
    arg("--student-config", default=None,
        help="JSON overrides of the student's config, e.g. '{\"num_layers\": 2}'.")
    arg("--student-init", default=base["student_init"], metavar="SPEC",
        help="How the student starts: random (default), pca (the teacher's tables on "
        "their principal directions), svd (ALBERT's factorized table from the teacher's "
        "by truncated SVD; same hidden width), every-other or layers:0,2,4 (teacher "
        "layers copied, 0-based; the teacher's widths).")
    arg("--time-budget", type=float, default=base["time_budget"], metavar="MINUTES",
        help="Size --num-variants and the stages' epochs to fit this many minutes "
        "(timed on a few real steps); without it the estimated time is printed.")
    arg("--seq-len", type=int, default=base["sequence_length"])
    arg("--batch-size", type=int, default=base["batch_size"])
    arg("--general-steps", type=int, default=base["general_steps"],
        help="General-distillation steps on the corpus (needs --pretrained).")
    arg("--general-learning-rate", type=float, default=base["general_learning_rate"])
    arg("--intermediate-epochs", type=int, default=base["intermediate_epochs"],
        help="Passes over the augmented data with the intermediate-layer losses.")
    arg("--prediction-epochs", type=int, default=base["prediction_epochs"],
        help="Passes over the augmented data with the prediction-layer loss.")
    arg("--learning-rate", type=float, default=base["learning_rate"],
        help="Peak AdamW rate of the task-specific stages.")
    arg("--temperature", type=float, default=base["temperature"])
    arg("--layer-mapping", default=base["layer_mapping"],
        help="uniform, top, bottom, or comma-separated teacher layers (1-based).")
    arg("--attention-weight", type=float, default=base["attention_weight"],
        help="0 turns the attention loss off (e.g. different head counts).")
    arg("--objective", default=base["objective"],
        choices=("tinybert", "minilm", "minilmv2"),
        help="Intermediate losses: tinybert (embedding, hidden, attention), minilm "
        "(last-layer attention KL + value relation; equal heads) or minilmv2 (Q-Q, "
        "K-K, V-V relations; any head count).")
    arg("--relation-heads", type=int, default=base["relation_heads"],
        help="MiniLMv2 relation heads (must divide both widths).")
    arg("--teacher-layer", type=int, default=base["relation_teacher_layer"],
        help="Teacher layer of MiniLM/MiniLMv2 (1-based; default the last).")
    arg("--num-variants", type=int, default=base["num_variants"],
        help="N_a augmented variants per training text (0: no augmentation).")
    arg("--replace-prob", type=float, default=base["replace_prob"], help="p_t.")
    arg("--top-k", type=int, default=base["top_k"], help="K candidates per word.")
    arg("--mask-fraction", type=float, default=base["mask_fraction"],
        help="Words masked per MLM pass (default: one word per pass, as the paper).")
    arg("--word-vectors", default=base["word_vectors"], metavar="GLOVE.txt",
        help="GloVe-format word vectors for words of several pieces (default: the "
        "teacher's token-embedding table).")
    arg("--max-train-examples", type=int, default=base["max_train_examples"])
    arg("--max-augment-examples", type=int, default=base["max_augment_examples"],
        help="Only this many training texts get variants.")
    arg("--max-eval-examples", type=int, default=base["max_eval_examples"])
    arg("--no-scratch-baseline", dest="scratch_baseline", action="store_false",
        help="Skip training the student from scratch for comparison.")
    arg("--scratch-learning-rate", type=float, default=base["scratch_learning_rate"])
    arg("--seed", type=int, default=base["seed"])


def _layer_mapping(value):
    if value in ("uniform", "top", "bottom"):
        return value
    try:
        return [int(x) for x in value.split(",")]
    except ValueError:
        raise ValueError(f"--layer-mapping {value!r} is not uniform, top, bottom or a "
                         "comma-separated list of teacher layers such as 3,6,9,12.") from None


DATA_OPTIONS = ("train", "validation", "test", "text_column", "text_b_column", "label_column",
                "task", "glue", "data_dir", "skip_bad_rows", "max_line_bytes", "quoting")


def data_options(args):
    """The job's `data` dict from --train/--glue..., or None (the bundled task)."""
    from keras_compact.tasks.options import uses_files

    if not uses_files(args):
        return None
    return {name: getattr(args, name) for name in DATA_OPTIONS
            if getattr(args, name, None) not in (None, False)}


def job_from_args(args, output_dir, vocab, teacher, pretrained, tokenizer=None, data=None):
    """A `DistillationJob` from parsed `distill` options."""
    from keras_compact.training.distillation_job import DistillationJob

    return DistillationJob(
        output_dir=output_dir, vocab=vocab, teacher=teacher, pretrained=pretrained,
        tokenizer=tokenizer, data=data, test_split=getattr(args, "test_split", None),
        student_preset=args.student_preset,
        student_config=parse_config_json(args.student_config, "--student-config"),
        student_init=args.student_init, time_budget=args.time_budget,
        sequence_length=args.seq_len,
        batch_size=args.batch_size, general_steps=args.general_steps,
        general_learning_rate=args.general_learning_rate,
        intermediate_epochs=args.intermediate_epochs,
        prediction_epochs=args.prediction_epochs, learning_rate=args.learning_rate,
        temperature=args.temperature, layer_mapping=_layer_mapping(args.layer_mapping),
        attention_weight=args.attention_weight, objective=args.objective,
        relation_heads=args.relation_heads, relation_teacher_layer=args.teacher_layer,
        num_variants=args.num_variants,
        replace_prob=args.replace_prob, top_k=args.top_k, mask_fraction=args.mask_fraction,
        word_vectors=args.word_vectors, max_train_examples=args.max_train_examples,
        max_augment_examples=args.max_augment_examples,
        max_eval_examples=args.max_eval_examples, scratch_baseline=args.scratch_baseline,
        scratch_learning_rate=args.scratch_learning_rate, seed=args.seed)


def report(result):
    """Prints the teacher / student table and the written files."""
    from keras_compact.training.distillation_job import format_table

    print(f"\n== Teacher and students on the test split ({result.get('metric', 'accuracy')})")
    print(format_table(result["table"], result.get("metric", "accuracy")))
    print(f"Optimizer steps per stage: {result['steps']}")
    print("\n== Written")
    for name, path in result["paths"].items():
        print(f"{name:>16}: {path}")
    sys.stdout.flush()


# Library arguments named in errors -> their `distill` flags.
_FLAGS = {"student_init": "--student-init", "time_budget": "--time-budget",
          "sequence_length": flag_for("sequence_length")}


def run_distill(args):
    from keras_compact.training.distillation_job import run_distillation

    job = job_from_args(args, args.output_dir, args.vocab, args.teacher, args.pretrained,
                        tokenizer=args.tokenizer, data=data_options(args))
    verbose = "auto" if sys.stdout.isatty() else 2
    with flags_in_errors(_FLAGS):
        result = run_distillation(job, verbose=verbose, overwrite=args.overwrite)
    report(result)
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "distill", help="TinyBERT distillation of a fine-tuned classifier into a "
        "smaller student, on CSV/TSV/JSONL files, a GLUE task or the bundled section task "
        "(model.fit per stage).")
    from keras_compact.cli.task_commands import add_data_arguments

    parser.add_argument("--output-dir", required=True,
                        help="Run directory; rerunning resumes at the unfinished stage.")
    add_data_arguments(parser)
    parser.add_argument("--test-split", default=None,
                        help="Split the table scores (default: test when labelled, else the "
                        "first validation split).")
    parser.add_argument("--vocab", default=None, metavar="PATH.model",
                        help="The teacher's SentencePiece model (same as --tokenizer).")
    parser.add_argument("--tokenizer", default=None, metavar="PATH",
                        help="The teacher's tokenizer (default: the one saved beside it).")
    parser.add_argument("--teacher", required=True, metavar="PATH",
                        help="Fine-tuned TextClassifier (classifier.keras from finetune), or "
                        "a Hugging Face *ForSequenceClassification folder.")
    parser.add_argument("--pretrained", default=None, metavar="PATH.keras",
                        help="The teacher's pretrainer.keras (MLM for augmentation, "
                        "backbone for general distillation).")
    add_distillation_arguments(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace a run with other settings in --output-dir (by "
                        "default a rerun must have the same settings: it resumes).")
    parser.set_defaults(func=run_distill)
