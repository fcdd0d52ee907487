"""LiteRT (TFLite) models that take raw strings, tokenizer inside
(TensorFlow-only).

The tokenizer runs in the .tflite file through tensorflow-text's ops that
have TFLite kernels: `FastSentencepieceTokenize` for SentencePiece
vocabularies, `FastBertNormalize` + `FastWordpieceTokenize` for BERT
WordPiece ones. Packing (`[CLS] a [SEP] (b [SEP])`, padding, masks) is
written with dense core ops (gather, where, range) that are TFLite
builtins, instead of ragged concatenation, which would need the
`RaggedTensorToTensor` custom op.

The interpreter must know tensorflow-text's ops; `litert_interpreter`
registers them as tensorflow-text documents it
(`tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`). On Android / iOS,
link tensorflow-text's TFLite op library the same way.

How close the in-file tokenizers are to the ones training uses:
- SentencePiece (unigram models): the fast op gives the `sentencepiece`
  library's ids except where two segmentations score exactly the same
  (measured: 2,897 of the bundled task's 2,898 test paragraphs identical).
  BPE models are refused: the fast op would segment them as unigram.
- WordPiece: FastBertNormalize folds compatibility characters (NFKD: "ß" ->
  "ss", full-width forms, ligatures, "™" -> "tm") where BERT only applies
  NFD, and special tokens typed in the text ("[MASK]") stay text. Measured
  against transformers' BertTokenizer on the all-MiniLM-L6-v2 vocabulary:
  2,895 of the 2,898 test paragraphs and 307 of the 375 adversarial parity
  sentences (tests/tokenizers) give the same ids. Where that matters,
  export the token-id model (`raw_text=False`) and tokenize in the app.

Variants: float32, and "int8" = the converter's dynamic-range quantization
(int8 weights, float activations, int8 matmul kernels chosen at run time).

Signatures (one, "serving_default"):
- raw text: "text" (string [batch]; plus "text_b" with `pair=True`);
- token ids (`raw_text=False`): "token_ids", "segment_ids",
  "padding_mask" (int32 [batch, sequence_length]);
- outputs: those of `keras_compact.export.heads` (the table every format
  shares), e.g. classifier "logits", "probabilities", "label_ids".

Example:
```python
from keras_compact.export.litert import export_litert, litert_interpreter
export_litert(classifier, "vocab/spm.model", "sections.tflite")
runner = litert_interpreter("sections.tflite").get_signature_runner()
runner(text=np.array(["Lists are mutable sequences."]))["label_ids"]
```
"""

import os
import tempfile

from keras_compact.export.heads import ExportError
from keras_compact.utils.atomic import atomic_file

LITERT_QUANTIZE = ("int8",)
# Custom ops our .tflite files may contain: tensorflow-text's TFLite kernels.
TEXT_OPS = ("TFText>FastSentencepieceTokenize", "TFText>FastWordpieceTokenize",
            "TFText>FastBertNormalize")


class LiteRTExportError(ExportError):
    """A model or tokenizer that a LiteRT file cannot hold or run."""


def _unsupported_tokenizer(what):
    return LiteRTExportError(
        f"{what} cannot run inside a LiteRT model: LiteRT has kernels only for "
        "tensorflow-text's FastSentencepieceTokenize (SentencePiece), FastWordpieceTokenize "
        "and FastBertNormalize (WordPiece) ops. Fix: pass the SentencePiece .model file, a "
        "WordPiece vocab.txt or Hugging Face tokenizer folder (or a keras_compact / "
        "keras-hub SentencePiece or WordPiece tokenizer), or export the token-id model "
        "with raw_text=False (CLI: --token-ids) and tokenize in the app.")


def _int32_ragged(ragged):
    import tensorflow as tf

    return tf.RaggedTensor.from_row_splits(tf.cast(ragged.values, tf.int32),
                                           tf.cast(ragged.row_splits, tf.int32),
                                           validate=False)


class _TextOps:
    """A tokenizer as LiteRT-compatible TF ops: strings -> int32 RaggedTensor."""

    def __init__(self, kind, tokenize, cls_id, sep_id, pad_id, vocabulary_size):
        self.kind, self.tokenize = kind, tokenize
        self.cls_id, self.sep_id, self.pad_id = cls_id, sep_id, pad_id
        self.vocabulary_size = vocabulary_size


