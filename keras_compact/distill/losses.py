"""TinyBERT, DistilBERT, MiniLM and MiniLMv2 distillation losses, as pure functions.

Every loss casts its inputs to float32 first, so it is safe under mixed
precision, and uses `keras.ops` only (TensorFlow, JAX and torch). Padding
masks are (batch, sequence) int or bool tensors with 0 marking padding.
"""

from keras import ops


def _float32(*tensors):
    return [ops.cast(t, "float32") for t in tensors]


def _reduce(count, count_reduction):
    # count_reduction (e.g. an all-reduce sum over replicas) turns the local
    # count of real positions into the global one, so that under
    # tf.distribute each replica returns its share of the global mean.
    if count_reduction is not None:
        count = count_reduction(count)
    return ops.maximum(count, 1.0)


def _token_weights(padding_mask):
    # (batch, sequence, 1) so it broadcasts over the feature axis.
    return ops.expand_dims(ops.cast(padding_mask, "float32"), -1)


def hidden_loss(student_hidden, teacher_hidden, padding_mask=None, count_reduction=None):
    """MSE between (projected) student and teacher hidden states.

    TinyBERT's L_hidn = MSE(H^S W_h, H^T). By default every position counts,
    padding included, as in TinyBERT's reference code: padded positions
    still have well-defined hidden states (their queries attend to the real
    keys), so matching them is harmless. With `padding_mask` the mean runs
    over the real tokens only (and all features).

    Args:
        student_hidden: (batch, sequence, d) student states, already
            projected to the teacher width d.
        teacher_hidden: (batch, sequence, d) teacher states.
        padding_mask: optional (batch, sequence); 0 marks padding.
        count_reduction: optional function applied to the count of real
            positions before dividing (the Distiller passes an all-reduce
            sum under tf.distribute, for a global-batch mean).

    Returns:
        A float32 scalar.

    Example:
    ```python
    loss = hidden_loss(projection(student_states), teacher_states)
    ```
    """
    student_hidden, teacher_hidden = _float32(student_hidden, teacher_hidden)
    squared = ops.square(student_hidden - teacher_hidden)
    if padding_mask is None:
        return ops.mean(squared)
    weights = _token_weights(padding_mask)
    width = ops.cast(ops.shape(squared)[-1], "float32")
    count = _reduce(ops.sum(weights) * width, count_reduction)
    return ops.sum(squared * weights) / count


def embedding_loss(student_embedding, teacher_embedding, padding_mask=None,
                   count_reduction=None):
    """MSE between projected student and teacher embedding outputs.

    TinyBERT's L_embd = MSE(E^S W_e, E^T), where E is the embedding layer's
    output (hidden state 0). Padding is handled as in `hidden_loss`.

    Args:
        student_embedding: (batch, sequence, d) projected student embeddings.
        teacher_embedding: (batch, sequence, d) teacher embeddings.
        padding_mask: optional (batch, sequence); 0 marks padding.
        count_reduction: optional function applied to the count of real
            positions before dividing (the Distiller passes an all-reduce
            sum under tf.distribute, for a global-batch mean).

    Returns:
        A float32 scalar.

    Example:
    ```python
    loss = embedding_loss(w_e(student_hidden[0]), teacher_hidden[0])
    ```
    """
    return hidden_loss(student_embedding, teacher_embedding, padding_mask, count_reduction)


