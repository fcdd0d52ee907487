"""The task-kind table: what differs between classification and regression.

Plain Python until a kind's functions are called (they import Keras lazily).
Every module that used to switch on "regression" reads the kind's entry
instead: the task model class, its loss, its Keras metrics and reported
metric names, how raw outputs become predictions and what `predict` writes,
the dtype and shape of the labels in the datasets, and what `task.json`
stores and is checked against. A new kind (token classification, say) is
one more `TaskKind` in `TASK_KINDS`, plus its model class and metric
functions where they do not exist yet (docs/how-to/add-task-kind.md).

Example:
```python
kind = task_kind("regression")
model = kind.build_model(backbone, num_outputs=1, dropout=0.1, preprocessor=p)
model.compile(optimizer, loss=kind.loss(), metrics=kind.keras_metrics(1))
kind.predictions(outputs)   # outputs[:, 0]: the score of each example
```
"""

import dataclasses

import numpy as np


def _classifier(backbone, num_outputs, dropout, preprocessor):
    from keras_compact.models import TextClassifier

    return TextClassifier(backbone, num_classes=num_outputs, dropout=dropout,
                          preprocessor=preprocessor)


def _regressor(backbone, num_outputs, dropout, preprocessor):
    from keras_compact.models import TextRegressor

    return TextRegressor(backbone, dropout=dropout, preprocessor=preprocessor)


def _classifier_class():
    from keras_compact.models import TextClassifier

    return TextClassifier


def _regressor_class():
    from keras_compact.models import TextRegressor

    return TextRegressor


def _class_prediction(output, names):
    """Logits -> the predicted label and every class's probability."""
    output = np.asarray(output, dtype="float64")
    exp = np.exp(output - output.max())
    probabilities = exp / exp.sum()
    return {"label": names[int(np.argmax(output))],
            "probabilities": {name: round(float(p), 6) for name, p in zip(names, probabilities)}}


def _score_prediction(output, names):
    return {"score": float(np.asarray(output)[0])}


def _cross_entropy():
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _mse():
    import keras

    return keras.losses.MeanSquaredError()


def _classification_metrics(num_outputs, glue_task=None):
    from keras_compact.metrics import keras_metrics

    return keras_metrics(glue_task, num_classes=max(2, num_outputs))


def _regression_metrics(num_outputs, glue_task=None):
    from keras_compact.metrics import keras_metrics

    return keras_metrics(regression=True)


@dataclasses.dataclass(frozen=True)
class TaskKind:
    """One row of the table.

    Attributes:
        name: the kind's name in `task.json` and `--task`.
        label_dtype: numpy / tf dtype of a label ("int32" ids, "float32" scores).
        label_shape: per-example label shape in a batch ((): ids; (1,): the
            regressor's one output).
        metrics: the metric names reported by default (`keras_compact.metrics`).
        build_model: (backbone, num_outputs, dropout, preprocessor) -> a task model.
        loss: () -> the Keras loss on the model's outputs.
        keras_metrics: (num_outputs, glue_task=None) -> Keras metric objects.
        predictions: raw outputs [N, outputs] -> what metrics compare with
            gold labels (logits for classes, the score column for regression).
        has_names: labels are class names (task.json's labels.names), one
            output per name; False: one output, no names.
        allowed_metrics: every metric name a task of this kind may report
            (checked in task.json).
        model_class: () -> the task model class a saved model of this kind is.
        format_prediction: (one example's raw output, names) -> the dict
            `predict` writes (besides "line").
    """

    name: str
    label_dtype: str
    label_shape: tuple
    metrics: tuple
    build_model: object
    loss: object
    keras_metrics: object
    predictions: object
    has_names: bool
    allowed_metrics: tuple
    model_class: object
    format_prediction: object


TASK_KINDS = {
    "classification": TaskKind(
        name="classification", label_dtype="int32", label_shape=(),
        metrics=("accuracy",),
        build_model=_classifier, loss=_cross_entropy, keras_metrics=_classification_metrics,
        predictions=lambda outputs: np.asarray(outputs), has_names=True,
        allowed_metrics=("accuracy", "f1", "matthews_corrcoef"),
        model_class=_classifier_class, format_prediction=_class_prediction),
    "regression": TaskKind(
        name="regression", label_dtype="float32", label_shape=(1,),
        metrics=("pearson", "spearman", "mse"),
        build_model=_regressor, loss=_mse, keras_metrics=_regression_metrics,
        predictions=lambda outputs: np.asarray(outputs)[:, 0], has_names=False,
        allowed_metrics=("pearson", "spearman", "mse"),
        model_class=_regressor_class, format_prediction=_score_prediction),
}


def task_kind(name, argument="task"):
    """The `TaskKind` called `name`.

    Raises:
        ValueError: an unknown name, naming `argument` and the known kinds.
    """
    if isinstance(name, TaskKind):
        return name
    if name not in TASK_KINDS:
        raise ValueError(f"{argument}={name!r} is not a task kind; pass one of "
                         f"{', '.join(sorted(TASK_KINDS))}.")
    return TASK_KINDS[name]
