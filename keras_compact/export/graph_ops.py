"""Which ops a SavedModel needs, and which of them TF Serving lacks
(TensorFlow-only).

TF Serving carries core TensorFlow's ops plus tensorflow-text's. An op that
is neither (a custom kernel, an op from another library) makes the server
refuse the model at load time; `ops_outside_tf_serving` finds such ops
before deployment.
"""

import os


def saved_model_ops(path):
    """Names of every op in a SavedModel's graphs and function library."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    ops = set()
    for meta_graph in proto.meta_graphs:
        graph = meta_graph.graph_def
        ops.update(node.op for node in graph.node)
        for function in graph.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def tensorflow_text_ops():
    """Names of the ops tensorflow-text registers (its kernel libraries).

    tensorflow-text loads each kernel library with `tf.load_op_library`,
    which returns a generated module (no `__file__`, op wrappers built on
    `_op_def_library`) whose capitalised attributes are its ops; those
    modules hang off tensorflow_text's Python modules.
    """
    import sys
    import types

    import tensorflow_text  # noqa: F401  (loads the op libraries)
    from tensorflow.python.framework import op_def_registry

    names = set()
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("tensorflow_text"):
            continue
        for value in list(vars(module).values()):
            if (isinstance(value, types.ModuleType) and hasattr(value, "_op_def_library")
                    and getattr(value, "__file__", None) is None):
                names.update(a for a in dir(value)
                             if a[:1].isupper() and op_def_registry.get(a) is not None)
    return names


def ops_outside_tf_serving(path):
    """Ops of the SavedModel that are neither core TensorFlow's (those with
    a `tf.raw_ops` wrapper) nor tensorflow-text's: empty when TF Serving
    can load it.

    Example:
    ```python
    assert not ops_outside_tf_serving("exports/sections/1")
    ```
    """
    import tensorflow as tf

    allowed = set(dir(tf.raw_ops)) | tensorflow_text_ops()
    return sorted(op for op in saved_model_ops(path) if op not in allowed)
