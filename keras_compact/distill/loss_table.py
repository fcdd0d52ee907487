"""The Distiller's loss table: one object per distillation loss.

Each entry says what it needs from the two models (hidden states, attention
scores, queries / keys / values of a layer, logits, MLM outputs, labels), how
its value reduces over tf.distribute replicas, its default weight in each
stage and objective, which teacher / student mismatches it can take, and how
to compute it. `Distiller` iterates over `LOSS_TABLE`; adding a loss is
adding one entry (and, for a new kind of feature, teaching the model to give
it).

Terms receive a `FeatureContext`: the teacher's and the student's
`compute_features` dicts, the inputs, the labels and a cache, so two terms
that need the same tensor (e.g. the student's MLM logits) compute it once.

Why it is one module over 500 lines: it is one table. Every entry is read
beside the others (defaults per stage and objective, shared features), and
adding a loss is adding one entry here (docs/how-to/add-distillation-loss.md).
"""

from keras import ops

from keras_compact.distill import losses

# What each kind of model can give; a backbone lists its own features in
# `DISTILLATION_FEATURES` (see `CompactBackbone`).
LOGITS = "logits"  # TextClassifier.compute_logits
MLM = "mlm"  # AlbertPretrainer's MLM and sentence heads
LABELS = "labels"  # y from the pretraining pipeline


class FeatureContext:
    """What a term reads: features, inputs, labels, cached tensors."""

    def __init__(self, distiller, inputs, teacher, student, training):
        self.distiller = distiller
        self.inputs = inputs
        self.teacher = teacher
        self.student = student
        self.training = training
        self.cache = {}

    def cached(self, key, compute):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


class DistillationTerm:
    """One loss of the table. Subclasses set the class attributes and
    implement `outputs` and `value`.

    Attributes:
        name: key of the loss: `{name}_weight` argument, `{name}_loss` metric.
        objective: the family whose intermediate losses it belongs to
            ("tinybert", "minilm", "minilmv2"), or None.
        needs: features it needs from both models (backbone features such as
            "hidden_states", "attention_scores", "qkv"; or LOGITS, MLM,
            LABELS).
        mismatches: what teacher / student differences it takes (shown in
            `Distiller.mapping_report` and in errors).
        projections: Distiller projections it uses ("embedding", "hidden").
    """

    name = None
    objective = None
    needs = ()
    mismatches = ""
    projections = ()
    description = ""

    def default_weight(self, stage, objective, kinds):
        """Weight when the user gives none."""
        if self.objective is None:
            return 0.0
        intermediate = stage in (None, "general", "intermediate", "pretraining")
        return 1.0 if intermediate and objective == self.objective else 0.0

    def check(self, distiller):
        """Raises ValueError when the models cannot be compared this way."""

    def request(self, distiller, role):
        """compute_features keyword arguments this term needs from `role`."""
        return {}

    def outputs(self, distiller, context):
        """The aligned tensors to compare, a dict with unique keys."""
        raise NotImplementedError

    def value(self, distiller, outputs, context):
        """The unweighted loss: a float32 scalar."""
        raise NotImplementedError

    def is_global_share(self, distiller):
        """True when `value` is already this replica's share of a
        global-batch mean (its count is all-reduced); False for a
        per-replica mean, which the Distiller divides by the replicas."""
        return False

    def update_metrics(self, distiller, outputs, context):
        """Updates extra metrics (e.g. accuracies); none by default."""

    def make_metrics(self):
        """Extra metrics, {name: keras.metrics.Metric}; none by default."""
        return {}

    # Which models the `needs` apply to.
    needs_from = ("teacher", "student")
    # Whether it compares student layer m with teacher layer g(m).
    uses_layer_mapping = False


def _share():
    from keras_compact.models.replicas import sum_over_replicas

    return {"count_reduction": sum_over_replicas}


# === TinyBERT and DistilBERT ===


class EmbeddingTerm(DistillationTerm):
    name = "embedding"
    objective = "tinybert"
    needs = ("hidden_states",)
    mismatches = "any depth and width (learned projection W_e); any head count"
    projections = ("embedding",)
    description = "MSE(E^S W_e, E^T) on the embedding outputs"

    def request(self, distiller, role):
        return {"return_hidden_states": True}

    def outputs(self, d, c):
        return {
            "student_embedding": d._project(
                d.embedding_projection, c.student["hidden_states"][0]),
            "teacher_embedding": c.teacher["hidden_states"][0],
        }

    def value(self, d, o, c):
        return losses.embedding_loss(o["student_embedding"], o["teacher_embedding"],
                                     d._hidden_mask(c), **_share())

    def is_global_share(self, d):
        return d.mask_hidden_padding


