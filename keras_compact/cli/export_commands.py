"""`keras-compact export`: a saved model to a TF Serving SavedModel version,
(`--format litert`) a .tflite file with the tokenizer inside, or
(`--format onnx`) an ONNX model folder. The command maps its flags to the
library's `keras_compact.export.export` and translates its messages'
argument names back to flags.

TensorFlow-only: it runs with KERAS_BACKEND=tensorflow (set here unless the
environment chose otherwise); a model trained on JAX or torch exports from
its .keras file.

Example:
```bash
keras-compact export --model runs/main_job/teacher/classifier.keras \\
    --base-dir /srv/models --name sections
keras-compact export --model runs/main_job/teacher/classifier.keras \\
    --base-dir apps --name sections \\
    --format litert --quantize int8          # apps/sections.int8.tflite
keras-compact export --model runs/main_job/teacher/classifier.keras --base-dir onnx \\
    --name sections --format onnx --quantize int8   # onnx/sections-onnx/
keras-compact export --model runs/sst/classifier.keras --base-dir /srv/models --name sst
```

A model written by `keras-compact finetune` (or `distill`'s student/) needs no
--vocab/--labels: its preprocessor (tokenizer, sequence length, pairing) is
saved inside the .keras file and task.json beside it names its labels.
"""

import json
import os
import re


def _read_labels(path):
    from keras_compact.utils.paths import require_file

    require_file(path, "--labels", "the task.json (or an older run's labels.json) written by "
                 "`keras-compact finetune`")
    with open(path, encoding="utf-8") as handle:
        try:
            labels = json.load(handle)
        except ValueError as error:
            raise ValueError(f"--labels {path!r} is not valid JSON ({error}).") from None
    if not isinstance(labels, dict):
        raise ValueError(f"--labels {path!r} holds a JSON {type(labels).__name__}, not the "
                         "object written by `keras-compact finetune` (label_names, "
                         "sequence_length, vocab).")
    if isinstance(labels.get("labels"), dict):  # a task.json (runs since issue 19)
        from keras_compact.tasks.task_file import read_task_file

        info = read_task_file(path)
        return {"label_names": info["labels"]["names"]} if info["labels"]["names"] else {}
    if "seq_len" in labels:  # an older run's labels.json (before `sequence_length`)
        labels.setdefault("sequence_length", labels.pop("seq_len"))
    names = labels.get("label_names")
    if names is not None and not (isinstance(names, list)
                                  and all(isinstance(n, str) for n in names)):
        raise ValueError(f"--labels {path!r}: label_names must be a list of strings.")
    return labels


def _load_model(path):
    from keras_compact.utils.model_files import load_keras_file
    from keras_compact.utils.paths import require_file

    require_file(path, "--model", "a TextClassifier or CompactBackbone .keras file")
    return load_keras_file(path, "--model")


def _saved_task(model_path, model):
    """Label names from the task.json beside a model (`finetune`/`distill` on files).

    The task.json is checked against the model (`tasks.task_file`). The
    tokenizer, sequence length and pairing are read from the model's own
    preprocessor (saved inside the .keras file), never from a copy beside it.
    """
    from keras_compact.tasks.task_file import TASK_FILE
    from keras_compact.tasks.task_file import check_task_file_against_model
    from keras_compact.tasks.task_file import read_task_file

    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), TASK_FILE)
    if not os.path.isfile(path) or not hasattr(model, "num_classes"):
        return {}  # a backbone, or a model saved without its run directory
    info = read_task_file(path)
    check_task_file_against_model(info, model, path)
    if info["labels"]["kind"] == "classification":
        return {"label_names": info["labels"]["names"]}
    return {}


