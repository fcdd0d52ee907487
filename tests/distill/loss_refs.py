"""Numpy references and small helpers shared by the distillation-loss tests."""

import numpy as np
from keras import ops


def scalar(x):
    """A backend scalar tensor as a Python float."""
    return float(ops.convert_to_numpy(x))


def normal(rng, *shape):
    """A float32 array of standard normal draws from `rng`."""
    return rng.normal(size=shape).astype("float32")


def softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))