def _sentencepiece_ops(proto, source):
    import sentencepiece as spm
    import tensorflow as tf
    import tensorflow_text as tf_text

    processor = spm.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto)
    ids = {}
    for role, pieces in (("cls", ("[CLS]", "<s>")), ("sep", ("[SEP]", "</s>")),
                         ("pad", ("<pad>", "[PAD]"))):
        found = [processor.piece_to_id(p) for p in pieces
                 if processor.id_to_piece(processor.piece_to_id(p)) == p]
        if not found:
            raise LiteRTExportError(f"SentencePiece model {source} has no {role} piece "
                                    f"({' or '.join(pieces)}); train it with "
                                    "`keras-compact vocab`.")
        ids[role] = found[0]
    from sentencepiece import sentencepiece_model_pb2

    fix = ("Fix: train a unigram SentencePiece model (`keras-compact vocab` does), or export "
           "the token-id model with raw_text=False (CLI: --token-ids) and tokenize in the app.")
    model_proto = sentencepiece_model_pb2.ModelProto.FromString(proto)
    model_type = sentencepiece_model_pb2.TrainerSpec.ModelType.Name(
        model_proto.trainer_spec.model_type)
    if model_type != "UNIGRAM":
        # Measured with tensorflow-text 2.21: the op loads a BPE model without
        # complaint but segments it as a unigram model (other ids).
        raise LiteRTExportError(
            f"SentencePiece model {source} is a {model_type} model; tensorflow-text's "
            "FastSentencepieceTokenize op (the SentencePiece tokenizer LiteRT can run) "
            f"implements unigram models only and would give other ids. {fix}")
    try:
        tokenizer = tf_text.FastSentencepieceTokenizer(proto)
        probe = ["Lists are mutable sequences, 3.14 ünïcode.", "", "x  y"]
        got = tokenizer.tokenize(tf.constant(probe)).to_list()
    except Exception as error:  # the op's model converter raises several types
        raise LiteRTExportError(
            f"tensorflow-text's FastSentencepieceTokenize op cannot load SentencePiece "
            f"model {source} ({type(error).__name__}: {str(error).strip()[:200]}). "
            f"{fix}") from None
    if got != [processor.encode(text) for text in probe]:
        raise LiteRTExportError(
            f"tensorflow-text's FastSentencepieceTokenize op segments text differently from "
            f"the sentencepiece library with model {source} (normalization "
            f"{model_proto.normalizer_spec.name!r}). {fix}")

    def tokenize(texts):
        return _int32_ragged(tokenizer.tokenize(texts))

    return _TextOps("sentencepiece", tokenize, ids["cls"], ids["sep"], ids["pad"],
                    processor.get_piece_size())


def _wordpiece_ops(vocabulary, lowercase, source, suffix="##", unknown="[UNK]"):
    import tensorflow as tf
    import tensorflow_text as tf_text

    index = {token: i for i, token in enumerate(vocabulary)}
    missing = [t for t in ("[CLS]", "[SEP]", "[PAD]", unknown) if t not in index]
    if missing:
        raise LiteRTExportError(f"WordPiece vocabulary {source} lacks {', '.join(missing)}; "
                                "pass a BERT vocab.txt.")
    # FastBertNormalizer is BERT's cleanup (control characters, whitespace) plus,
    # for uncased vocabularies, lower-casing, NFD and accent stripping.
    normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=bool(lowercase))
    # no_pretokenization=False: the op also splits on whitespace and punctuation
    # (BERT's basic tokenizer), so it takes whole sentences.
    tokenizer = tf_text.FastWordpieceTokenizer(
        vocab=list(vocabulary), suffix_indicator=suffix, unknown_token=unknown,
        no_pretokenization=False, support_detokenization=False, token_out_type=tf.int32)

    def tokenize(texts):
        return _int32_ragged(tokenizer.tokenize(normalizer.normalize(texts)))

    return _TextOps("wordpiece", tokenize, index["[CLS]"], index["[SEP]"], index["[PAD]"],
                    len(vocabulary))


def _proto_bytes(proto):
    if isinstance(proto, bytes):
        return proto
    with open(proto, "rb") as handle:
        return handle.read()


