"""Whole-evaluation-set metrics, and the GLUE task -> official metric table.

GLUE scores a task once over its whole evaluation set: accuracy, F1 of the
positive class (MRPC, QQP), Matthews correlation (CoLA), Pearson and
Spearman correlation (STS-B). Averaging a per-batch figure is not the same
number (Keras' `keras.metrics.PearsonCorrelation` averages per-batch
correlations), so this module gives two things:

- functions over collected predictions (`accuracy`, `f1_score`,
  `matthews_corrcoef`, `pearson_corrcoef`, `spearman_corrcoef`,
  `task_scores`), plain numpy, checked against scikit-learn and scipy;
- Keras metrics whose state spans the whole evaluation
  (`ConfusionMatrixAccuracy`, `BinaryF1Score`, `MatthewsCorrelation`,
  `StreamingPearsonCorrelation`), written with `keras.ops` so they run on
  TensorFlow, JAX and torch inside `model.evaluate`. Classification metrics
  accumulate a confusion matrix; Pearson accumulates counts, means and
  co-moments merged batch by batch (Chan et al.'s parallel update, stable in
  float32). Spearman correlation needs the ranks of the whole set, which no
  fixed-size state holds, so it is a function only (`spearman_corrcoef`);
  `keras_compact.training.tasks.evaluate_predictions` collects predictions
  and computes every metric of a task.

Example:
```python
from keras_compact import metrics

metrics.task_scores("mrpc", labels=[1, 0, 1], predictions=[1, 1, 1])
# {"accuracy": 0.667, "f1": 0.8}
model.compile(..., metrics=[metrics.MatthewsCorrelation(num_classes=2)])
```
"""

import keras
import numpy as np

from keras_compact.tasks.glue import GLUE_METRICS  # noqa: E402  (task -> metrics)

CLASSIFICATION_METRICS = ("accuracy",)
REGRESSION_METRICS = ("pearson", "spearman", "mse")


def _as_labels(values, name):
    values = np.asarray(values)
    if values.ndim == 2:  # logits or probabilities
        values = np.argmax(values, axis=-1)
    values = values.reshape(-1)
    if not len(values):
        raise ValueError(f"{name} is empty; metrics need at least one example.")
    return values


def _pair(labels, predictions, classify=True):
    convert = _as_labels if classify else (
        lambda v, n: np.asarray(v, dtype="float64").reshape(-1))
    labels, predictions = convert(labels, "labels"), convert(predictions, "predictions")
    if len(labels) != len(predictions):
        raise ValueError(f"labels has {len(labels)} examples but predictions has "
                         f"{len(predictions)}; pass one prediction per label.")
    if not len(labels):
        raise ValueError("labels is empty; metrics need at least one example.")
    return labels, predictions


def accuracy(labels, predictions):
    """Share of predictions equal to the label (predictions: ids or logits)."""
    labels, predictions = _pair(labels, predictions)
    return float(np.mean(labels == predictions))


def f1_score(labels, predictions, positive=1):
    """F1 of the `positive` class (GLUE's MRPC and QQP figure); 0 when undefined."""
    labels, predictions = _pair(labels, predictions)
    true_positive = np.sum((predictions == positive) & (labels == positive))
    predicted = np.sum(predictions == positive)
    actual = np.sum(labels == positive)
    if predicted + actual == 0:
        return 0.0
    return float(2 * true_positive / (predicted + actual))


def _mcc_from_confusion(confusion):
    """Matthews correlation (multi-class, Gorodkin's R_K) of a confusion matrix."""
    confusion = np.asarray(confusion, dtype="float64")
    total = confusion.sum()
    correct = np.trace(confusion)
    true_counts = confusion.sum(axis=1)
    predicted_counts = confusion.sum(axis=0)
    numerator = correct * total - np.dot(true_counts, predicted_counts)
    denominator = np.sqrt(total ** 2 - np.dot(predicted_counts, predicted_counts)) * np.sqrt(
        total ** 2 - np.dot(true_counts, true_counts))
    return 0.0 if denominator == 0 else float(numerator / denominator)


def matthews_corrcoef(labels, predictions):
    """Matthews correlation coefficient (CoLA's figure); 0 when undefined."""
    labels, predictions = _pair(labels, predictions)
    classes = np.union1d(labels, predictions)
    index = {value: i for i, value in enumerate(classes.tolist())}
    confusion = np.zeros((len(classes), len(classes)))
    for true, predicted in zip(labels.tolist(), predictions.tolist()):
        confusion[index[true], index[predicted]] += 1
    return _mcc_from_confusion(confusion)


def pearson_corrcoef(labels, predictions):
    """Pearson correlation over the whole set; 0 when either side is constant."""
    labels, predictions = _pair(labels, predictions, classify=False)
    x, y = labels - labels.mean(), predictions - predictions.mean()
    denominator = np.sqrt(np.sum(x * x) * np.sum(y * y))
    return 0.0 if denominator == 0 else float(np.sum(x * y) / denominator)


