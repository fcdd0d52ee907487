"""ONNX models that take token ids, tokenizer files beside them
(TensorFlow-only: Keras' own `Model.export(format="onnx")` converts the
TensorFlow graph with tf2onnx; needs the `onnx` extra:
`pip install "keras-compact[onnx]"`).

`export_onnx(model, path)` writes the folder `path` (atomically, through
`keras_compact.utils.atomic`):

- `model.onnx`: inputs "token_ids", "segment_ids", "padding_mask" (int32
  [batch, sequence], both axes dynamic, sequence at most the model's
  `max_sequence_length`); outputs those of the serving-heads table
  (`keras_compact.export.heads`): classifier "logits", "probabilities",
  "label_ids"; regressor "score"; embedder "embedding"; backbone
  "pooled_output", "sequence_output", "embedding". Label names, the
  sequence length and the pairing are in its metadata too.
- `model.int8.onnx` (with `quantize="int8"`): the same graph after ONNX
  Runtime's dynamic quantization (`quantize_dynamic`, QInt8 weights,
  activations quantized per call); written beside the float32 file, which
  stays as the accuracy reference.
- the tokenizer: `tokenizer.json` (Hugging Face `tokenizers`, with [CLS] /
  [SEP] packing, truncation and padding to the sequence length) for
  WordPiece; the SentencePiece `sentencepiece.model` for SentencePiece
  (pack `[CLS] ids [SEP]` in the app; README.md shows how).
- `README.md`: inputs, outputs, labels and a short onnxruntime example.

ONNX Runtime has no text ops, so the model takes ids: unlike the SavedModel
and LiteRT exports, tokenization runs in the app, from the files beside it.

Example:
```python
from keras_compact.export.onnx import export_onnx
export_onnx(classifier, "exports/sections-onnx", quantize="int8")
```
"""

import collections
import json
import logging
import os

from keras_compact.export.heads import CLASSIFIER
from keras_compact.export.heads import ExportError
from keras_compact.export.heads import backbone_of
from keras_compact.export.heads import head_outputs
from keras_compact.export.heads import serving_head
from keras_compact.utils.atomic import atomic_directory

ONNX_QUANTIZE = ("int8",)
MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")
# A converted graph must give Keras' outputs on a probe batch within this.
_CHECK_TOLERANCE = 1e-3


class ONNXExportError(ExportError):
    """A model, tokenizer or option an ONNX export cannot hold."""


def _require(module, package):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ONNXExportError(f"ONNX export needs the {package} package: pip install "
                              "\"keras-compact[onnx]\" (onnx, onnxruntime, tf2onnx, "
                              "tokenizers).") from None


def _served_model(model, head):
    """A Keras model of the three id inputs returning the head's outputs."""
    import keras

    class Served(keras.Model):
        def __init__(self, inner):
            super().__init__(name="served")
            self.inner = inner

        def call(self, token_ids, segment_ids, padding_mask):
            features = dict(token_ids=token_ids, segment_ids=segment_ids,
                            padding_mask=padding_mask)
            return head_outputs(head, self.inner(features, training=False), features)

    return Served(model)


def _replace_erfc(graph):
    """Rewrites Erfc (no ONNX op) as 1 - Erf.

    TensorFlow's exact GELU (activation="gelu", BERT's) lowers to Erfc,
    which tf2onnx passes through unchanged and ONNX Runtime refuses.
    """
    from onnx import TensorProto
    from onnx import helper

    nodes = []
    for node in graph.node:
        if node.op_type != "Erfc":
            nodes.append(node)
            continue
        erf, one = node.output[0] + "_erf", node.output[0] + "_one"
        nodes.append(helper.make_node("Constant", [], [one], value=helper.make_tensor(
            one, TensorProto.FLOAT, [], [1.0])))
        nodes.append(helper.make_node("Erf", [node.input[0]], [erf]))
        nodes.append(helper.make_node("Sub", [one, erf], [node.output[0]]))
    del graph.node[:]
    graph.node.extend(nodes)


