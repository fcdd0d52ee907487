"""`keras-compact export`: a saved model to a TF Serving SavedModel version,
or (`--format litert`) to a .tflite file with the tokenizer inside.

TensorFlow-only: it runs with KERAS_BACKEND=tensorflow (set here unless the
environment chose otherwise); a model trained on JAX or torch exports from
its .keras file.

Example:
```bash
keras-compact export --model runs/main_job/teacher/classifier.keras \\
    --labels runs/main_job/teacher/labels.json --base-dir /srv/models --name sections \\
    --quantize int8
keras-compact export --model runs/main_job/teacher/classifier.keras \\
    --labels runs/main_job/teacher/labels.json --base-dir apps --name sections \\
    --format litert --quantize int8          # apps/sections.int8.tflite
keras-compact export --model runs/sst/classifier.keras --base-dir /srv/models --name sst
```

A model written by `keras-compact finetune` (or `distill`'s student/) needs no
--vocab/--labels: its preprocessor (tokenizer, sequence length, pairing) is
saved inside the .keras file and task.json beside it names its labels.
"""

import json
import os


def _read_labels(path):
    from keras_compact.utils.paths import require_file

    require_file(path, "--labels", "the labels.json written by `keras-compact finetune`")
    with open(path, encoding="utf-8") as handle:
        try:
            labels = json.load(handle)
        except ValueError as error:
            raise ValueError(f"--labels {path!r} is not valid JSON ({error}).") from None
    if not isinstance(labels, dict):
        raise ValueError(f"--labels {path!r} holds a JSON {type(labels).__name__}, not the "
                         "object written by `keras-compact finetune` (label_names, seq_len, "
                         "vocab).")
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


def run_export(args):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from keras_compact.export import describe_signatures
    from keras_compact.export import export_for_serving
    from keras_compact.export import ops_outside_tf_serving

    from keras_compact.export.versions import check_model_name

    check_model_name(args.name)
    if args.format == "litert":
        _check_litert_options(args)
    model = _load_model(args.model)
    labels = _read_labels(args.labels) if args.labels else _saved_task(args.model, model)
    vocab = args.vocab or labels.get("vocab")
    has_preprocessor = getattr(model, "preprocessor", None) is not None
    if not vocab and not has_preprocessor:
        raise ValueError("--vocab is required for a model saved without a preprocessor (or "
                         "--labels with a labels.json that names the vocabulary).")
    if args.format == "litert":
        seq_len = args.seq_len if args.seq_len is not None else (
            labels.get("seq_len")
            or (model.preprocessor.sequence_length if has_preprocessor else 128))
        return _run_litert(args, model, None if has_preprocessor else vocab, seq_len)
    if args.token_ids:
        raise ValueError("--token-ids is for --format litert; SavedModels always offer the "
                         "serve_token_ids signature beside the raw-text one.")
    if args.quantize:
        from keras_compact.export.quantize import quantize_model

        # In place (the loaded model is this command's own), before the export, so
        # that --quantize-skip reaches Model.quantize.
        model = quantize_model(model, args.quantize, skip=args.quantize_skip or (),
                               copy=False)
    # A model with a preprocessor serves its own tokenizer and length unless told;
    # an explicit --seq-len (0 included) is never replaced by a default.
    seq_len = args.seq_len if args.seq_len is not None else (
        labels.get("seq_len") or (None if has_preprocessor else 128))
    path = export_for_serving(model, None if has_preprocessor else vocab, args.base_dir,
                              args.name, seq_len=seq_len,
                              label_names=labels.get("label_names"), version=args.version,
                              pair=True if (args.pair or labels.get("pair")) else None,
                              trim_padding=not args.fixed_width)
    outside = ops_outside_tf_serving(path, tf_serving_version=args.tf_serving_version)
    print(f"SavedModel: {path}")
    print("Signatures:")
    for line in describe_signatures(path):
        print(f"  {line}")
    print("Ops outside TF Serving: " + (", ".join(outside) if outside else "none"))
    model_dir = os.path.abspath(os.path.dirname(path))
    print(f"Serve: docker run -p 8500:8500 -p 8501:8501 -v {model_dir}:/models/{args.name} "
          f"-e MODEL_NAME={args.name} tensorflow/serving")
    return 0


def _check_litert_options(args):
    """SavedModel-only options are refused with LiteRT, not ignored."""
    if args.quantize_skip:
        raise ValueError("--quantize-skip applies to SavedModels (Keras' Model.quantize); "
                         "LiteRT's dynamic-range int8 quantizes every matmul weight.")
    if args.fixed_width:
        raise ValueError("--fixed-width applies to SavedModels; a LiteRT model always runs "
                         "at [batch, --seq-len]. Drop --fixed-width.")
    if args.tf_serving_version:
        raise ValueError("--tf-serving-version checks a SavedModel's ops against TF Serving; "
                         "drop it with --format litert.")


def _run_litert(args, model, vocab, seq_len):
    from keras_compact.export.litert import export_litert

    suffix = ".int8.tflite" if args.quantize else ".tflite"
    path = os.path.join(args.base_dir, args.name + suffix)
    export_litert(model, vocab, path, seq_len=seq_len, quantize=args.quantize,
                  raw_text=not args.token_ids, pair=True if args.pair else None)
    print(f"LiteRT model: {path} ({os.path.getsize(path) / 2**20:.1f} MiB, "
          f"{'int8 dynamic-range' if args.quantize else 'float32'}, "
          f"{'token ids' if args.token_ids else 'raw text'} in)")
    print("Run it with tensorflow-text's ops registered: "
          "keras_compact.export.litert.litert_interpreter(path)")
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "export", help="Export a classifier or backbone as a raw-text SavedModel in TF "
        "Serving's layout (BASE_DIR/NAME/VERSION).")
    parser.add_argument("--format", choices=("saved_model", "litert"), default="saved_model",
                        help="saved_model: BASE_DIR/NAME/VERSION for TF Serving; litert: "
                             "BASE_DIR/NAME[.int8].tflite with the tokenizer inside.")
    parser.add_argument("--quantize", choices=("int8",), default=None,
                        help="int8 weights: Keras' Model.quantize for SavedModels, "
                             "dynamic-range int8 for LiteRT.")
    parser.add_argument("--quantize-skip", action="append", metavar="REGEX",
                        help="Layer paths (regex) to keep float with --quantize "
                             "(repeatable; SavedModels).")
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
    parser.add_argument("--labels", default=None, metavar="labels.json",
                        help="From `keras-compact finetune`: label names, seq_len, vocab.")
    parser.add_argument("--version", type=int, default=None,
                        help="Version number (default: the next free one).")
    parser.add_argument("--seq-len", type=int, default=None,
                        help="Sequence length (default: --labels' or 128).")
    parser.add_argument("--pair", action="store_true",
                        help="Two texts per example (signature inputs text, text_b; default: "
                        "the model preprocessor's).")
    parser.add_argument("--fixed-width", action="store_true",
                        help="Run every request at [batch, seq_len] instead of trimming "
                             "padding columns per batch (classifiers; for servers that "
                             "compile per shape).")
    parser.add_argument("--tf-serving-version", default=None, metavar="X.Y",
                        help="Target TF Serving release for the op check (default: any).")
    parser.set_defaults(func=run_export)
