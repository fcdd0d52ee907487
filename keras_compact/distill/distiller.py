"""`Distiller`: TinyBERT transformer distillation (and a DistilBERT option)."""

import keras
from keras import ops

from keras_compact.distill import losses
from keras_compact.distill.layer_mapping import layer_mapping as make_layer_mapping
from keras_compact.layers.initializers import truncated_normal
from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.classifier import TextClassifier
from keras_compact.models.model_mixins import LossScaledCompileMixin
from keras_compact.models.model_mixins import MultiWorkerFitMixin
from keras_compact.models.replicas import num_replicas
from keras_compact.models.replicas import sum_over_replicas

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")
LOSS_NAMES = ("embedding", "hidden", "attention", "prediction", "cosine")
# Which losses each TinyBERT stage turns on (weights; explicit ones win).
_INTERMEDIATE = {"embedding": 1.0, "hidden": 1.0, "attention": 1.0, "prediction": 0.0}
STAGES = {
    "general": _INTERMEDIATE,
    "intermediate": _INTERMEDIATE,
    "prediction": dict.fromkeys(("embedding", "hidden", "attention"), 0.0)
    | {"prediction": 1.0},
}


def _backbone_of(model, role):
    if isinstance(model, TextClassifier):
        return model.backbone
    if hasattr(model, "compute_features"):
        return model
    raise ValueError(
        f"The {role} must be a CompactBackbone or a TextClassifier, got "
        f"{type(model).__name__}."
    )


