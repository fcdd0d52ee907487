"""Model export (TensorFlow-only): SavedModel for TF Serving, LiteRT, ONNX.

- `export(model, path, format=...)`: the one entry point for every format
  (`keras_compact.export.formats`).
- `export_for_serving`: the TF Serving layout BASE/NAME/VERSION/, raw text in.
- `export_saved_model`: one SavedModel directory.
- `TextPacker`: in-graph SentencePiece tokenization and BERT packing.
- `saved_model_ops` / `ops_outside_tf_serving`: what a SavedModel needs.
- `describe_signatures`: what it offers (inputs -> outputs).

Needs the TensorFlow backend (KERAS_BACKEND=tensorflow); a model trained on
JAX or torch exports from its .keras file in a TensorFlow-backend process.

Example:
```python
from keras_compact.export import export
path = export(classifier, "/srv/models/sections", label_names=names)   # .../sections/1
```
"""

from keras_compact.export.formats import FORMATS
from keras_compact.export.formats import export
from keras_compact.export.graph_ops import describe_signatures
from keras_compact.export.graph_ops import ops_outside_tf_serving
from keras_compact.export.graph_ops import saved_model_ops
from keras_compact.export.heads import ExportError
from keras_compact.export.saved_model import export_for_serving
from keras_compact.export.saved_model import export_saved_model
from keras_compact.export.serving_text import TextPacker
from keras_compact.export.versions import next_version
