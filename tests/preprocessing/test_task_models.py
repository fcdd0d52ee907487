"""Task models on raw strings (keras-hub Task): `fit` lowers the loss and a
`.keras` round trip predicts the same on every backend; regression, mean
pooling against numpy, mixed-precision loss scaling, id inputs, and errors
that name the fix."""

import keras
import numpy as np
import pytest

from keras_compact import CompactBackbone
from keras_compact import TextClassifier
from keras_compact import TextClassifierPreprocessor
from keras_compact import TextEmbedder
from keras_compact import TextRegressor

SEQ_LEN = 16
TINY = dict(vocabulary_size=4000, num_layers=1, num_heads=2, hidden_dim=16,
            intermediate_dim=32, embedding_dim=8, max_sequence_length=SEQ_LEN)
POSITIVE = ["Lists are mutable sequences.", "Tuples are immutable sequences.",
            "Dictionaries map keys to values.", "Sets hold unique elements."]
NEGATIVE = ["The interpreter exits with status 1.", "A segmentation fault occurred.",
            "Py_DECREF releases a reference.", "The build failed on Windows."]


def _tokenizer(spm_model):
    from keras_compact.tokenizers import load_tokenizer

    return load_tokenizer(spm_model)


def _data():
    # Interleaved: fit on raw lists does not shuffle (keras-hub's tf.data path).
    texts = [t for pair in zip(POSITIVE, NEGATIVE) for t in pair] * 2
    labels = np.array([1, 0] * 8, dtype="int32")
    return texts, labels


