"""ALBERT pretraining model: masked LM and sentence-order prediction heads."""

import keras
from keras import ops
from keras_hub.layers import MaskedLMHead

from keras_compact.layers.initializers import truncated_normal
from keras_compact.models.model_mixins import LayersBeforeInitMixin
from keras_compact.models.model_mixins import LossScaledCompileMixin
from keras_compact.models.model_mixins import MultiWorkerFitMixin
from keras_compact.models.replicas import num_replicas
from keras_compact.models.replicas import sum_over_replicas

SENTENCE_TASKS = ("sop", "nsp")


@keras.saving.register_keras_serializable(package="keras_compact")
def gelu_approximate(x):
    """ALBERT's tanh-approximated GELU, registered so heads serialize."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="keras_compact")
class AlbertPretrainer(
    LayersBeforeInitMixin, LossScaledCompileMixin, MultiWorkerFitMixin, keras.Model
):
    """Backbone + tied MLM head + sentence-order (or next-sentence) head.

    The MLM head is keras-hub's `MaskedLMHead` tied to the backbone's V x E
    token table: H -> Dense(E) -> activation -> LayerNorm -> logits against
    the table, plus a bias. The sentence head is a Dense(2) on the pooled
    output: sentence-order prediction (label 1 = segments swapped) or, for the
    paper's ablation, next-sentence prediction (label 1 = random B).

    `compute_loss` combines the two losses, so `fit` works on every backend:
    `loss = mlm_weight * mlm_loss + sentence_weight * sop_loss`, where the MLM
    loss is averaged over real masked positions (`mlm_weights`) of the global
    batch. It tracks mlm_loss, mlm_accuracy, sop_loss, sop_accuracy (named
    nsp_* for `sentence_task="nsp"`) and loss. Losses are computed in float32
    under mixed precision.

    Inputs (x): "token_ids", "segment_ids", "padding_mask" (batch, seq) and
    "mask_positions" (batch, max_predictions).
    Labels (y): "mlm_ids", "mlm_weights" (batch, max_predictions) and
    "sop_label" (batch,); the format of `keras_compact.data`'s pipelines.

    Args:
        backbone: a `keras_compact.models.CompactBackbone`.
        sentence_task: "sop" or "nsp".
        mlm_weight: float. Weight of the MLM loss.
        sentence_weight: float. Weight of the SOP/NSP loss.
        **kwargs: Standard `keras.Model` arguments.

    Example:
    ```python
    backbone = CompactBackbone.from_preset("albert_base", vocabulary_size=8000)
    pretrainer = AlbertPretrainer(backbone)
    pretrainer.compile(optimizer=make_lamb_optimizer(batch_size=64,
                                                     total_steps=10_000))
    pretrainer.fit(make_pretraining_dataset(...), steps_per_epoch=1000)
    ```
    """

    def __init__(
        self,
        backbone,
        sentence_task="sop",
        mlm_weight=1.0,
        sentence_weight=1.0,
        **kwargs,
    ):
        if sentence_task not in SENTENCE_TASKS:
            raise ValueError(
                f"Unknown sentence_task={sentence_task!r}. Use 'sop' "
                "(sentence-order prediction, ALBERT) or 'nsp' (next-sentence "
                "prediction, BERT)."
            )
        policy = backbone.dtype_policy
        # keras-hub's AlbertBackbone works too (benchmarks compare the two);
        # it does not expose these, and uses ALBERT's values.
        activation = getattr(backbone, "activation", "gelu_approximate")
        init = truncated_normal(getattr(backbone, "initializer_range", 0.02))
        # === Layers ===
        self.backbone = backbone
        self.mlm_head = MaskedLMHead(
            token_embedding=backbone.token_embedding,
            intermediate_activation=(
                gelu_approximate if activation == "gelu_approximate" else activation
            ),
            layer_norm_epsilon=getattr(backbone, "layer_norm_epsilon", 1e-12),
            kernel_initializer=init,
            dtype=policy,
            name="mlm_head",
        )
        self.sentence_head = keras.layers.Dense(
            2, kernel_initializer=init, dtype=policy, name=f"{sentence_task}_head"
        )

        # === Functional model ===
        inputs = dict(backbone.input)
        inputs["mask_positions"] = keras.Input(
            shape=(None,), dtype="int32", name="mask_positions"
        )
        backbone_outputs = backbone(
            {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")}
        )
        mlm_logits = self.mlm_head(
            backbone_outputs["sequence_output"], mask_positions=inputs["mask_positions"]
        )
        sentence_logits = self.sentence_head(backbone_outputs["pooled_output"])
        super().__init__(
            inputs=inputs,
            outputs={"mlm": mlm_logits, sentence_task: sentence_logits},
            **kwargs,
        )
        self._functional_ready = True

        # === Config and metrics ===
        self.sentence_task = sentence_task
        self.mlm_weight = mlm_weight
        self.sentence_weight = sentence_weight
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.mlm_accuracy_tracker = keras.metrics.Mean(name="mlm_accuracy")
        self.sentence_loss_tracker = keras.metrics.Mean(
            name=f"{sentence_task}_loss"
        )
        self.sentence_accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(
            name=f"{sentence_task}_accuracy"
        )

    def _loss_scale_policy(self):
        return self.backbone.dtype_policy

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if y is None:
            raise ValueError(
                "AlbertPretrainer needs labels: pass (features, labels) with "
                'labels {"mlm_ids", "mlm_weights", "sop_label"}, as produced by '
                "keras_compact.data.make_pretraining_dataset."
            )
        mlm_logits = ops.cast(y_pred["mlm"], "float32")
        sentence_logits = ops.cast(y_pred[self.sentence_task], "float32")
        mlm_ids = ops.cast(y["mlm_ids"], "int32")
        mlm_weights = ops.cast(y["mlm_weights"], "float32")
        sentence_labels = ops.cast(y["sop_label"], "int32")

        per_token = keras.losses.sparse_categorical_crossentropy(
            mlm_ids, mlm_logits, from_logits=True
        )
        # Averaged over the real masked positions of the *global* batch, so
        # the value and its gradient do not depend on how it is split.
        global_weight = ops.maximum(sum_over_replicas(ops.sum(mlm_weights)), 1.0)
        mlm_loss = ops.sum(per_token * mlm_weights) / global_weight
        sentence_loss = ops.mean(
            keras.losses.sparse_categorical_crossentropy(
                sentence_labels, sentence_logits, from_logits=True
            )
        )
        replicas = num_replicas()
        # Keras sums replica gradients: each replica contributes its share.
        loss = self.mlm_weight * mlm_loss + (
            self.sentence_weight * sentence_loss / replicas
        )

        correct = ops.cast(
            ops.equal(ops.argmax(mlm_logits, axis=-1), mlm_ids), "float32"
        )
        self.mlm_loss_tracker.update_state(mlm_loss * replicas)
        self.mlm_accuracy_tracker.update_state(correct, sample_weight=mlm_weights)
        self.sentence_loss_tracker.update_state(sentence_loss)
        self.sentence_accuracy_tracker.update_state(sentence_labels, sentence_logits)
        return loss

    def get_config(self):
        return {
            "backbone": keras.layers.serialize(self.backbone),
            "sentence_task": self.sentence_task,
            "mlm_weight": self.mlm_weight,
            "sentence_weight": self.sentence_weight,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)