class HiddenTerm(DistillationTerm):
    name = "hidden"
    objective = "tinybert"
    needs = ("hidden_states",)
    mismatches = ("any depth (layer mapping) and width (learned projection W_h); "
                  "any head count")
    projections = ("hidden",)
    uses_layer_mapping = True
    description = "sum over m of MSE(H^S_m W_h, H^T_g(m))"

    def request(self, distiller, role):
        return {"return_hidden_states": True}

    def outputs(self, d, c):
        return {
            "student_hidden": [d._project(d.hidden_projection, h)
                               for h in c.student["hidden_states"][1:]],
            "teacher_hidden": [c.teacher["hidden_states"][n] for n in d.teacher_layers],
        }

    def value(self, d, o, c):
        return sum(losses.hidden_loss(s, t, d._hidden_mask(c), **_share())
                   for s, t in zip(o["student_hidden"], o["teacher_hidden"]))

    def is_global_share(self, d):
        return d.mask_hidden_padding


class AttentionTerm(DistillationTerm):
    name = "attention"
    objective = "tinybert"
    needs = ("attention_scores",)
    mismatches = "any depth (layer mapping) and width; NOT head count (heads 1:1)"
    uses_layer_mapping = True
    description = "sum over m of the head-mean MSE of pre-softmax scores"

    def check(self, d):
        if d.teacher_backbone.num_heads != d.student_backbone.num_heads:
            raise ValueError(
                "The attention loss compares heads one to one, but the "
                f"teacher has num_heads={d.teacher_backbone.num_heads} and the "
                f"student num_heads={d.student_backbone.num_heads}. Set "
                "attention_weight=0 or match num_heads (or use "
                "objective='minilmv2', whose relations take any head count).")

    def request(self, distiller, role):
        return {"return_attention_scores": True}

    def outputs(self, d, c):
        return {
            "student_attention": list(c.student["attention_scores"]),
            "teacher_attention": [c.teacher["attention_scores"][n - 1]
                                  for n in d.teacher_layers],
        }

    def value(self, d, o, c):
        mask = c.inputs["padding_mask"]
        return sum(losses.attention_loss(s, t, mask, **_share())
                   for s, t in zip(o["student_attention"], o["teacher_attention"]))

    def is_global_share(self, d):
        return True


class PredictionTerm(DistillationTerm):
    name = "prediction"
    needs = (LOGITS,)
    mismatches = "anything but the number of classes"
    description = ("soft cross-entropy of the logits at a temperature (regressors, one "
                   "output: mean squared error of the scores)")

    def default_weight(self, stage, objective, kinds):
        if stage == "prediction":
            return 1.0
        return 1.0 if stage is None and kinds == ("classifier", "classifier") else 0.0

    def check(self, d):
        t, s = d.teacher, d.student
        if t.num_classes != s.num_classes:
            raise ValueError(
                f"Teacher and student classify into different numbers of "
                f"classes ({t.num_classes} vs {s.num_classes}); give the "
                "student the teacher's num_classes.")

    def outputs(self, d, c):
        if getattr(d, "cached_teacher_logits", False):  # computed once, in x
            teacher = ops.cast(c.inputs["teacher_logits"], "float32")
        else:
            teacher = d.teacher.compute_logits(c.teacher["pooled_output"], training=False)
        return {
            "student_logits": d.student.compute_logits(
                c.student["pooled_output"], training=c.training),
            "teacher_logits": ops.stop_gradient(teacher),
        }

    def value(self, d, o, c):
        if o["student_logits"].shape[-1] == 1:
            # A regressor (one output, e.g. STS-B): a softmax over one logit
            # is constant, so match the teacher's score by MSE instead.
            difference = (ops.cast(o["student_logits"], "float32")
                          - ops.cast(o["teacher_logits"], "float32"))
            return ops.mean(ops.square(difference))
        return losses.prediction_loss(o["student_logits"], o["teacher_logits"],
                                      d.temperature)


class CosineTerm(DistillationTerm):
    name = "cosine"
    needs = ("hidden_states",)
    mismatches = "any depth and width (learned projection W_h); any head count"
    projections = ("hidden",)
    uses_layer_mapping = True
    description = "DistilBERT's 1 - cos(H^S_M W_h, H^T_g(M)) over real tokens"

    def request(self, distiller, role):
        return {"return_hidden_states": True}

    def outputs(self, d, c):
        return {
            "student_last_hidden": d._project(
                d.hidden_projection, c.student["hidden_states"][-1]),
            "teacher_last_hidden": c.teacher["hidden_states"][d.teacher_layers[-1]],
        }

    def value(self, d, o, c):
        return losses.cosine_hidden_loss(
            o["student_last_hidden"], o["teacher_last_hidden"],
            c.inputs["padding_mask"], **_share())

    def is_global_share(self, d):
        return True


