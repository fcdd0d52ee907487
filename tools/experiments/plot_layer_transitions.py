"""ALBERT's layer-transition plot for any backbones and text.

For each model, per layer, the L2 distance and cosine similarity between
the layer's input and output embeddings (averaged over the tokens of the
texts), drawn in one PNG (`keras_compact.analysis.transitions`). The paper's
comparison is between trained models: ALBERT's transitions are smoother
than BERT's. Pass saved models (`.keras` backbones, pretrainers or
classifiers) with --model NAME=PATH, or fresh presets with --preset (shapes
only: untrained weights say little).

    python tools/experiments/plot_layer_transitions.py --vocab runs/main_job/vocab/spm.model \\
        --model ALBERT=runs/main_job/backbone.keras --model BERT=runs/bert/backbone.keras \\
        --output runs/layer_transitions.png
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def default_texts(count=16):
    """Paragraphs from the bundled corpus (every 31st document's first one)."""
    from keras_compact.data import load_default_corpus

    documents = load_default_corpus()
    return [d.paragraphs[0] for d in documents[::31] if d.paragraphs][:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="A saved model (.keras); repeat for several.")
    parser.add_argument("--preset", action="append", default=[],
                        help="A fresh preset backbone (random weights); repeatable.")
    parser.add_argument("--vocab", required=True, metavar="PATH.model",
                        help="SentencePiece model of the models' vocabulary.")
    parser.add_argument("--text", action="append", default=None,
                        help="Text to run (repeatable; default: bundled paragraphs).")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--output", default="layer_transitions.png")
    args = parser.parse_args()
    if not args.model and not args.preset:
        parser.error("pass at least one --model NAME=PATH or --preset NAME")

    import keras

    from keras_compact import CompactBackbone
    from keras_compact.analysis import layer_transitions
    from keras_compact.analysis import plot_layer_transitions
    from keras_compact.preprocessing import TextClassifierPreprocessor

    preprocessor = TextClassifierPreprocessor(args.vocab, sequence_length=args.seq_len)
    features = {key: keras.ops.convert_to_numpy(value)
                for key, value in preprocessor(args.text or default_texts()).items()}
    models = {}
    for spec in args.model:
        name, sep, path = spec.partition("=")
        if not sep:
            parser.error(f"--model {spec!r} is not NAME=PATH")
        models[name] = keras.saving.load_model(path, compile=False)
    for preset in args.preset:
        models[f"{preset} (untrained)"] = CompactBackbone.from_preset(
            preset, vocabulary_size=preprocessor.vocabulary_size(),
            max_sequence_length=max(args.seq_len, 512))
    stats = {name: layer_transitions(model, features) for name, model in models.items()}
    for name, values in stats.items():
        print(name)
        for layer, (l2, cos) in enumerate(zip(values["l2_distance"],
                                              values["cosine_similarity"]), start=1):
            print(f"  layer {layer:>2}: L2 {l2:8.3f}  cosine {cos:.4f}")
    print(plot_layer_transitions(stats, args.output))


if __name__ == "__main__":
    main()
