"""SavedModels that take raw text, for TF Serving (TensorFlow-only).

Built with Keras' own `keras.export.ExportArchive`, which saves variables
and functions so that both TF2's `tf.saved_model.load` and the TF1
session-based loader that TF Serving uses can run them (plain `tf.Module`
saving of Keras 3 layers breaks the latter).

Text goes through the model's own preprocessor
(`keras_compact.preprocessing.TextClassifierPreprocessor`, SentencePiece or
WordPiece, single texts or pairs), traced into the graph with its tokenizer,
so the served ids are the ids the model saw in Keras; the preprocessor's
text bound keeps the work per request bounded (64 characters per position
are tokenized at most, whatever the text's size).

Signatures:
- `serving_default`: "text" (string [batch]; plus "text_b" for pair
  models) -> classifier: "logits", "probabilities", "label_ids" (int32) and
  "labels" (string, when label names are given); the other kinds' outputs
  are those of `keras_compact.export.heads` (the table every format shares).
- `serve_token_ids`: "token_ids", "segment_ids", "padding_mask" (int32
  [batch, sequence_length]) -> the same outputs, for clients that tokenize.

Input contracts (both loaders): texts must be a vector (rank 1; a scalar or a
matrix is rejected), the two texts of a pair must have equal batch sizes,
and token ids must lie in [0, vocabulary_size) with segment ids in
[0, num_segments), a 0/1 padding mask and one batch size for the three.
A violation is an InvalidArgument error whose message names the input and
the rule (TF Serving returns it to the client as INVALID_ARGUMENT).

Classifier exports run the model only as wide as the batch needs: padding
columns after the last real token of every example are dropped (the width
rounded up to a multiple of 8, which keeps the set of shapes the kernels see
small). Padded keys are masked out of attention and a classifier reads the
first position, so the outputs are those of the full width, computed on
fewer columns; `tools/benchmarks/bench_serving.py` times both.
"""

import os

from keras_compact.export.heads import BACKBONE
from keras_compact.export.heads import CLASSIFIER
from keras_compact.export.heads import ExportError
from keras_compact.export.heads import backbone_of
from keras_compact.export.heads import head_outputs
from keras_compact.export.heads import serving_head
from keras_compact.export.versions import version_path
from keras_compact.utils.atomic import atomic_directory
from keras_compact.utils.atomic import atomic_numbered_directory
from keras_compact.utils.atomic import clean_stale_temporaries

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")
TRIM_MULTIPLE = 8


def trim_padding_columns(features, sequence_length):
    """Drops the columns after the batch's last real token (TensorFlow ops).

    The kept width is the last position any example's padding mask marks,
    rounded up to a multiple of `TRIM_MULTIPLE` and kept in
    [min(TRIM_MULTIPLE, sequence_length), sequence_length]; it works for any mask layout,
    not only right padding.

    Args:
        features: dict of int32 [batch, sequence_length] "token_ids", "segment_ids",
            "padding_mask".
        sequence_length: int. Their width.

    Returns:
        The same dict, sliced to [batch, width].

    Example:
    ```python
    trim_padding_columns(packer(["short text"]), 128)["token_ids"].shape  # (1, 8)
    ```
    """
    import tensorflow as tf

    positions = tf.range(1, sequence_length + 1, dtype=tf.int32)[None, :]
    last = tf.reduce_max(tf.where(features["padding_mask"] > 0, positions, 0))
    width = (last + TRIM_MULTIPLE - 1) // TRIM_MULTIPLE * TRIM_MULTIPLE
    width = tf.clip_by_value(width, min(TRIM_MULTIPLE, sequence_length), sequence_length)
    return {key: value[:, :width] for key, value in features.items()}


