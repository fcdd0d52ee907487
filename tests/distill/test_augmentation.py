"""TinyBERT data augmentation: word splitting, word vectors, MLM candidates,
variants and teacher labels, with a real SentencePiece model."""

import keras
import numpy as np
import pytest

from keras_compact import CompactBackbone
from keras_compact import TextClassifier
from keras_compact.distill.augmentation import TextAugmenter
from keras_compact.distill.augmentation import WordVectors
from keras_compact.distill.augmentation import augment_task
from keras_compact.distill.augmentation import split_words
from keras_compact.distill.augmentation import teacher_labels
from keras_compact.models.pretrainer import AlbertPretrainer

pytestmark = pytest.mark.multi_backend

TEXTS = [
    "The function returns a list of names, sorted by their value.",
    "Use the asyncio module to run coroutines concurrently in one thread.",
    "Exceptions raised inside a generator propagate to the caller.",
]
TINY = dict(num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
            embedding_dim=16, max_sequence_length=32)


@pytest.fixture
def pretrainer(spm_model):
    from keras_compact.data.tokenizer import load_sentencepiece_processor

    size = load_sentencepiece_processor(spm_model).get_piece_size()
    return AlbertPretrainer(CompactBackbone(vocabulary_size=size, **TINY))


def _glove_file(path):
    vectors = {
        "parameter": [1.0, 0.1, 0.0], "argument": [0.9, 0.2, 0.0],
        "parameters": [0.95, 0.0, 0.1], "banana": [0.0, 0.0, 1.0],
        "apple": [0.0, 0.1, 0.9],
    }
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()))
    return str(path)


def test_split_words_separates_punctuation():
    assert split_words("Call f(x), then return.") == [
        "Call", "f", "(", "x", ")", ",", "then", "return", "."]
    assert split_words("") == []


def test_glove_neighbours_by_cosine(tmp_path):
    vectors = WordVectors.from_glove(_glove_file(tmp_path / "glove.txt"))
    assert vectors.neighbours("Parameter", 2) == ["argument", "parameters"]
    assert vectors.neighbours("banana", 1) == ["apple"]
    assert vectors.neighbours("unknownword", 3) == []


