"""Text task models on keras-hub's `Task`: `TextClassifier` and `TextRegressor`.

Backend-agnostic (keras.ops / Keras layers); with a preprocessor, `fit`,
`evaluate` and `predict` take raw strings and preprocess them in a `tf.data`
pipeline, which feeds every backend (keras-hub's Task machinery).
"""

import keras
from keras_hub.models import TextClassifier as HubTextClassifier

from keras_compact.layers.initializers import truncated_normal
from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.model_mixins import MultiWorkerFitMixin
from keras_compact.preprocessing.text_classifier_preprocessor import (
    TextClassifierPreprocessor,
)


def check_preprocessor(backbone, preprocessor):
    """Raises a ValueError naming the value and the fix when `preprocessor`
    makes inputs `backbone` cannot take (too long, ids beyond its table)."""
    if preprocessor is None:
        return
    max_length = getattr(backbone, "max_sequence_length", None)
    length = getattr(preprocessor, "sequence_length", None)
    if max_length is not None and length is not None and length > max_length:
        raise ValueError(
            f"The preprocessor's sequence_length={length} is above the backbone's "
            f"max_sequence_length={max_length} (its position table); build the "
            f"preprocessor with sequence_length <= {max_length}.")
    vocabulary_size = None
    if hasattr(preprocessor, "vocabulary_size"):
        vocabulary_size = preprocessor.vocabulary_size()
    table = getattr(backbone, "vocabulary_size", None)
    if vocabulary_size is not None and table is not None and vocabulary_size > table:
        raise ValueError(
            f"The tokenizer has {vocabulary_size} tokens but the backbone's token table "
            f"has vocabulary_size={table} rows; ids >= {table} would index past it. Use the "
            "tokenizer the backbone was trained with, or a backbone with "
            f"vocabulary_size={vocabulary_size}.")


@keras.saving.register_keras_serializable(package="keras_compact")
class TextClassifier(MultiWorkerFitMixin, HubTextClassifier):
    """Backbone + dropout + Dense logits on the pooled ([CLS]) output.

    A keras-hub `Task`: with a `preprocessor`, `fit`, `evaluate` and
    `predict` take raw strings (or `(texts, texts_b)` pairs for a pair
    preprocessor) and preprocess them in `tf.data` on every backend; the
    model itself (and `model(x)`) takes the feature dict "token_ids",
    "segment_ids", "padding_mask" (batch, sequence) and returns
    (batch, num_classes) logits (no softmax). Set `preprocessor=None` (or
    pass feature dicts / a dataset of them) to feed ids yourself.

    The Task takes the backbone's dtype policy, so on a "mixed_float16"
    backbone `compile` wraps the optimizer in a `LossScaleOptimizer`.
    `compile()` defaults (keras-hub's): Adam(5e-5), sparse categorical
    cross-entropy on logits, accuracy.

    It is also the teacher / student of TinyBERT's task-specific
    distillation (`keras_compact.distill.Distiller`), which reads `backbone`
    for the intermediate layers and `compute_logits` for the predictions.

    Args:
        backbone: a `keras_compact.models.CompactBackbone`.
        num_classes: int. Number of classes.
        preprocessor: a `keras_compact.preprocessing.TextClassifierPreprocessor`
            or None. Saved with the model, vocabulary included.
        dropout: float. Dropout on the pooled output before the logits.
        **kwargs: `keras_hub.models.Task` arguments (name, compile, ...).

    Raises:
        ValueError: a bad `num_classes` or `dropout`, or a preprocessor whose
            sequence_length or vocabulary the backbone cannot take.

    Example:
    ```python
    tokenizer = keras_compact.tokenizers.load_tokenizer("vocab/spm.model")
    backbone = CompactBackbone.from_preset(
        "tinybert_4", vocabulary_size=tokenizer.vocabulary_size())
    classifier = TextClassifier(
        backbone, num_classes=2,
        preprocessor=TextClassifierPreprocessor(tokenizer, sequence_length=128))
    classifier.fit(["a fine film", "a dull film"], [1, 0], batch_size=2)
    classifier.predict(["what a film"])       # (1, 2) logits
    classifier.save("classifier.keras")       # vocabulary inside
    ```
    """

    backbone_cls = CompactBackbone
    preprocessor_cls = TextClassifierPreprocessor

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, **kwargs):
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or (
            num_classes < 1
        ):
            raise ValueError(
                f"`num_classes` must be a positive integer, got "
                f"num_classes={num_classes!r}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got dropout={dropout!r}.")
        check_preprocessor(backbone, preprocessor)
        policy = backbone.dtype_policy
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
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

    def compile_from_config(self, config):
        # keras-hub's Task overrides `compile` (defaults), so Keras would skip
        # the saved compile settings on load; restore them, so a loaded model
        # evaluates and resumes with its own loss, metrics and optimizer.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "trainable": self.trainable,
        })
        return config


@keras.saving.register_keras_serializable(package="keras_compact")
class TextRegressor(TextClassifier):
    """One score per text (or pair): a `TextClassifier` head of one unit.

    For STS-B-like tasks. Outputs (batch, 1) scores; `compile()` defaults
    to mean squared error (and mean absolute error as a metric) with
    Adam(5e-5). Everything else (raw-string `fit` / `predict` through the
    preprocessor, `.keras` round trip, distillation through
    `compute_logits`, export) is the classifier's.

    Why a class rather than `TextClassifier(num_classes=1, ...)`: the loss,
    the metrics and the serving outputs ("score" rather than classes)
    differ, and `num_classes=1` stays a valid (if odd) classifier.

    Args:
        backbone: a `keras_compact.models.CompactBackbone`.
        preprocessor: a `TextClassifierPreprocessor` (often `pair=True`) or None.
        dropout: float. Dropout before the score.
        **kwargs: `keras_hub.models.Task` arguments.

    Example:
    ```python
    preprocessor = TextClassifierPreprocessor(tokenizer, 128, pair=True)
    regressor = TextRegressor(backbone, preprocessor=preprocessor)
    regressor.fit((sentences_a, sentences_b), similarity_scores, batch_size=32)
    regressor.predict((["A man plays."], ["Someone plays."]))   # (1, 1)
    ```
    """

    def __init__(self, backbone, preprocessor=None, dropout=0.1, **kwargs):
        kwargs.pop("num_classes", None)
        super().__init__(backbone, num_classes=1, preprocessor=preprocessor, dropout=dropout,
                         **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """`compile` with regression defaults: MSE loss, MAE metric."""
        if loss == "auto":
            loss = keras.losses.MeanSquaredError()
        if metrics == "auto":
            metrics = [keras.metrics.MeanAbsoluteError()]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["num_classes"]
        return config
