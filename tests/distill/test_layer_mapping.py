import pytest

from keras_compact.distill import layer_mapping

pytestmark = pytest.mark.multi_backend


@pytest.mark.parametrize(
    "student, teacher, strategy, expected",
    [
        (4, 12, "uniform", (3, 6, 9, 12)),  # TinyBERT4 from BERT-base: 3m
        (6, 12, "uniform", (2, 4, 6, 8, 10, 12)),
        (2, 5, "uniform", (2, 5)),  # floor when M does not divide N
        (3, 3, "uniform", (1, 2, 3)),
        (4, 12, "top", (9, 10, 11, 12)),
        (4, 12, "bottom", (1, 2, 3, 4)),
        (2, 4, [1, 4], (1, 4)),
        (2, 4, (3, 3), (3, 3)),
    ],
)
def test_strategies(student, teacher, strategy, expected):
    assert layer_mapping(student, teacher, strategy) == expected


def test_uniform_always_ends_at_the_last_teacher_layer():
    for teacher in range(1, 13):
        for student in range(1, teacher + 1):
            mapping = layer_mapping(student, teacher)
            assert mapping[-1] == teacher
            assert list(mapping) == sorted(set(mapping))


@pytest.mark.parametrize(
    "args, match",
    [
        ((6, 4), "more layers \\(student_layers=6\\).*teacher_layers=4"),
        ((2, 4, [1, 2, 3]), "got 3 entries.*student_layers=2"),
        ((2, 4, [0, 4]), "Teacher layer 0 .*use 1..4"),
        ((2, 4, [1, 5]), "Teacher layer 5 .*use 1..4"),
        ((2, 4, [1, 2.0]), "must be ints, got 2.0"),
        ((2, 4, "middle"), "strategy='middle'.*'uniform'"),
        ((0, 4), "student_layers=0"),
    ],
)
def test_errors(args, match):
    with pytest.raises(ValueError, match=match):
        layer_mapping(*args)