def _check_weight(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(
            f"`{name}_weight` must be a non-negative number, got "
            f"{name}_weight={value!r}. Use 0 to turn the loss off."
        )
    return float(value)


@keras.saving.register_keras_serializable(package="keras_compact")
class Distiller(LossScaledCompileMixin, MultiWorkerFitMixin, keras.Model):
    """Trains a student to mimic a frozen teacher (TinyBERT, Jiao et al.).

    The loss is `sum_k weight_k * L_k / replicas` over the enabled losses:

    - "embedding": MSE(E^S W_e, E^T) on the embedding outputs.
    - "hidden": sum over student layers m of MSE(H^S_m W_h, H^T_g(m)).
    - "attention": sum over m of the head-averaged MSE between pre-softmax
      attention scores, over real (query, key) pairs only.
    - "prediction": soft cross-entropy of the student's logits against the
      teacher's at `temperature` (TextClassifier teacher and student only).
    - "cosine": DistilBERT's 1 - cosine similarity between the student's
      last hidden state (projected) and teacher layer g(M), over real tokens.

    g is `layer_mapping` ("uniform", "top", "bottom" or a list). Teacher and
    student are both `CompactBackbone`s (general distillation) or both
    `TextClassifier`s (task-specific distillation; features come from their
    `.backbone`). The teacher is frozen (`trainable = False`), runs with
    `training=False`, and its outputs are wrapped in `stop_gradient`.

    Design choices:
    - W_e and W_h belong to the Distiller, not the student, so the extracted
      `distiller.student` has no distillation-only weights. One W_h is shared
      by all layers, like TinyBERT's reference code (its `fit_dense`); W_e is
      separate, as in the paper. Both are Dense layers with bias and no
      activation, used only when the widths differ (`use_projection=None`).
    - The attention loss compares heads one to one, so it needs equal head
      counts: a mismatch raises at construction (averaging heads would change
      the loss the paper defines).
    - Hidden and embedding MSEs include padded positions by default, as in
      TinyBERT's reference code; `mask_hidden_padding=True` excludes them.
    - Per-layer hidden / attention losses are summed over layers, as in the
      paper's L_model and the reference code.

    `fit` / `evaluate` take x = {"token_ids", "segment_ids", "padding_mask"};
    labels, if any, are ignored (the teacher provides the targets). Metrics:
    the enabled ones of embedding_loss, hidden_loss, attention_loss,
    prediction_loss, cosine_loss, plus loss.

    Args:
        teacher: CompactBackbone or TextClassifier. Frozen by the Distiller.
        student: same kind as the teacher; the model being trained.
        stage: None, "general", "intermediate" or "prediction". "general" and
            "intermediate" turn on embedding + hidden + attention (general
            distillation on backbones, then the first task-specific step on
            classifiers); "prediction" turns on the prediction loss only.
            `None`: embedding, hidden and attention, plus prediction when
            both models are classifiers (the paper's full L_model).
        layer_mapping: "uniform", "top", "bottom" or a list of M teacher
            layers (1-based); see `keras_compact.distill.layer_mapping`.
        embedding_weight, hidden_weight, attention_weight, prediction_weight:
            float or None. None takes the stage's value; 0 turns a loss off.
        cosine_weight: float. DistilBERT's cosine loss weight (default off).
        temperature: float. Softmax temperature of the prediction loss.
        use_projection: bool or None. Learn W_e / W_h; None means "only when
            student and teacher widths differ".
        mask_hidden_padding: bool. Exclude padding from the embedding and
            hidden MSEs.
        **kwargs: Standard `keras.Model` arguments.

    Example:
    ```python
    teacher = CompactBackbone.from_preset("bert_base")  # pretrained weights
    student = CompactBackbone.from_preset("tinybert_4")
    distiller = Distiller(teacher, student, stage="general")
    distiller.compile(optimizer=keras.optimizers.AdamW(1e-4))
    distiller.fit(features_dataset, epochs=3)
    distiller.student.save("tinybert_4_general.keras")
    ```
    """

    def __init__(
        self,
        teacher,
        student,
        stage=None,
        layer_mapping="uniform",
        embedding_weight=None,
        hidden_weight=None,
        attention_weight=None,
        prediction_weight=None,
        cosine_weight=0.0,
        temperature=1.0,
        use_projection=None,
        mask_hidden_padding=False,
        **kwargs,
    ):
        if teacher is student:
            raise ValueError("The teacher and the student must be different models.")
        teacher_backbone = _backbone_of(teacher, "teacher")
        student_backbone = _backbone_of(student, "student")
        classifiers = isinstance(teacher, TextClassifier) and isinstance(
            student, TextClassifier
        )
        if stage is None:
            defaults = dict(STAGES["general"], prediction=1.0 if classifiers else 0.0)
        elif stage in STAGES:
            defaults = STAGES[stage]
        else:
            raise ValueError(
                f"Unknown stage={stage!r}. Use 'general' (backbones, "
                "intermediate layers), 'intermediate' (classifiers, "
                "intermediate layers), 'prediction' (classifiers, logits) or "
                "None (set the loss weights yourself)."
            )
        explicit = {
            "embedding": embedding_weight,
            "hidden": hidden_weight,
            "attention": attention_weight,
            "prediction": prediction_weight,
            "cosine": cosine_weight,
        }
        weights = {
            name: _check_weight(
                name,
                defaults.get(name, 0.0) if explicit[name] is None else explicit[name],
            )
            for name in LOSS_NAMES
        }
        if not any(weights.values()):
            raise ValueError(
                "Every loss weight is 0, so there is nothing to distil. Turn "
                "on at least one of embedding_weight, hidden_weight, "
                "attention_weight, prediction_weight, cosine_weight."
            )
        if weights["prediction"] and not classifiers:
            raise ValueError(
                "The prediction loss needs logits: pass TextClassifier teacher "
                f"and student (got {type(teacher).__name__} and "
                f"{type(student).__name__}), or set prediction_weight=0 "
                "(stage='general')."
            )
        if weights["prediction"] and teacher.num_classes != student.num_classes:
            raise ValueError(
                f"Teacher and student classify into different numbers of "
                f"classes ({teacher.num_classes} vs {student.num_classes}); "
                "give the student the teacher's num_classes."
            )
        if weights["attention"] and (
            teacher_backbone.num_heads != student_backbone.num_heads
        ):
            raise ValueError(
                "The attention loss compares heads one to one, but the "
                f"teacher has num_heads={teacher_backbone.num_heads} and the "
                f"student num_heads={student_backbone.num_heads}. Set "
                "attention_weight=0 or match num_heads."
            )
        if not temperature > 0:
            raise ValueError(
                f"temperature must be positive, got temperature={temperature!r}."
            )
        mapping = make_layer_mapping(
            student_backbone.num_layers, teacher_backbone.num_layers, layer_mapping
        )
        student_width = student_backbone.hidden_dim
        teacher_width = teacher_backbone.hidden_dim
        if use_projection is None:
            project = student_width != teacher_width
        elif not use_projection and student_width != teacher_width:
            raise ValueError(
                f"use_projection=False needs equal widths, but the student has "
                f"hidden_dim={student_width} and the teacher "
                f"hidden_dim={teacher_width}. Use use_projection=None or True."
            )
        else:
            project = bool(use_projection)

        super().__init__(**kwargs)
        # Frozen: its weights are non-trainable variables, which no
        # optimizer touches on any backend.
        teacher.trainable = False
        self.teacher = teacher
        self.student = student

        # === Projections (owned here so the student stays clean) ===
        policy = student_backbone.dtype_policy
        init = truncated_normal(getattr(student_backbone, "initializer_range", 0.02))

        def projection(name):
            layer = keras.layers.Dense(
                teacher_width, kernel_initializer=init, dtype=policy, name=name
            )
            layer.build((None, None, student_width))
            return layer

        self.embedding_projection = None
        self.hidden_projection = None
        if project and weights["embedding"]:
            self.embedding_projection = projection("embedding_projection")
        if project and (weights["hidden"] or weights["cosine"]):
            self.hidden_projection = projection("hidden_projection")

        # === Config ===
        self.stage = stage
        # Tuples are kept as they are by Keras' attribute tracking.
        self.layer_mapping = (
            tuple(layer_mapping)
            if isinstance(layer_mapping, (list, tuple))
            else layer_mapping
        )
        self.teacher_layers = mapping
        self.distillation_weights = weights
        self.temperature = float(temperature)
        self.use_projection = use_projection
        self.mask_hidden_padding = bool(mask_hidden_padding)
        self.enabled_losses = tuple(n for n in LOSS_NAMES if weights[n])
        for name in self.enabled_losses:
            tracker = keras.metrics.Mean(name=f"{name}_loss")
            setattr(self, f"{name}_loss_tracker", tracker)
        self.built = True

    @property
    def teacher_backbone(self):
        """The teacher's backbone (the teacher itself for a backbone)."""
        return _backbone_of(self.teacher, "teacher")

    @property
    def student_backbone(self):
        """The student's backbone (the student itself for a backbone)."""
        return _backbone_of(self.student, "student")

    def _project(self, layer, x):
        return x if layer is None else layer(x)

    def call(self, inputs, training=False):
        """Runs teacher and student; returns the aligned tensors to compare.

        Returns a dict with, for the enabled losses, "student_embedding" /
        "teacher_embedding", "student_hidden" / "teacher_hidden" (lists of
        M), "student_attention" / "teacher_attention" (lists of M),
        "student_logits" / "teacher_logits", "student_last_hidden" /
        "teacher_last_hidden". Student tensors are already projected.
        """
        inputs = {k: inputs[k] for k in INPUT_KEYS}
        on = self.distillation_weights
        want_hidden = bool(on["embedding"] or on["hidden"] or on["cosine"])
        want_scores = bool(on["attention"])
        teacher = self.teacher_backbone.compute_features(
            inputs,
            training=False,
            return_hidden_states=want_hidden,
            return_attention_scores=want_scores,
        )
        teacher = keras.tree.map_structure(ops.stop_gradient, teacher)
        student = self.student_backbone.compute_features(
            inputs,
            training=training,
            return_hidden_states=want_hidden,
            return_attention_scores=want_scores,
        )
        outputs = {}
        if on["embedding"]:
            outputs["student_embedding"] = self._project(
                self.embedding_projection, student["hidden_states"][0]
            )
            outputs["teacher_embedding"] = teacher["hidden_states"][0]
        if on["hidden"]:
            outputs["student_hidden"] = [
                self._project(self.hidden_projection, h)
                for h in student["hidden_states"][1:]
            ]
            outputs["teacher_hidden"] = [
                teacher["hidden_states"][n] for n in self.teacher_layers
            ]
        if on["attention"]:
            outputs["student_attention"] = list(student["attention_scores"])
            outputs["teacher_attention"] = [
                teacher["attention_scores"][n - 1] for n in self.teacher_layers
            ]
        if on["cosine"]:
            outputs["student_last_hidden"] = self._project(
                self.hidden_projection, student["hidden_states"][-1]
            )
            outputs["teacher_last_hidden"] = teacher["hidden_states"][
                self.teacher_layers[-1]
            ]
        if on["prediction"]:
            outputs["student_logits"] = self.student.compute_logits(
                student["pooled_output"], training=training
            )
            outputs["teacher_logits"] = ops.stop_gradient(
                self.teacher.compute_logits(teacher["pooled_output"], training=False)
            )
        return outputs

    def compute_distillation_losses(self, outputs, padding_mask):
        """The unweighted enabled losses, as a dict name -> float32 scalar.

        Under a tf.distribute strategy the masked terms (attention, cosine,
        and embedding / hidden with `mask_hidden_padding`) are this
        replica's share of the global-batch mean; elsewhere they are the
        plain means.

        Example:
        ```python
        terms = distiller.compute_distillation_losses(
            distiller(inputs), inputs["padding_mask"]
        )
        ```
        """
        hidden_mask = padding_mask if self.mask_hidden_padding else None
        # Masked means are over the real positions of the global batch.
        share = {"count_reduction": sum_over_replicas}
        on = self.distillation_weights
        terms = {}
        if on["embedding"]:
            terms["embedding"] = losses.embedding_loss(
                outputs["student_embedding"], outputs["teacher_embedding"], hidden_mask,
                **share)
        if on["hidden"]:
            terms["hidden"] = sum(
                losses.hidden_loss(s, t, hidden_mask, **share)
                for s, t in zip(outputs["student_hidden"], outputs["teacher_hidden"])
            )
        if on["attention"]:
            terms["attention"] = sum(
                losses.attention_loss(s, t, padding_mask, **share)
                for s, t in zip(
                    outputs["student_attention"], outputs["teacher_attention"]
                )
            )
        if on["prediction"]:
            if outputs["student_logits"].shape[-1] == 1:
                # A regressor (one output, e.g. STS-B): a softmax over one
                # logit is constant, so match the teacher's score by MSE.
                difference = keras.ops.cast(
                    outputs["student_logits"], "float32"
                ) - keras.ops.cast(outputs["teacher_logits"], "float32")
                terms["prediction"] = keras.ops.mean(keras.ops.square(difference))
            else:
                terms["prediction"] = losses.prediction_loss(
                    outputs["student_logits"], outputs["teacher_logits"], self.temperature
                )
        if on["cosine"]:
            terms["cosine"] = losses.cosine_hidden_loss(
                outputs["student_last_hidden"],
                outputs["teacher_last_hidden"],
                padding_mask,
                **share,
            )
        return terms

    def _globally_normalised(self):
        """Terms that are already a replica's share of a global-batch mean."""
        names = {"attention", "cosine"}
        return names | {"embedding", "hidden"} if self.mask_hidden_padding else names

    def _loss_scale_policy(self):
        return self.student_backbone.dtype_policy

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        terms = self.compute_distillation_losses(y_pred, x["padding_mask"])
        # Keras sums the replicas' gradients. Masked terms are each replica's
        # share of the global mean (their counts are all-reduced); the others
        # are per-replica means, which contribute 1 / replicas each, as Keras'
        # own losses do. Either way one device and N replicas on the same
        # global batch give the same loss, gradients and metrics.
        replicas = num_replicas()
        shares = self._globally_normalised()
        weights = self.distillation_weights
        loss = 0.0
        for name, value in terms.items():
            is_share = name in shares
            loss += weights[name] * (value if is_share else value / replicas)
            getattr(self, f"{name}_loss_tracker").update_state(
                value * replicas if is_share else value)
        return loss

    def get_config(self):
        return {
            "teacher": keras.layers.serialize(self.teacher),
            "student": keras.layers.serialize(self.student),
            "stage": self.stage,
            "layer_mapping": (
                list(self.layer_mapping)
                if isinstance(self.layer_mapping, tuple)
                else self.layer_mapping
            ),
            **{f"{n}_weight": self.distillation_weights[n] for n in LOSS_NAMES},
            "temperature": self.temperature,
            "use_projection": self.use_projection,
            "mask_hidden_padding": self.mask_hidden_padding,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["teacher"] = keras.layers.deserialize(config["teacher"])
        config["student"] = keras.layers.deserialize(config["student"])
        return cls(**config)


def distilbert_student_from_teacher(teacher_backbone, name=None):
    """A DistilBERT-style student: every other teacher layer, copied.

    The student has ceil(N / 2) layers and the teacher's configuration
    otherwise; its layer m (0-based) starts as a copy of teacher layer 2m,
    and the embeddings and pooler are copied too. Needs a teacher with
    `sharing="none"`: with shared layers there is nothing to take one of
    two of.

    Args:
        teacher_backbone: a `CompactBackbone` with `sharing="none"`.
        name: optional name of the student.

    Returns:
        A new `CompactBackbone`.

    Example:
    ```python
    teacher = CompactBackbone.from_preset("bert_base")  # pretrained weights
    student = distilbert_student_from_teacher(teacher)  # 6 layers
    ```
    """
    if isinstance(teacher_backbone, TextClassifier):
        raise ValueError(
            "distilbert_student_from_teacher takes a backbone: pass "
            "teacher.backbone, or use distilbert_distiller(teacher) to get a "
            "classifier student."
        )
    if not isinstance(teacher_backbone, CompactBackbone):
        raise ValueError(
            "distilbert_student_from_teacher needs a CompactBackbone, got "
            f"{type(teacher_backbone).__name__}."
        )
    if teacher_backbone.sharing != "none":
        raise ValueError(
            f"The teacher shares parameters across layers "
            f"(sharing={teacher_backbone.sharing!r}), so its layers cannot be "
            "taken one in two. Use a teacher with sharing='none' (BERT), or "
            "build the student yourself and use Distiller."
        )
    teacher_layers = teacher_backbone.num_layers
    student_layers = (teacher_layers + 1) // 2
    config = teacher_backbone.get_config()
    config.update(
        num_layers=student_layers,
        name=name or f"{teacher_backbone.name}_distilbert_student",
        trainable=True,
    )
    student = CompactBackbone.from_config(config)
    student.embeddings.set_weights(teacher_backbone.embeddings.get_weights())
    student.pooler.set_weights(teacher_backbone.pooler.get_weights())
    inner = teacher_backbone.inner_group_num
    teacher_encoder = teacher_backbone.encoder
    for m in range(student_layers):
        for k in range(inner):
            source, target = 2 * m * inner + k, m * inner + k
            student.encoder.attention_sublayers[target].set_weights(
                teacher_encoder.attention_sublayers[source].get_weights()
            )
            student.encoder.feedforward_sublayers[target].set_weights(
                teacher_encoder.feedforward_sublayers[source].get_weights()
            )
    return student


def distilbert_distiller(
    teacher,
    student=None,
    temperature=2.0,
    prediction_weight=None,
    cosine_weight=1.0,
    **kwargs,
):
    """A Distiller with DistilBERT's losses: soft targets + cosine.

    Soft-target cross-entropy on the logits (classifiers only) and the
    cosine loss between the student's last hidden state and the teacher's
    last one (uniform mapping: g(M) = N). DistilBERT's MLM loss is not part
    of it (the Distiller takes no labels). Without a student, one is built
    with `distilbert_student_from_teacher` (for a classifier teacher: the
    same head, copied, on the half-depth backbone).

    Args:
        teacher: CompactBackbone or TextClassifier (sharing="none" when the
            student is built here).
        student: optional student of the same kind.
        temperature: float. Softmax temperature (DistilBERT uses 2).
        prediction_weight: float or None. None: temperature**2 for
            classifiers (DistilBERT scales its soft loss by t^2 to keep
            gradient sizes independent of t), 0 for backbones.
        cosine_weight: float. Weight of the cosine loss.
        **kwargs: more `Distiller` arguments.

    Returns:
        A `Distiller`.

    Example:
    ```python
    distiller = distilbert_distiller(fine_tuned_bert_classifier)
    distiller.compile(optimizer=keras.optimizers.AdamW(5e-5))
    distiller.fit(task_features, epochs=3)
    ```
    """
    classifier = isinstance(teacher, TextClassifier)
    if student is None:
        backbone = distilbert_student_from_teacher(
            teacher.backbone if classifier else teacher
        )
        if classifier:
            student = TextClassifier(
                backbone, num_classes=teacher.num_classes, dropout=teacher.dropout
            )
            student.output_dense.set_weights(teacher.output_dense.get_weights())
        else:
            student = backbone
    if prediction_weight is None:
        prediction_weight = float(temperature) ** 2 if classifier else 0.0
    return Distiller(
        teacher,
        student,
        layer_mapping="uniform",
        embedding_weight=0.0,
        hidden_weight=0.0,
        attention_weight=0.0,
        prediction_weight=prediction_weight,
        cosine_weight=cosine_weight,
        temperature=temperature,
        **kwargs,
    )
