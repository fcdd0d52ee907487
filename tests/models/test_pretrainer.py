import keras
import numpy as np
import pytest
from keras import ops

from keras_compact import CompactBackbone
from keras_compact.models.pretrainer import AlbertPretrainer
from keras_compact.optimizers import make_lamb_optimizer
from tests.conftest import TINY_ALBERT

pytestmark = pytest.mark.multi_backend


def pretraining_batch(batch=8, length=16, predictions=4, vocabulary_size=100, seed=0):
    rng = np.random.default_rng(seed)
    features = {
        "token_ids": rng.integers(5, vocabulary_size, (batch, length)).astype("int32"),
        "segment_ids": (np.arange(length) >= length // 2)[None].repeat(batch, 0).astype("int32"),
        "padding_mask": np.ones((batch, length), "int32"),
        "mask_positions": rng.integers(1, length, (batch, predictions)).astype("int32"),
    }
    weights = np.ones((batch, predictions), "float32")
    weights[:, -1] = 0.0  # a padded prediction slot
    labels = {
        "mlm_ids": rng.integers(5, vocabulary_size, (batch, predictions)).astype("int32"),
        "mlm_weights": weights,
        "sop_label": rng.integers(0, 2, (batch,)).astype("int32"),
    }
    return features, labels


def _softmax_cross_entropy(logits, labels):
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]


def test_loss_matches_numpy_and_metrics_are_tracked():
    pretrainer = AlbertPretrainer(CompactBackbone(**TINY_ALBERT), sentence_weight=0.5)
    pretrainer.compile(optimizer="sgd")
    features, labels = pretraining_batch()
    outputs = pretrainer.predict(features, verbose=0)
    mlm = _softmax_cross_entropy(outputs["mlm"], labels["mlm_ids"])
    expected_mlm = (mlm * labels["mlm_weights"]).sum() / labels["mlm_weights"].sum()
    expected_sop = _softmax_cross_entropy(outputs["sop"], labels["sop_label"]).mean()
    scores = pretrainer.evaluate(features, labels, return_dict=True, verbose=0)
    np.testing.assert_allclose(scores["mlm_loss"], expected_mlm, rtol=1e-4)
    np.testing.assert_allclose(scores["sop_loss"], expected_sop, rtol=1e-4)
    np.testing.assert_allclose(
        scores["loss"], expected_mlm + 0.5 * expected_sop, rtol=1e-4
    )
    for name in ("mlm_accuracy", "sop_accuracy"):
        assert 0.0 <= scores[name] <= 1.0


def test_fit_lowers_the_loss_on_every_backend():
    pretrainer = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
    pretrainer.compile(
        optimizer=make_lamb_optimizer(8, total_steps=40, learning_rate=1e-2)
    )
    features, labels = pretraining_batch()
    history = pretrainer.fit(features, labels, batch_size=8, epochs=40, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.2, losses
    assert history.history["mlm_accuracy"][-1] > history.history["mlm_accuracy"][0]


def test_nsp_variant_names_its_head_and_metrics():
    pretrainer = AlbertPretrainer(CompactBackbone(**TINY_ALBERT), sentence_task="nsp")
    pretrainer.compile(optimizer="sgd")
    scores = pretrainer.evaluate(*pretraining_batch(), return_dict=True, verbose=0)
    assert "nsp_accuracy" in scores and "sop_accuracy" not in scores


def test_mlm_head_is_tied_to_the_embedding_table():
    backbone = CompactBackbone(**TINY_ALBERT)
    pretrainer = AlbertPretrainer(backbone)
    table = backbone.token_embedding.embeddings
    assert pretrainer.mlm_head.token_embedding is backbone.token_embedding
    own = [w for w in pretrainer.mlm_head.weights if w is not table]
    # H -> E dense, LayerNorm(E), output bias (V); no separate V x E matrix.
    assert sorted(tuple(w.shape) for w in own) == sorted(
        [(32, 16), (16,), (16,), (16,), (100,)]
    )
    assert tuple(table.shape) == (100, 16)
    head = 32 * 16 + 16 + 2 * 16 + 100
    sentence_head = 32 * 2 + 2
    assert pretrainer.count_params() == backbone.count_params() + head + sentence_head


def test_keras_round_trip(tmp_path):
    pretrainer = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
    features, _ = pretraining_batch()
    expected = pretrainer.predict(features, verbose=0)
    path = str(tmp_path / "pretrainer.keras")
    pretrainer.save(path)
    restored = keras.saving.load_model(path)
    got = restored.predict(features, verbose=0)
    for key in expected:
        np.testing.assert_allclose(expected[key], got[key], atol=1e-6)


def test_compiled_pretrainer_reloads_compiled(tmp_path):
    pretrainer = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
    pretrainer.compile(optimizer=make_lamb_optimizer(8, total_steps=10))
    features, labels = pretraining_batch()
    pretrainer.fit(features, labels, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "pretrainer.keras")
    pretrainer.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.optimizer, keras.optimizers.Lamb)
    assert int(restored.optimizer.iterations) == 1
    expected = pretrainer.evaluate(features, labels, return_dict=True, verbose=0)
    got = restored.evaluate(features, labels, return_dict=True, verbose=0)
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    restored.fit(features, labels, batch_size=8, epochs=1, verbose=0)


def test_mixed_precision_losses_are_float32():
    backbone = CompactBackbone(**TINY_ALBERT, dtype="mixed_bfloat16")
    pretrainer = AlbertPretrainer(backbone)
    pretrainer.compile(optimizer=make_lamb_optimizer(8, total_steps=2))
    features, labels = pretraining_batch()
    history = pretrainer.fit(features, labels, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    outputs = pretrainer(features)
    assert "bfloat16" in str(outputs["mlm"].dtype)
    loss = pretrainer.compute_loss(y=labels, y_pred=outputs)
    assert "float32" in str(ops.convert_to_tensor(loss).dtype)


def test_mixed_float16_uses_loss_scaling():
    if keras.backend.backend() == "jax":
        pytest.skip("XLA:CPU has no float16 matmul; mixed_float16 is for GPUs")
    backbone = CompactBackbone(**TINY_ALBERT, dtype="mixed_float16")
    pretrainer = AlbertPretrainer(backbone)
    pretrainer.compile(optimizer=make_lamb_optimizer(8, total_steps=2))
    assert isinstance(pretrainer.optimizer, keras.optimizers.LossScaleOptimizer)
    history = pretrainer.fit(*pretraining_batch(), batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_unknown_sentence_task():
    with pytest.raises(ValueError, match="sentence_task='sbo'"):
        AlbertPretrainer(CompactBackbone(**TINY_ALBERT), sentence_task="sbo")
