"""`TextClassifier`: a sentence(-pair) classification head on a backbone."""

import keras

from keras_compact.layers.initializers import truncated_normal
from keras_compact.models.model_mixins import LayersBeforeInitMixin
from keras_compact.models.model_mixins import MultiWorkerFitMixin


@keras.saving.register_keras_serializable(package="keras_compact")
class TextClassifier(LayersBeforeInitMixin, MultiWorkerFitMixin, keras.Model):
    """Backbone + dropout + Dense logits on the pooled ([CLS]) output.

    The model outputs logits (no softmax), so compile it with a
    `from_logits=True` loss. It is also the teacher / student of TinyBERT's
    task-specific distillation (`keras_compact.distill.Distiller`), which
    reads `backbone` for the intermediate layers and `compute_logits` for
    the prediction layer.

    Inputs: a dict of "token_ids", "segment_ids" and "padding_mask"
    (batch, sequence) int tensors. Output: (batch, num_classes) logits.

    Args:
        backbone: a `keras_compact.models.CompactBackbone`.
        num_classes: int. Number of classes.
        dropout: float. Dropout on the pooled output before the logits.
        **kwargs: Standard `keras.Model` arguments (name, trainable).

    Example:
    ```python
    backbone = CompactBackbone.from_preset("tinybert_4")
    classifier = TextClassifier(backbone, num_classes=2)
    classifier.compile(
        optimizer=keras.optimizers.AdamW(3e-5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["sparse_categorical_accuracy"],
    )
    classifier.fit(features, labels, batch_size=32, epochs=3)
    ```
    """

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or (
            num_classes < 1
        ):
            raise ValueError(
                f"`num_classes` must be a positive integer, got "
                f"num_classes={num_classes!r}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got dropout={dropout!r}.")
        policy = backbone.dtype_policy
        # === Layers ===
        self.backbone = backbone
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=policy, name="output_dropout"
        )
        self.output_dense = keras.layers.Dense(
            num_classes,
            kernel_initializer=truncated_normal(
                getattr(backbone, "initializer_range", 0.02)
            ),
            dtype=policy,
            name="logits",
        )

        # === Functional model ===
        inputs = dict(backbone.input)
        pooled = backbone(inputs)["pooled_output"]
        logits = self.output_dense(self.output_dropout(pooled))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._functional_ready = True

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout

    def compute_logits(self, pooled_output, training=False):
        """Applies the head (dropout + Dense) to a backbone's pooled output.

        Lets a caller that already ran `backbone.compute_features` get the
        logits without running the backbone twice.

        Example:
        ```python
        features = classifier.backbone.compute_features(inputs)
        logits = classifier.compute_logits(features["pooled_output"])
        ```
        """
        return self.output_dense(
            self.output_dropout(pooled_output, training=training)
        )

    def get_config(self):
        return {
            "backbone": keras.layers.serialize(self.backbone),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)