def test_glove_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        WordVectors.from_glove(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_text("one 1.0 2.0\ntwo 1.0 x\n")
    with pytest.raises(ValueError, match=r"bad.txt:2"):
        WordVectors.from_glove(str(bad))
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("one 1.0 2.0\ntwo 1.0\n")
    with pytest.raises(ValueError, match="has 1 numbers"):
        WordVectors.from_glove(str(ragged))


def test_mlm_candidates_are_the_teachers_top_k(pretrainer, spm_model):
    augmenter = TextAugmenter(pretrainer, spm_model, top_k=5, sequence_length=32,
                              batch_size=4)
    (words, options), *_ = augmenter.candidates(TEXTS[:1], progress=False)
    assert words == split_words(TEXTS[0])
    processor = augmenter.processor
    # "function" is one piece: mask it and ask the model directly.
    index = words.index("function")
    assert len(processor.encode("function")) == 1
    ids = [2] + [p for w in words for p in processor.encode(w)][:30] + [3]
    position = 1 + sum(len(processor.encode(w)) for w in words[:index])
    token_ids = np.array([ids], "int32")
    token_ids[0, position] = processor.piece_to_id("[MASK]")
    logits = keras.ops.convert_to_numpy(pretrainer({
        "token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
        "padding_mask": np.ones_like(token_ids),
        "mask_positions": np.array([[position]], "int32")})["mlm"])[0, 0]
    whole = {i: p[1:] for i in range(processor.get_piece_size())
             if (p := processor.id_to_piece(i)).startswith("\u2581") and p[1:].isalpha()
             and not processor.is_control(i)}
    ranked = [whole[i] for i in np.argsort(-logits) if i in whole and whole[i] != "function"]
    assert options[index] == ranked[:5]
    assert options[words.index(",")] == []  # punctuation is never replaced


def test_variants_replace_only_with_candidates(pretrainer, spm_model):
    never = TextAugmenter(pretrainer, spm_model, num_variants=3, replace_prob=0.0,
                          sequence_length=32)
    assert never.augment(TEXTS, progress=False) == [[" ".join(split_words(t))] * 3
                                                    for t in TEXTS]
    always = TextAugmenter(pretrainer, spm_model, num_variants=2, replace_prob=1.0,
                           sequence_length=32, mask_fraction=0.5, seed=3)
    candidates = always.candidates(TEXTS, progress=False)
    for (words, options), variants in zip(candidates, always.augment(TEXTS, progress=False)):
        assert len(variants) == 2
        for variant in variants:
            new = variant.split(" ")
            assert len(new) == len(words)
            for old, word, option in zip(words, new, options):
                assert (word in option) if option else word == old


def test_mask_fraction_needs_fewer_mlm_passes(pretrainer, spm_model):
    one = TextAugmenter(pretrainer, spm_model, sequence_length=32)
    many = TextAugmenter(pretrainer, spm_model, sequence_length=32, mask_fraction=0.25)
    words = [split_words(t) for t in TEXTS]
    assert len(many._mlm_queries(words)) <= 4 * len(TEXTS) < len(one._mlm_queries(words))


def test_bad_settings_are_clear_errors(pretrainer, spm_model):
    with pytest.raises(ValueError, match="replace_prob"):
        TextAugmenter(pretrainer, spm_model, replace_prob=1.5)
    with pytest.raises(ValueError, match="num_variants"):
        TextAugmenter(pretrainer, spm_model, num_variants=0)
    other = AlbertPretrainer(CompactBackbone(vocabulary_size=100, **TINY))
    with pytest.raises(ValueError, match="predicts 100 pieces"):
        TextAugmenter(other, spm_model)


def test_augmented_examples_carry_the_teachers_labels(pretrainer, spm_model):
    from keras_compact.preprocessing import TextClassifierPreprocessor

    teacher = TextClassifier(pretrainer.backbone, num_classes=3)
    augmenter = TextAugmenter(pretrainer, spm_model, num_variants=2, sequence_length=32,
                              mask_fraction=0.5)
    pairs = [(text, 7) for text in TEXTS]
    # No preprocessor on the teacher: one from the augmenter's vocabulary.
    augmented = augment_task(pairs, augmenter, teacher, progress=False)
    assert augmented[:3] == pairs and len(augmented) == 3 + 3 * 2
    texts = [text for text, _ in augmented[3:]]
    expected = teacher_labels(teacher, texts,
                              TextClassifierPreprocessor(spm_model, sequence_length=32))
    assert [label for _, label in augmented[3:]] == expected.tolist()
    assert set(expected.tolist()) <= {0, 1, 2}


def test_teacher_labels_are_the_teachers_own_predictions(pretrainer, spm_model):
    """With a preprocessor, the labels are argmax of the teacher's own
    `predict` on the raw texts (keras-hub's Task path), batch remainder included."""
    from keras_compact.preprocessing import TextClassifierPreprocessor

    preprocessor = TextClassifierPreprocessor(spm_model, sequence_length=16)
    teacher = TextClassifier(pretrainer.backbone, num_classes=3, preprocessor=preprocessor)
    texts = TEXTS + [" ".join(reversed(split_words(t))) for t in TEXTS] + ["", "x"]
    logits = keras.ops.convert_to_numpy(teacher.predict(texts, batch_size=4, verbose=0))
    labels = teacher_labels(teacher, texts, batch_size=3)
    np.testing.assert_array_equal(labels, np.argmax(logits, axis=-1))
    assert teacher_labels(teacher, []).shape == (0,)
    with pytest.raises(ValueError, match="tokenizer="):
        teacher_labels(TextClassifier(pretrainer.backbone, num_classes=3), texts)