def attention_loss(student_scores, teacher_scores, padding_mask=None, count_reduction=None):
    """(1 / h) * sum over heads of the MSE between pre-softmax scores.

    Only (query, key) pairs where both positions are real tokens count; the
    mean runs over those pairs of every head and example. TinyBERT's
    reference code instead zeroes the masked-key scores (which carry a
    -10000 bias there) and averages over all pairs, padded query rows
    included; here the scores come unmasked, so the padding mask is used
    for both queries and keys and the padded pairs leave the denominator
    too.

    Args:
        student_scores: (batch, heads, queries, keys) student scores.
        teacher_scores: same shape, teacher scores (equal head counts).
        padding_mask: optional (batch, sequence); 0 marks padding. `None`
            averages over every pair.
        count_reduction: optional function applied to the count of real
            positions before dividing (the Distiller passes an all-reduce
            sum under tf.distribute, for a global-batch mean).

    Returns:
        A float32 scalar.

    Example:
    ```python
    loss = attention_loss(s_scores, t_scores, inputs["padding_mask"])
    ```
    """
    student_scores, teacher_scores = _float32(student_scores, teacher_scores)
    squared = ops.square(student_scores - teacher_scores)
    if padding_mask is None:
        return ops.mean(squared)
    mask = ops.cast(padding_mask, "float32")
    # (batch, 1, queries, keys): real query and real key.
    pairs = mask[:, None, :, None] * mask[:, None, None, :]
    heads = ops.cast(ops.shape(squared)[1], "float32")
    count = _reduce(ops.sum(pairs) * heads, count_reduction)
    return ops.sum(squared * pairs) / count


def prediction_loss(student_logits, teacher_logits, temperature=1.0):
    """Soft cross-entropy between teacher and student predictions.

    -sum_c softmax(z_T / t)_c * log_softmax(z_S / t)_c, averaged over the
    batch. TinyBERT's L_pred (t = 1 was best). Not multiplied by t^2 (as
    TinyBERT's code); DistilBERT-style users may set the loss weight to t^2.

    Args:
        student_logits: (batch, classes) student logits.
        teacher_logits: (batch, classes) teacher logits.
        temperature: float > 0.

    Returns:
        A float32 scalar.

    Example:
    ```python
    loss = prediction_loss(student(x), teacher(x), temperature=2.0)
    ```
    """
    if not temperature > 0:
        raise ValueError(
            f"temperature must be positive, got temperature={temperature!r}."
        )
    student_logits, teacher_logits = _float32(student_logits, teacher_logits)
    targets = ops.softmax(teacher_logits / temperature, axis=-1)
    log_probs = ops.log_softmax(student_logits / temperature, axis=-1)
    return ops.mean(-ops.sum(targets * log_probs, axis=-1))


def cosine_hidden_loss(student_hidden, teacher_hidden, padding_mask=None,
                       count_reduction=None):
    """1 - cosine similarity of hidden vectors, averaged over real tokens.

    DistilBERT's cosine embedding loss, which aligns the directions of the
    student and teacher hidden states.

    Args:
        student_hidden: (batch, sequence, d) student states.
        teacher_hidden: (batch, sequence, d) teacher states.
        padding_mask: optional (batch, sequence); 0 marks padding. `None`
            averages over every position.
        count_reduction: optional function applied to the count of real
            positions before dividing (the Distiller passes an all-reduce
            sum under tf.distribute, for a global-batch mean).

    Returns:
        A float32 scalar.

    Example:
    ```python
    loss = cosine_hidden_loss(s_last, t_last, inputs["padding_mask"])
    ```
    """
    student_hidden, teacher_hidden = _float32(student_hidden, teacher_hidden)
    dot = ops.sum(student_hidden * teacher_hidden, axis=-1)
    norms = ops.sqrt(ops.sum(ops.square(student_hidden), axis=-1)) * ops.sqrt(
        ops.sum(ops.square(teacher_hidden), axis=-1)
    )
    # Guards zero vectors (e.g. an all-zero padded row) against 0 / 0.
    distance = 1.0 - dot / ops.maximum(norms, 1e-8)
    if padding_mask is None:
        return ops.mean(distance)
    weights = ops.cast(padding_mask, "float32")
    return ops.sum(distance * weights) / _reduce(ops.sum(weights), count_reduction)


# === MiniLM and MiniLMv2: KL between self-attention relations ===

# Added to the logits of padded keys (float32), as in the attention layer.
_MASK_ADDER = -1e9


def _log_relation(a, b, key_mask):
    """log softmax(a b^T / sqrt(d)) over keys; a, b: (batch, heads, seq, d)."""
    scale = 1.0 / float(ops.shape(a)[-1]) ** 0.5
    logits = ops.einsum("bhtd,bhsd->bhts", a, b) * scale
    if key_mask is not None:
        logits = ops.where(key_mask, logits, _MASK_ADDER)
    return ops.log_softmax(logits, axis=-1)


