"""`keras-compact export`: a saved model to a TF Serving SavedModel version.

TensorFlow-only: run it with KERAS_BACKEND=tensorflow (the default); a
model trained on JAX or torch exports from its .keras file.
"""

import json
import os


def run_export(args):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from keras_compact.export import export_for_serving
    from keras_compact.export import ops_outside_tf_serving

    labels = {}
    if args.labels:
        if not os.path.isfile(args.labels):
            raise FileNotFoundError(f"--labels {args.labels!r} does not exist; pass the "
                                    "labels.json written by `keras-compact finetune`.")
        with open(args.labels, encoding="utf-8") as handle:
            labels = json.load(handle)
    vocab = args.vocab or labels.get("vocab")
    if not vocab:
        raise ValueError("--vocab is required (or --labels with a labels.json that names "
                         "the vocabulary).")
    seq_len = args.seq_len or labels.get("seq_len") or 128
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"--model {args.model!r} does not exist.")
    model = keras.saving.load_model(args.model, compile=False)
    path = export_for_serving(model, vocab, args.base_dir, args.name, version=args.version,
                              seq_len=seq_len, label_names=labels.get("label_names"),
                              pair=args.pair)
    outside = ops_outside_tf_serving(path)
    print(f"SavedModel: {path}")
    print("Signatures: serving_default (text" + (", text_b" if args.pair else "")
          + "), serve_token_ids (token_ids, segment_ids, padding_mask)")
    print("Ops outside TF Serving: " + (", ".join(outside) if outside else "none"))
    print(f"Serve: docker run -p 8501:8501 -v {os.path.abspath(args.base_dir)}/{args.name}:"
          f"/models/{args.name} -e MODEL_NAME={args.name} tensorflow/serving")
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "export", help="Export a classifier or backbone as a raw-text SavedModel in TF "
        "Serving's layout (BASE_DIR/NAME/VERSION).")
    parser.add_argument("--model", required=True, metavar="PATH.keras",
                        help="A TextClassifier or CompactBackbone .keras file.")
    parser.add_argument("--base-dir", required=True, help="TF Serving's model base directory.")
    parser.add_argument("--name", required=True, help="Served model name.")
    parser.add_argument("--vocab", default=None, metavar="PATH.model",
                        help="SentencePiece model (default: the one in --labels).")
    parser.add_argument("--labels", default=None, metavar="labels.json",
                        help="From `keras-compact finetune`: label names, seq_len, vocab.")
    parser.add_argument("--version", type=int, default=None,
                        help="Version number (default: the next free one).")
    parser.add_argument("--seq-len", type=int, default=None,
                        help="Sequence length (default: --labels' or 128).")
    parser.add_argument("--pair", action="store_true",
                        help="Two texts per example (signature inputs text, text_b).")
    parser.set_defaults(func=run_export)
