"""Distillation experiments of issue 15, each printing a table.

  python tools/experiments/distill_experiments.py minilm  --output-dir runs/exp_minilm
  python tools/experiments/distill_experiments.py general --output-dir runs/exp_general

`minilm` (bundled section task, 12-head teacher, student with another head
count): the real all-MiniLM-L6-v2 (6 layers, width 384, 12 heads) is loaded
with `keras_compact.convert.from_huggingface` and fine-tuned briefly on the
task; then three copies of the same fresh student (another width and head
count) get the same number of optimizer steps on the same batches:
  - MiniLMv2: `--distill-steps` of Q-Q/K-K/V-V relation distillation on the
    task texts (no labels), then `--finetune-steps` on the gold labels;
  - TinyBERT without the attention loss (embedding + hidden MSE through
    learned projections), same schedule;
  - from scratch: distill-steps + finetune-steps on the gold labels.
Token ids come from `keras_compact.tokenizers.WordPieceTokenizer` (or,
without it, transformers' BertTokenizerFast offline on the vocab.txt).

`general` (general distillation of an ALBERT-style student): a small ALBERT
teacher is pretrained with the package's pipeline (`PretrainingJob`) for
`--teacher-steps`; then two copies of the same student get `--steps` of
`PretrainingDistiller` on the same corpus stream:
  - intermediate losses only (TinyBERT: embedding + hidden + attention);
  - MLM + SOP + soft MLM targets + the same intermediate losses.
Reported: held-out MLM and SOP accuracy, then accuracy on the section task
after the same fine-tuning (`--finetune-steps`) of each student backbone.

Both keep each run to a few CPU minutes with the defaults; wall times are
printed. Figures are whatever the run gives.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_compact.pretrained import minilm_l6_dir  # noqa: E402

# The machine's 2 cores are shared; more threads only add contention.
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)


def _tokenize(texts, vocab_file, seq_len):
    """Token ids from the package's WordPieceTokenizer (branch i12-tokenizers,
    matching BertTokenizerFast); transformers' BertTokenizerFast, offline, on
    a checkout without it."""
    try:
        import tensorflow as tf

        from keras_compact.preprocessing.packing import pack
        from keras_compact.tokenizers import WordPieceTokenizer
    except ImportError:
        from transformers import BertTokenizerFast

        print("Tokenizer: transformers' BertTokenizerFast (offline, vocab.txt)")
        tokenizer = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True)
        encoded = tokenizer(list(texts), max_length=seq_len, truncation=True,
                            padding="max_length", return_tensors="np")
        return {"token_ids": encoded["input_ids"].astype("int32"),
                "segment_ids": encoded["token_type_ids"].astype("int32"),
                "padding_mask": encoded["attention_mask"].astype("int32")}
    print("Tokenizer: keras_compact.tokenizers.WordPieceTokenizer.from_huggingface")
    tokenizer = WordPieceTokenizer.from_huggingface(os.path.dirname(vocab_file))
    ids = tokenizer.tokenize(tf.constant(list(texts)))
    if isinstance(ids, list):  # eager keras-hub tokenizers hand back lists
        ids = tf.ragged.constant(ids, dtype=tf.int32)
    packed = pack(ids, sequence_length=seq_len,
                  cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id,
                  pad_id=tokenizer.pad_token_id)
    return {k: np.asarray(v).astype("int32") for k, v in packed.items()}


def _batches(features, labels, batch_size, steps, seed):
    """`steps` batches drawn in a fixed shuffled order (the same for every run)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    order = np.concatenate([rng.permutation(n) for _ in range(steps * batch_size // n + 1)])
    for step in range(steps):
        idx = order[step * batch_size:(step + 1) * batch_size]
        yield {k: v[idx] for k, v in features.items()}, labels[idx]


def _dataset(features, labels, batch_size, steps, seed, with_labels=True):
    import tensorflow as tf

    batches = list(_batches(features, labels, batch_size, steps, seed))
    x = {k: np.concatenate([b[0][k] for b in batches]) for k in features}
    y = np.concatenate([b[1] for b in batches])
    data = (x, y) if with_labels else x
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


def _task(args):
    from keras_compact.data.labelled_task import load_section_task
    from keras_compact.data.labelled_task import majority_rate

    sections = args.sections.split(",") if args.sections else None
    task = load_section_task(sections=sections, max_per_section=args.max_per_section,
                             seed=args.seed)
    task["test"] = task["test"][: args.max_test]
    print(f"Section task: sections {', '.join(task['label_names'])}; "
          f"{len(task['train'])} training / {len(task['test'])} test paragraphs; "
          f"majority-class test accuracy {majority_rate(task['test']):.4f}")
    return task


def _accuracy(model, features, labels, batch_size=64):
    logits = model.predict(features, batch_size=batch_size, verbose=0)
    return float((np.argmax(logits, -1) == labels).mean())


def _compile_classifier(classifier, optimizer):
    from keras_compact.tasks.kinds import task_kind

    kind = task_kind("classification")
    classifier.compile(optimizer=optimizer, loss=kind.loss(),
                       metrics=kind.keras_metrics(classifier.num_classes))


def _fit_classifier(classifier, features, labels, steps, batch_size, lr, seed):
    from keras_compact.optimizers import make_adamw

    _compile_classifier(classifier, make_adamw(steps, lr))
    classifier.jit_compile = False  # short runs: XLA compile time would dominate
    start = time.perf_counter()
    classifier.fit(_dataset(features, labels, batch_size, steps, seed), epochs=1,
                   verbose=0)
    return time.perf_counter() - start


def _distil(teacher, student, features, labels, steps, batch_size, lr, seed, **kwargs):
    from keras_compact.distill import Distiller
    from keras_compact.optimizers import make_adamw

    distiller = Distiller(teacher, student, stage="intermediate", **kwargs)
    print(distiller.mapping_report())
    distiller.compile(optimizer=make_adamw(steps, lr), jit_compile=False)
    start = time.perf_counter()
    history = distiller.fit(_dataset(features, labels, batch_size, steps, seed,
                                     with_labels=False), epochs=1, verbose=0).history
    return time.perf_counter() - start, {k: v[-1] for k, v in history.items()}


def run_minilm(args):
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.convert import from_huggingface

    keras.utils.set_random_seed(args.seed)
    folder = minilm_l6_dir()
    task = _task(args)
    train = task["train"][: args.max_train]
    test = task["test"]
    num_classes = len(task["label_names"])
    vocab = os.path.join(folder, "vocab.txt")
    x_train = _tokenize([t for t, _ in train], vocab, args.seq_len)
    y_train = np.array([label for _, label in train], "int32")
    x_test = _tokenize([t for t, _ in test], vocab, args.seq_len)
    y_test = np.array([label for _, label in test], "int32")
    print(f"Section task: {len(train)} training / {len(test)} test paragraphs, "
          f"{num_classes} classes, seq_len {args.seq_len}")

    backbone = from_huggingface(folder)
    # The token table (30522 x 384) stays as pretrained during the short
    # fine-tune: its dense Adam update would cost more than the encoder's.
    backbone.embeddings.token_embedding.trainable = False
    teacher = TextClassifier(backbone, num_classes=num_classes, dropout=0.1,
                             name="teacher")
    seconds = _fit_classifier(teacher, x_train, y_train, args.teacher_steps,
                              args.batch_size, args.teacher_lr, args.seed + 1)
    teacher_acc = _accuracy(teacher, x_test, y_test)
    rows = [{"model": "teacher all-MiniLM-L6-v2 (fine-tuned)",
             "parameters": teacher.count_params(), "heads": backbone.num_heads,
             "accuracy": teacher_acc, "seconds": seconds,
             "steps": f"{args.teacher_steps} fine-tune"}]
    print(f"Teacher fine-tuned {args.teacher_steps} steps in {seconds:.0f} s: "
          f"test accuracy {teacher_acc:.4f}")

    config = dict(vocabulary_size=backbone.vocabulary_size, num_layers=args.student_layers,
                  num_heads=args.student_heads, hidden_dim=args.student_width,
                  intermediate_dim=4 * args.student_width, embedding_dim=128,
                  sharing="none", activation="gelu", max_sequence_length=args.seq_len)

    def fresh_student():
        keras.utils.set_random_seed(args.seed + 7)  # the same initial weights
        return TextClassifier(CompactBackbone(**config), num_classes=num_classes,
                              dropout=0.1, name="student")

    total = args.distill_steps + args.finetune_steps
    runs = [
        ("MiniLMv2 relations", dict(objective="minilmv2",
                                    relation_heads=args.relation_heads,
                                    relation_teacher_layer=args.teacher_layer)),
        ("TinyBERT, no attention loss", dict(objective="tinybert", attention_weight=0.0)),
    ]
    for name, kwargs in runs:
        student = fresh_student()
        distil_s, last = _distil(teacher, student, x_train, y_train, args.distill_steps,
                                 args.batch_size, args.distill_lr, args.seed + 2, **kwargs)
        tune_s = _fit_classifier(student, x_train, y_train, args.finetune_steps,
                                 args.batch_size, args.student_lr, args.seed + 3)
        acc = _accuracy(student, x_test, y_test)
        print(f"{name}: distil {distil_s:.0f} s (last {last}), fine-tune {tune_s:.0f} s, "
              f"accuracy {acc:.4f}")
        rows.append({"model": name, "parameters": student.count_params(),
                     "heads": args.student_heads, "accuracy": acc,
                     "seconds": distil_s + tune_s,
                     "steps": f"{args.distill_steps} distil + {args.finetune_steps} tune"})
    student = fresh_student()
    seconds = _fit_classifier(student, x_train, y_train, total, args.batch_size,
                              args.student_lr, args.seed + 3)
    acc = _accuracy(student, x_test, y_test)
    rows.append({"model": "from scratch", "parameters": student.count_params(),
                 "heads": args.student_heads, "accuracy": acc, "seconds": seconds,
                 "steps": f"{total} on labels"})
    _print_table(rows, ["model", "parameters", "heads", "steps", "accuracy", "seconds"])
    _write(args, "minilm", rows)


def _pretraining_job(args, output_dir, steps, config, **kwargs):
    from keras_compact.training.pretraining_job import PretrainingJob

    return PretrainingJob(output_dir=output_dir, vocab_size=args.vocab_size,
                          preset="albert_base", config=config, steps=steps,
                          batch_size=args.batch_size, sequence_length=args.seq_len,
                          checkpoint_every=steps, eval_steps=args.eval_steps,
                          seed=args.seed, **kwargs)


def run_general(args):
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.distill import PretrainingDistiller
    from keras_compact.models.pretrainer import AlbertPretrainer
    from keras_compact.optimizers import make_lamb_optimizer
    from keras_compact.optimizers import make_adamw
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.tasks.labels import LabelInfo
    from keras_compact.training.tasks import evaluate_split
    from keras_compact.training.tasks import make_preprocessor
    from keras_compact.training.pretrain import run_pretraining
    from keras_compact.training.pretraining_job import backbone_config_for
    from keras_compact.training.pretraining_job import make_datasets
    from keras_compact.training.pretraining_job import prepare_vocabulary

    teacher_config = dict(num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512,
                          embedding_dim=64, sharing="all", dropout=0.0)
    start = time.perf_counter()
    job = _pretraining_job(args, os.path.join(args.output_dir, "teacher"),
                           args.teacher_steps, teacher_config,
                           learning_rate=args.teacher_lr)
    keras.utils.set_random_seed(args.seed)
    vocab = prepare_vocabulary(job)
    from keras_compact.tokenizers import load_tokenizer

    saved = os.path.join(job.output_dir, "pretrainer.keras")
    if os.path.isfile(saved):  # pretrained by an earlier run of this script
        teacher = keras.saving.load_model(saved)
        print(f"Teacher: reusing {saved}")
    else:
        config = backbone_config_for(job, load_tokenizer(vocab).vocabulary_size())
        train, held = make_datasets(job, vocab)
        result = run_pretraining(job.output_dir, config, train, total_steps=job.steps,
                                 batch_size=job.batch_size, eval_dataset=held,
                                 eval_steps=job.eval_steps,
                                 steps_per_checkpoint=job.steps,
                                 learning_rate=job.learning_rate, jit_compile=False,
                                 verbose=2)
        teacher = result["pretrainer"]
    teacher_seconds = time.perf_counter() - start
    print(f"Teacher pretrained {args.teacher_steps} steps in {teacher_seconds:.0f} s")

    student_config = dict(teacher_config, num_layers=2, hidden_dim=64, intermediate_dim=256,
                          num_heads=4, embedding_dim=32,
                          vocabulary_size=teacher.backbone.vocabulary_size,
                          max_sequence_length=args.seq_len)
    data_job = _pretraining_job(args, args.output_dir, args.steps, teacher_config)
    task = _task(args)
    labels = LabelInfo("classification", task["label_names"])
    preprocessor = make_preprocessor(vocab, args.seq_len, pair=False)
    tune_data = make_dataset(task["train"], labels, preprocessor, batch_size=args.batch_size,
                             shuffle=True, seed=args.seed)

    def held_out(pretrainer):
        _, held = make_datasets(data_job, vocab)
        pretrainer.compile(optimizer="sgd", jit_compile=False)
        return pretrainer.evaluate(held, steps=args.eval_steps, return_dict=True,
                                   verbose=0)

    def finetune(backbone, name):
        keras.utils.set_random_seed(args.seed + 5)
        classifier = TextClassifier(backbone, num_classes=len(task["label_names"]),
                                    name=name)
        _compile_classifier(classifier, make_adamw(args.finetune_steps, args.finetune_lr))
        classifier.jit_compile = False
        classifier.fit(tune_data.repeat(), epochs=1, steps_per_epoch=args.finetune_steps,
                       verbose=0)
        return evaluate_split(classifier, task["test"], labels, ("accuracy",),
                              preprocessor=preprocessor)["accuracy"]

    teacher_held = held_out(teacher)
    rows = [{"model": "teacher (ALBERT, pretrained)", "parameters":
             teacher.backbone.count_params(), "mlm_acc": teacher_held["mlm_accuracy"],
             "sop_acc": teacher_held["sop_accuracy"], "seconds": teacher_seconds,
             "task_acc": finetune(teacher.backbone, "teacher_clf")}]
    runs = [
        ("intermediate only", dict(mlm_weight=0.0, sop_weight=0.0, soft_mlm_weight=0.0)),
        ("MLM + SOP + soft MLM + intermediate", dict(mlm_temperature=args.temperature)),
        ("MLM + SOP only (no teacher)", dict(objective="none", soft_mlm_weight=0.0)),
    ]
    for name, kwargs in runs:
        keras.utils.set_random_seed(args.seed + 7)  # same initial student weights
        student = AlbertPretrainer(CompactBackbone(**student_config))
        distiller = PretrainingDistiller(teacher, student,
                                         **{"objective": "tinybert", **kwargs})
        distiller.compile(optimizer=make_lamb_optimizer(
            batch_size=args.batch_size, total_steps=args.steps,
            learning_rate=args.student_lr), jit_compile=False)
        train, _ = make_datasets(data_job, vocab)
        start = time.perf_counter()
        distiller.fit(train, epochs=1, steps_per_epoch=args.steps, verbose=0)
        seconds = time.perf_counter() - start
        held = held_out(student)
        rows.append({"model": name, "parameters": student.backbone.count_params(),
                     "mlm_acc": held["mlm_accuracy"], "sop_acc": held["sop_accuracy"],
                     "seconds": seconds,
                     "task_acc": finetune(student.backbone, "student_clf")})
        print(rows[-1])
    _print_table(rows, ["model", "parameters", "mlm_acc", "sop_acc", "task_acc",
                        "seconds"])
    _write(args, "general", rows)


def _print_table(rows, columns):
    widths = {c: max(len(c), *(len(_fmt(r[c])) for r in rows)) for c in columns}
    print()
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_fmt(row[c]).ljust(widths[c]) for c in columns))
    sys.stdout.flush()


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _write(args, name, rows):
    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, f"{name}_results.json")
    with open(path, "w") as handle:
        json.dump({"args": vars(args), "rows": rows}, handle, indent=1, default=str)
    print(f"Written: {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="experiment", required=True)
    a = sub.add_parser("minilm")
    a.add_argument("--output-dir", required=True)
    a.add_argument("--seq-len", type=int, default=64)
    a.add_argument("--batch-size", type=int, default=16)
    a.add_argument("--max-train", type=int, default=4000)
    a.add_argument("--max-test", type=int, default=1000)
    a.add_argument("--teacher-steps", type=int, default=150)
    a.add_argument("--teacher-lr", type=float, default=1e-4)
    a.add_argument("--student-layers", type=int, default=3)
    a.add_argument("--student-width", type=int, default=192)
    a.add_argument("--student-heads", type=int, default=4)
    a.add_argument("--relation-heads", type=int, default=12)
    a.add_argument("--teacher-layer", type=int, default=6)
    a.add_argument("--distill-steps", type=int, default=150)
    a.add_argument("--distill-lr", type=float, default=5e-4)
    a.add_argument("--finetune-steps", type=int, default=150)
    a.add_argument("--student-lr", type=float, default=5e-4)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--sections", default="c-api,howto,library,whatsnew",
                   help="Comma-separated sections of the task ('' for all 10).")
    a.add_argument("--max-per-section", type=int, default=300)
    a.set_defaults(func=run_minilm)
    b = sub.add_parser("general")
    b.add_argument("--output-dir", required=True)
    b.add_argument("--vocab-size", type=int, default=4000)
    b.add_argument("--seq-len", type=int, default=64)
    b.add_argument("--batch-size", type=int, default=32)
    b.add_argument("--teacher-steps", type=int, default=600)
    b.add_argument("--teacher-lr", type=float, default=3e-3)
    b.add_argument("--steps", type=int, default=300)
    b.add_argument("--student-lr", type=float, default=3e-3)
    b.add_argument("--temperature", type=float, default=1.0)
    b.add_argument("--eval-steps", type=int, default=20)
    b.add_argument("--finetune-steps", type=int, default=200)
    b.add_argument("--finetune-lr", type=float, default=1e-3)
    b.add_argument("--max-test", type=int, default=1000)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--sections", default="c-api,howto,library,whatsnew",
                   help="Comma-separated sections of the task ('' for all 10).")
    b.add_argument("--max-per-section", type=int, default=300)
    b.set_defaults(func=run_general)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
