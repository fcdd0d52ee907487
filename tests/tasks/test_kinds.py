"""The task-kind table (issue 19): one entry per kind, read by the task models,
losses, metrics and evaluation."""

import numpy as np
import pytest

from keras_compact import metrics
from keras_compact.tasks.kinds import TASK_KINDS
from keras_compact.tasks.kinds import task_kind


def test_each_kind_builds_its_model_loss_and_predictions():
    import keras

    from keras_compact.models import CompactBackbone
    from keras_compact.models import TextClassifier
    from keras_compact.models import TextRegressor

    backbone = CompactBackbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
                               intermediate_dim=16, embedding_dim=4, max_sequence_length=8)
    classes = task_kind("classification")
    model = classes.build_model(backbone, 3, 0.0, None)
    assert type(model) is TextClassifier and model.num_classes == 3
    assert isinstance(classes.loss(), keras.losses.SparseCategoricalCrossentropy)
    assert classes.metrics == metrics.CLASSIFICATION_METRICS
    regression = task_kind("regression")
    assert type(regression.build_model(backbone, 1, 0.0, None)) is TextRegressor
    assert isinstance(regression.loss(), keras.losses.MeanSquaredError)
    assert regression.metrics == metrics.REGRESSION_METRICS
    outputs = np.array([[0.5, 2.0], [1.5, -1.0]])
    np.testing.assert_array_equal(regression.predictions(outputs), [0.5, 1.5])
    np.testing.assert_array_equal(classes.predictions(outputs), outputs)
    assert set(TASK_KINDS) == {"classification", "regression"}


def test_an_unknown_kind_names_the_argument():
    with pytest.raises(ValueError, match="task='token'.*classification, regression"):
        task_kind("token")