def _heads_first(x):
    # (batch, seq, heads, d) -> (batch, heads, seq, d)
    return ops.transpose(x, (0, 2, 1, 3))


def _check_heads(student, teacher, what):
    s_heads, t_heads = ops.shape(student)[2], ops.shape(teacher)[2]
    if s_heads != t_heads:
        raise ValueError(
            f"The {what} compares heads one to one, but the student has "
            f"{s_heads} heads and the teacher {t_heads}. Match num_heads, or "
            "use MiniLMv2's relation losses (relation_loss), which re-split "
            "the heads and take any head count."
        )


def relation_kl(student_pairs, teacher_pairs, padding_mask=None, count_reduction=None):
    """KL(teacher || student) between per-head relation distributions.

    For one pair (a, b) of (batch, heads, seq, d) tensors the relation is
    softmax(a b^T / sqrt(d)) over keys, each model at its own d. The KL of
    every real query row is summed over keys and averaged over heads and real
    query positions (MiniLM's 1 / (A_h |x|) normalisation). Padded keys get
    probability 0 in both models; padded queries are left out.

    Args:
        student_pairs: (a, b) student tensors, (batch, heads, seq, d_s).
        teacher_pairs: (a, b) teacher tensors, (batch, heads, seq, d_t);
            the same number of heads as the student's.
        padding_mask: optional (batch, sequence); 0 marks padding.
        count_reduction: optional function applied to the count of real
            query rows before dividing (an all-reduce sum under
            tf.distribute, for a global-batch mean).

    Returns:
        A float32 scalar.
    """
    s_a, s_b, t_a, t_b = _float32(*student_pairs, *teacher_pairs)
    key_mask = None
    if padding_mask is not None:
        key_mask = ops.cast(padding_mask, "bool")[:, None, None, :]
    log_s = _log_relation(s_a, s_b, key_mask)
    log_t = _log_relation(t_a, t_b, key_mask)
    terms = ops.exp(log_t) * (log_t - log_s)
    if key_mask is not None:
        terms = ops.where(key_mask, terms, 0.0)
    rows = ops.sum(terms, axis=-1)  # (batch, heads, queries)
    heads = ops.cast(ops.shape(rows)[1], "float32")
    if padding_mask is None:
        padding_mask = ops.ones_like(t_a[:, 0, :, 0])  # every query is real
    queries = ops.cast(padding_mask, "float32")[:, None, :]
    count = _reduce(ops.sum(queries) * heads, count_reduction)
    return ops.sum(rows * queries) / count


def attention_distribution_loss(student_queries, student_keys, teacher_queries,
                                teacher_keys, padding_mask=None, count_reduction=None):
    """MiniLM's attention transfer: KL(A^T || A^S) of the attention softmax.

    A = softmax(Q K^T / sqrt(d_k)) per head, from the layer's own queries and
    keys, so the distributions are exactly the ones the layer attends with
    (padded keys excluded). Averaged over heads and real query positions.
    Widths may differ; head counts must match (heads are compared one to one).

    Args:
        student_queries, student_keys: (batch, seq, heads, d_s).
        teacher_queries, teacher_keys: (batch, seq, heads, d_t).
        padding_mask: optional (batch, sequence); 0 marks padding.
        count_reduction: see `relation_kl`.

    Returns:
        A float32 scalar.

    Example:
    ```python
    s = student.compute_features(x, return_qkv_layers=[4])["qkv"][4]
    t = teacher.compute_features(x, return_qkv_layers=[12])["qkv"][12]
    loss = attention_distribution_loss(
        s["queries"], s["keys"], t["queries"], t["keys"], x["padding_mask"])
    ```
    """
    _check_heads(student_queries, teacher_queries, "attention-distribution loss")
    return relation_kl(
        (_heads_first(student_queries), _heads_first(student_keys)),
        (_heads_first(teacher_queries), _heads_first(teacher_keys)),
        padding_mask, count_reduction)


