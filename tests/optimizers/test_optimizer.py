import numpy as np
import pytest
from keras import ops

from keras_compact.optimizers import WarmupPolynomialDecay
from keras_compact.optimizers import make_lamb_optimizer
from keras_compact.optimizers import scaled_learning_rate


def test_schedule_warms_up_then_decays_linearly():
    schedule = WarmupPolynomialDecay(1e-3, warmup_steps=10, total_steps=110)
    values = [float(ops.convert_to_numpy(schedule(s))) for s in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)
    clone = WarmupPolynomialDecay(**schedule.get_config())
    assert clone.get_config() == schedule.get_config()


def test_paper_rate_and_square_root_rule():
    assert scaled_learning_rate(4096) == pytest.approx(0.00176)
    assert scaled_learning_rate(256) == pytest.approx(0.00044)
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        scaled_learning_rate(0)


def test_lamb_excludes_layer_norm_and_bias_from_weight_decay():
    import keras

    optimizer = make_lamb_optimizer(batch_size=64, total_steps=100)
    assert isinstance(optimizer, keras.optimizers.Lamb)
    dense = keras.layers.Dense(4, name="dense")
    norm = keras.layers.LayerNormalization(name="layer_norm")
    dense.build((None, 4))
    norm.build((None, 4))
    decayed = {
        v.path: optimizer._use_weight_decay(v) for v in dense.weights + norm.weights
    }
    assert decayed == {
        "dense/kernel": True,
        "dense/bias": False,
        "layer_norm/gamma": False,
        "layer_norm/beta": False,
    }


def test_bad_schedule_names_values():
    with pytest.raises(ValueError, match="warmup_steps=20, total_steps=10"):
        WarmupPolynomialDecay(1e-3, warmup_steps=20, total_steps=10)