def serving_preprocessor(model, vocab=None, sequence_length=None, pair=None):
    """The preprocessor an export of `model` runs: the model's own, else one
    built from `vocab`.

    Args:
        model: a task model (its `preprocessor` is used when it has one) or a
            `CompactBackbone`.
        vocab: a vocabulary path (or tokenizer), for a model without a
            preprocessor; ignored otherwise.
        sequence_length, pair: None keeps the preprocessor's; a value builds a copy
            with the same tokenizer and that length / pairing.

    Returns:
        A `TextClassifierPreprocessor`.

    Raises:
        ValueError: no preprocessor and no vocabulary; a bad `sequence_length`.
    """
    from keras_compact.preprocessing import TextClassifierPreprocessor

    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:
        if vocab is None:
            raise ValueError(
                f"The {type(model).__name__} has no preprocessor, so the export needs its "
                "vocabulary: pass vocab= (the .model / vocab.txt it was trained with), or "
                "build the model with preprocessor=TextClassifierPreprocessor(...).")
        from keras_compact.tokenizers import load_tokenizer

        return TextClassifierPreprocessor(load_tokenizer(vocab),
                                          128 if sequence_length is None else sequence_length,
                                          pair=bool(pair))
    if not isinstance(preprocessor, TextClassifierPreprocessor):
        raise ValueError(f"Export runs a TextClassifierPreprocessor, the model has a "
                         f"{type(preprocessor).__name__}; set model.preprocessor to one.")
    same_length = sequence_length is None or sequence_length == preprocessor.sequence_length
    same_pairing = pair is None or bool(pair) == preprocessor.pair
    if same_length and same_pairing:
        return preprocessor
    return TextClassifierPreprocessor(
        preprocessor.tokenizer,
        preprocessor.sequence_length if sequence_length is None else sequence_length,
        pair=preprocessor.pair if pair is None else bool(pair),
        max_text_chars=preprocessor.max_text_chars)


def _check_text_batch(text, name):
    """`text` as a string vector, or an InvalidArgument error naming it."""
    import tensorflow as tf

    # tf.raw_ops.Rank: the Python tf.rank folds to the traced (static) rank,
    # while a loaded TF2 signature is also called with other ranks.
    rank = tf.raw_ops.Rank(input=text)
    check = tf.debugging.assert_equal(
        rank, 1, message=f"Input {name} must be a vector of strings, shape [batch] (a scalar or a "
                         "matrix is not accepted); send one string per example")
    with tf.control_dependencies([check]):
        return tf.identity(text)


def _check_token_ids(features, vocabulary_size, num_segments):
    """The id inputs, or InvalidArgument errors naming the input and the rule."""
    import tensorflow as tf

    token_ids = features["token_ids"]
    checks = []
    rows = tf.shape(token_ids, out_type=tf.int32)
    for key in ("segment_ids", "padding_mask"):
        checks.append(tf.debugging.assert_equal(
            tf.shape(features[key], out_type=tf.int32), rows,
            message=f"Input {key} must have the shape of token_ids [batch, sequence_length] (same "
                    "batch size, no broadcasting)"))
    checks.append(tf.debugging.assert_non_negative(
        token_ids, message="Input token_ids must be >= 0 (negative ids are not token ids)"))
    checks.append(tf.debugging.assert_less(
        token_ids, tf.constant(vocabulary_size, tf.int32),
        message=f"Input token_ids must be < vocabulary_size={vocabulary_size} (ids outside the "
                "model's token table)"))
    segments = features["segment_ids"]
    checks.append(tf.debugging.assert_non_negative(
        segments, message="Input segment_ids must be >= 0"))
    checks.append(tf.debugging.assert_less(
        segments, tf.constant(num_segments, tf.int32),
        message=f"Input segment_ids must be < num_segments={num_segments}"))
    mask = features["padding_mask"]
    checks.append(tf.debugging.assert_equal(
        tf.logical_or(tf.equal(mask, 0), tf.equal(mask, 1)), True,
        message="Input padding_mask must hold only 0 (padding) and 1 (real token)"))
    with tf.control_dependencies(checks):
        return {key: tf.identity(value) for key, value in features.items()}