# Library argument -> CLI flag, for messages of keras_compact.export.
_FLAGS = (("format='litert', quantize='int8'", "--format litert --quantize int8"),
          ("format='onnx', quantize='int8'", "--format onnx --quantize int8"),
          ("quantize='int8'", "--quantize int8"), ("raw_text=False", "--token-ids"),
          ("trim_padding=False", "--fixed-width"), ("sequence_length=", "--seq-len "),
          ("vocab=", "--vocab "), ("tokenizer=", "--vocab "), ("format=", "--format "))


def _flag_message(error):
    """`error` (a library error) with its Python argument names as CLI flags."""
    message = str(error)
    for argument, flag in _FLAGS:
        # Whole names only: max_sequence_length= stays as it is.
        message = re.sub(r"(?<![\w-])" + re.escape(argument), lambda _: flag, message)
    return type(error)(message) if message != str(error) else error


def _target(args):
    """The path `export()` writes for --base-dir / --name / --format."""
    if args.format == "litert":
        return os.path.join(args.base_dir, args.name
                            + (".int8.tflite" if args.quantize else ".tflite"))
    if args.format == "onnx":
        return os.path.join(args.base_dir, args.name + "-onnx")
    return os.path.join(args.base_dir, args.name)


def _options(args, model, labels):
    """export()'s options from the flags (only those the format takes)."""
    vocab = args.vocab or labels.get("vocab")
    has_preprocessor = getattr(model, "preprocessor", None) is not None
    if not vocab and not has_preprocessor:
        raise ValueError("--vocab is required for a model saved without a preprocessor (or "
                         "--labels with a labels.json that names the vocabulary).")
    # A model with a preprocessor serves its own tokenizer and length unless told;
    # an explicit --seq-len (0 included) is never replaced by a default.
    options = dict(
        vocab=None if has_preprocessor else vocab, quantize=args.quantize,
        sequence_length=args.seq_len if args.seq_len is not None else (
            labels.get("sequence_length") or (None if has_preprocessor else 128)),
        pair=True if (args.pair or labels.get("pair")) else None)
    if args.format == "litert":
        options["raw_text"] = not args.token_ids
    else:
        options["label_names"] = labels.get("label_names")
    if args.format == "saved_model":
        options.update(version=args.version, trim_padding=not args.fixed_width)
    return options


def _check_options(args):
    """Flags another format would need are refused, not ignored."""
    if args.token_ids and args.format != "litert":
        raise ValueError("--token-ids is for --format litert; SavedModels always offer the "
                         "serve_token_ids signature beside the raw-text one, and ONNX "
                         "models take token ids.")
    if args.fixed_width and args.format != "saved_model":
        raise ValueError(f"--fixed-width applies to SavedModels; a {args.format} model "
                         "always runs at the width it is given. Drop --fixed-width.")
    if args.tf_serving_version and args.format != "saved_model":
        raise ValueError("--tf-serving-version checks a SavedModel's ops against TF Serving; "
                         f"drop it with --format {args.format}.")
    if args.version is not None and args.format != "saved_model":
        raise ValueError(f"--version numbers SavedModel versions; drop it with --format "
                         f"{args.format}.")


def run_export(args):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from keras_compact.export import export
    from keras_compact.export.saved_model import check_saved_model_quantize
    from keras_compact.export.versions import check_model_name

    check_model_name(args.name)
    _check_options(args)
    try:
        if args.format == "saved_model":
            check_saved_model_quantize(args.quantize)  # before loading the model
        labels = _read_labels(args.labels) if args.labels else None  # cheap checks first
        model = _load_model(args.model)
        if labels is None:
            labels = _saved_task(args.model, model)
        path = export(model, _target(args), format=args.format,
                      **_options(args, model, labels))
    except ValueError as error:
        raise _flag_message(error) from None
    _PRINTERS[args.format](args, path)
    return 0


