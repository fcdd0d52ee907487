"""Whole-set GLUE metrics against scikit-learn and scipy."""

import keras
import numpy as np
import pytest
import scipy.stats
from sklearn import metrics as sk

from keras_compact import metrics


def _data(seed, n=257, classes=2):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 1.5 * np.eye(classes)[labels]
    return labels, logits


@pytest.mark.parametrize("seed,classes", [(0, 2), (1, 2), (2, 3)])
def test_functions_match_scikit_learn(seed, classes):
    labels, logits = _data(seed, classes=classes)
    predicted = logits.argmax(-1)
    assert metrics.accuracy(labels, logits) == pytest.approx(sk.accuracy_score(labels, predicted))
    assert metrics.matthews_corrcoef(labels, predicted) == pytest.approx(
        sk.matthews_corrcoef(labels, predicted), abs=1e-12)
    if classes == 2:
        assert metrics.f1_score(labels, predicted) == pytest.approx(sk.f1_score(labels, predicted))


def test_correlations_match_scipy_with_ties():
    rng = np.random.default_rng(0)
    gold = np.round(rng.uniform(0, 5, 500), 1)  # many ties, as STS-B's scores
    predicted = gold + rng.normal(scale=1.0, size=500)
    predicted[:50] = 2.5  # ties in the predictions too
    assert metrics.pearson_corrcoef(gold, predicted) == pytest.approx(
        scipy.stats.pearsonr(gold, predicted)[0], abs=1e-12)
    assert metrics.spearman_corrcoef(gold, predicted) == pytest.approx(
        scipy.stats.spearmanr(gold, predicted)[0], abs=1e-12)
    np.testing.assert_allclose(metrics.rank_average(predicted), scipy.stats.rankdata(predicted))


def test_degenerate_cases_are_zero_not_nan():
    assert metrics.matthews_corrcoef([1, 1, 1], [1, 1, 1]) == 0.0
    assert metrics.f1_score([0, 0], [0, 0]) == 0.0
    assert metrics.pearson_corrcoef([1.0, 2.0], [3.0, 3.0]) == 0.0
    with pytest.raises(ValueError, match="3 examples but predictions has 2"):
        metrics.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], [])


def test_glue_table_and_task_scores():
    assert metrics.GLUE_METRICS["cola"] == ("matthews_corrcoef",)
    assert metrics.GLUE_METRICS["stsb"] == ("pearson", "spearman")
    assert set(metrics.GLUE_METRICS) == {"cola", "sst2", "mrpc", "stsb", "qqp", "mnli",
                                         "qnli", "rte", "wnli"}
    scores = metrics.task_scores("mrpc", [1, 0, 1, 1], [1, 1, 1, 0])
    assert list(scores) == ["f1", "accuracy"]
    assert scores["f1"] == pytest.approx(sk.f1_score([1, 0, 1, 1], [1, 1, 1, 0]))
    assert list(metrics.task_scores("STS-B", [0.0, 1.0, 2.0], [0.0, 2.0, 1.0])) == [
        "pearson", "spearman"]
    with pytest.raises(ValueError, match="Unknown GLUE task 'glue9'"):
        metrics.task_scores("glue9", [0], [0])


@pytest.mark.multi_backend
@pytest.mark.parametrize("classes", [2, 3])
def test_keras_metrics_span_the_whole_set(classes):
    labels, logits = _data(5, n=301, classes=classes)
    predicted = logits.argmax(-1)
    objects = [metrics.ConfusionMatrixAccuracy(classes), metrics.MatthewsCorrelation(classes)]
    if classes == 2:
        objects.append(metrics.BinaryF1Score())
    for start in range(0, len(labels), 64):  # uneven batches: the last one is 45
        for metric in objects:
            metric.update_state(labels[start:start + 64], logits[start:start + 64].astype("float32"))
    results = {m.name: float(keras.ops.convert_to_numpy(m.result())) for m in objects}
    assert results["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted), abs=1e-6)
    assert results["matthews_corrcoef"] == pytest.approx(
        sk.matthews_corrcoef(labels, predicted), abs=1e-5)
    if classes == 2:
        assert results["f1"] == pytest.approx(sk.f1_score(labels, predicted), abs=1e-6)
    objects[0].reset_state()
    assert float(keras.ops.convert_to_numpy(objects[0].result())) == 0.0


@pytest.mark.multi_backend
def test_streaming_pearson_is_not_a_batch_average():
    rng = np.random.default_rng(3)
    # Batches ordered by label: each batch alone correlates weakly, the whole set strongly.
    gold = np.sort(rng.uniform(0, 5, 400)).astype("float32")
    predicted = (gold + rng.normal(scale=0.8, size=400)).astype("float32") + 1000.0
    streaming = metrics.StreamingPearsonCorrelation()
    per_batch = keras.metrics.PearsonCorrelation()
    for start in range(0, 400, 50):
        streaming.update_state(gold[start:start + 50], predicted[start:start + 50])
        per_batch.update_state(gold[start:start + 50], predicted[start:start + 50])
    reference = scipy.stats.pearsonr(gold, predicted)[0]
    assert float(keras.ops.convert_to_numpy(streaming.result())) == pytest.approx(
        reference, abs=1e-4)
    assert abs(float(keras.ops.convert_to_numpy(per_batch.result())) - reference) > 0.1


def test_keras_metrics_in_model_evaluate_and_config():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=metrics.keras_metrics("mrpc"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 3)).astype("float32")
    y = rng.integers(0, 2, 70)
    scores = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    predicted = model.predict(x, verbose=0).argmax(-1)
    assert scores["f1"] == pytest.approx(sk.f1_score(y, predicted), abs=1e-6)
    assert scores["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted), abs=1e-6)
    clone = metrics.BinaryF1Score.from_config(metrics.BinaryF1Score(3, positive=2).get_config())
    assert (clone.num_classes, clone.positive) == (3, 2)