def finish_graph(path, metadata=None):
    """Makes a tf2onnx file loadable and readable, in place.

    Replaces Erfc, names the dynamic axes "batch" and "sequence" (inputs
    [batch, sequence]; outputs [batch, ...], `sequence_output` [batch,
    sequence, hidden]), stores `metadata` (JSON values) and checks the
    graph with `onnx.checker`.

    Raises:
        ONNXExportError: the checker refuses the graph (naming the op).
    """
    import onnx

    proto = onnx.load(path)
    _replace_erfc(proto.graph)
    for value in proto.graph.input:
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_param, dims[1].dim_param = "batch", "sequence"
    for value in proto.graph.output:
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_param = "batch"
        if value.name == "sequence_output":
            dims[1].dim_param = "sequence"
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as error:
        raise ONNXExportError(
            f"The converted ONNX graph is not valid: {' '.join(str(error).split())[:300]}. "
            "Fix: compute the op named there with keras.ops / core TensorFlow ops that ONNX "
            "has, or export format='saved_model'.") from None
    onnx.save(proto, path)


def _convert(served, path):
    import keras

    spec = [keras.InputSpec(shape=(None, None), dtype="int32", name=key) for key in INPUT_KEYS]
    # tf2onnx logs ERROR lines for ops it passes through (Erfc, rewritten by
    # finish_graph); an op nothing fixes fails finish_graph's check, named.
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        served.export(path, format="onnx", input_signature=spec, verbose=False)
    except Exception as error:  # tf2onnx raises several types, naming the op
        raise ONNXExportError(
            f"tf2onnx could not convert the model: {' '.join(str(error).split())[:400]}. "
            "Fix: compute the op named there with keras.ops / core TensorFlow ops that ONNX "
            "has, or export format='saved_model'.") from None
    finally:
        logger.setLevel(level)


def _check_outputs(path, features, expected):
    """Runs the file in ONNX Runtime on `features`; compares with Keras'
    `expected` outputs."""
    import numpy as np
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = dict(zip([o.name for o in session.get_outputs()],
                       session.run(None, {k: np.asarray(v, np.int32)
                                          for k, v in features.items()})))
    except Exception as error:  # onnxruntime's errors name the node and op
        raise ONNXExportError(
            f"ONNX Runtime cannot run the converted model: "
            f"{' '.join(str(error).split())[:400]}. Fix: compute the op named there with "
            "keras.ops / core TensorFlow ops, or export format='saved_model'.") from None
    for name, value in expected.items():
        value = np.asarray(value)
        if value.dtype.kind == "f" and np.abs(got[name] - value).max() > _CHECK_TOLERANCE:
            raise ONNXExportError(
                f"The ONNX model's {name!r} differs from Keras' by "
                f"{np.abs(got[name] - value).max():.2g} on a probe batch; an op converted "
                "wrongly. Report it with the model's config, or export format='saved_model'.")


def _gemm_as_matmul(graph):
    """Rewrites Gemm(A, B, C) with constant B as MatMul(A, B) + C, in place.

    tf2onnx writes Keras' Dense layers as Gemm, which ONNX Runtime's dynamic
    quantizer leaves float (it quantizes MatMul); ONNX Runtime fuses the
    MatMul + Add back at load time.
    """
    from onnx import helper
    from onnx import numpy_helper

    weights = {tensor.name: tensor for tensor in graph.initializer}
    # A weight another node also reads stays as it is (and its Gemm float).
    uses = collections.Counter(name for node in graph.node for name in node.input)
    nodes = []
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type != "Gemm" or node.input[1] not in weights
                or attributes.get("transA", 0) or attributes.get("alpha", 1.0) != 1.0
                or (len(node.input) > 2 and attributes.get("beta", 1.0) != 1.0)
                or uses[node.input[1]] != 1):
            nodes.append(node)
            continue
        if attributes.get("transB", 0):
            tensor = weights[node.input[1]]
            tensor.CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(tensor).T.copy(), tensor.name))
        product = node.output[0] + "_matmul" if len(node.input) > 2 else node.output[0]
        nodes.append(helper.make_node("MatMul", list(node.input[:2]), [product],
                                      name=node.name + "_matmul"))
        if len(node.input) > 2:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]],
                                          name=node.name + "_bias"))
    del graph.node[:]
    graph.node.extend(nodes)


