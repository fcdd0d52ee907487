"""AdamW with BERT's fine-tuning schedule (linear warm-up, cosine decay).

Backend-agnostic (Keras optimizers): fine-tuning (`keras_compact.training.tasks`)
and the distillation stages use it.
"""

import keras


def make_adamw(total_steps, peak_learning_rate, warmup_fraction=0.1, weight_decay=0.01):
    """AdamW with linear warm-up then cosine decay to 0, the BERT recipe.

    Weight decay skips biases and LayerNorm scales / offsets.

    Args:
        total_steps: int. Optimizer steps of the whole run.
        peak_learning_rate: float. Rate at the end of the warm-up.
        warmup_fraction: float. Share of the steps spent warming up.
        weight_decay: float.

    Example:
    ```python
    classifier.compile(optimizer=make_adamw(1000, 5e-5), loss=...)
    ```
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got total_steps={total_steps}.")
    if not peak_learning_rate > 0:
        raise ValueError("peak_learning_rate must be positive, got "
                         f"peak_learning_rate={peak_learning_rate!r}.")
    warmup = max(1, int(total_steps * warmup_fraction))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=max(1, total_steps - warmup), alpha=0.0,
        warmup_target=peak_learning_rate, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
