"""Students that start from their teacher's weights (`student_init=` specs).

Specs (the `distill --student-init` values):

- "random": the student's own random initialisation (the default).
- "layers:I,J,...": a student of the teacher's width (hidden, heads,
  intermediate) starts as a copy of the listed teacher layers (0-based), one
  per student layer, or one per parameter group for a student with shared
  layers (ALBERT: "layers:5" copies teacher layer 5 into the one shared
  block). The embeddings and the pooler are copied where their shapes match.
  DistilBERT starts its student this way with one teacher layer in two.
- "every-other": "layers:0,2,4,..." for as many layers (or groups) as the
  student has.
- "svd": an ALBERT factorized table from the teacher's token table
  T (V x H) by truncated SVD, T ~ U_E S_E V_E^T: the student's V x E table is
  U_E S_E and its E -> H projection V_E^T (scaled so the student's E-wide
  layer norm gives the teacher's H-wide output size, with the teacher's
  layer-norm scale and shift folded in); the position and segment tables are
  projected on V_E. Needs the student's hidden width equal to the teacher's.
  When the blocks have the teacher's widths too, they start as "every-other".
- "pca": the student's token, position and segment tables start as the
  teacher's projected on their top-E principal directions (any student
  width; the E -> H projection and the blocks stay random).

Every spec is checked against both backbones before any weight changes: a
bad one is a one-line ValueError naming the value and the fix. Weights are
read and written as numpy arrays through Keras, so this runs on every
backend.
"""

import numpy as np

SPECS = ("random", "layers:I,J,...", "every-other", "svd", "pca")


def parse_student_init(spec):
    """(kind, teacher layers or None) of a spec; kind is one of "random",
    "layers", "every-other", "svd", "pca"."""
    if spec is None:
        return "random", None
    if not isinstance(spec, str):
        raise ValueError(f"student_init={spec!r} is not a string; use one of "
                         f"{', '.join(SPECS)}.")
    value = spec.strip()
    if value in ("random", "every-other", "svd", "pca"):
        return value, None
    if value.startswith("layers:"):
        try:
            layers = [int(part) for part in value[len("layers:"):].split(",")]
        except ValueError:
            raise ValueError(f"student_init={spec!r}: the layers must be 0-based teacher "
                             "layer numbers separated by commas, e.g. layers:0,2,4."
                             ) from None
        return "layers", layers
    raise ValueError(f"Unknown student_init={spec!r}; use one of {', '.join(SPECS)} "
                     "(e.g. layers:0,2,4).")


def _array(variable):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float64")


def _assign(variable, value):
    variable.assign(np.asarray(value, dtype="float32"))


def _groups(backbone):
    """How many teacher layers a student of this backbone takes: one per layer,
    or one per parameter group when layers share parameters."""
    return backbone.num_layers if backbone.sharing == "none" else backbone.num_hidden_groups


def _chosen_layers(spec, kind, layers, student, teacher):
    wanted = _groups(student)
    if kind == "every-other" or (kind == "svd" and layers is None):
        layers = list(range(0, 2 * wanted, 2))
    if len(layers) != wanted:
        unit = "layer" if student.sharing == "none" else "shared parameter group"
        raise ValueError(
            f"student_init={spec!r} lists {len(layers)} teacher layers, but the student "
            f"has {wanted} {unit}(s): list {wanted}, e.g. "
            f"layers:{','.join(str(i) for i in range(wanted))}.")
    bad = [i for i in layers if not 0 <= i < teacher.num_layers]
    if bad:
        raise ValueError(
            f"student_init={spec!r}: teacher layer {bad[0]} is out of range; the teacher "
            f"has layers 0..{teacher.num_layers - 1} (0-based). Pick layers in that range"
            + (" or a student with fewer layers." if kind != "layers" else "."))
    return layers


def _block_mismatch(student, teacher):
    for name in ("hidden_dim", "num_heads", "intermediate_dim", "inner_group_num"):
        if getattr(student, name) != getattr(teacher, name):
            return name
    return None


