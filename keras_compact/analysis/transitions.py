"""How much each layer changes its input: ALBERT's layer-transition analysis.

ALBERT's paper (Lan et al., figure 1) compares, layer by layer, the input
and output embeddings of each transformer layer: L2 distance and cosine
similarity. With all parameters shared the transitions are smoother (they
oscillate less from layer to layer) than in BERT. `layer_transitions`
computes both per layer for any `CompactBackbone`; `plot_layer_transitions`
in `keras_compact.analysis.plotting` draws them.

Backend-agnostic (`keras.ops`).
"""

import numpy as np
from keras import ops


def layer_transitions(backbone, inputs):
    """Per-layer L2 distance and cosine similarity between input and output.

    For layer l (1..L) the input is hidden state l - 1 (the embedding
    output, after the E -> H projection, for l = 1) and the output is
    hidden state l. Both are averaged over the real tokens of every example
    (padding excluded).

    Args:
        backbone: a `CompactBackbone` (or a model whose `.backbone` is one).
        inputs: dict of "token_ids", "segment_ids", "padding_mask" arrays.

    Returns:
        A dict of numpy float arrays of shape (L,): "l2_distance",
        "cosine_similarity" and "angle_degrees" (the arccos of the cosine
        similarity, the unit of the paper's plot).

    Example:
    ```python
    stats = layer_transitions(backbone, features)
    stats["cosine_similarity"]      # one value per layer
    ```
    """
    backbone = getattr(backbone, "backbone", backbone)
    features = backbone.compute_features(inputs, return_hidden_states=True)
    states = [ops.cast(h, "float32") for h in features["hidden_states"]]
    mask = ops.cast(ops.convert_to_tensor(inputs["padding_mask"]), "float32")
    tokens = ops.maximum(ops.sum(mask), 1.0)
    l2, cosine = [], []
    for before, after in zip(states[:-1], states[1:]):
        distance = ops.sqrt(ops.sum(ops.square(after - before), axis=-1))
        similarity = ops.sum(before * after, axis=-1) / ops.maximum(
            ops.norm(before, axis=-1) * ops.norm(after, axis=-1), 1e-12)
        l2.append(ops.sum(distance * mask) / tokens)
        cosine.append(ops.sum(similarity * mask) / tokens)
    l2 = np.array([float(ops.convert_to_numpy(v)) for v in l2])
    cosine = np.array([float(ops.convert_to_numpy(v)) for v in cosine])
    return {
        "l2_distance": l2,
        "cosine_similarity": cosine,
        "angle_degrees": np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))),
    }