def rank_average(values):
    """Ranks 1..n, ties sharing their average rank (scipy's rankdata 'average')."""
    values = np.asarray(values, dtype="float64").reshape(-1)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Start of each run of equal values, and each run's average rank.
    starts = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    run_ids = np.cumsum(starts) - 1
    run_starts = np.flatnonzero(starts)
    run_ends = np.concatenate([run_starts[1:], [len(values)]])
    average = (run_starts + run_ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(len(values))
    ranks[order] = average[run_ids]
    return ranks


def spearman_corrcoef(labels, predictions):
    """Spearman rank correlation (Pearson of the average ranks) over the whole set."""
    labels, predictions = _pair(labels, predictions, classify=False)
    return pearson_corrcoef(rank_average(labels), rank_average(predictions))


def mean_squared_error(labels, predictions):
    labels, predictions = _pair(labels, predictions, classify=False)
    return float(np.mean((labels - predictions) ** 2))


METRIC_FUNCTIONS = {
    "accuracy": accuracy,
    "f1": f1_score,
    "matthews_corrcoef": matthews_corrcoef,
    "pearson": pearson_corrcoef,
    "spearman": spearman_corrcoef,
    "mse": mean_squared_error,
}


def metric_names(task=None, regression=False):
    """The metrics reported for a GLUE task name, or a generic (regression) task."""
    if task is not None:
        key = str(task).lower().replace("-", "").replace("_", "")
        if key not in GLUE_METRICS:
            raise ValueError(f"Unknown GLUE task {task!r}; known: "
                             f"{', '.join(sorted(GLUE_METRICS))}.")
        return GLUE_METRICS[key]
    return REGRESSION_METRICS if regression else CLASSIFICATION_METRICS


def task_scores(task, labels, predictions, regression=None):
    """Every metric of `task` over the whole set.

    Args:
        task: a GLUE task name ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli",
            "qnli", "rte", "wnli"), or None for a generic task (accuracy, or
            with `regression=True` Pearson, Spearman and MSE).
        labels: gold label ids, or gold scores for regression.
        predictions: predicted ids or logits, or predicted scores.
        regression: only for `task=None`.

    Returns:
        A dict metric name -> float, the official metric first.

    Example:
    >>> task_scores("stsb", [0.0, 2.5, 5.0], [0.5, 2.0, 4.0])["spearman"]
    1.0
    """
    if task is not None and regression is None:
        regression = str(task).lower().replace("-", "") == "stsb"
    names = metric_names(task, regression=bool(regression))
    return {name: METRIC_FUNCTIONS[name](labels, predictions) for name in names}


# --------------------------------------------------------------------------
# Keras metrics (state over the whole evaluation; keras.ops, any backend).


class _ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates a (num_classes, num_classes) confusion matrix of counts.

    Rows are true classes, columns predicted ones. `y_pred` is logits or
    probabilities (batch, num_classes), or class ids (batch,).
    """

    def __init__(self, num_classes=2, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got "
                             f"num_classes={num_classes!r}.")
        self.num_classes = num_classes
        # float32 holds counts exactly up to 2**24 per cell, far above GLUE's sizes.
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", dtype="float32",
            name="confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        if len(y_pred.shape) == 2 and y_pred.shape[-1] != 1:
            y_pred = ops.argmax(y_pred, axis=-1)
        y_pred = ops.reshape(ops.cast(y_pred, "int32"), (-1,))
        true_hot = ops.one_hot(y_true, self.num_classes, dtype="float32")
        pred_hot = ops.one_hot(y_pred, self.num_classes, dtype="float32")
        if sample_weight is not None:
            true_hot = true_hot * ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1))
        self.confusion.assign_add(ops.matmul(ops.transpose(true_hot), pred_hot))

    def reset_state(self):
        # zeros(shape), not zeros_like(variable): JAX cannot take a Variable's dtype.
        self.confusion.assign(keras.ops.zeros(self.confusion.shape, dtype=self.confusion.dtype))

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_compact")
class ConfusionMatrixAccuracy(_ConfusionMatrixMetric):
    """Accuracy over every example seen since the last reset.

    Example:
    ```python
    model.compile(..., metrics=[ConfusionMatrixAccuracy(num_classes=3)])
    ```
    """

    def __init__(self, num_classes=2, name="accuracy", dtype=None):
        super().__init__(num_classes, name=name, dtype=dtype)

    def result(self):
        ops = keras.ops
        total = ops.sum(self.confusion)
        return ops.where(total > 0, ops.trace(self.confusion) / ops.maximum(total, 1.0), 0.0)


@keras.saving.register_keras_serializable(package="keras_compact")
class BinaryF1Score(_ConfusionMatrixMetric):
    """F1 of class `positive` over the whole evaluation (GLUE's MRPC / QQP F1).

    Example:
    ```python
    model.compile(..., metrics=[BinaryF1Score()])
    ```
    """

    def __init__(self, num_classes=2, positive=1, name="f1", dtype=None):
        super().__init__(num_classes, name=name, dtype=dtype)
        self.positive = positive

    def result(self):
        ops = keras.ops
        true_positive = self.confusion[self.positive, self.positive]
        denominator = ops.sum(self.confusion[self.positive, :]) + ops.sum(
            self.confusion[:, self.positive])
        return ops.where(denominator > 0, 2.0 * true_positive / ops.maximum(denominator, 1.0),
                         0.0)

    def get_config(self):
        return {**super().get_config(), "positive": self.positive}


@keras.saving.register_keras_serializable(package="keras_compact")
class MatthewsCorrelation(_ConfusionMatrixMetric):
    """Matthews correlation over the whole evaluation (GLUE's CoLA figure).

    Multi-class (Gorodkin's R_K, as scikit-learn); 0 when undefined.

    Example:
    ```python
    model.compile(..., metrics=[MatthewsCorrelation(num_classes=2)])
    ```
    """

    def __init__(self, num_classes=2, name="matthews_corrcoef", dtype=None):
        super().__init__(num_classes, name=name, dtype=dtype)

    def result(self):
        ops = keras.ops
        c = self.confusion
        total = ops.sum(c)
        true_counts = ops.sum(c, axis=1)
        predicted_counts = ops.sum(c, axis=0)
        numerator = ops.trace(c) * total - ops.sum(true_counts * predicted_counts)
        denominator = ops.sqrt(total * total - ops.sum(predicted_counts * predicted_counts)) * (
            ops.sqrt(total * total - ops.sum(true_counts * true_counts)))
        return ops.where(denominator > 0, numerator / ops.maximum(denominator, 1e-12), 0.0)


@keras.saving.register_keras_serializable(package="keras_compact")
class StreamingPearsonCorrelation(keras.metrics.Metric):
    """Pearson correlation over the whole evaluation, not a per-batch average.

    State: count, means and co-moments, merged batch by batch with Chan et
    al.'s parallel formulas (no sums of squares, so float32 stays accurate).

    Example:
    ```python
    regressor.compile(loss="mse", metrics=[StreamingPearsonCorrelation()])
    ```
    """

    def __init__(self, name="pearson", dtype=None):
        super().__init__(name=name, dtype=dtype)
        names = ("count", "mean_x", "mean_y", "m2_x", "m2_y", "c_xy")
        for variable_name in names:
            setattr(self, variable_name, self.add_variable(
                shape=(), initializer="zeros", dtype="float32", name=variable_name))

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        x = ops.reshape(ops.cast(y_true, "float32"), (-1,))
        y = ops.reshape(ops.cast(y_pred, "float32"), (-1,))
        n_b = ops.cast(ops.shape(x)[0], "float32")
        mean_x_b = ops.mean(x)
        mean_y_b = ops.mean(y)
        dx, dy = x - mean_x_b, y - mean_y_b
        m2_x_b, m2_y_b, c_b = ops.sum(dx * dx), ops.sum(dy * dy), ops.sum(dx * dy)
        n_a = self.count
        n = n_a + n_b
        delta_x = mean_x_b - self.mean_x
        delta_y = mean_y_b - self.mean_y
        weight = n_a * n_b / ops.maximum(n, 1.0)
        self.m2_x.assign(self.m2_x + m2_x_b + delta_x * delta_x * weight)
        self.m2_y.assign(self.m2_y + m2_y_b + delta_y * delta_y * weight)
        self.c_xy.assign(self.c_xy + c_b + delta_x * delta_y * weight)
        share = n_b / ops.maximum(n, 1.0)
        self.mean_x.assign(self.mean_x + delta_x * share)
        self.mean_y.assign(self.mean_y + delta_y * share)
        self.count.assign(n)

    def result(self):
        ops = keras.ops
        denominator = ops.sqrt(self.m2_x * self.m2_y)
        return ops.where(denominator > 0, self.c_xy / ops.maximum(denominator, 1e-30), 0.0)

    def reset_state(self):
        for variable in self.variables:
            variable.assign(keras.ops.zeros(variable.shape, dtype=variable.dtype))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def keras_metrics(task=None, num_classes=2, regression=False):
    """Keras metric objects for `model.compile` covering a task's metrics.

    Spearman has no fixed-size state (see the module docstring) and is left
    to `task_scores` over collected predictions.
    """
    if task is not None:
        regression = str(task).lower().replace("-", "") == "stsb"
    if regression:
        return [StreamingPearsonCorrelation()]
    names = metric_names(task) if task is not None else CLASSIFICATION_METRICS
    metrics = [ConfusionMatrixAccuracy(num_classes)]
    if "f1" in names:
        metrics.append(BinaryF1Score(num_classes))
    if "matthews_corrcoef" in names:
        metrics.append(MatthewsCorrelation(num_classes))
    return metrics