def _quantize(source, target):
    """ONNX Runtime's dynamic int8 of `source` (every Dense and MatMul)."""
    import onnx

    quantization = _require("onnxruntime.quantization", "onnxruntime")
    proto = onnx.load(source)
    _gemm_as_matmul(proto.graph)
    matmuls = target + ".matmul.onnx"
    onnx.save(proto, matmuls)
    try:
        quantization.quantize_dynamic(matmuls, target,
                                      weight_type=quantization.QuantType.QInt8)
    finally:
        os.remove(matmuls)


def write_tokenizer_files(tokenizer, folder, sequence_length, pair):
    """The tokenizer as files an app without TensorFlow reads.

    Args:
        tokenizer: a keras_compact / keras-hub `SentencePieceTokenizer` or a
            keras_compact `WordPieceTokenizer`.
        folder: where to write.
        sequence_length: int. The packed length (tokenizer.json pads and truncates
            to it).
        pair: bool. tokenizer.json packs pairs `[CLS] a [SEP] b [SEP]`
            (truncating the longer text first) when given two texts either way.

    Returns:
        The name of the file written ("tokenizer.json" or
        "sentencepiece.model").

    Raises:
        ONNXExportError: a tokenizer of another kind.
    """
    import keras_hub

    from keras_compact.tokenizers import WordPieceTokenizer

    del pair  # tokenizer.json handles both; kept for the README's callers
    if isinstance(tokenizer, keras_hub.tokenizers.SentencePieceTokenizer):
        proto = tokenizer.proto
        if isinstance(proto, str):
            import base64

            proto = base64.b64decode(proto)
        with open(os.path.join(folder, "sentencepiece.model"), "wb") as handle:
            handle.write(proto)
        return "sentencepiece.model"
    if isinstance(tokenizer, WordPieceTokenizer):
        _wordpiece_json(tokenizer, sequence_length).save(os.path.join(folder, "tokenizer.json"))
        return "tokenizer.json"
    raise ONNXExportError(
        f"ONNX export writes SentencePiece and WordPiece tokenizers beside the model; "
        f"{type(tokenizer).__name__} is neither. Fix: use a keras_compact "
        "SentencePieceTokenizer or WordPieceTokenizer, or export format='saved_model', which "
        "runs the model's own tokenizer in the graph.")


def _wordpiece_json(tokenizer, sequence_length):
    """A Hugging Face `tokenizers.Tokenizer` with our WordPiece's settings."""
    tokenizers = _require("tokenizers", "tokenizers")
    from tokenizers import normalizers
    from tokenizers import pre_tokenizers
    from tokenizers import processors
    from tokenizers.models import WordPiece

    vocabulary = tokenizer.get_vocabulary()
    ids = {}
    for index, token in enumerate(vocabulary):
        ids[token] = index  # a repeated token keeps its last id, as our tokenizer does
    hf = tokenizers.Tokenizer(WordPiece(ids, unk_token=tokenizer.unk_token,
                                        max_input_chars_per_word=tokenizer.max_input_chars_per_word,
                                        continuing_subword_prefix=tokenizer.suffix_indicator))
    hf.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=tokenizer.tokenize_chinese_chars,
        strip_accents=tokenizer.strip_accents, lowercase=tokenizer.lowercase)
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = tokenizer.cls_token, tokenizer.sep_token
    hf.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, ids[cls]), (sep, ids[sep])])
    if tokenizer.special_tokens_in_strings:
        specials = [tokenizer.pad_token, tokenizer.unk_token, cls, sep]
        if tokenizer.mask_token_id is not None:
            specials.append(tokenizer.mask_token)
        hf.add_special_tokens([tokenizers.AddedToken(t, normalized=False)
                               for t in specials + list(tokenizer.added_tokens)])
    hf.enable_truncation(max_length=sequence_length, strategy="longest_first")
    hf.enable_padding(length=sequence_length, pad_id=ids[tokenizer.pad_token],
                      pad_token=tokenizer.pad_token)
    return hf


