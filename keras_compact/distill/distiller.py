"""`Distiller`: TinyBERT, MiniLM and MiniLMv2 distillation, driven by a loss table.

What the constructor resolves and checks (loss weights, features, layers,
projections) is in `keras_compact.distill.distiller_setup`; DistilBERT's
recipe is in `keras_compact.distill.distilbert`.
"""

import keras
from keras import ops

from keras_compact.distill import distiller_setup as setup
from keras_compact.distill.distiller_setup import STAGE_NAMES
from keras_compact.distill.distiller_setup import backbone_of
from keras_compact.distill.distiller_setup import describe_mismatches
from keras_compact.distill.distiller_setup import model_kind
from keras_compact.distill.loss_table import LABELS
from keras_compact.distill.loss_table import LOSS_NAMES
from keras_compact.distill.loss_table import LOSS_TABLE
from keras_compact.distill.loss_table import FeatureContext
from keras_compact.models.model_mixins import LossScaledCompileMixin
from keras_compact.models.model_mixins import MultiWorkerFitMixin
from keras_compact.models.pretrainer import AlbertPretrainer
from keras_compact.models.replicas import num_replicas

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")
# Default weights per stage (TinyBERT objective); see loss_table for others.
STAGES = {
    stage: {t.name: t.default_weight(stage, "tinybert", ("backbone", "backbone"))
            for t in LOSS_TABLE}
    for stage in STAGE_NAMES
}
_TERMS = {t.name: t for t in LOSS_TABLE}


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
        cached_teacher_logits: bool. x also holds "teacher_logits" (the
            teacher's logits, computed once, e.g. by
            `keras_compact.training.teacher_cache`): the prediction loss
            reads them, and the teacher does not run when no other loss
            needs it. Needs the prediction loss on.
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
        cached_teacher_logits=False,
        **kwargs,
    ):
        if teacher is student:
            raise ValueError("The teacher and the student must be different models.")
        kinds = (model_kind(teacher, "teacher"), model_kind(student, "student"))
        teacher_backbone = backbone_of(teacher, "teacher")
        student_backbone = backbone_of(student, "student")
        # 1. Term resolution: which losses, with which weights.
        weights = setup.resolve_weights(
            {"embedding": embedding_weight, "hidden": hidden_weight,
             "attention": attention_weight, "prediction": prediction_weight,
             "cosine": cosine_weight},
            kwargs, stage, objective, kinds)
        setup.check_temperatures(temperature, mlm_temperature)
        enabled = [t for t in LOSS_TABLE if weights[t.name]]
        setup.check_cached_logits(cached_teacher_logits, weights)
        # 2. Feature checks, before any weights are made.
        setup.check_features(enabled, teacher, student, kinds)
        relation_layers, relation_heads = setup.resolve_relations(
            enabled, teacher, student, relation_heads, relation_teacher_layer,
            relation_student_layer)
        mapping = setup.resolve_mapping(enabled, student_backbone.num_layers,
                                        teacher_backbone.num_layers, layer_mapping)
        project = setup.needs_projection(use_projection, student_backbone.hidden_dim,
                                         teacher_backbone.hidden_dim)

        super().__init__(**kwargs)
        # Frozen: its weights are non-trainable variables, which no
        # optimizer touches on any backend.
        teacher.trainable = False
        self.teacher = teacher
        self.student = student
        # 3. Projections (owned here so the student stays clean).
        self.embedding_projection, self.hidden_projection = setup.make_projections(
            enabled, project, student_backbone, teacher_backbone.hidden_dim)

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
        self.cached_teacher_logits = bool(cached_teacher_logits)
        self.use_projection = use_projection
        self.mask_hidden_padding = bool(mask_hidden_padding)
        self.relation_heads = relation_heads
        self.relation_teacher_layer, self.relation_student_layer = relation_layers
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
        return backbone_of(self.teacher, "teacher")

    @property
    def student_backbone(self):
        """The student's backbone (the student itself for a backbone)."""
        return backbone_of(self.student, "student")

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
        if self.cached_teacher_logits and "teacher_logits" not in inputs:
            raise ValueError(
                "cached_teacher_logits=True: x must hold 'teacher_logits' (the "
                "teacher's logits for the batch) beside the token inputs.")
        teacher = None
        if not (self.cached_teacher_logits and self.enabled_losses == ("prediction",)):
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
            "cached_teacher_logits": self.cached_teacher_logits,
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
