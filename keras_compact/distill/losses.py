"""TinyBERT and DistilBERT distillation losses, as pure functions.

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