def value_relation_loss(student_values, teacher_values, padding_mask=None,
                        count_reduction=None):
    """MiniLM's value-relation transfer: KL of softmax(V V^T / sqrt(d_k)).

    Per head; widths may differ, head counts must match.

    Args:
        student_values: (batch, seq, heads, d_s).
        teacher_values: (batch, seq, heads, d_t).
        padding_mask: optional (batch, sequence); 0 marks padding.
        count_reduction: see `relation_kl`.

    Returns:
        A float32 scalar.

    Example:
    ```python
    loss = value_relation_loss(s["values"], t["values"], x["padding_mask"])
    ```
    """
    _check_heads(student_values, teacher_values, "value-relation loss")
    s, t = _heads_first(student_values), _heads_first(teacher_values)
    return relation_kl((s, s), (t, t), padding_mask, count_reduction)


def split_relation_heads(x, relation_heads):
    """Concatenates the heads of x and re-splits them into relation heads.

    Args:
        x: (batch, seq, heads, d) or (batch, seq, width).
        relation_heads: int; must divide heads * d.

    Returns:
        (batch, relation_heads, seq, width // relation_heads).
    """
    shape = ops.shape(x)
    width = shape[-1] if len(shape) == 3 else shape[2] * shape[3]
    if width % relation_heads:
        raise ValueError(
            f"relation_heads={relation_heads} does not divide the width "
            f"{width} of the queries/keys/values. Pick a divisor of the width."
        )
    x = ops.reshape(x, (shape[0], shape[1], relation_heads, width // relation_heads))
    return _heads_first(x)


def relation_loss(student_x, teacher_x, relation_heads, padding_mask=None,
                  count_reduction=None):
    """MiniLMv2's self-attention relation transfer for one of Q, K or V.

    The heads of each model are concatenated and re-split into
    `relation_heads` heads of width d_r (each model its own d_r = width /
    relation_heads); R = softmax(X_a X_a^T / sqrt(d_r)); the loss is
    KL(R^T || R^S) averaged over relation heads and real query positions.
    Any widths and head counts.

    Args:
        student_x: (batch, seq, heads_s, d_s) or (batch, seq, width_s).
        teacher_x: (batch, seq, heads_t, d_t) or (batch, seq, width_t).
        relation_heads: int dividing both widths.
        padding_mask: optional (batch, sequence); 0 marks padding.
        count_reduction: see `relation_kl`.

    Returns:
        A float32 scalar.

    Example:
    ```python
    loss = relation_loss(s["queries"], t["queries"], 12, x["padding_mask"])
    ```
    """
    s = split_relation_heads(student_x, relation_heads)
    t = split_relation_heads(teacher_x, relation_heads)
    return relation_kl((s, s), (t, t), padding_mask, count_reduction)


def soft_target_loss(student_logits, teacher_logits, temperature=1.0, weights=None,
                     count_reduction=None):
    """Soft cross-entropy at selected positions (DistilBERT's soft MLM targets).

    -sum_v softmax(z_T / t)_v log_softmax(z_S / t)_v per position, averaged
    with `weights` (e.g. the real masked positions, `mlm_weights`).

    Args:
        student_logits: (batch, positions, vocabulary).
        teacher_logits: same shape.
        temperature: float > 0.
        weights: optional (batch, positions); 0 leaves a position out.
        count_reduction: optional function applied to the sum of weights
            (an all-reduce sum under tf.distribute).

    Returns:
        A float32 scalar.

    Example:
    ```python
    loss = soft_target_loss(student_mlm, teacher_mlm, 2.0, y["mlm_weights"])
    ```
    """
    if not temperature > 0:
        raise ValueError(
            f"temperature must be positive, got temperature={temperature!r}."
        )
    student_logits, teacher_logits = _float32(student_logits, teacher_logits)
    targets = ops.softmax(teacher_logits / temperature, axis=-1)
    log_probs = ops.log_softmax(student_logits / temperature, axis=-1)
    per_position = -ops.sum(targets * log_probs, axis=-1)
    if weights is None:
        return ops.mean(per_position)
    weights = ops.cast(weights, "float32")
    return ops.sum(per_position * weights) / _reduce(ops.sum(weights), count_reduction)
