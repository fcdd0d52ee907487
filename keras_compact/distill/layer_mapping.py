"""TinyBERT's layer mapping n = g(m) from student layers to teacher layers."""

STRATEGIES = ("uniform", "top", "bottom")


def _check_layer_count(arg, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{arg}` must be a positive integer, got {arg}={value!r}.")


def layer_mapping(student_layers, teacher_layers, strategy="uniform"):
    """Returns the teacher layer each student layer learns from.

    Layers are numbered from 1; layer 0 (the embedding output) always maps to
    teacher layer 0 and is left implicit. For a teacher with N layers and a
    student with M <= N layers:

    - "uniform": g(m) = m * N // M, every (N // M)-th teacher layer when M
      divides N (the paper's best; TinyBERT4 from BERT-base is g(m) = 3m).
      When M does not divide N the floor spreads the layers as evenly as
      integers allow and g(M) = N still holds.
    - "top": the last M teacher layers, g(m) = N - M + m.
    - "bottom": the first M teacher layers, g(m) = m.
    - an explicit list or tuple of M teacher layers, each in 1..N.

    Args:
        student_layers: int. Number of student layers, M.
        teacher_layers: int. Number of teacher layers, N.
        strategy: "uniform", "top", "bottom", or a list of M ints.

    Returns:
        A tuple of M ints: entry m - 1 is g(m).

    Raises:
        ValueError: if M > N, the strategy is unknown, or an explicit list
            has the wrong length or an index outside 1..N.

    Example:
    ```python
    layer_mapping(4, 12)  # (3, 6, 9, 12)
    layer_mapping(4, 12, "top")  # (9, 10, 11, 12)
    layer_mapping(2, 4, [1, 4])  # (1, 4)
    ```
    """
    _check_layer_count("student_layers", student_layers)
    _check_layer_count("teacher_layers", teacher_layers)
    if student_layers > teacher_layers:
        raise ValueError(
            f"The student has more layers (student_layers={student_layers}) "
            f"than the teacher (teacher_layers={teacher_layers}); each "
            "student layer must learn from a distinct teacher layer. Use a "
            "student with at most as many layers as the teacher."
        )
    m_range = range(1, student_layers + 1)
    if isinstance(strategy, (list, tuple)):
        mapping = tuple(strategy)
        if len(mapping) != student_layers:
            raise ValueError(
                f"An explicit layer mapping needs one teacher layer per "
                f"student layer: got {len(mapping)} entries {list(mapping)} "
                f"for student_layers={student_layers}. Pass a list of "
                f"{student_layers} teacher layers."
            )
        for n in mapping:
            if not isinstance(n, int) or isinstance(n, bool):
                raise ValueError(
                    f"Layer mapping entries must be ints, got {n!r} in "
                    f"{list(mapping)}."
                )
            if not 1 <= n <= teacher_layers:
                raise ValueError(
                    f"Teacher layer {n} in the mapping {list(mapping)} is "
                    f"out of range: use 1..{teacher_layers} (layers are "
                    "numbered from 1; the embedding layer 0 is mapped "
                    "implicitly)."
                )
        return mapping
    if strategy == "uniform":
        return tuple(m * teacher_layers // student_layers for m in m_range)
    if strategy == "top":
        return tuple(teacher_layers - student_layers + m for m in m_range)
    if strategy == "bottom":
        return tuple(m_range)
    raise ValueError(
        f"Unknown layer mapping strategy={strategy!r}. Use one of "
        f"{', '.join(repr(s) for s in STRATEGIES)}, or a list of "
        f"{student_layers} teacher layers in 1..{teacher_layers}."
    )