@pytest.mark.multi_backend
def test_raw_string_fit_lowers_the_loss_and_round_trips(spm_model, tmp_path):
    keras.utils.set_random_seed(0)
    preprocessor = TextClassifierPreprocessor(_tokenizer(spm_model), SEQ_LEN)
    classifier = TextClassifier(CompactBackbone(**TINY), num_classes=2,
                                preprocessor=preprocessor, dropout=0.0)
    classifier.compile(optimizer=keras.optimizers.Adam(3e-3),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    texts, labels = _data()
    # A tiny model sits near log(2) for a few epochs before it moves; 12 epochs
    # leave a wide margin on every backend.
    history = classifier.fit(texts, labels, batch_size=4, epochs=12, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses
    evaluated = classifier.evaluate(texts, labels, batch_size=4, verbose=0, return_dict=True)
    assert evaluated["loss"] < losses[0]

    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, TextClassifier) and restored.preprocessor.sequence_length == 16
    new_texts = ["Strings are immutable too.", "", "x" * 5000]
    np.testing.assert_array_equal(restored.predict(new_texts, verbose=0),
                                  classifier.predict(new_texts, verbose=0))
    # The loaded model resumes with its own compile settings.
    assert isinstance(restored.loss, keras.losses.SparseCategoricalCrossentropy)
    restored.fit(texts, labels, batch_size=4, epochs=1, verbose=0)


@pytest.mark.multi_backend
def test_pair_regressor_fits_scores_with_mse(spm_model, tmp_path):
    preprocessor = TextClassifierPreprocessor(_tokenizer(spm_model), SEQ_LEN, pair=True)
    regressor = TextRegressor(CompactBackbone(**TINY), preprocessor=preprocessor, dropout=0.0)
    regressor.compile(optimizer=keras.optimizers.Adam(1e-2))  # MSE by default
    first = POSITIVE + NEGATIVE
    second = POSITIVE + POSITIVE
    scores = np.array([1.0, 0.9, 1.0, 0.8, 0.0, 0.1, 0.2, 0.0], dtype="float32")
    history = regressor.fit((first, second), scores, batch_size=4, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    predictions = regressor.predict((first, second), verbose=0)
    assert predictions.shape == (8, 1)
    mse = float(np.mean((predictions[:, 0] - scores) ** 2))
    assert abs(mse - regressor.evaluate((first, second), scores, verbose=0,
                                        return_dict=True)["loss"]) < 1e-3
    path = str(tmp_path / "regressor.keras")
    regressor.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is TextRegressor
    np.testing.assert_array_equal(restored.predict((first, second), verbose=0), predictions)


@pytest.mark.multi_backend
def test_embedder_mean_pools_real_tokens(spm_model, tmp_path):
    backbone = CompactBackbone(**TINY)
    preprocessor = TextClassifierPreprocessor(_tokenizer(spm_model), SEQ_LEN)
    texts = ["Lists are mutable sequences.", "", "A longer text " * 20]
    features = {k: keras.ops.convert_to_numpy(v) for k, v in preprocessor(texts).items()}
    hidden = keras.ops.convert_to_numpy(backbone(features)["sequence_output"])
    mask = features["padding_mask"][..., None].astype("float32")
    expected = (hidden * mask).sum(1) / mask.sum(1)
    plain = TextEmbedder(backbone, preprocessor=preprocessor)
    np.testing.assert_allclose(plain.predict(texts, verbose=0), expected, atol=1e-5)
    unit = TextEmbedder(backbone, preprocessor=preprocessor, normalize=True)
    vectors = unit.predict(texts, verbose=0)
    np.testing.assert_allclose(vectors, expected / np.linalg.norm(expected, axis=1,
                                                                   keepdims=True), atol=1e-5)
    path = str(tmp_path / "embedder.keras")
    unit.save(path)
    restored = keras.saving.load_model(path)
    assert restored.normalize
    np.testing.assert_allclose(restored.predict(texts, verbose=0), vectors, atol=1e-6)


@pytest.mark.multi_backend
def test_id_inputs_still_work_without_a_preprocessor():
    from tests.conftest import random_inputs

    classifier = TextClassifier(CompactBackbone(**dict(TINY, vocabulary_size=100)), 3)
    inputs = random_inputs(batch=4, length=SEQ_LEN)
    logits = keras.ops.convert_to_numpy(classifier(inputs))
    assert logits.shape == (4, 3)
    features = classifier.backbone.compute_features(inputs, return_hidden_states=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(classifier.compute_logits(features["pooled_output"])),
        logits, atol=1e-5)
    classifier.compile(optimizer="adam",
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    classifier.fit(inputs, np.array([0, 1, 2, 0]), epochs=1, verbose=0)


def test_a_task_with_a_preprocessor_still_takes_feature_dicts(spm_model):
    """Ids (e.g. the fine-tuning datasets) pass through the preprocessor, so
    attaching one changes nothing for id inputs."""
    from keras_compact.tasks.datasets import make_dataset

    preprocessor = TextClassifierPreprocessor(_tokenizer(spm_model), SEQ_LEN)
    classifier = TextClassifier(CompactBackbone(**TINY), 2, preprocessor=preprocessor)
    texts, labels = _data()
    dataset = make_dataset(list(zip(texts, labels.tolist())), None, preprocessor, batch_size=4)
    classifier.fit(dataset, epochs=1, verbose=0)
    features, _ = next(iter(dataset))
    np.testing.assert_allclose(classifier.predict(texts[:4], verbose=0),
                               keras.ops.convert_to_numpy(classifier.predict_on_batch(features)),
                               atol=1e-6)


@pytest.mark.multi_backend
def test_mixed_float16_backbones_get_loss_scaling():
    """The Task takes its backbone's dtype policy, so compile adds loss
    scaling (a TextClassifier used to compile a float16 backbone without)."""
    for cls, kwargs in ((TextClassifier, {"num_classes": 2}), (TextRegressor, {})):
        model = cls(CompactBackbone(**TINY, dtype="mixed_float16"), **kwargs)
        assert model.dtype_policy.name == "mixed_float16"
        model.compile(optimizer="adam", loss="mse")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        model.compile()  # the default compile too
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    float32 = TextClassifier(CompactBackbone(**TINY), num_classes=2)
    float32.compile(optimizer="adam", loss="mse")
    assert not isinstance(float32.optimizer, keras.optimizers.LossScaleOptimizer)


def test_backbone_mismatches_are_clear_errors(spm_model):
    tokenizer = _tokenizer(spm_model)  # 4,000 pieces
    too_long = TextClassifierPreprocessor(tokenizer, sequence_length=SEQ_LEN * 2)
    for build in (lambda p: TextClassifier(CompactBackbone(**TINY), 2, preprocessor=p),
                  lambda p: TextRegressor(CompactBackbone(**TINY), preprocessor=p),
                  lambda p: TextEmbedder(CompactBackbone(**TINY), preprocessor=p)):
        with pytest.raises(ValueError, match="sequence_length=32 is above the backbone's "
                                             "max_sequence_length=16.*sequence_length <= 16"):
            build(too_long)
    small_table = CompactBackbone(**dict(TINY, vocabulary_size=1000))
    with pytest.raises(ValueError, match="4000 tokens but the backbone's token table has "
                                         "vocabulary_size=1000"):
        TextClassifier(small_table, 2, preprocessor=TextClassifierPreprocessor(tokenizer, 8))
    with pytest.raises(ValueError, match="num_classes=0"):
        TextClassifier(CompactBackbone(**TINY), 0)