def check_saved_model_quantize(quantize):
    """Refuses quantized SavedModels: the int8 path TF offers is slower.

    Measured (tools/benchmarks/DEPLOY_BENCHMARKS.md, 1 thread): the SavedModel
    of a Keras `Model.quantize("int8")` model runs at 0.45x of float32 at
    batch 1 and 0.35x at batch 32 (TF has no fused int8 matmul for Keras'
    per-token activation quantization); LiteRT int8 and ONNX Runtime int8
    run faster than float32, so those formats offer int8 instead.

    Raises:
        ExportError: `quantize` is not None.
    """
    if quantize is None:
        return
    if quantize != "int8":
        raise ExportError(f"quantize={quantize!r}: SavedModels are float32 only; use "
                          "quantize=None.")
    raise ExportError(
        "quantize='int8' makes the SavedModel slower than float32 (0.45x at batch 1 on the "
        "benchmark CPU, tools/benchmarks/DEPLOY_BENCHMARKS.md); use format='litert', "
        "quantize='int8' or format='onnx', quantize='int8'.")


def export_saved_model(model, vocab=None, path=None, sequence_length=None, label_names=None,
                       pair=None, trim_padding=True, quantize=None):
    """Writes a SavedModel with raw-text and token-id signatures to `path`.

    The directory is written under a temporary name and renamed into place.
    Raw text runs through the model's own preprocessor (see
    `serving_preprocessor`), so the served ids are those of Keras'
    `model.predict(texts)`.

    Args:
        model: a `TextClassifier`, `TextRegressor`, `TextEmbedder` or
            `CompactBackbone` (TensorFlow backend).
        vocab: the vocabulary (.model / vocab.txt) for a model without a
            preprocessor (a backbone, an id-only task model); None otherwise.
        path: the SavedModel directory to create (must not exist).
        sequence_length: int or None. Length texts are truncated / padded to (at most
            the model's `max_sequence_length`); None: the preprocessor's
            (128 when built from `vocab`).
        label_names: optional list of class names (classifiers), returned as
            "labels" beside the ids.
        pair: bool or None. Take two texts per example ("text", "text_b");
            None: as the preprocessor does (single texts when built from
            `vocab`).
        trim_padding: bool. Task models: run only as wide as the batch's
            longest example (see the module docstring). False keeps every
            call at [batch, sequence_length], e.g. for servers that compile per shape.
            Backbones always keep the full width (`sequence_output` is
            [batch, sequence_length, hidden]).
        quantize: must be None: an int8 SavedModel is refused because it
            serves slower than float32 (see `check_saved_model_quantize`).

    Returns:
        `path`.

    Example:
    ```python
    classifier = keras.saving.load_model("runs/main_job/teacher/classifier.keras")
    export_saved_model(classifier, path="exports/teacher/1")   # its own preprocessor
    ```
    """
    import tensorflow as tf
    from keras.export import ExportArchive

    from keras_compact.models.classifier import check_preprocessor

    check_saved_model_quantize(quantize)
    head = serving_head(model, "SavedModel")
    kind = head.kind
    backbone = backbone_of(model, head)
    if path is None:
        raise ValueError("path is required: the SavedModel directory to create.")
    preprocessor = serving_preprocessor(model, vocab, sequence_length=sequence_length, pair=pair)
    sequence_length = preprocessor.sequence_length
    check_preprocessor(backbone, preprocessor)
    if label_names is not None:
        if kind != CLASSIFIER:
            raise ValueError(f"label_names is for classifiers; a {kind} has no classes.")
        if len(label_names) != model.num_classes:
            raise ValueError(f"label_names has {len(label_names)} names but the classifier "
                             f"has {model.num_classes} classes.")
    if os.path.exists(path):
        raise ValueError(f"{path} already exists; export to a new directory.")
    names = None if label_names is None else tf.constant(list(label_names), tf.string)
    vocabulary_size = int(backbone.vocabulary_size)
    num_segments = int(getattr(backbone, "num_segments", 2))

    def outputs(features):
        features = {k: tf.cast(features[k], tf.int32) for k in INPUT_KEYS}
        if kind != BACKBONE and trim_padding:
            features = trim_padding_columns(features, sequence_length)
        result = head_outputs(head, model(features, training=False), features)
        if names is not None:
            result["labels"] = tf.gather(names, result["label_ids"])
        return result

    def from_text(text, text_b=None):
        text = _check_text_batch(text, "text")
        if text_b is None:
            return outputs(preprocessor(text))
        text_b = _check_text_batch(text_b, "text_b")
        return outputs(preprocessor(x=(text, text_b)))

    archive = ExportArchive()
    archive.track(model)
    archive.track(preprocessor)
    # No shape in the text specs: TF2's loaded signatures do not check
    # shapes, so the graph checks the rank itself, the same for TF2 and for
    # the session loader (which would otherwise reject with a feed error).
    text_spec = tf.TensorSpec(None, tf.string, name="text")
    if preprocessor.pair:
        archive.add_endpoint(
            "serving_default", lambda text, text_b: from_text(text, text_b),
            input_signature=[text_spec, tf.TensorSpec(None, tf.string, name="text_b")])
    else:
        archive.add_endpoint("serving_default", lambda text: from_text(text),
                             input_signature=[text_spec])
    id_specs = [tf.TensorSpec([None, sequence_length], tf.int32, name=k) for k in INPUT_KEYS]
    archive.add_endpoint(
        "serve_token_ids",
        lambda token_ids, segment_ids, padding_mask: outputs(_check_token_ids(dict(
            token_ids=token_ids, segment_ids=segment_ids, padding_mask=padding_mask),
            vocabulary_size, num_segments)),
        input_signature=id_specs)
    with atomic_directory(path) as temp:
        archive.write_out(temp, verbose=False)
    return path


