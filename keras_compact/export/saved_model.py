"""SavedModels that take raw text, for TF Serving (TensorFlow-only).

Built with Keras' own `keras.export.ExportArchive`, which saves variables
and functions so that both TF2's `tf.saved_model.load` and the TF1
session-based loader that TF Serving uses can run them (plain `tf.Module`
saving of Keras 3 layers breaks the latter).

Signatures:
- `serving_default`: "text" (string [batch]; plus "text_b" for pair
  tasks) -> classifier: "logits", "probabilities", "label_ids" (int32) and
  "labels" (string, when label names are given); backbone:
  "pooled_output", "sequence_output".
- `serve_token_ids`: "token_ids", "segment_ids", "padding_mask" (int32
  [batch, seq_len]) -> the same outputs, for clients that tokenize.

Classifier exports run the model only as wide as the batch needs: padding
columns after the last real token of every example are dropped (the width
rounded up to a multiple of 8, which keeps the set of shapes the kernels see
small). Padded keys are masked out of attention and a classifier reads the
first position, so the outputs are those of the full width, computed on
fewer columns; `tools/bench_serving.py` times both.
"""

import os

from keras_compact.export.versions import version_path
from keras_compact.utils.atomic import atomic_directory

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")
TRIM_MULTIPLE = 8


def trim_padding_columns(features, seq_len):
    """Drops the columns after the batch's last real token (TensorFlow ops).

    The kept width is the last position any example's padding mask marks,
    rounded up to a multiple of `TRIM_MULTIPLE` and kept in
    [min(TRIM_MULTIPLE, seq_len), seq_len]; it works for any mask layout,
    not only right padding.

    Args:
        features: dict of int32 [batch, seq_len] "token_ids", "segment_ids",
            "padding_mask".
        seq_len: int. Their width.

    Returns:
        The same dict, sliced to [batch, width].

    Example:
    ```python
    trim_padding_columns(packer(["short text"]), 128)["token_ids"].shape  # (1, 8)
    ```
    """
    import tensorflow as tf

    positions = tf.range(1, seq_len + 1, dtype=tf.int32)[None, :]
    last = tf.reduce_max(tf.where(features["padding_mask"] > 0, positions, 0))
    width = (last + TRIM_MULTIPLE - 1) // TRIM_MULTIPLE * TRIM_MULTIPLE
    width = tf.clip_by_value(width, min(TRIM_MULTIPLE, seq_len), seq_len)
    return {key: value[:, :width] for key, value in features.items()}


def _check_model(model):
    import keras

    from keras_compact.models import CompactBackbone
    from keras_compact.models import TextClassifier

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "SavedModel export needs KERAS_BACKEND=tensorflow (active: "
            f"{keras.backend.backend()}). Save the model as .keras on this backend "
            "and export it from a TensorFlow-backend process: KERAS_BACKEND=tensorflow "
            "keras-compact export --model model.keras ...")
    if not isinstance(model, (TextClassifier, CompactBackbone)):
        raise ValueError(f"Export takes a TextClassifier or a CompactBackbone, got "
                         f"{type(model).__name__}.")
    return isinstance(model, TextClassifier)


