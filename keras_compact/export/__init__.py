"""SavedModel export for TF Serving (TensorFlow-only).

- `export_for_serving`: the TF Serving layout BASE/NAME/VERSION/, raw text in.
- `export_saved_model`: one SavedModel directory.
- `TextPacker`: in-graph SentencePiece tokenization and BERT packing.
- `saved_model_ops` / `ops_outside_tf_serving`: what a SavedModel needs.
"""

from keras_compact.export.graph_ops import ops_outside_tf_serving
from keras_compact.export.graph_ops import saved_model_ops
from keras_compact.export.saved_model import export_for_serving
from keras_compact.export.saved_model import export_saved_model
from keras_compact.export.serving_text import TextPacker
from keras_compact.export.versions import next_version