def check_student_init(spec, student_backbone, teacher_backbone):
    """Raises a one-line ValueError when `spec` cannot start this student from
    this teacher; returns (kind, teacher layers to copy or None)."""
    kind, layers = parse_student_init(spec)
    student, teacher = student_backbone, teacher_backbone
    if kind == "random":
        return kind, None
    vocabulary = (student.vocabulary_size, teacher.vocabulary_size)
    if kind in ("svd", "pca") and vocabulary[0] != vocabulary[1]:
        raise ValueError(f"student_init={spec!r} needs the teacher's vocabulary "
                         f"({vocabulary[1]} tokens); the student has {vocabulary[0]}. "
                         "Build the student with the teacher's vocabulary_size.")
    width = teacher.embeddings.embedding_dim
    if kind == "pca" and student.embedding_dim > width:
        raise ValueError(f"student_init={spec!r}: the student's embedding_dim "
                         f"{student.embedding_dim} is above the teacher's table width "
                         f"{width}; pick embedding_dim <= {width}.")
    if kind == "svd":
        if teacher.embeddings.projection is not None:
            raise ValueError(f"student_init={spec!r} factorizes a hidden-wide token table, "
                             f"but the teacher's is already factorized (E={width}); use "
                             "layers:... or pca.")
        if student.hidden_dim != teacher.hidden_dim:
            raise ValueError(f"student_init={spec!r} needs the student's hidden_dim equal "
                             f"to the teacher's ({teacher.hidden_dim}), got "
                             f"{student.hidden_dim}; use pca for a narrower student.")
        if student.embedding_dim > teacher.hidden_dim:
            raise ValueError(f"student_init={spec!r}: E (embedding_dim="
                             f"{student.embedding_dim}) is above H={teacher.hidden_dim}; "
                             f"pick embedding_dim <= {teacher.hidden_dim}.")
        if student.embeddings.projection is None:
            raise ValueError(f"student_init={spec!r} needs a factorized student "
                             "(embedding_dim below hidden_dim); for equal widths use "
                             "layers:..., which copies the table.")
        if _block_mismatch(student, teacher):
            return kind, None  # the table only; the blocks stay random
    if kind in ("layers", "every-other", "svd"):
        mismatch = _block_mismatch(student, teacher)
        if mismatch:
            raise ValueError(
                f"student_init={spec!r} copies teacher layers, which needs the teacher's "
                f"{mismatch} ({getattr(teacher, mismatch)}), but the student has "
                f"{getattr(student, mismatch)}. Give the student the teacher's widths, or "
                "use svd / pca for a smaller one.")
        layers = _chosen_layers(spec, kind, layers, student, teacher)
    return kind, layers


def init_student_from_teacher(student, teacher, spec):
    """Sets the student's initial weights from the teacher's as `spec` says.

    Args:
        student, teacher: `CompactBackbone`s, or task models (their
            `.backbone` is used; a `layers:` / `every-other` copy also copies
            the output head when its shape matches).
        spec: see the module docstring.

    Returns:
        A one-line description of what was copied (for the job's log).

    Example:
    ```python
    student = CompactBackbone(**{**teacher.get_config(), "num_layers": 3})
    init_student_from_teacher(student, teacher, "layers:0,2,4")
    ```
    """
    student_backbone = getattr(student, "backbone", student)
    teacher_backbone = getattr(teacher, "backbone", teacher)
    kind, layers = check_student_init(spec, student_backbone, teacher_backbone)
    if kind == "random":
        return "Student: random initial weights"
    if kind == "pca":
        _pca_tables(student_backbone, teacher_backbone)
        return (f"Student embeddings: the teacher's tables on their top "
                f"{student_backbone.embedding_dim} principal directions")
    done = []
    if kind == "svd":
        error = _svd_tables(student_backbone, teacher_backbone)
        done.append(f"token table by truncated SVD to E={student_backbone.embedding_dim} "
                    f"(relative error {error:.3f})")
    else:
        done.append(_copy_embeddings(student_backbone, teacher_backbone))
    if layers is not None:
        _copy_blocks(student_backbone, teacher_backbone, layers)
        student_backbone.pooler.set_weights(teacher_backbone.pooler.get_weights())
        done.append(f"blocks from teacher layers {layers} (0-based), pooler")
        head = (getattr(student, "output_dense", None), getattr(teacher, "output_dense", None))
        if head[0] is not None and head[1] is not None and all(
                a.shape == b.shape for a, b in zip(head[0].weights, head[1].weights)):
            head[0].set_weights(head[1].get_weights())
            done.append("output head")
    return "Student from the teacher: " + "; ".join(d for d in done if d)