# === MiniLM (last layer) and MiniLMv2 (relation heads) ===


class _QKVTerm(DistillationTerm):
    """Reads queries / keys / values of one teacher and one student layer."""

    needs = ("qkv",)

    def request(self, d, role):
        layer = d.relation_teacher_layer if role == "teacher" else \
            d.relation_student_layer
        return {"return_qkv_layers": {layer}}

    def _pair(self, d, c):
        return (c.student["qkv"][d.relation_student_layer],
                c.teacher["qkv"][d.relation_teacher_layer])

    def is_global_share(self, d):
        return True


class _MiniLMTerm(_QKVTerm):
    """MiniLM (v1) terms: compare the chosen layers' heads one to one."""

    objective = "minilm"
    mismatches = ("any depth (one chosen layer pair) and width; NOT head count "
                  "(heads 1:1)")

    def check(self, d):
        _check_equal_heads(d, self.name)


class AttentionDistributionTerm(_MiniLMTerm):
    name = "attention_kl"
    description = "MiniLM: KL(A^T || A^S) of the attention softmax"

    def outputs(self, d, c):
        s, t = self._pair(d, c)
        return {"student_attention_qk": (s["queries"], s["keys"]),
                "teacher_attention_qk": (t["queries"], t["keys"])}

    def value(self, d, o, c):
        (sq, sk), (tq, tk) = o["student_attention_qk"], o["teacher_attention_qk"]
        return losses.attention_distribution_loss(
            sq, sk, tq, tk, c.inputs["padding_mask"], **_share())


class ValueRelationTerm(_MiniLMTerm):
    name = "value_relation"
    description = "MiniLM: KL of softmax(V V^T / sqrt(d_k)) per head"

    def outputs(self, d, c):
        s, t = self._pair(d, c)
        return {"student_values": s["values"], "teacher_values": t["values"]}

    def value(self, d, o, c):
        return losses.value_relation_loss(
            o["student_values"], o["teacher_values"], c.inputs["padding_mask"],
            **_share())


class RelationTerm(_QKVTerm):
    """MiniLMv2: KL of softmax(X X^T / sqrt(d_r)) over re-split heads."""

    objective = "minilmv2"
    mismatches = ("any depth (one chosen layer pair), width and head count "
                  "(relation_heads must divide both widths)")
    key = None  # "queries", "keys" or "values"

    def check(self, d):
        r = d.relation_heads
        widths = {"teacher": d.teacher_backbone.hidden_dim,
                  "student": d.student_backbone.hidden_dim}
        bad = [f"the {role}'s {w}" for role, w in widths.items() if w % r]
        if bad:
            raise ValueError(
                f"relation_heads={r} must divide both widths, but it does not "
                f"divide {' nor '.join(bad)} (teacher hidden_dim="
                f"{widths['teacher']}, student hidden_dim={widths['student']}). "
                "Pick a common divisor of the two widths, e.g. "
                f"relation_heads={_common_divisor(*widths.values(), d.teacher_backbone.num_heads)}.")

    def outputs(self, d, c):
        s, t = self._pair(d, c)
        return {f"student_{self.name}": s[self.key], f"teacher_{self.name}": t[self.key]}

    def value(self, d, o, c):
        return losses.relation_loss(
            o[f"student_{self.name}"], o[f"teacher_{self.name}"], d.relation_heads,
            c.inputs["padding_mask"], **_share())


class QueryRelationTerm(RelationTerm):
    name = "qq_relation"
    key = "queries"
    description = "MiniLMv2: query-query relation KL"


class KeyRelationTerm(RelationTerm):
    name = "kk_relation"
    key = "keys"
    description = "MiniLMv2: key-key relation KL"


class ValueValueRelationTerm(RelationTerm):
    name = "vv_relation"
    key = "values"
    description = "MiniLMv2: value-value relation KL"


def _check_equal_heads(d, name):
    t, s = d.teacher_backbone.num_heads, d.student_backbone.num_heads
    if t != s:
        raise ValueError(
            f"The {name} loss (MiniLM) compares heads one to one, but the teacher "
            f"has num_heads={t} and the student num_heads={s}. Set {name}_weight=0 "
            "and use objective='minilmv2' (qq/kk/vv relations with "
            "relation_heads, any head count), or match num_heads.")


def _common_divisor(a, b, cap):
    """The largest common divisor of widths a and b that is at most `cap`."""
    import math

    g = math.gcd(a, b)
    return max(r for r in range(1, min(g, cap) + 1) if g % r == 0)


# === Pretraining (AlbertPretrainer teacher and student) ===


