"""The serving heads: one table of model kinds and the outputs every export
format (SavedModel, LiteRT, ONNX) serves for them (TensorFlow-only: the
heads are traced into the exported graphs with TF ops).

| kind         | model class       | outputs                                         |
|--------------|-------------------|-------------------------------------------------|
| `classifier` | `TextClassifier`  | logits, probabilities, label_ids (int32)        |
| `regressor`  | `TextRegressor`   | score                                           |
| `embedder`   | `TextEmbedder`    | embedding                                       |
| `backbone`   | `CompactBackbone` | pooled_output, sequence_output, embedding (the  |
|              |                   | mean of sequence_output over real tokens, the   |
|              |                   | sentence-transformers pooling)                  |

A SavedModel classifier also returns "labels" (strings) when given label
names. Adding a kind is one `Head` entry here.
"""

import dataclasses

CLASSIFIER, REGRESSOR, EMBEDDER, BACKBONE = "classifier", "regressor", "embedder", "backbone"


@dataclasses.dataclass(frozen=True)
class Head:
    """One served model kind.

    Attributes:
        kind: the kind's name.
        model_class: the keras_compact model class it serves (by name).
        outputs: the names of the served outputs, in order.
    """

    kind: str
    model_class: str
    outputs: tuple


# Subclasses before their bases (TextRegressor is a TextClassifier).
HEADS = (
    Head(REGRESSOR, "TextRegressor", ("score",)),
    Head(CLASSIFIER, "TextClassifier", ("logits", "probabilities", "label_ids")),
    Head(EMBEDDER, "TextEmbedder", ("embedding",)),
    Head(BACKBONE, "CompactBackbone", ("pooled_output", "sequence_output", "embedding")),
)


class ExportError(ValueError):
    """A model, tokenizer or argument an export format cannot hold (the
    message names it and the fix)."""


def serving_head(model, format_name):
    """The `Head` serving `model`, checking the backend.

    Args:
        model: a keras_compact task model or `CompactBackbone`.
        format_name: the export format, for messages ("SavedModel", ...).

    Raises:
        ExportError: not the TensorFlow backend, or a model kind no head
            serves.
    """
    import keras

    import keras_compact.models as models

    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            f"{format_name} export needs KERAS_BACKEND=tensorflow (active: "
            f"{keras.backend.backend()}). Save the model as .keras on this backend and export "
            "it from a TensorFlow-backend process: KERAS_BACKEND=tensorflow keras-compact "
            "export --model model.keras ...")
    for head in HEADS:
        if isinstance(model, getattr(models, head.model_class)):
            return head
    raise ExportError(f"{format_name} export takes a "
                      f"{', '.join(h.model_class for h in HEADS)}; got "
                      f"{type(model).__name__}.")


def backbone_of(model, head):
    """The `CompactBackbone` inside `model` (the model itself for a backbone)."""
    return model if head.kind == BACKBONE else model.backbone


def head_outputs(head, result, features):
    """The served outputs of one model call (float32; TF ops).

    Args:
        head: a `Head`.
        result: the model's output on `features`.
        features: the int32 "token_ids", "segment_ids", "padding_mask" it ran on.

    Returns:
        dict name -> tensor, the names of `head.outputs`.
    """
    import tensorflow as tf

    if head.kind == BACKBONE:
        sequence = tf.cast(result["sequence_output"], tf.float32)
        mask = tf.cast(features["padding_mask"], tf.float32)[:, :, None]
        embedding = tf.reduce_sum(sequence * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)
        return {"pooled_output": tf.cast(result["pooled_output"], tf.float32),
                "sequence_output": sequence, "embedding": embedding}
    values = tf.cast(result, tf.float32)
    if head.kind == REGRESSOR:
        return {"score": values[:, 0]}
    if head.kind == EMBEDDER:
        return {"embedding": values}
    return {"logits": values, "probabilities": tf.nn.softmax(values, axis=-1),
            "label_ids": tf.argmax(values, axis=-1, output_type=tf.int32)}