def _copy_blocks(student, teacher, layers):
    """Student layer l's blocks start as teacher layer g(l)'s (per group when
    shared: each student sublayer takes the first layer that uses it)."""
    per_layer = [layers[layer * len(layers) // student.num_layers]
                 for layer in range(student.num_layers)]
    written = {"attention": set(), "feedforward": set()}
    for student_blocks, source in zip(student.encoder.schedule, per_layer):
        for (attention, feedforward), (t_attention, t_feedforward) in zip(
                student_blocks, teacher.encoder.schedule[source]):
            for part, target, origin in (("attention", attention, t_attention),
                                         ("feedforward", feedforward, t_feedforward)):
                if target in written[part]:
                    continue
                written[part].add(target)
                sublayers = f"{part}_sublayers"
                getattr(student.encoder, sublayers)[target].set_weights(
                    getattr(teacher.encoder, sublayers)[origin].get_weights())


def _copy_embeddings(student, teacher):
    """Copies each embedding weight whose shape allows (positions: the first
    rows); returns what was copied."""
    s, t = student.embeddings, teacher.embeddings
    copied = []
    pairs = [("token table", s.token_embedding.embeddings, t.token_embedding.embeddings),
             ("segments", s.segment_embedding.embeddings, t.segment_embedding.embeddings)]
    for name, target, source in pairs:
        if tuple(target.shape) == tuple(source.shape):
            _assign(target, _array(source))
            copied.append(name)
    positions = (s.position_embedding.position_embeddings,
                 t.position_embedding.position_embeddings)
    if positions[0].shape[1] == positions[1].shape[1] and \
            positions[0].shape[0] <= positions[1].shape[0]:
        _assign(positions[0], _array(positions[1])[: positions[0].shape[0]])
        copied.append("positions")
    if s.embedding_dim == t.embedding_dim:
        s.layer_norm.set_weights(t.layer_norm.get_weights())
        copied.append("layer norm")
    if s.projection is not None and t.projection is not None and all(
            a.shape == b.shape for a, b in zip(s.projection.weights, t.projection.weights)):
        s.projection.set_weights(t.projection.get_weights())
        copied.append("projection")
    return "embeddings (" + ", ".join(copied) + ")" if copied else ""


def _svd_tables(student, teacher):
    """The factorized table from the teacher's by truncated SVD; returns the
    token table's relative reconstruction error (Frobenius)."""
    s, t = student.embeddings, teacher.embeddings
    table = _array(t.token_embedding.embeddings)  # V x H
    width, hidden = s.embedding_dim, table.shape[1]
    left, values, right = np.linalg.svd(table, full_matrices=False)
    basis = right[:width].T  # H x E, orthonormal columns
    _assign(s.token_embedding.embeddings, left[:, :width] * values[:width])
    positions = _array(t.position_embedding.position_embeddings)
    length = s.position_embedding.position_embeddings.shape[0]
    _assign(s.position_embedding.position_embeddings, positions[:length] @ basis)
    segments = _array(t.segment_embedding.embeddings)
    if segments.shape[0] == s.segment_embedding.embeddings.shape[0]:
        _assign(s.segment_embedding.embeddings, segments @ basis)
    # The student normalises E-wide vectors (unit scale, norm sqrt(E)); the
    # teacher H-wide ones (norm sqrt(H)), then scales and shifts them: both
    # go into the E -> H projection, whose directions are V_E^T.
    gamma, beta = (_array(w) for w in t.layer_norm.weights)
    s.layer_norm.set_weights([np.ones(width, "float32"), np.zeros(width, "float32")])
    kernel = np.sqrt(hidden / width) * basis.T * gamma[None, :]
    s.projection.set_weights([kernel.astype("float32"), beta.astype("float32")])
    return float(np.sqrt(np.sum(values[width:] ** 2) / np.sum(values ** 2)))


def _pca_tables(student, teacher):
    """The teacher's token table (V x D) projected on its top-E principal
    directions (SVD of the centred table); position and segment tables on the
    same directions, so their sums stay consistent. The E -> H projection
    stays random: the distillation losses train it."""
    s, t = student.embeddings, teacher.embeddings
    table = _array(t.token_embedding.embeddings)
    mean = table.mean(axis=0)
    _, _, directions = np.linalg.svd(table - mean, full_matrices=False)
    basis = directions[: s.embedding_dim].T  # D x E
    _assign(s.token_embedding.embeddings, table @ basis)
    positions = _array(t.position_embedding.position_embeddings)
    length = s.position_embedding.position_embeddings.shape[0]
    if positions.shape[0] >= length:
        _assign(s.position_embedding.position_embeddings, positions[:length] @ basis)
    segments = _array(t.segment_embedding.embeddings)
    if segments.shape[0] == s.segment_embedding.embeddings.shape[0]:
        _assign(s.segment_embedding.embeddings, segments @ basis)