def _student_mlm(d, c):
    return c.cached("student_mlm", lambda: d.student.mlm_head(
        c.student["sequence_output"], mask_positions=c.inputs["mask_positions"]))


class _PretrainingTerm(DistillationTerm):
    """Pretraining terms: on the MLM batch and its labels, on by default in
    the pretraining stage only."""

    needs = (MLM, LABELS)

    def default_weight(self, stage, objective, kinds):
        return 1.0 if stage == "pretraining" else 0.0


class _StudentLossTerm(_PretrainingTerm):
    """The student's own pretraining losses (no teacher output needed)."""

    mismatches = "anything (the student's own loss on the labels)"
    needs_from = ("student",)


class MaskedLMTerm(_StudentLossTerm):
    name = "mlm"
    description = "the student's MLM loss on the n-gram-masked tokens"

    def outputs(self, d, c):
        return {"student_mlm_logits": _student_mlm(d, c)}

    def value(self, d, o, c):
        logits = ops.cast(o["student_mlm_logits"], "float32")
        ids = ops.cast(c.labels["mlm_ids"], "int32")
        weights = ops.cast(c.labels["mlm_weights"], "float32")
        import keras

        per_token = keras.losses.sparse_categorical_crossentropy(
            ids, logits, from_logits=True)
        return ops.sum(per_token * weights) / losses._reduce(
            ops.sum(weights), _share()["count_reduction"])

    def is_global_share(self, d):
        return True

    def make_metrics(self):
        import keras

        return {"mlm_accuracy": keras.metrics.Mean(name="mlm_accuracy")}

    def update_metrics(self, d, o, c):
        ids = ops.cast(c.labels["mlm_ids"], "int32")
        correct = ops.cast(ops.equal(ops.argmax(o["student_mlm_logits"], axis=-1), ids),
                           "float32")
        d.extra_trackers()["mlm_accuracy"].update_state(
            correct, sample_weight=ops.cast(c.labels["mlm_weights"], "float32"))


class SentenceOrderTerm(_StudentLossTerm):
    name = "sop"
    description = "the student's sentence-order (or next-sentence) loss"

    def outputs(self, d, c):
        return {"student_sop_logits": d.student.sentence_head(c.student["pooled_output"])}

    def value(self, d, o, c):
        import keras

        return ops.mean(keras.losses.sparse_categorical_crossentropy(
            ops.cast(c.labels["sop_label"], "int32"),
            ops.cast(o["student_sop_logits"], "float32"), from_logits=True))

    def make_metrics(self):
        import keras

        return {"sop_accuracy": keras.metrics.SparseCategoricalAccuracy(
            name="sop_accuracy")}

    def update_metrics(self, d, o, c):
        d.extra_trackers()["sop_accuracy"].update_state(
            ops.cast(c.labels["sop_label"], "int32"),
            ops.cast(o["student_sop_logits"], "float32"))


class SoftMaskedLMTerm(_PretrainingTerm):
    name = "soft_mlm"
    mismatches = ("any depth, width and head count; NOT vocabulary (the teacher's "
                  "and student's MLM outputs are compared token by token)")
    description = "soft cross-entropy against the teacher's MLM at masked positions"

    def check(self, d):
        t = d.teacher_backbone.vocabulary_size
        s = d.student_backbone.vocabulary_size
        if t != s:
            raise ValueError(
                f"soft_mlm compares MLM distributions token by token, but the "
                f"teacher has vocabulary_size={t} and the student {s}. Use the "
                "teacher's vocabulary for the student, or set soft_mlm_weight=0.")

    def outputs(self, d, c):
        teacher = ops.stop_gradient(d.teacher.mlm_head(
            c.teacher["sequence_output"], mask_positions=c.inputs["mask_positions"]))
        return {"student_mlm_logits": _student_mlm(d, c), "teacher_mlm_logits": teacher}

    def value(self, d, o, c):
        return losses.soft_target_loss(
            o["student_mlm_logits"], o["teacher_mlm_logits"], d.mlm_temperature,
            c.labels["mlm_weights"], **_share())

    def is_global_share(self, d):
        return True


LOSS_TABLE = (
    EmbeddingTerm(),
    HiddenTerm(),
    AttentionTerm(),
    PredictionTerm(),
    CosineTerm(),
    AttentionDistributionTerm(),
    ValueRelationTerm(),
    QueryRelationTerm(),
    KeyRelationTerm(),
    ValueValueRelationTerm(),
    MaskedLMTerm(),
    SentenceOrderTerm(),
    SoftMaskedLMTerm(),
)
LOSS_NAMES = tuple(term.name for term in LOSS_TABLE)
OBJECTIVES = ("tinybert", "minilm", "minilmv2", "none")
