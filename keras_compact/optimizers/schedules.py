"""Linear warm-up followed by polynomial decay (BERT/ALBERT schedule)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_compact")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly to `peak_learning_rate`, then decays polynomially.

    lr(step) = peak * step / warmup_steps                    (step < warmup)
    lr(step) = (peak - end) * (1 - progress) ** power + end  (after), where
    progress = (step - warmup) / (total_steps - warmup), clipped to [0, 1].

    Args:
        peak_learning_rate: float. Rate at the end of the warm-up.
        warmup_steps: int. Steps of linear warm-up (0 for none).
        total_steps: int. Step at which the rate reaches `end_learning_rate`.
        end_learning_rate: float. Final rate.
        power: float. 1.0 is linear decay, as in ALBERT.

    Example:
    ```python
    schedule = WarmupPolynomialDecay(1e-3, warmup_steps=100, total_steps=1000)
    optimizer = keras.optimizers.Lamb(learning_rate=schedule)
    ```
    """

    def __init__(
        self,
        peak_learning_rate,
        warmup_steps,
        total_steps,
        end_learning_rate=0.0,
        power=1.0,
    ):
        if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                "Need 0 <= warmup_steps <= total_steps and total_steps >= 1, "
                f"got warmup_steps={warmup_steps}, total_steps={total_steps}."
            )
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.end_learning_rate = end_learning_rate
        self.power = power

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = ops.cast(self.peak_learning_rate, "float32")
        warmup = float(self.warmup_steps)
        decay_steps = float(max(self.total_steps - self.warmup_steps, 1))
        progress = ops.clip((step - warmup) / decay_steps, 0.0, 1.0)
        decayed = (peak - self.end_learning_rate) * ops.power(
            1.0 - progress, self.power
        ) + self.end_learning_rate
        if self.warmup_steps == 0:
            return decayed
        warming = peak * step / warmup
        return ops.where(step < warmup, warming, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
        }