_README = """# {name}: ONNX model (token ids in)

Exported by keras-compact (`keras_compact.export.export(..., format="onnx")`).

| file | what |
|---|---|
{files}

## Inputs (int32, shape [batch, sequence], sequence <= {max_len})

- `token_ids`: `[CLS] text [SEP]`{pair_ids}, padded to {sequence_length} (the length it was
  trained at) with `{pad}` (id {pad_id}).
- `segment_ids`: 0 for the first text{pair_segments}, 0 on padding.
- `padding_mask`: 1 on real tokens, 0 on padding.

## Outputs (float32 unless said)

{outputs}

## Run it with onnxruntime

```python
import numpy as np, onnxruntime as ort
{load}
session = ort.InferenceSession("model.onnx")
{feeds}
print(session.run(None, feeds))   # in the order of session.get_outputs()
```
"""

_OUTPUT_TEXT = {
    "logits": "`logits` [batch, classes]",
    "probabilities": "`probabilities` [batch, classes] (softmax of the logits)",
    "label_ids": "`label_ids` [batch] (int32, the argmax)",
    "score": "`score` [batch]",
    "embedding": "`embedding` [batch, hidden]",
    "pooled_output": "`pooled_output` [batch, hidden]",
    "sequence_output": "`sequence_output` [batch, sequence, hidden]",
}


def _readme(name, files, head, sequence_length, max_len, tokenizer, token_file, label_names, pair):
    pad = getattr(tokenizer, "pad_token", "<pad>")
    if token_file == "tokenizer.json":
        load = ("from tokenizers import Tokenizer\n"
                "encoded = Tokenizer.from_file(\"tokenizer.json\").encode_batch("
                "[\"A raw string.\"])")
        feeds = ("feeds = {k: np.array([getattr(e, a) for e in encoded], np.int32) for k, a in "
                 "[(\"token_ids\", \"ids\"), (\"segment_ids\", \"type_ids\"), "
                 "(\"padding_mask\", \"attention_mask\")]}")
    else:
        load = ("import sentencepiece as spm\n"
                "sp = spm.SentencePieceProcessor(model_file=\"sentencepiece.model\")\n"
                f"ids = [sp.piece_to_id(\"[CLS]\")] + sp.encode(\"A raw string.\")"
                f"[:{sequence_length - 2}]"
                " + [sp.piece_to_id(\"[SEP]\")]\n"
                f"row = ids + [sp.piece_to_id(\"{pad}\")] * ({sequence_length} - len(ids))")
        feeds = (f"feeds = {{\"token_ids\": np.array([row], np.int32), \"segment_ids\": "
                 f"np.zeros((1, {sequence_length}), np.int32), \"padding_mask\": "
                 f"np.array([[1] * len(ids) + [0] * ({sequence_length} - len(ids))], np.int32)}}")
    outputs = "\n".join(f"- {_OUTPUT_TEXT[key]}" for key in head.outputs)
    if label_names:
        outputs += "\n\nClasses (index: name): " + ", ".join(
            f"{i}: {n}" for i, n in enumerate(label_names)) + "."
    rows = "\n".join(f"| `{f}` | {what} |" for f, what in files)
    return _README.format(
        name=name, files=rows, max_len=max_len, sequence_length=sequence_length, pad=pad,
        pad_id=tokenizer.token_to_id(pad),
        pair_ids=" (pairs: `[CLS] a [SEP] b [SEP]`, the longer text truncated first)"
        if pair else "",
        pair_segments=", 1 for the second text and its [SEP]" if pair else "",
        outputs=outputs, load=load, feeds=feeds)


