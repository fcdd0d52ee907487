"""Our MiniLM / MiniLMv2 losses inside Keras' own `keras.distillation`.

Keras >= 3.12 ships `keras.distillation.Distiller`, which hands each of its
`DistillationLoss`es one pair of tensors: the teacher's and the student's
final outputs, or the outputs of one named layer. That fits relation losses
once the models' final outputs are the features they need:
`RelationFeatures` wraps a backbone (or a TextClassifier / AlbertPretrainer)
as a model whose output is the chosen layer's queries, keys and values plus
the padding mask, and `MiniLMv2RelationLoss` / `MiniLMAttentionLoss` are
`DistillationLoss`es computing our loss functions on them.

What does not fit, and why our `Distiller` is a separate class:
- Keras passes no padding mask to a loss; here the mask travels inside the
  feature dict, which only works because the wrapper puts it there.
- `FeatureDistillation` picks features by layer name, but our encoder's
  layers are one (shared) Keras layer, so a per-layer hidden state, score or
  query has no layer name; there is no layer mapping and no learned
  projection W_h for TinyBERT's hidden loss at different widths.
- Keras' Distiller returns its summed loss without the 1 / replicas scaling
  that tf.distribute needs for a hand-written loss, so inside it these losses
  are plain means (right on one device and under a JAX distribution); use
  our `Distiller` with a tf.distribute strategy.
- Their `LogitsDistillation` already covers our prediction loss (it is
  KL at a temperature times t^2, our soft cross-entropy differs from it by
  the teacher's entropy, a constant), so it is not re-exported.

Example:
```python
teacher = RelationFeatures(teacher_backbone, layer=6)
student = RelationFeatures(student_backbone)  # last layer
distiller = keras.distillation.Distiller(
    teacher, student, MiniLMv2RelationLoss(relation_heads=12),
    student_loss_weight=0.0)
distiller.compile(optimizer="adam", loss="mse")  # no labels: unused
distiller.fit(features_dataset, epochs=1)
```
"""

import keras

from keras_compact.distill import losses

try:  # Keras >= 3.12
    from keras.distillation import DistillationLoss as _KerasDistillationLoss
except ImportError:  # pragma: no cover - older Keras
    _KerasDistillationLoss = object

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")


def _backbone(model):
    return model if hasattr(model, "compute_features") else model.backbone


@keras.saving.register_keras_serializable(package="keras_compact")
class RelationFeatures(keras.Model):
    """A backbone seen as a model whose output is one layer's Q, K, V.

    Output: {"queries", "keys", "values"} (batch, sequence, heads, key_dim)
    of layer `layer` (1-based; None: the last) and "padding_mask". Its
    weights are the wrapped model's, so training it trains that model.

    Args:
        model: CompactBackbone, or a TextClassifier / AlbertPretrainer (its
            backbone is used).
        layer: int or None.
        **kwargs: standard `keras.Model` arguments.

    Example:
    ```python
    features = RelationFeatures(backbone, layer=4)(inputs)
    features["queries"].shape  # (batch, sequence, heads, key_dim)
    ```
    """

    def __init__(self, model, layer=None, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        backbone = _backbone(model)
        self.layer = backbone.num_layers if layer is None else layer
        backbone.encoder.check_qkv_layers([self.layer])

    def call(self, inputs, training=False):
        backbone = _backbone(self.model)
        features = backbone.compute_features(
            {k: inputs[k] for k in INPUT_KEYS}, training=training,
            return_hidden_states=False, return_attention_scores=False,
            return_qkv_layers=[self.layer])
        return dict(features["qkv"][self.layer], padding_mask=inputs["padding_mask"])

    def get_config(self):
        return {"model": keras.layers.serialize(self.model), "layer": self.layer,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.layers.deserialize(config["model"])
        return cls(**config)


class _FeatureLoss(_KerasDistillationLoss):
    def validate_outputs(self, teacher_outputs, student_outputs):
        # Widths and head counts may differ; only the keys must be there.
        for role, outputs in (("teacher", teacher_outputs),
                              ("student", student_outputs)):
            if not isinstance(outputs, dict) or not {
                    "queries", "keys", "values", "padding_mask"} <= set(outputs):
                raise ValueError(
                    f"The {role}'s outputs must be RelationFeatures' dict of "
                    "queries, keys, values and padding_mask; wrap the model in "
                    "keras_compact.distill.keras_interop.RelationFeatures.")


class MiniLMv2RelationLoss(_FeatureLoss):
    """Sum of MiniLMv2's Q-Q, K-K and V-V relation KLs (any heads, widths).

    Args:
        relation_heads: int dividing both models' widths.
        relations: which of "queries", "keys", "values" to use.
    """

    def __init__(self, relation_heads, relations=("queries", "keys", "values")):
        self.relation_heads = relation_heads
        self.relations = tuple(relations)

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        mask = student_outputs["padding_mask"]
        return sum(
            losses.relation_loss(student_outputs[k], keras.ops.stop_gradient(
                teacher_outputs[k]), self.relation_heads, mask)
            for k in self.relations)

    def get_config(self):
        return {"relation_heads": self.relation_heads, "relations": list(self.relations)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MiniLMAttentionLoss(_FeatureLoss):
    """MiniLM's attention-distribution KL plus value-relation KL (equal heads).

    Args:
        value_relation_weight: float. Weight of the value-relation term.
    """

    def __init__(self, value_relation_weight=1.0):
        self.value_relation_weight = value_relation_weight

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        t = {k: keras.ops.stop_gradient(teacher_outputs[k])
             for k in ("queries", "keys", "values")}
        s, mask = student_outputs, student_outputs["padding_mask"]
        attention = losses.attention_distribution_loss(
            s["queries"], s["keys"], t["queries"], t["keys"], mask)
        values = losses.value_relation_loss(s["values"], t["values"], mask)
        return attention + self.value_relation_weight * values

    def get_config(self):
        return {"value_relation_weight": self.value_relation_weight}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
