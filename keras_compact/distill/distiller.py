"""`Distiller`: TinyBERT, MiniLM and MiniLMv2 distillation, driven by a loss table."""

import keras
from keras import ops

from keras_compact.distill import loss_table
from keras_compact.distill.loss_table import LABELS
from keras_compact.distill.loss_table import LOGITS
from keras_compact.distill.loss_table import LOSS_NAMES
from keras_compact.distill.loss_table import LOSS_TABLE
from keras_compact.distill.loss_table import MLM
from keras_compact.distill.loss_table import OBJECTIVES
from keras_compact.distill.loss_table import FeatureContext
from keras_compact.distill.layer_mapping import layer_mapping as make_layer_mapping
from keras_compact.layers.initializers import truncated_normal
from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.classifier import TextClassifier
from keras_compact.models.model_mixins import LossScaledCompileMixin
from keras_compact.models.model_mixins import MultiWorkerFitMixin
from keras_compact.models.pretrainer import AlbertPretrainer
from keras_compact.models.replicas import num_replicas

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")
STAGE_NAMES = ("general", "intermediate", "prediction", "pretraining")
# Default weights per stage (TinyBERT objective); see loss_table for others.
STAGES = {
    stage: {t.name: t.default_weight(stage, "tinybert", ("backbone", "backbone"))
            for t in LOSS_TABLE}
    for stage in STAGE_NAMES
}
_TERMS = {t.name: t for t in LOSS_TABLE}


def _kind(model, role):
    if isinstance(model, TextClassifier):
        return "classifier"
    if isinstance(model, AlbertPretrainer):
        return "pretrainer"
    if hasattr(model, "compute_features"):
        return "backbone"
    raise ValueError(
        f"The {role} must be a CompactBackbone, a TextClassifier or an "
        f"AlbertPretrainer, got {type(model).__name__}."
    )


def _backbone_of(model, role):
    if _kind(model, role) == "backbone":
        return model
    return model.backbone