def _print_saved_model(args, path):
    from keras_compact.export import describe_signatures
    from keras_compact.export import ops_outside_tf_serving

    outside = ops_outside_tf_serving(path, tf_serving_version=args.tf_serving_version)
    print(f"SavedModel: {path}")
    print("Signatures:")
    for line in describe_signatures(path):
        print(f"  {line}")
    print("Ops outside TF Serving: " + (", ".join(outside) if outside else "none"))
    model_dir = os.path.abspath(os.path.dirname(path))
    print(f"Serve: docker run -p 8500:8500 -p 8501:8501 -v {model_dir}:/models/{args.name} "
          f"-e MODEL_NAME={args.name} tensorflow/serving")


def _print_litert(args, path):
    print(f"LiteRT model: {path} ({os.path.getsize(path) / 2**20:.1f} MiB, "
          f"{'int8 dynamic-range' if args.quantize else 'float32'}, "
          f"{'token ids' if args.token_ids else 'raw text'} in)")
    print("Run it with tensorflow-text's ops registered: "
          "keras_compact.export.litert.litert_interpreter(path)")


def _print_onnx(args, path):
    print(f"ONNX model folder: {path}")
    for name in sorted(os.listdir(path)):
        print(f"  {name} ({os.path.getsize(os.path.join(path, name)) / 2**20:.1f} MiB)")
    print(f"Inputs, outputs and an onnxruntime example: {os.path.join(path, 'README.md')}")


_PRINTERS = {"saved_model": _print_saved_model, "litert": _print_litert,
             "onnx": _print_onnx}


def register(subparsers):
    parser = subparsers.add_parser(
        "export", help="Export a task model or backbone: a raw-text SavedModel in TF "
        "Serving's layout (BASE_DIR/NAME/VERSION), a LiteRT file or an ONNX folder.")
    parser.add_argument("--format", choices=("saved_model", "litert", "onnx"),
                        default="saved_model",
                        help="saved_model: BASE_DIR/NAME/VERSION for TF Serving; litert: "
                             "BASE_DIR/NAME[.int8].tflite with the tokenizer inside; onnx: "
                             "the folder BASE_DIR/NAME-onnx (model.onnx, tokenizer, "
                             "README.md), token ids in.")
    parser.add_argument("--quantize", choices=("int8",), default=None,
                        help="int8 weights: dynamic-range int8 for LiteRT, "
                             "model.int8.onnx beside model.onnx for ONNX; refused for "
                             "SavedModels (slower than float32).")
    parser.add_argument("--token-ids", action="store_true",
                        help="LiteRT: take token ids instead of raw text (for tokenizers "
                             "LiteRT cannot run).")
    parser.add_argument("--model", required=True, metavar="PATH.keras",
                        help="A TextClassifier or CompactBackbone .keras file.")
    parser.add_argument("--base-dir", required=True,
                        help="Directory above the model's: writes BASE_DIR/NAME/VERSION.")
    parser.add_argument("--name", required=True, help="Served model name.")
    parser.add_argument("--vocab", default=None, metavar="PATH.model",
                        help="Vocabulary (.model / vocab.txt) for a model saved without a "
                             "preprocessor (default: the one in --labels); LiteRT also takes "
                             "a Hugging Face tokenizer folder.")
    parser.add_argument("--labels", default=None, metavar="task.json",
                        help="Label names when the model's task.json is not beside it (a "
                             "task.json, or an older run's labels.json).")
    parser.add_argument("--version", type=int, default=None,
                        help="SavedModel version number (default: the next free one).")
    parser.add_argument("--seq-len", type=int, default=None,
                        help="Sequence length (default: --labels' or 128).")
    parser.add_argument("--pair", action="store_true",
                        help="Two texts per example (signature inputs text, text_b; default: "
                        "the model preprocessor's).")
    parser.add_argument("--fixed-width", action="store_true",
                        help="Run every request at [batch, --seq-len] instead of trimming "
                             "padding columns per batch (classifiers; for servers that "
                             "compile per shape).")
    parser.add_argument("--tf-serving-version", default=None, metavar="X.Y",
                        help="Target TF Serving release for the op check (default: any).")
    parser.set_defaults(func=run_export)
