"""`keras.optimizers.Lamb` configured as in the ALBERT paper."""

import math

import keras

from keras_compact.optimizers.schedules import WarmupPolynomialDecay

PAPER_LEARNING_RATE = 0.00176
PAPER_BATCH_SIZE = 4096
# Variables whose names contain these are not weight-decayed.
NO_DECAY_NAMES = ["layer_norm", "LayerNorm", "bias", "beta", "gamma"]


def scaled_learning_rate(batch_size):
    """The paper's rate, scaled to `batch_size` by the square-root rule.

    ALBERT uses 0.00176 at batch 4096. LAMB's authors scale the rate with
    the square root of the batch size, so batch 256 gives 0.00044 and batch
    64 gives 0.00022. Warm-up and the total step count matter as much: keep
    warm-up near 1-3% of the steps.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}.")
    return PAPER_LEARNING_RATE * math.sqrt(batch_size / PAPER_BATCH_SIZE)


def make_lamb_optimizer(
    batch_size,
    total_steps,
    learning_rate=None,
    warmup_steps=None,
    weight_decay=0.01,
    end_learning_rate=0.0,
    global_clipnorm=1.0,
):
    """LAMB with linear warm-up then linear decay, as ALBERT pretrains.

    Args:
        batch_size: int. Global batch size; sets the default rate.
        total_steps: int. Length of the schedule.
        learning_rate: float or None. Peak rate; `None` applies
            `scaled_learning_rate(batch_size)` (0.00176 at batch 4096).
        warmup_steps: int or None. `None` means 1% of `total_steps` (at
            least 1 step when total_steps > 1).
        weight_decay: float. Decoupled weight decay; LayerNorm parameters and
            biases are excluded.
        end_learning_rate: float. Rate at `total_steps`.
        global_clipnorm: float or None. Gradient clipping by global norm.

    Returns:
        A `keras.optimizers.Lamb`.

    Example:
    ```python
    optimizer = make_lamb_optimizer(batch_size=64, total_steps=2000)
    pretrainer.compile(optimizer=optimizer)
    ```
    """
    if learning_rate is None:
        learning_rate = scaled_learning_rate(batch_size)
    if warmup_steps is None:
        warmup_steps = min(max(total_steps // 100, 1), total_steps)
    schedule = WarmupPolynomialDecay(
        learning_rate,
        warmup_steps=warmup_steps,
        total_steps=total_steps,
        end_learning_rate=end_learning_rate,
    )
    optimizer = keras.optimizers.Lamb(
        learning_rate=schedule,
        weight_decay=weight_decay or None,
        global_clipnorm=global_clipnorm,
    )
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=NO_DECAY_NAMES)
    return optimizer
