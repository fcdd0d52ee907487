"""What `Distiller.__init__` resolves before it builds anything.

Three steps, each a function, so the constructor reads as their sequence:

1. term resolution (`resolve_weights`): the stage / objective defaults and
   the user's `{name}_weight` arguments give each loss of
   `keras_compact.distill.loss_table.LOSS_TABLE` its weight;
2. feature checks (`check_features`, `resolve_relations`, `resolve_mapping`):
   every enabled loss can get what it needs from both models, layer numbers
   and relation heads are in range, the layer mapping fits;
3. projections (`needs_projection`, `make_projections`): the W_e / W_h Dense
   layers the Distiller owns when the widths differ.

Every check raises a one-line ValueError naming the argument, before any
weight is made.
"""

import keras

from keras_compact.distill import loss_table
from keras_compact.distill.layer_mapping import layer_mapping as make_layer_mapping
from keras_compact.distill.loss_table import LABELS
from keras_compact.distill.loss_table import LOGITS
from keras_compact.distill.loss_table import LOSS_NAMES
from keras_compact.distill.loss_table import LOSS_TABLE
from keras_compact.distill.loss_table import MLM
from keras_compact.distill.loss_table import OBJECTIVES
from keras_compact.layers.initializers import truncated_normal
from keras_compact.models.classifier import TextClassifier
from keras_compact.models.pretrainer import AlbertPretrainer

STAGE_NAMES = ("general", "intermediate", "prediction", "pretraining")

_FEATURE_HINTS = {
    LOGITS: "pass TextClassifier teacher and student",
    MLM: "pass AlbertPretrainer teacher and student (PretrainingDistiller)",
    "qkv": "use a keras_compact CompactBackbone, whose attention returns "
           "queries/keys/values on request",
    "attention_scores": "use a keras_compact CompactBackbone",
    "hidden_states": "use a keras_compact CompactBackbone",
}


def model_kind(model, role):
    """"classifier", "pretrainer" or "backbone"; raises for anything else."""
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


def backbone_of(model, role):
    """The model's backbone (the model itself for a backbone)."""
    if model_kind(model, role) == "backbone":
        return model
    return model.backbone


