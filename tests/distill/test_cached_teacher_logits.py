"""Teacher logits computed once: the Distiller's loss from cached logits equals
the loss with the teacher run online, and the run directory's cache is reused
only with the same fingerprint."""

import numpy as np
import pytest

from keras_compact.distill import Distiller
from keras_compact.models import CompactBackbone
from keras_compact.models import TextClassifier

CONFIG = dict(vocabulary_size=60, num_heads=2, intermediate_dim=32, max_sequence_length=16)


def _models():
    teacher = TextClassifier(CompactBackbone(num_layers=2, hidden_dim=16, **CONFIG),
                             num_classes=3)
    student = TextClassifier(CompactBackbone(num_layers=1, hidden_dim=8, embedding_dim=8,
                                             **CONFIG), num_classes=3)
    return teacher, student


def _features(rows=12, length=10, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((rows, length), "int32")
    mask[:, length - 3:] = 0
    return {"token_ids": rng.integers(1, 60, (rows, length)).astype("int32") * mask,
            "segment_ids": np.zeros((rows, length), "int32"), "padding_mask": mask}


@pytest.mark.multi_backend
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_cached_logits_give_the_online_loss(temperature):
    teacher, student = _models()
    features = _features()
    logits = np.asarray(teacher.predict(features, verbose=0), "float32")
    online = Distiller(teacher, student, stage="prediction", temperature=temperature)
    cached = Distiller(teacher, student, stage="prediction", temperature=temperature,
                       cached_teacher_logits=True)
    for distiller in (online, cached):
        distiller.compile(optimizer="sgd")
    expected = online.evaluate(features, batch_size=4, verbose=0, return_dict=True)
    got = cached.evaluate({**features, "teacher_logits": logits}, batch_size=4, verbose=0,
                          return_dict=True)
    np.testing.assert_allclose(got["prediction_loss"], expected["prediction_loss"],
                               rtol=1e-5)
    assert expected["prediction_loss"] > 0


@pytest.mark.multi_backend
def test_cached_logits_need_the_prediction_loss_and_the_logits():
    teacher, student = _models()
    with pytest.raises(ValueError, match="cached_teacher_logits=True feeds the prediction"):
        Distiller(teacher, student, stage="intermediate", cached_teacher_logits=True)
    cached = Distiller(teacher, student, stage="prediction", cached_teacher_logits=True)
    with pytest.raises(ValueError, match="x must hold 'teacher_logits'"):
        cached(_features(rows=2))


def test_the_cache_is_reused_only_with_the_same_fingerprint(tmp_path, capsys):
    from keras_compact.training.distillation_job import DistillationJob
    from keras_compact.training.distillation_job import run_settings
    from keras_compact.training.teacher_cache import teacher_logits

    teacher, _ = _models()
    teacher.save(str(tmp_path / "teacher.keras"))
    job = DistillationJob(output_dir=str(tmp_path / "run"),
                          teacher=str(tmp_path / "teacher.keras"), sequence_length=10, batch_size=4)
    features = _features()

    def logits_for(job, features):
        values = teacher_logits(job, run_settings(job), teacher, features)
        return values, capsys.readouterr().out

    first, out = logits_for(job, features)
    assert "computed once for 12 examples" in out and first.shape == (12, 3)
    np.testing.assert_allclose(first, teacher.predict(features, verbose=0), atol=1e-6)
    again, out = logits_for(job, features)
    assert "reusing" in out
    np.testing.assert_array_equal(again, first)
    # Another sequence_length, other examples, another teacher file: never reused.
    job.sequence_length = 12
    _, out = logits_for(job, features)
    assert "other settings (sequence_length)" in out and "computed once" in out
    _, out = logits_for(job, _features(seed=1))
    assert "other settings (features_sha256)" in out
    job.num_variants = 3
    _, out = logits_for(job, _features(seed=1))
    assert "other settings (num_variants)" in out
    TextClassifier(CompactBackbone(num_layers=1, hidden_dim=16, **CONFIG),
                   num_classes=3).save(job.teacher)
    _, out = logits_for(job, _features(seed=1))
    assert "other settings (teacher)" in out