def export_for_serving(model, vocab=None, base_dir=None, model_name=None, sequence_length=None,
                       label_names=None, version=None, pair=None, trim_padding=True,
                       quantize=None):
    """Exports into TF Serving's layout: BASE_DIR/MODEL_NAME/VERSION/.

    The version is written under a hidden temporary name beside it and
    renamed into place, so a server watching BASE_DIR/MODEL_NAME never
    loads a half-written version.

    Args:
        model, vocab: as `export_saved_model` (a model with a preprocessor
            needs no vocab).
        base_dir: the directory above the model's; TF Serving's
            --model_base_path is BASE_DIR/MODEL_NAME.
        model_name: the served model's name (a directory name).
        sequence_length, label_names, pair, trim_padding, quantize: as
            `export_saved_model`.
        version: int or None for the next free version (1 for a new model).

    Returns:
        The version directory written.

    Raises:
        ValueError: a bad name or version, the version exists, the model is
            not exportable (wrong backend or type), or a bad argument.
        FileExistsError: `version` was given and a concurrent export wrote
            it first (without `version`, the next free number is taken).

    Example:
    ```python
    path = export_for_serving(classifier, base_dir="/models", model_name="sections",
                              label_names=names)       # /models/sections/1
    ```
    """
    check_saved_model_quantize(quantize)
    if base_dir is None or model_name is None:
        raise ValueError("base_dir and model_name are required (BASE_DIR/MODEL_NAME/VERSION).")
    # Checks the name and an explicit version early; the number is fixed at the rename.
    version_path(base_dir, model_name, version)
    model_dir = os.path.join(base_dir, model_name)
    clean_stale_temporaries(model_dir)  # left by exports killed earlier
    made = [d for d in (model_dir, base_dir) if not os.path.exists(d)]
    # A failed export leaves no version. Two exports at once without a version
    # both complete: the second rename takes the next free number.
    try:
        with atomic_numbered_directory(model_dir, version) as target:
            inner = os.path.join(target.temp, "saved_model")
            export_saved_model(model, vocab, inner, sequence_length=sequence_length,
                               label_names=label_names, pair=pair, trim_padding=trim_padding,
                               quantize=quantize)
            for name in os.listdir(inner):
                os.rename(os.path.join(inner, name), os.path.join(target.temp, name))
            os.rmdir(inner)
    except BaseException:
        for directory in made:  # a failed first export leaves no empty folders either
            try:
                os.rmdir(directory)
            except OSError:
                pass
        raise
    return target.path