def _check_weight(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(
            f"`{name}_weight` must be a non-negative number, got "
            f"{name}_weight={value!r}. Use 0 to turn the loss off."
        )
    return float(value)


def _model_features(model, kind):
    """What a model can give to a loss (backbone features, logits, MLM)."""
    backbone = _backbone_of(model, "model")
    given = set(getattr(backbone, "DISTILLATION_FEATURES",
                        ("hidden_states", "attention_scores", "pooled_output")))
    if kind == "classifier":
        given.add(LOGITS)
    if kind == "pretrainer":
        given.add(MLM)
    given.add(LABELS)
    return given


_FEATURE_HINTS = {
    LOGITS: "pass TextClassifier teacher and student",
    MLM: "pass AlbertPretrainer teacher and student (PretrainingDistiller)",
    "qkv": "use a keras_compact CompactBackbone, whose attention returns "
           "queries/keys/values on request",
    "attention_scores": "use a keras_compact CompactBackbone",
    "hidden_states": "use a keras_compact CompactBackbone",
}


def _layer_number(value, layers, role, arg):
    if value is None:
        return layers
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= layers:
        advice = (" MiniLMv2 takes the last layer of base-size teachers and an "
                  "upper-middle layer of large ones." if role == "teacher" else "")
        raise ValueError(
            f"{arg}={value!r} is out of range: the {role} has layers 1..{layers} "
            f"(numbered from 1). Pass a layer in 1..{layers} or None for the last."
            + advice
        )
    return value


@keras.saving.register_keras_serializable(package="keras_compact")
class Distiller(LossScaledCompileMixin, MultiWorkerFitMixin, keras.Model):
    """Trains a student to mimic a frozen teacher (TinyBERT, MiniLM, MiniLMv2).

    The loss is `sum_k weight_k * L_k / replicas` over the enabled losses of
    `keras_compact.distill.loss_table.LOSS_TABLE`:

    - "embedding": MSE(E^S W_e, E^T) on the embedding outputs (TinyBERT).
    - "hidden": sum over student layers m of MSE(H^S_m W_h, H^T_g(m)).
    - "attention": sum over m of the head-averaged MSE between pre-softmax
      attention scores, over real (query, key) pairs only.
    - "prediction": soft cross-entropy of the student's logits against the
      teacher's at `temperature` (TextClassifier teacher and student only).
    - "cosine": DistilBERT's 1 - cosine similarity between the student's
      last hidden state (projected) and teacher layer g(M), over real tokens.
    - "attention_kl", "value_relation": MiniLM's KL(teacher || student) of
      the attention distributions and of softmax(V V^T / sqrt(d_k)), per
      head, between student layer `relation_student_layer` and teacher
      layer `relation_teacher_layer` (the last ones by default). Any width;
      equal head counts.
    - "qq_relation", "kk_relation", "vv_relation": MiniLMv2's relation KLs
      after concatenating each model's heads and re-splitting them into
      `relation_heads` heads. Any width and head count.
    - "mlm", "sop", "soft_mlm": with `AlbertPretrainer` teacher and student
      (see `PretrainingDistiller`): the student's own MLM and SOP losses on
      the pipeline's labels, and soft cross-entropy against the teacher's MLM
      distribution at the masked positions at `mlm_temperature`.

    Every KL and masked mean leaves padding out, and under tf.distribute is
    this replica's share of the global-batch mean (its count is all-reduced),
    so one device and N replicas give the same loss and gradients.

    g is `layer_mapping` ("uniform", "top", "bottom" or a list). Teacher and
    student are both `CompactBackbone`s (general distillation), both
    `TextClassifier`s (task-specific distillation) or both
    `AlbertPretrainer`s (pretraining distillation); features come from their
    `.backbone`. The teacher is frozen (`trainable = False`), runs with
    `training=False`, and its outputs are wrapped in `stop_gradient`.
    Teacher / student mismatches (depth, width, heads, vocabulary) are
    checked at construction against each enabled loss; `mapping_report()`
    explains them and says which loss takes which.

    Design choices:
    - W_e and W_h belong to the Distiller, not the student, so the extracted
      `distiller.student` has no distillation-only weights. One W_h is shared
      by all layers, like TinyBERT's reference code (its `fit_dense`); W_e is
      separate, as in the paper. Both are Dense layers with bias and no
      activation, used only when the widths differ (`use_projection=None`).
    - The attention and MiniLM losses compare heads one to one, so they need
      equal head counts: a mismatch raises at construction (averaging heads
      would change the loss the papers define); MiniLMv2's take any.
    - Hidden and embedding MSEs include padded positions by default, as in
      TinyBERT's reference code; `mask_hidden_padding=True` excludes them.
    - Per-layer hidden / attention losses are summed over layers, as in the
      paper's L_model and the reference code.
    - MiniLM's and MiniLMv2's relations are computed from the layer's own
      queries, keys and values (`compute_features(return_qkv_layers=...)`),
      which keeps every layer on the fused attention kernel.

    Keras' own `keras.distillation.Distiller` (Keras >= 3.12) is not used as
    the base class: its losses see one tensor pair per loss (the final
    outputs or one named layer's output), with no padding mask, no layer
    mapping, no projections and no replica scaling, and our encoder's layers
    are one shared Keras layer, so per-layer features have no layer name.
    Our losses do work inside it: see `keras_compact.distill.keras_interop`.

    `fit` / `evaluate` take x = {"token_ids", "segment_ids", "padding_mask"};
    labels are ignored unless a pretraining loss is on (then they are the
    pipeline's {"mlm_ids", "mlm_weights", "sop_label"} and x also holds
    "mask_positions"). Metrics: `{name}_loss` for each enabled loss, the
    accuracies of the pretraining losses, and loss.

    Args:
        teacher: CompactBackbone, TextClassifier or AlbertPretrainer. Frozen.
        student: same kind as the teacher; the model being trained.
        stage: None, "general", "intermediate", "prediction" or
            "pretraining". "general" and "intermediate" turn on the
            objective's intermediate losses; "prediction" the prediction
            loss only; "pretraining" mlm + sop + soft_mlm and the
            objective's intermediate losses. `None`: the objective's
            intermediate losses, plus prediction when both models are
            classifiers (TinyBERT's full L_model).
        objective: which intermediate losses the stage turns on: "tinybert"
            (embedding, hidden, attention), "minilm" (attention_kl,
            value_relation), "minilmv2" (qq, kk, vv relations) or "none".
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
        relation_heads: int or None. MiniLMv2's number of relation heads; it
            must divide both widths. None: the teacher's head count when it
            divides the student's width, else a common divisor.
        relation_teacher_layer, relation_student_layer: int or None (the
            last layer). The layers MiniLM / MiniLMv2 compare (1-based).
        mlm_temperature: float. Temperature of the soft MLM targets.
        **kwargs: `{name}_weight` for any other loss of the table
            (attention_kl_weight, qq_relation_weight, mlm_weight, ...), and
            standard `keras.Model` arguments.

    Example:
    ```python
    teacher = CompactBackbone.from_preset("bert_base")  # pretrained weights
    student = CompactBackbone.from_preset("tinybert_4")
    distiller = Distiller(teacher, student, stage="general")
    distiller.compile(optimizer=keras.optimizers.AdamW(1e-4))
    distiller.fit(features_dataset, epochs=3)
    distiller.student.save("tinybert_4_general.keras")

    # Any head count: MiniLMv2's relations over 12 relation heads.
    student = CompactBackbone.from_preset("tinybert_4", num_heads=4)
    distiller = Distiller(teacher, student, stage="general",
                          objective="minilmv2", relation_heads=12)
    print(distiller.mapping_report())
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
        objective="tinybert",
        relation_heads=None,
        relation_teacher_layer=None,
        relation_student_layer=None,
        mlm_temperature=1.0,
        **kwargs,
    ):
        explicit = {
            "embedding": embedding_weight,
            "hidden": hidden_weight,
            "attention": attention_weight,
            "prediction": prediction_weight,
            "cosine": cosine_weight,
        }
        for name in LOSS_NAMES:
            if name not in explicit:
                explicit[name] = kwargs.pop(f"{name}_weight", None)
        unknown = [k for k in kwargs if k.endswith("_weight")]
        if unknown:
            raise ValueError(
                f"Unknown loss weight {unknown[0]}={kwargs[unknown[0]]!r}. The "
                f"losses are {', '.join(LOSS_NAMES)}; pass <name>_weight."
            )
        if teacher is student:
            raise ValueError("The teacher and the student must be different models.")
        kinds = (_kind(teacher, "teacher"), _kind(student, "student"))
        teacher_backbone = _backbone_of(teacher, "teacher")
        student_backbone = _backbone_of(student, "student")
        if stage is not None and stage not in STAGE_NAMES:
            raise ValueError(
                f"Unknown stage={stage!r}. Use 'general' (backbones, "
                "intermediate layers), 'intermediate' (classifiers, "
                "intermediate layers), 'prediction' (classifiers, logits), "
                "'pretraining' (AlbertPretrainers: MLM + SOP + soft MLM + "
                "intermediate) or None (set the loss weights yourself)."
            )
        if objective not in OBJECTIVES:
            raise ValueError(
                f"Unknown objective={objective!r}. Use one of "
                f"{', '.join(repr(o) for o in OBJECTIVES)}."
            )
        weights = {
            t.name: _check_weight(
                t.name,
                t.default_weight(stage, objective, kinds)
                if explicit[t.name] is None else explicit[t.name],
            )
            for t in LOSS_TABLE
        }
        if not any(weights.values()):
            raise ValueError(
                "Every loss weight is 0, so there is nothing to distil. Turn "
                "on at least one of "
                + ", ".join(f"{n}_weight" for n in LOSS_NAMES) + "."
            )
        if not temperature > 0:
            raise ValueError(
                f"temperature must be positive, got temperature={temperature!r}."
            )
        if not mlm_temperature > 0:
            raise ValueError("mlm_temperature must be positive, got "
                             f"mlm_temperature={mlm_temperature!r}.")
        enabled = [t for t in LOSS_TABLE if weights[t.name]]

        # === Up-front checks: features, layers, mismatches ===
        given = {"teacher": _model_features(teacher, kinds[0]),
                 "student": _model_features(student, kinds[1])}
        models = {"teacher": teacher, "student": student}
        for term in enabled:
            for role in term.needs_from:
                for feature in term.needs:
                    if feature not in given[role]:
                        raise ValueError(
                            f"The {term.name} loss needs {feature} from the "
                            f"{role}, which a {type(models[role]).__name__} cannot "
                            f"give: {_FEATURE_HINTS.get(feature, 'use another model')}"
                            f", or set {term.name}_weight=0."
                        )
        # Layer numbers and relation heads, before any weights are made.
        relation_layers = {
            "teacher": _layer_number(relation_teacher_layer,
                                     teacher_backbone.num_layers, "teacher",
                                     "relation_teacher_layer"),
            "student": _layer_number(relation_student_layer,
                                     student_backbone.num_layers, "student",
                                     "relation_student_layer"),
        }
        if relation_heads is not None and (
            isinstance(relation_heads, bool) or not isinstance(relation_heads, int)
            or relation_heads < 1
        ):
            raise ValueError("relation_heads must be a positive integer, got "
                             f"relation_heads={relation_heads!r}.")
        if relation_heads is None:
            relation_heads = teacher_backbone.num_heads
            if student_backbone.hidden_dim % relation_heads:
                relation_heads = loss_table._common_divisor(
                    teacher_backbone.hidden_dim, student_backbone.hidden_dim,
                    teacher_backbone.num_heads)
        for term in enabled:
            try:
                term.check(_CheckView(teacher, student, relation_heads))
            except ValueError as error:
                raise ValueError(
                    f"{error} [{term.name} takes: {term.mismatches}]") from None
        needs_mapping = any(t.uses_layer_mapping for t in enabled)
        if needs_mapping:
            mapping = make_layer_mapping(
                student_backbone.num_layers, teacher_backbone.num_layers, layer_mapping
            )
        else:
            try:
                mapping = make_layer_mapping(student_backbone.num_layers,
                                             teacher_backbone.num_layers, layer_mapping)
            except ValueError:
                mapping = None  # no layer-wise loss: a deeper student is fine
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

        wanted = {p for t in enabled for p in t.projections}
        self.embedding_projection = None
        self.hidden_projection = None
        if project and "embedding" in wanted:
            self.embedding_projection = projection("embedding_projection")
        if project and "hidden" in wanted:
            self.hidden_projection = projection("hidden_projection")

        # === Config ===
        self.stage = stage
        self.objective = objective
        # Tuples are kept as they are by Keras' attribute tracking.
        self.layer_mapping = (
            tuple(layer_mapping)
            if isinstance(layer_mapping, (list, tuple))
            else layer_mapping
        )
        self.teacher_layers = mapping
        self.distillation_weights = weights
        self.temperature = float(temperature)
        self.mlm_temperature = float(mlm_temperature)
        self.use_projection = use_projection
        self.mask_hidden_padding = bool(mask_hidden_padding)
        self.relation_heads = relation_heads
        self.relation_teacher_layer = relation_layers["teacher"]
        self.relation_student_layer = relation_layers["student"]
        self.enabled_losses = tuple(t.name for t in enabled)
        self._extra_metric_names = []
        for term in enabled:
            tracker = keras.metrics.Mean(name=f"{term.name}_loss")
            setattr(self, f"{term.name}_loss_tracker", tracker)
        for term in enabled:
            for name, metric in term.make_metrics().items():
                setattr(self, f"{name}_tracker", metric)
                self._extra_metric_names.append(name)
        self.built = True

    @property
    def teacher_backbone(self):
        """The teacher's backbone (the teacher itself for a backbone)."""
        return _backbone_of(self.teacher, "teacher")

    @property
    def student_backbone(self):
        """The student's backbone (the student itself for a backbone)."""
        return _backbone_of(self.student, "student")

    def extra_trackers(self):
        """Metrics other than the losses (e.g. mlm_accuracy), by name."""
        return {n: getattr(self, f"{n}_tracker") for n in self._extra_metric_names}

    def _terms(self):
        return [_TERMS[n] for n in self.enabled_losses]

    def _project(self, layer, x):
        return x if layer is None else layer(x)

    def _hidden_mask(self, context):
        return context.inputs["padding_mask"] if self.mask_hidden_padding else None

    def mapping_report(self):
        """Explains depth, width and head differences and what each loss takes.

        Example:
        ```python
        print(Distiller(teacher, student, objective="minilmv2").mapping_report())
        ```
        """
        return describe_mismatches(
            self.teacher_backbone, self.student_backbone, self.enabled_losses,
            teacher_layers=self.teacher_layers, relation_heads=self.relation_heads,
            relation_layers=(self.relation_teacher_layer, self.relation_student_layer),
            weights=self.distillation_weights)

    def _feature_requests(self, role):
        request = {"return_hidden_states": False, "return_attention_scores": False,
                   "return_qkv_layers": set()}
        for term in self._terms():
            for key, value in term.request(self, role).items():
                if key == "return_qkv_layers":
                    request[key] |= set(value)
                else:
                    request[key] = request[key] or value
        request["return_qkv_layers"] = sorted(request["return_qkv_layers"]) or None
        return request

    def call(self, inputs, training=False):
        """Runs teacher and student; returns the aligned tensors to compare.

        Returns a dict with, for the enabled losses, "student_embedding" /
        "teacher_embedding", "student_hidden" / "teacher_hidden" (lists of
        M), "student_attention" / "teacher_attention" (lists of M),
        "student_logits" / "teacher_logits", "student_last_hidden" /
        "teacher_last_hidden", and the MiniLM / MiniLMv2 / pretraining
        tensors of `loss_table`. Student tensors are already projected.
        """
        backbone_inputs = {k: inputs[k] for k in INPUT_KEYS}
        teacher = self.teacher_backbone.compute_features(
            backbone_inputs, training=False, **self._feature_requests("teacher"))
        teacher = keras.tree.map_structure(ops.stop_gradient, teacher)
        student = self.student_backbone.compute_features(
            backbone_inputs, training=training, **self._feature_requests("student"))
        context = FeatureContext(self, inputs, teacher, student, training)
        outputs = {}
        for term in self._terms():
            outputs.update(term.outputs(self, context))
        return outputs

    def compute_distillation_losses(self, outputs, padding_mask, labels=None):
        """The unweighted enabled losses, as a dict name -> float32 scalar.

        Under a tf.distribute strategy the masked terms (attention, cosine,
        MiniLM / MiniLMv2 relations, the MLM terms, and embedding / hidden
        with `mask_hidden_padding`) are this replica's share of the
        global-batch mean; elsewhere they are the plain means.

        Example:
        ```python
        terms = distiller.compute_distillation_losses(
            distiller(inputs), inputs["padding_mask"]
        )
        ```
        """
        context = FeatureContext(self, {"padding_mask": padding_mask}, None, None,
                                 False)
        context.labels = labels
        return {term.name: term.value(self, outputs, context) for term in self._terms()}

    def _loss_scale_policy(self):
        return self.student_backbone.dtype_policy

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        terms = self._terms()
        if y is None and any(LABELS in t.needs for t in terms):
            raise ValueError(
                "The pretraining losses need labels: pass (features, labels) with "
                'labels {"mlm_ids", "mlm_weights", "sop_label"}, as produced by '
                "keras_compact.data.make_pretraining_dataset.")
        values = self.compute_distillation_losses(y_pred, x["padding_mask"], labels=y)
        # Keras sums the replicas' gradients. Masked terms are each replica's
        # share of the global mean (their counts are all-reduced); the others
        # are per-replica means, which contribute 1 / replicas each, as Keras'
        # own losses do. Either way one device and N replicas on the same
        # global batch give the same loss, gradients and metrics.
        replicas = num_replicas()
        weights = self.distillation_weights
        context = FeatureContext(self, x, None, None, training)
        context.labels = y
        loss = 0.0
        for term in terms:
            value = values[term.name]
            is_share = term.is_global_share(self)
            loss += weights[term.name] * (value if is_share else value / replicas)
            getattr(self, f"{term.name}_loss_tracker").update_state(
                value * replicas if is_share else value)
            term.update_metrics(self, y_pred, context)
        return loss

    def get_config(self):
        return {
            "teacher": keras.layers.serialize(self.teacher),
            "student": keras.layers.serialize(self.student),
            "stage": self.stage,
            "objective": self.objective,
            "layer_mapping": (
                list(self.layer_mapping)
                if isinstance(self.layer_mapping, tuple)
                else self.layer_mapping
            ),
            **{f"{n}_weight": self.distillation_weights[n] for n in LOSS_NAMES},
            "temperature": self.temperature,
            "mlm_temperature": self.mlm_temperature,
            "use_projection": self.use_projection,
            "mask_hidden_padding": self.mask_hidden_padding,
            "relation_heads": self.relation_heads,
            "relation_teacher_layer": self.relation_teacher_layer,
            "relation_student_layer": self.relation_student_layer,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["teacher"] = keras.layers.deserialize(config["teacher"])
        config["student"] = keras.layers.deserialize(config["student"])
        return cls(**config)


class _CheckView:
    """What `DistillationTerm.check` reads, before the Distiller exists."""

    def __init__(self, teacher, student, relation_heads):
        self.teacher = teacher
        self.student = student
        self.teacher_backbone = _backbone_of(teacher, "teacher")
        self.student_backbone = _backbone_of(student, "student")
        self.relation_heads = relation_heads


def describe_mismatches(teacher_backbone, student_backbone, losses=LOSS_NAMES,
                        teacher_layers=None, relation_heads=None,
                        relation_layers=None, weights=None):
    """Text explaining teacher / student differences and which loss takes them.

    Args:
        teacher_backbone, student_backbone: the two backbones.
        losses: names of the losses to describe (default: all of the table).
        teacher_layers: the layer mapping g(1..M), if any.
        relation_heads: MiniLMv2's relation heads, if any.
        relation_layers: (teacher layer, student layer) of MiniLM / MiniLMv2.
        weights: optional {name: weight} to show.

    Returns:
        A multi-line string.

    Example:
    ```python
    print(describe_mismatches(teacher, student, ["hidden", "qq_relation"]))
    ```
    """
    t, s = teacher_backbone, student_backbone
    lines = [
        f"Teacher: {t.num_layers} layers, width {t.hidden_dim}, {t.num_heads} heads, "
        f"vocabulary {t.vocabulary_size}. Student: {s.num_layers} layers, width "
        f"{s.hidden_dim}, {s.num_heads} heads, vocabulary {s.vocabulary_size}.",
    ]
    if s.num_layers == t.num_layers:
        depth = "Depth: equal."
    else:
        depth = f"Depth: differs ({s.num_layers} student vs {t.num_layers} teacher layers)."
    if teacher_layers:
        depth += f" Layer-wise losses map student layer m to teacher layer " \
                 f"g(m) = {list(teacher_layers)}."
    if relation_layers:
        depth += (f" MiniLM/MiniLMv2 compare teacher layer {relation_layers[0]} with "
                  f"student layer {relation_layers[1]}.")
    lines.append(depth)
    if s.hidden_dim == t.hidden_dim:
        lines.append("Width: equal.")
    else:
        lines.append(f"Width: differs ({s.hidden_dim} vs {t.hidden_dim}): hidden, "
                     "embedding and cosine learn a projection; MiniLM and MiniLMv2 "
                     "compare relations, which have no width.")
    if s.num_heads == t.num_heads:
        lines.append("Heads: equal.")
    else:
        lines.append(f"Heads: differ ({s.num_heads} vs {t.num_heads}): attention, "
                     "attention_kl and value_relation cannot take it; MiniLMv2's "
                     f"qq/kk/vv relations can (relation_heads={relation_heads}).")
    lines.append("Losses:")
    for name in losses:
        weight = "" if weights is None else f" (weight {weights[name]:g})"
        lines.append(f"  {name}{weight}: {_TERMS[name].description}; takes "
                     f"{_TERMS[name].mismatches}.")
    return "\n".join(lines)


@keras.saving.register_keras_serializable(package="keras_compact")
class PretrainingDistiller(Distiller):
    """One model for general distillation with the student's own pretraining
    losses: MLM (n-gram masked) + SOP + soft MLM targets + intermediate losses.

    Teacher and student are `AlbertPretrainer`s (the teacher's MLM head gives
    the soft targets, so it must be a pretrained pretrainer, not a bare
    backbone). The train step computes, on batches of
    `keras_compact.data.make_pretraining_dataset`:

        mlm_weight * MLM(student) + sop_weight * SOP(student)
        + soft_mlm_weight * softCE(teacher MLM / t, student MLM / t)
        + the objective's intermediate losses (TinyBERT, MiniLM or MiniLMv2)

    DistilBERT's recipe with SOP added for ALBERT-style students. The MLM and
    soft-MLM terms are means over the real masked positions of the global
    batch, like `AlbertPretrainer`'s MLM loss, so `fit` under tf.distribute
    gives the same loss as one device. Checkpointing and resume work as for
    `AlbertPretrainer` (see `keras_compact.training.pretraining_distillation`).
    After training, `distiller.student` is a plain `AlbertPretrainer`.

    Args:
        teacher: AlbertPretrainer (pretrained; frozen).
        student: AlbertPretrainer with the same vocabulary.
        objective: intermediate losses: "tinybert", "minilm", "minilmv2" or
            "none".
        mlm_weight, sop_weight, soft_mlm_weight: float or None (1.0).
        mlm_temperature: float. Temperature of the soft MLM targets.
        **kwargs: any other `Distiller` argument (weights of the intermediate
            losses, relation_heads, layer_mapping, ...).

    Example:
    ```python
    teacher = keras.saving.load_model("runs/teacher/pretrainer.keras")
    student = AlbertPretrainer(CompactBackbone(**small_config))
    distiller = PretrainingDistiller(teacher, student, objective="minilmv2",
                                     relation_heads=8, mlm_temperature=2.0)
    distiller.compile(optimizer=make_lamb_optimizer(64, total_steps=10_000))
    distiller.fit(make_pretraining_dataset(...), steps_per_epoch=1000)
    distiller.student.backbone.save("student_backbone.keras")
    ```
    """

    def __init__(self, teacher, student, objective="tinybert", stage="pretraining",
                 **kwargs):
        for role, model in (("teacher", teacher), ("student", student)):
            if not isinstance(model, AlbertPretrainer):
                raise ValueError(
                    f"PretrainingDistiller needs AlbertPretrainer teacher and "
                    f"student (MLM and SOP heads); the {role} is a "
                    f"{type(model).__name__}. Wrap a backbone with "
                    "AlbertPretrainer(backbone), or use Distiller for backbones.")
        super().__init__(teacher, student, stage=stage, objective=objective, **kwargs)


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
