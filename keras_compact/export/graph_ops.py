"""What a SavedModel offers (signatures) and needs (ops), and which ops TF
Serving lacks (TensorFlow-only).

TF Serving links core TensorFlow's ops plus tensorflow-text's. An op that is
neither (a custom kernel, an op from another library) makes the server
refuse the model at load time; `ops_outside_tf_serving` finds such ops
before deployment.

tensorflow-text's newer ops are registered under the "TFText>" namespace
(e.g. "TFText>RoundRobinTrim", which keras-hub's packers use). TF Serving
releases before 2.20 embed an older tensorflow-text without them, so
they count as outside unless the target server is 2.20 or newer.

Limits: "core" means the installed TensorFlow's `tf.raw_ops`; an op newer
than the server's TensorFlow is not caught, so serve with a TF Serving
release at least as new as the TensorFlow that exported.
"""

import glob
import os

NAMESPACED_TEXT_OPS_SINCE = (2, 20)


def _read_saved_model(path):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    return proto


def describe_signatures(path):
    """One line per serving signature: inputs -> outputs, dtypes and shapes.

    Read from saved_model.pb without loading the model (-1: any size;
    [...]: any rank, e.g. the text inputs, whose rank the graph checks).

    Example:
    ```python
    print("\n".join(describe_signatures("exports/sections/1")))
    # serve_token_ids: padding_mask int32 [-1, 128], ... -> label_ids int32 [-1], ...
    # serving_default: text string [...] -> label_ids int32 [-1], labels string [-1], ...
    ```
    """
    from tensorflow.python.framework import dtypes

    def shape(info):
        if info.tensor_shape.unknown_rank:
            return "[...]"
        return str([d.size for d in info.tensor_shape.dim])

    def tensors(infos):
        return ", ".join(f"{name} {dtypes.as_dtype(info.dtype).name} {shape(info)}"
                         for name, info in sorted(infos.items()))

    lines = []
    for meta_graph in _read_saved_model(path).meta_graphs:
        for name, signature in sorted(meta_graph.signature_def.items()):
            if not name.startswith("__"):  # __saved_model_init_op is not callable
                lines.append(f"{name}: {tensors(signature.inputs)} -> "
                             f"{tensors(signature.outputs)}")
    return lines


def saved_model_ops(path):
    """Names of every op in a SavedModel's graphs and function library.

    Nodes that call a library function by name are left out: they are
    function calls, not ops a server must register.

    Example:
    ```python
    "SentencepieceOp" in saved_model_ops("exports/sections/1")   # True
    ```
    """
    ops = set()
    for meta_graph in _read_saved_model(path).meta_graphs:
        graph = meta_graph.graph_def
        functions = {f.signature.name for f in graph.library.function}
        ops.update(node.op for node in graph.node)
        for function in graph.library.function:
            ops.update(node.op for node in function.node_def)
        ops -= functions
    return ops


def tensorflow_text_ops():
    """Names of the ops tensorflow-text's kernel libraries register.

    Read from each of its op libraries (the .so files it loads with
    `tf.load_op_library`); loading one again only returns its op list.

    Example:
    ```python
    "SentencepieceTokenizeOp" in tensorflow_text_ops()   # True
    ```
    """
    import tensorflow_text
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    root = os.path.dirname(tensorflow_text.__file__)
    names = set()
    for library in glob.glob(os.path.join(root, "**", "*.so"), recursive=True):
        handle = pywrap_tf_session.TF_LoadLibrary(library)
        try:
            op_list = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetOpList(handle))
        finally:
            pywrap_tf_session.TF_DeleteLibraryHandle(handle)
        names.update(op.name for op in op_list.op)
    return names


def _version_tuple(version):
    try:
        return tuple(int(part) for part in str(version).split(".")[:2])
    except ValueError:
        raise ValueError(f"tf_serving_version={version!r} must look like '2.19'.") from None


def ops_outside_tf_serving(path, tf_serving_version=None):
    """Ops of the SavedModel that TF Serving cannot run: empty when it can.

    Allowed: core TensorFlow's ops (those with a `tf.raw_ops` wrapper) and
    tensorflow-text's; tensorflow-text's "TFText>" ops only when
    `tf_serving_version` is 2.20 or newer.

    Args:
        path: a SavedModel directory.
        tf_serving_version: str such as "2.19", or None for any release
            (the conservative default).

    Returns:
        A sorted list of op names.

    Example:
    ```python
    assert not ops_outside_tf_serving("exports/sections/1")
    ```
    """
    import tensorflow as tf

    text_ops = tensorflow_text_ops()
    newer_server = (tf_serving_version is not None
                    and _version_tuple(tf_serving_version) >= NAMESPACED_TEXT_OPS_SINCE)
    if not newer_server:
        text_ops = {op for op in text_ops if not op.startswith("TFText>")}
    allowed = set(dir(tf.raw_ops)) | text_ops
    return sorted(op for op in saved_model_ops(path) if op not in allowed)
