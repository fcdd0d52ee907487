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


def test_a_new_kind_is_one_table_entry(tmp_path, monkeypatch):
    """docs/how-to/add-task-kind.md's claim: a kind registered only in
    `TASK_KINDS` is trained, scored, saved, checked in task.json, read back
    and predicted through the one path, with no edit anywhere else."""
    import dataclasses

    import keras

    from keras_compact.models import CompactBackbone
    from keras_compact.tasks.kinds import TaskKind
    from keras_compact.tasks.labels import LabelInfo
    from keras_compact.tasks.text_files import Row
    from keras_compact.tokenizers import load_tokenizer
    from keras_compact.training.tasks import evaluate_split
    from keras_compact.training.tasks import finetune_task
    from keras_compact.training.tasks import load_task_model
    from keras_compact.training.tasks import predict_rows
    from tests.tasks.fixtures import NEGATIVE
    from tests.tasks.fixtures import POSITIVE

    calls = []

    def loss():
        calls.append("loss")
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    toy = dataclasses.replace(
        TASK_KINDS["classification"], name="toy", loss=loss, metrics=("accuracy",),
        allowed_metrics=("accuracy",),
        format_prediction=lambda output, names: {"toy_label": names[int(np.argmax(output))]})
    assert isinstance(toy, TaskKind)
    monkeypatch.setitem(TASK_KINDS, "toy", toy)

    words = sorted({w.strip(",") for text in POSITIVE + NEGATIVE for w in text.lower().split()})
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ","] + words)
                     + "\n", encoding="utf-8")
    tokenizer = load_tokenizer(str(vocab))
    rows = [(t, 0) for t in NEGATIVE] + [(t, 1) for t in POSITIVE]
    labels = LabelInfo("toy", ["bad", "good"])
    task = {"train": rows * 2, "validation": {"validation": rows}, "test": {}, "labels": labels,
            "counts": {"train": 2 * len(rows), "validation": len(rows)}, "skipped": {},
            "name": None, "metrics": toy.metrics, "pair": False}
    keras.utils.set_random_seed(0)
    backbone = CompactBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=2, hidden_dim=16, intermediate_dim=32,
                               embedding_dim=8, max_sequence_length=16)
    result = finetune_task(task, backbone, tokenizer, str(tmp_path / "run"), epochs=1,
                           batch_size=4, sequence_length=16, verbose=0)
    assert calls == ["loss"] and set(result["scores"]["validation"]) == {"accuracy"}

    model, info = load_task_model(str(tmp_path / "run"))
    assert info["label_info"].kind == "toy" and info["sequence_length"] == 16
    scores = evaluate_split(model, rows, info["label_info"], info["metrics"])
    assert scores == pytest.approx(result["scores"]["validation"])
    predicted = list(predict_rows(model, info, [Row(1, POSITIVE[0]), Row(2, NEGATIVE[0])]))
    assert [p["line"] for p in predicted] == [1, 2]
    assert all(p["toy_label"] in ("bad", "good") for p in predicted)