def export_saved_model(model, vocab, path, seq_len=128, label_names=None, pair=False,
                       trim_padding=True, quantize=None):
    """Writes a SavedModel with raw-text and token-id signatures to `path`.

    The directory is written under a temporary name and renamed into place.

    Args:
        model: a `TextClassifier` or `CompactBackbone` (TensorFlow backend).
        vocab: its SentencePiece .model file.
        path: the SavedModel directory to create (must not exist).
        seq_len: int. Length texts are truncated / padded to (at most the
            model's `max_sequence_length`).
        label_names: optional list of class names (classifiers), returned as
            "labels" beside the ids.
        pair: bool. Take two texts per example ("text", "text_b").
        trim_padding: bool. Classifiers: run only as wide as the batch's
            longest example (see the module docstring). False keeps every
            call at [batch, seq_len], e.g. for servers that compile per shape.
            Backbones always keep the full width (`sequence_output` is
            [batch, seq_len, hidden]).
        quantize: None (float weights) or "int8": export an int8 copy made
            by Keras' `Model.quantize` (`keras_compact.export.quantize`); the
            signatures are the same.

    Returns:
        `path`.

    Example:
    ```python
    classifier = keras.saving.load_model("runs/demo/teacher/classifier.keras")
    export_saved_model(classifier, "runs/demo/vocab/spm.model", "exports/teacher")
    ```
    """
    import tensorflow as tf
    from keras.export import ExportArchive

    from keras_compact.data.tokenizer import load_sentencepiece_processor
    from keras_compact.data.vocabulary import check_special_pieces
    from keras_compact.export.serving_text import TextPacker

    is_classifier = _check_model(model)
    backbone = model.backbone if is_classifier else model
    processor = load_sentencepiece_processor(vocab)
    # The packer uses the fixed special ids (<pad>=0, [CLS]=2, [SEP]=3) training used.
    check_special_pieces(vocab)
    if processor.get_piece_size() != backbone.vocabulary_size:
        raise ValueError(f"{vocab!r} has {processor.get_piece_size()} pieces but the model's "
                         f"vocabulary has {backbone.vocabulary_size}; pass the model's own "
                         "SentencePiece model.")
    if (isinstance(seq_len, bool) or not isinstance(seq_len, int)
            or not (4 if pair else 3) <= seq_len <= backbone.max_sequence_length):
        raise ValueError(f"seq_len={seq_len!r} must be an integer in [{4 if pair else 3}, "
                         f"max_sequence_length={backbone.max_sequence_length}].")
    if label_names is not None:
        if not is_classifier:
            raise ValueError("label_names is for classifiers; a backbone has no classes.")
        if len(label_names) != model.num_classes:
            raise ValueError(f"label_names has {len(label_names)} names but the classifier "
                             f"has {model.num_classes} classes.")
    if os.path.exists(path):
        raise ValueError(f"{path} already exists; export to a new directory.")
    if quantize is not None:
        from keras_compact.export.quantize import quantize_model

        model = quantize_model(model, quantize)
    with open(vocab, "rb") as handle:
        packer = TextPacker(handle.read(), seq_len)
    names = None if label_names is None else tf.constant(list(label_names), tf.string)

    def outputs(features):
        features = {k: tf.cast(features[k], tf.int32) for k in INPUT_KEYS}
        if not is_classifier:
            result = model(features, training=False)
            return {"pooled_output": tf.cast(result["pooled_output"], tf.float32),
                    "sequence_output": tf.cast(result["sequence_output"], tf.float32)}
        if trim_padding:
            features = trim_padding_columns(features, seq_len)
        logits = tf.cast(model(features, training=False), tf.float32)
        result = {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1),
                  "label_ids": tf.argmax(logits, axis=-1, output_type=tf.int32)}
        if names is not None:
            result["labels"] = tf.gather(names, result["label_ids"])
        return result

    archive = ExportArchive()
    archive.track(model)
    archive.track(packer)
    text_spec = tf.TensorSpec([None], tf.string, name="text")
    if pair:
        archive.add_endpoint(
            "serving_default", lambda text, text_b: outputs(packer(text, text_b)),
            input_signature=[text_spec, tf.TensorSpec([None], tf.string, name="text_b")])
    else:
        archive.add_endpoint("serving_default", lambda text: outputs(packer(text)),
                             input_signature=[text_spec])
    id_specs = [tf.TensorSpec([None, seq_len], tf.int32, name=k) for k in INPUT_KEYS]
    archive.add_endpoint(
        "serve_token_ids",
        lambda token_ids, segment_ids, padding_mask: outputs(dict(
            token_ids=token_ids, segment_ids=segment_ids, padding_mask=padding_mask)),
        input_signature=id_specs)
    with atomic_directory(path) as temp:
        archive.write_out(temp, verbose=False)
    return path


def export_for_serving(model, vocab, base_dir, model_name, seq_len=128, label_names=None,
                       version=None, pair=False, trim_padding=True, quantize=None):
    """Exports into TF Serving's layout: BASE_DIR/MODEL_NAME/VERSION/.

    The version is written under a hidden temporary name beside it and
    renamed into place, so a server watching BASE_DIR/MODEL_NAME never
    loads a half-written version.

    Args:
        model, vocab: as `export_saved_model`.
        base_dir: the directory above the model's; TF Serving's
            --model_base_path is BASE_DIR/MODEL_NAME.
        model_name: the served model's name (a directory name).
        seq_len, label_names, pair, trim_padding, quantize: as
            `export_saved_model`.
        version: int or None for the next free version (1 for a new model).

    Returns:
        The version directory written.

    Raises:
        ValueError: a bad name or version, the version exists, the model is
            not exportable (wrong backend or type), or a bad argument.

    Example:
    ```python
    path = export_for_serving(classifier, "spm.model", "/models", "sections",
                              label_names=names)       # /models/sections/1
    ```
    """
    # atomic_directory creates BASE_DIR/MODEL_NAME; a failed export leaves no version.
    path = version_path(base_dir, model_name, version)
    return export_saved_model(model, vocab, path, seq_len=seq_len, label_names=label_names,
                              pair=pair, trim_padding=trim_padding, quantize=quantize)
