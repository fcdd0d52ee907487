"""Checks of numeric settings and of trained weights, with messages naming the setting.

Library functions call these with their argument names ("learning_rate");
the command line calls them with its flags ("--learning-rate") before any
file is read, so both say which value is wrong. `argparse`'s `type=float`
accepts "inf" and "nan", and a NaN compares False with everything, so a
plain `value > 0` is not enough: every check here also requires a finite
number.
"""

import math
import numbers


def require_positive(name, value, integer=False):
    """Returns `value` when it is a finite number > 0 (an int >= 1 with `integer`).

    Raises:
        ValueError: naming `name` and the value.
    """
    if integer:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        return value
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        finite = isinstance(value, numbers.Real) and math.isfinite(value)
        raise ValueError(f"{name} must be a positive number, got {value!r}"
                         + ("." if finite else "; only finite values can train."))
    return value


def require_in_range(name, value, low, high, high_open=True):
    """Returns `value` when low <= value < high (<= high unless `high_open`).

    Raises:
        ValueError: naming `name`, the value and the range.
    """
    above = value >= high if high_open else value > high
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value < low or above):
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be in [{low:g}, {high:g}{bracket}, got {value!r}.")
    return value


def require_finite_weights(model, what):
    """Raises ValueError when any weight of `model` is NaN or infinite.

    A model whose training diverged (a NaN or infinite loss) has such
    weights; it must not be saved as if it were a result.
    """
    import keras
    import numpy as np

    for weight in model.weights:
        value = keras.ops.convert_to_numpy(weight.value)
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            raise ValueError(
                f"{what} was not saved: its weight {weight.path!r} holds NaN or infinite "
                "values, so training diverged (the loss became NaN). Lower the learning rate "
                "(--learning-rate) and train again.")