def export_onnx(model, path, vocab=None, sequence_length=None, label_names=None, pair=None,
                quantize=None):
    """Writes the ONNX folder `path`: model.onnx, tokenizer files, README.md.

    Args:
        model: a `TextClassifier`, `TextRegressor`, `TextEmbedder` or
            `CompactBackbone` (TensorFlow backend, float32).
        path: the folder to create (must not exist).
        vocab: the vocabulary (.model / vocab.txt / Hugging Face folder) for
            a model without a preprocessor; None otherwise.
        sequence_length: int or None. The length the tokenizer files pack to (the
            graph takes any length up to `max_sequence_length`); None: the
            preprocessor's.
        label_names: optional class names (classifiers), in README.md and the
            model's metadata.
        pair: bool or None. Two texts per example; None: as the preprocessor.
        quantize: None, or "int8" to also write `model.int8.onnx` (ONNX
            Runtime's dynamic quantization, QInt8 weights).

    Returns:
        `path`.

    Raises:
        ONNXExportError: a missing package, a model, tokenizer or op ONNX
            cannot hold (the message names it and the fix), or a bad option.
        ValueError: a bad `sequence_length`, or no vocabulary for a model without a
            preprocessor.
    """
    from keras_compact.export.saved_model import serving_preprocessor
    from keras_compact.models.classifier import check_preprocessor

    if quantize not in (None,) + ONNX_QUANTIZE:
        raise ONNXExportError(f"quantize={quantize!r}: use None (float32) or 'int8' "
                              "(ONNX Runtime's dynamic int8).")
    head = serving_head(model, "ONNX")
    for module, package in (("onnx", "onnx"), ("onnxruntime", "onnxruntime"),
                            ("tf2onnx", "tf2onnx")):
        _require(module, package)
    backbone = backbone_of(model, head)
    preprocessor = serving_preprocessor(model, vocab, sequence_length=sequence_length, pair=pair)
    check_preprocessor(backbone, preprocessor)
    if label_names is not None:
        if head.kind != CLASSIFIER:
            raise ONNXExportError(f"label_names is for classifiers; a {head.kind} has no "
                                  "classes.")
        if len(label_names) != model.num_classes:
            raise ONNXExportError(f"label_names has {len(label_names)} names but the "
                                  f"classifier has {model.num_classes} classes.")
    if os.path.exists(path):
        raise ONNXExportError(f"{path} already exists; export to a new folder.")
    sequence_length = preprocessor.sequence_length
    probe = ["Lists are mutable sequences.", "x"]
    features = preprocessor((probe, probe) if preprocessor.pair else probe)
    served = _served_model(model, head)
    expected = served(**features)  # also builds it, which Model.export needs
    with atomic_directory(path) as temp:
        model_path = os.path.join(temp, MODEL_FILE)
        _convert(served, model_path)
        finish_graph(model_path, {"kind": head.kind, "sequence_length": sequence_length,
                                  "pair": preprocessor.pair,
                                  "label_names": list(label_names or [])})
        _check_outputs(model_path, features, expected)
        files = [(MODEL_FILE, "float32 model")]
        if quantize == "int8":
            _quantize(model_path, os.path.join(temp, INT8_FILE))
            files.append((INT8_FILE, "dynamic int8 (QInt8 weights), same inputs/outputs"))
        token_file = write_tokenizer_files(preprocessor.tokenizer, temp, sequence_length,
                                           preprocessor.pair)
        files.append((token_file, "the tokenizer"))
        with open(os.path.join(temp, "README.md"), "w", encoding="utf-8") as handle:
            handle.write(_readme(os.path.basename(os.path.abspath(path)), files, head,
                                 sequence_length,
                                 int(backbone.max_sequence_length), preprocessor.tokenizer,
                                 token_file, label_names, preprocessor.pair))
    return path
