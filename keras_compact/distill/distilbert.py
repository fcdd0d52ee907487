"""DistilBERT's recipe: a half-depth student copied from the teacher, and a
`Distiller` with soft targets + the cosine loss (Sanh et al., 2019)."""

from keras_compact.distill.distiller import Distiller
from keras_compact.distill.student_init import init_student_from_teacher
from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.classifier import TextClassifier


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
    student_layers = (teacher_backbone.num_layers + 1) // 2
    config = teacher_backbone.get_config()
    config.update(
        num_layers=student_layers,
        name=name or f"{teacher_backbone.name}_distilbert_student",
        trainable=True,
    )
    student = CompactBackbone.from_config(config)
    init_student_from_teacher(student, teacher_backbone, "every-other")
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