def litert_text_ops(tokenizer, lowercase=None):
    """The LiteRT-compatible form of a tokenizer.

    Args:
        tokenizer: a SentencePiece .model path or its bytes; a WordPiece
            vocab.txt or a Hugging Face folder holding one; or a tokenizer
            object carrying a SentencePiece `proto` or a WordPiece vocabulary
            (keras_compact's or keras-hub's).
        lowercase: WordPiece only; None reads the folder's
            tokenizer_config.json ("do_lower_case") or the object's
            `lowercase`, else True.

    Raises:
        LiteRTExportError: a tokenizer LiteRT cannot run (names the op and
            the fix).
    """
    from keras_compact.tokenizers import SentencePieceTokenizer
    from keras_compact.tokenizers import load_tokenizer

    if isinstance(tokenizer, bytes):
        return _sentencepiece_ops(tokenizer, "<bytes>")
    if isinstance(tokenizer, (str, os.PathLike)):
        # The package's one loader reads the files (casing from the Hugging
        # Face folder's configuration, special tokens checked).
        source = repr(os.fspath(tokenizer))
        tokenizer = load_tokenizer(tokenizer)
        if isinstance(tokenizer, SentencePieceTokenizer):
            return _sentencepiece_ops(_proto_bytes(tokenizer.proto), source)
    proto = getattr(tokenizer, "proto", None)
    if isinstance(proto, (bytes, str, os.PathLike)):
        return _sentencepiece_ops(_proto_bytes(proto), type(tokenizer).__name__)
    get_vocabulary = getattr(tokenizer, "get_vocabulary", None)
    if callable(get_vocabulary) and hasattr(tokenizer, "lowercase"):
        if lowercase is None:
            lowercase = bool(tokenizer.lowercase)
        strip_accents = getattr(tokenizer, "do_strip_accents", lowercase)
        if bool(strip_accents) != bool(lowercase):
            raise LiteRTExportError(
                f"{type(tokenizer).__name__}(lowercase={lowercase}, strip_accents="
                f"{strip_accents}): tensorflow-text's FastBertNormalize op (the only BERT "
                "normalizer LiteRT can run) lower-cases and strips accents together or not "
                "at all. Fix: export the token-id model with raw_text=False (CLI: "
                "--token-ids) and tokenize in the app.")
        unknown = getattr(tokenizer, "unk_token", None) or getattr(tokenizer, "oov_token",
                                                                    "[UNK]")
        return _wordpiece_ops(
            list(get_vocabulary()), lowercase, type(tokenizer).__name__,
            suffix=getattr(tokenizer, "suffix_indicator", "##"), unknown=unknown)
    raise _unsupported_tokenizer(f"Tokenizer {type(tokenizer).__module__}."
                                 f"{type(tokenizer).__name__}")


def litert_interpreter(path_or_bytes, num_threads=None):
    """A TFLite interpreter with tensorflow-text's ops registered.

    Example:
    ```python
    runner = litert_interpreter("sections.tflite", num_threads=1).get_signature_runner()
    ```
    """
    import warnings

    import tensorflow_text as tf_text

    try:  # the LiteRT package, when installed
        from ai_edge_litert import interpreter
    except ImportError:
        from tensorflow.lite.python import interpreter

    if isinstance(path_or_bytes, bytes):
        source = dict(model_content=path_or_bytes)
    else:
        source = dict(model_path=os.fspath(path_or_bytes))
    with warnings.catch_warnings():
        # tf.lite.Interpreter warns that it moves to ai_edge_litert; it still runs.
        warnings.filterwarnings("ignore", message=r"(?s).*tf.lite.Interpreter is deprecated")
        return interpreter.InterpreterWithCustomOps(
            custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS,
            num_threads=num_threads, **source)


def _check_runs(flat):
    """Loads the converted model as a user would; names ops it cannot resolve."""
    try:
        litert_interpreter(flat).allocate_tensors()
    except (RuntimeError, ValueError) as error:
        message = str(error)
        raise LiteRTExportError(
            f"The converted LiteRT model does not load with tensorflow-text's TFLite ops "
            f"registered: {message.strip()[:300]}. An op named there has no LiteRT kernel; "
            "fix: compute it with Keras / core TensorFlow ops that have TFLite builtins, "
            "or export the token-id model with raw_text=False.") from None