def _check_weight(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(
            f"`{name}_weight` must be a non-negative number, got "
            f"{name}_weight={value!r}. Use 0 to turn the loss off."
        )
    return float(value)


# === 1. Term resolution ===


def resolve_weights(explicit, extra, stage, objective, kinds):
    """Each loss's weight: the user's, else the stage's and objective's default.

    Args:
        explicit: {name: weight or None} for the named weight arguments.
        extra: the constructor's remaining **kwargs; `{name}_weight` entries
            are popped from it (an unknown `*_weight` raises).
        stage, objective: as `Distiller` takes them (checked here).
        kinds: (teacher kind, student kind) from `model_kind`.

    Returns:
        {name: float} for every loss of the table.
    """
    explicit = dict(explicit)
    for name in LOSS_NAMES:
        if name not in explicit:
            explicit[name] = extra.pop(f"{name}_weight", None)
    unknown = [k for k in extra if k.endswith("_weight")]
    if unknown:
        raise ValueError(
            f"Unknown loss weight {unknown[0]}={extra[unknown[0]]!r}. The "
            f"losses are {', '.join(LOSS_NAMES)}; pass <name>_weight."
        )
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
    return weights


def check_temperatures(temperature, mlm_temperature):
    """Both softmax temperatures must be positive."""
    if not temperature > 0:
        raise ValueError(
            f"temperature must be positive, got temperature={temperature!r}."
        )
    if not mlm_temperature > 0:
        raise ValueError("mlm_temperature must be positive, got "
                         f"mlm_temperature={mlm_temperature!r}.")


def check_cached_logits(cached_teacher_logits, weights):
    """Cached teacher logits only feed the prediction loss."""
    if cached_teacher_logits and not weights["prediction"]:
        raise ValueError("cached_teacher_logits=True feeds the prediction loss, which is "
                         "off; turn prediction_weight on or pass "
                         "cached_teacher_logits=False.")


# === 2. Feature checks ===


def _model_features(model, kind):
    """What a model can give to a loss (backbone features, logits, MLM)."""
    backbone = backbone_of(model, "model")
    given = set(getattr(backbone, "DISTILLATION_FEATURES",
                        ("hidden_states", "attention_scores", "pooled_output")))
    if kind == "classifier":
        given.add(LOGITS)
    if kind == "pretrainer":
        given.add(MLM)
    given.add(LABELS)
    return given


def check_features(enabled, teacher, student, kinds):
    """Every enabled loss can get the features it needs from both models."""
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


class CheckView:
    """What `DistillationTerm.check` reads, before the Distiller exists."""

    def __init__(self, teacher, student, relation_heads):
        self.teacher = teacher
        self.student = student
        self.teacher_backbone = backbone_of(teacher, "teacher")
        self.student_backbone = backbone_of(student, "student")
        self.relation_heads = relation_heads


def resolve_relations(enabled, teacher, student, relation_heads,
                      relation_teacher_layer, relation_student_layer):
    """MiniLM / MiniLMv2 layers and relation heads, checked; then each enabled
    term's own mismatch check. Returns ((teacher layer, student layer), heads)."""
    t, s = backbone_of(teacher, "teacher"), backbone_of(student, "student")
    layers = (
        _layer_number(relation_teacher_layer, t.num_layers, "teacher",
                      "relation_teacher_layer"),
        _layer_number(relation_student_layer, s.num_layers, "student",
                      "relation_student_layer"),
    )
    if relation_heads is not None and (
        isinstance(relation_heads, bool) or not isinstance(relation_heads, int)
        or relation_heads < 1
    ):
        raise ValueError("relation_heads must be a positive integer, got "
                         f"relation_heads={relation_heads!r}.")
    if relation_heads is None:
        relation_heads = t.num_heads
        if s.hidden_dim % relation_heads:
            relation_heads = loss_table._common_divisor(t.hidden_dim, s.hidden_dim,
                                                        t.num_heads)
    for term in enabled:
        try:
            term.check(CheckView(teacher, student, relation_heads))
        except ValueError as error:
            raise ValueError(
                f"{error} [{term.name} takes: {term.mismatches}]") from None
    return layers, relation_heads


def resolve_mapping(enabled, student_layers, teacher_layers, layer_mapping):
    """g(1..M), or None when no enabled loss is layer-wise and it does not fit
    (a deeper student is then fine)."""
    try:
        return make_layer_mapping(student_layers, teacher_layers, layer_mapping)
    except ValueError:
        if any(t.uses_layer_mapping for t in enabled):
            raise
        return None


# === 3. Projections ===


def needs_projection(use_projection, student_width, teacher_width):
    """Whether W_e / W_h are learned (None: only when the widths differ)."""
    if use_projection is None:
        return student_width != teacher_width
    if not use_projection and student_width != teacher_width:
        raise ValueError(
            f"use_projection=False needs equal widths, but the student has "
            f"hidden_dim={student_width} and the teacher "
            f"hidden_dim={teacher_width}. Use use_projection=None or True."
        )
    return bool(use_projection)


def make_projections(enabled, project, student_backbone, teacher_width):
    """(embedding_projection, hidden_projection): built Dense layers from the
    student's width to the teacher's, or None where unused."""
    if not project:
        return None, None
    policy = student_backbone.dtype_policy
    init = truncated_normal(getattr(student_backbone, "initializer_range", 0.02))

    def projection(name):
        layer = keras.layers.Dense(
            teacher_width, kernel_initializer=init, dtype=policy, name=name
        )
        layer.build((None, None, student_backbone.hidden_dim))
        return layer

    wanted = {p for t in enabled for p in t.projections}
    return tuple(projection(f"{name}_projection") if name in wanted else None
                 for name in ("embedding", "hidden"))


# === The mapping report ===

_TERMS = {t.name: t for t in LOSS_TABLE}


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