def text_archive(model, tokenizer, sequence_length=None, raw_text=True, pair=None, lowercase=None):
    """A `keras.export.ExportArchive` whose "serving_default" is the LiteRT one.

    The graph `export_litert` converts, with the LiteRT-compatible tokenizer;
    it also writes a SavedModel (`archive.write_out(path)`), e.g. for a
    WordPiece model, whose tokenizer `export_saved_model` does not take.
    Arguments as `export_litert`.
    """
    import tensorflow as tf
    from keras.export import ExportArchive

    from keras_compact.export.heads import backbone_of
    from keras_compact.export.heads import head_outputs
    from keras_compact.export.heads import serving_head
    from keras_compact.preprocessing import pack

    head = serving_head(model, "LiteRT")
    backbone = backbone_of(model, head)
    preprocessor = getattr(model, "preprocessor", None)
    if sequence_length is None:
        sequence_length = getattr(preprocessor, "sequence_length", None) or 128
    if pair is None:
        pair = bool(getattr(preprocessor, "pair", False))
    if (isinstance(sequence_length, bool) or not isinstance(sequence_length, int)
            or not (4 if pair else 3) <= sequence_length <= backbone.max_sequence_length):
        raise LiteRTExportError(f"sequence_length={sequence_length!r} must be an integer in "
                                f"[{4 if pair else 3}, max_sequence_length="
                                f"{backbone.max_sequence_length}].")
    text_ops = None
    if raw_text:
        if tokenizer is None:
            tokenizer = getattr(preprocessor, "tokenizer", None)
        if tokenizer is None:
            raise LiteRTExportError("A raw-text LiteRT model needs the tokenizer: pass "
                                    "tokenizer=, or raw_text=False for token ids.")
        text_ops = litert_text_ops(tokenizer, lowercase)
        if text_ops.vocabulary_size != backbone.vocabulary_size:
            raise LiteRTExportError(
                f"The tokenizer has {text_ops.vocabulary_size} tokens but the model's "
                f"vocabulary has {backbone.vocabulary_size}; pass the model's own tokenizer.")

    def outputs(features):
        return head_outputs(head, model(features, training=False), features)

    def packed(text, text_b=None):
        return pack(text_ops.tokenize(text),
                    None if text_b is None else text_ops.tokenize(text_b),
                    sequence_length=sequence_length, cls_id=text_ops.cls_id,
                    sep_id=text_ops.sep_id,
                    pad_id=text_ops.pad_id)

    archive = ExportArchive()
    archive.track(model)
    if raw_text:
        text = tf.TensorSpec([None], tf.string, name="text")
        if pair:
            def serve(text, text_b):
                return outputs(packed(text, text_b))
            signature = [text, tf.TensorSpec([None], tf.string, name="text_b")]
        else:
            def serve(text):
                return outputs(packed(text))
            signature = [text]
    else:
        def serve(token_ids, segment_ids, padding_mask):
            return outputs(dict(token_ids=token_ids, segment_ids=segment_ids,
                                padding_mask=padding_mask))
        signature = [tf.TensorSpec([None, sequence_length], tf.int32, name=k)
                     for k in ("token_ids", "segment_ids", "padding_mask")]
    archive.add_endpoint("serving_default", serve, input_signature=signature)
    return archive


def export_litert(model, tokenizer, path, sequence_length=None, quantize=None, raw_text=True,
                  pair=None, lowercase=None):
    """Writes a .tflite classifier or embedder, raw strings in.

    Args:
        model: a `TextClassifier` (outputs logits, probabilities, label_ids),
            `TextRegressor` (score), `TextEmbedder` (embedding) or
            `CompactBackbone` (pooled_output, embedding).
        tokenizer: see `litert_text_ops` (SentencePiece or WordPiece); None
            takes the model's preprocessor's tokenizer, and is fine with
            `raw_text=False`.
        path: the .tflite file to write (replaced atomically).
        sequence_length: int. Tokens per example, [CLS] and [SEP] included; None:
            the model's preprocessor's, else 128.
        quantize: None (float32) or "int8" (dynamic-range: int8 weights).
        raw_text: bool. False takes token ids instead of strings.
        pair: bool. Two texts per example ("text", "text_b"); None: as the
            model's preprocessor (single texts without one).
        lowercase: WordPiece only, see `litert_text_ops`.

    Returns:
        `path`.

    Raises:
        LiteRTExportError: a model type, tokenizer or op LiteRT cannot run
            (the message names it and the fix), or bad arguments.

    Example:
    ```python
    export_litert(classifier, "vocab/spm.model", "sections.int8.tflite", quantize="int8")
    runner = litert_interpreter("sections.int8.tflite").get_signature_runner()
    runner(text=np.array(["Lists are mutable sequences."]))["probabilities"]
    ```
    """
    import tensorflow as tf

    if quantize not in (None,) + LITERT_QUANTIZE:
        raise LiteRTExportError(f"quantize={quantize!r}: use None (float32) or 'int8' "
                                "(dynamic-range).")
    archive = text_archive(model, tokenizer, sequence_length, raw_text, pair, lowercase)
    with tempfile.TemporaryDirectory() as temp:
        saved = os.path.join(temp, "saved_model")
        archive.write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        # Only tensorflow-text's TFLite ops (TEXT_OPS) may stay custom; _check_runs
        # rejects any other.
        converter.allow_custom_ops = True
        if quantize == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        try:
            flat = converter.convert()
        except Exception as error:  # ConverterError lists the unsupported ops
            raise LiteRTExportError(
                f"TFLite conversion failed: {str(error).strip()[:600]}\nFix: the ops named "
                "above have no TFLite builtin; compute them with ops that do, or export the "
                "token-id model with raw_text=False.") from None
    _check_runs(flat)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with atomic_file(path) as temp_path:
        with open(temp_path, "wb") as handle:
            handle.write(flat)
    return path
