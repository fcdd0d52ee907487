"""tf.data pipelines for labelled text: raw texts through the model's preprocessor
(TF-only module).

`prepare_task` reads every split once, streaming, before anything is trained
or written: it fixes the label vocabulary from the training split and checks
every row of every split, so a bad file fails at once with a message that
names it. `make_dataset` then streams a split through tf.data
(`Dataset.from_generator` over `text_files.iter_rows`, or in-memory rows, a
bounded shuffle buffer) and maps the model's own
`keras_compact.preprocessing.TextClassifierPreprocessor` over each batch of
raw texts (or text pairs): the ids a model trains on are the ids it
computes itself from raw strings, and the ids its exports serve. The
datasets feed `model.fit` on any Keras backend.

Example:
```python
from keras_compact.preprocessing import TextClassifierPreprocessor
from keras_compact.tasks.text_files import FileSpec
from keras_compact.tasks.datasets import make_dataset, prepare_task

task = prepare_task(FileSpec("train.csv", "sentence", label_column="label"),
                    {"validation": FileSpec("dev.csv", "sentence", label_column="label")})
preprocessor = TextClassifierPreprocessor("hf_model_dir/", sequence_length=128)
train = make_dataset(task["train"], task["labels"], preprocessor, shuffle=True)
```
"""

import os

import numpy as np

from keras_compact.tasks import labels as labels_module
from keras_compact.tasks import text_files

SHUFFLE_BUFFER = 10_000


# ---------------------------------------------------------------- task files


def prepare_task(train, validation=None, test=None, task=None, label_names=None,
                 name=None, metrics=None):
    """Reads every split once and fixes the labels; raises before any work.

    Args:
        train: `FileSpec` of the training split.
        validation, test: dicts split name -> `FileSpec` (or one FileSpec).
        task: None (infer), "classification" or "regression".
        label_names: a fixed label list (GLUE); None: from the training split.
        name: task name (a GLUE key picks the official metrics).
        metrics: metric names (default: from `name`, or by task kind).

    Returns:
        A dict: "train", "validation", "test" (dicts of FileSpec), "labels"
        (`LabelInfo`), "counts" (split -> examples), "skipped" (split ->
        bad rows skipped), "name", "metrics", "pair".

    Raises:
        DataFileError / FileNotFoundError: see `keras_compact.tasks.text_files`.
    """
    from keras_compact.metrics import metric_names
    from keras_compact.tasks.kinds import task_kind

    def as_dict(value, default_name):
        if value is None:
            return {}
        if isinstance(value, text_files.FileSpec):
            return {default_name: value}
        return dict(value)

    validation, test = as_dict(validation, "validation"), as_dict(test, "test")
    for spec in [train, *validation.values(), *test.values()]:
        if not os.path.exists(spec.path):
            raise FileNotFoundError(f"Data file {spec.path!r} does not exist; check the path.")
    labels, train_count = labels_module.infer_labels(train, task=task, label_names=label_names)
    counts = {"train": train_count}
    skipped = {"train": train.skipped}
    for split, spec in [*validation.items(), *test.items()]:
        with_labels = spec.label_column is not None
        counts[split] = labels_module.count_examples(spec, labels if with_labels else None)
        skipped[split] = spec.skipped
    glue = name is not None and str(name).lower().replace("-", "").replace("_", "") in (
        "cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
    if metrics is None:
        metrics = metric_names(name) if glue else task_kind(labels.kind).metrics
    return {"train": train, "validation": validation, "test": test, "labels": labels,
            "counts": counts, "skipped": skipped, "name": name, "metrics": tuple(metrics),
            "pair": train.pair}


def _examples(spec, labels, with_labels):
    if isinstance(spec, (list, tuple)):  # in memory: (text, label) or (text, text_b, label)
        for example in spec:
            text, text_b = example[0], example[1] if len(example) == 3 else ""
            yield text, text_b or "", example[-1] if with_labels else 0
        return
    for row in text_files.iter_rows(spec, with_labels=with_labels):
        label = 0
        if with_labels:
            label = labels_module.label_id(labels, spec, row)
            if label is None:
                continue
        yield row.text, row.text_b or "", label


def is_pair(source):
    """Whether a FileSpec or an in-memory list holds text pairs."""
    if isinstance(source, (list, tuple)):
        return bool(source) and len(source[0]) == 3
    return source.pair


def example_dataset(source, labels, with_labels=True, count=None):
    """Unbatched (text, text_b, label) examples of a FileSpec or an in-memory list."""
    import tensorflow as tf

    from keras_compact.tasks.kinds import task_kind

    dtype = task_kind(labels.kind).label_dtype if labels is not None else "int32"
    label_spec = tf.TensorSpec([], tf.as_dtype(dtype))
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("The split is empty; pass at least one example.")
        rows = list(_examples(source, labels, with_labels))
        return tf.data.Dataset.from_tensor_slices((
            tf.constant([r[0] for r in rows], tf.string),
            tf.constant([r[1] for r in rows], tf.string),
            tf.constant([r[2] for r in rows], label_spec.dtype)))
    dataset = tf.data.Dataset.from_generator(
        lambda: _examples(source, labels, with_labels),
        output_signature=(tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string),
                          label_spec))
    if count is not None:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    return dataset


def pairing_mismatch(pair):
    """The one-line error for data whose pairing differs from the model's."""
    if pair:
        return ("The model classifies text pairs, but the data names no second text; pass "
                "text_b_column (--text-b-column).")
    return ("The model classifies single texts, but the data has second texts "
            "(text_b_column, --text-b-column), which it would ignore; drop text_b_column.")


def check_preprocessor(preprocessor, pair=None):
    """`preprocessor` must be a `TextClassifierPreprocessor` of the data's pairing.

    Raises:
        ValueError: no preprocessor (names `preprocessor` and the fix), or
            single texts for a pair model or the other way round.
    """
    from keras_compact.preprocessing import TextClassifierPreprocessor

    if not isinstance(preprocessor, TextClassifierPreprocessor):
        raise ValueError(f"preprocessor={preprocessor!r} is not a TextClassifierPreprocessor; "
                         "pass the model's own (model.preprocessor) or build one with "
                         "TextClassifierPreprocessor(tokenizer, sequence_length, pair=...).")
    if pair is not None and bool(pair) != preprocessor.pair:
        raise ValueError(pairing_mismatch(preprocessor.pair))
    return preprocessor


def features_function(preprocessor):
    """texts [N] (or (texts, texts_b)) -> features dict, traced once per shape.

    The preprocessor runs in a graph, as inside tf.data: the same tokenizer
    op and packer whether a batch comes from a file or from `predict`.
    """
    import tensorflow as tf

    @tf.function
    def encode(texts, texts_b=None):
        return preprocessor(x=texts if texts_b is None else (texts, texts_b))

    return encode


def make_dataset(spec, labels, preprocessor, batch_size=32, shuffle=False, seed=0,
                 with_labels=True, drop_remainder=None, count=None, extra=None):
    """A tf.data pipeline of (features, labels) batches: raw texts through `preprocessor`.

    Args:
        spec: a `FileSpec`, or an in-memory list of (text, label) or
            (text, text_b, label) tuples (labels: ids or floats).
        labels: the task's `LabelInfo` (from `prepare_task`).
        preprocessor: the model's `TextClassifierPreprocessor` (its
            tokenizer, `sequence_length` and pairing make the features).
        batch_size: int.
        shuffle: shuffle within a bounded buffer (training), reshuffled per epoch.
        with_labels: False yields features only (prediction).
        drop_remainder: None means "when shuffling".
        count: the number of examples, when known (from `prepare_task`):
            lets Keras size epochs and progress bars.
        extra: optional in-memory list appended to the examples (e.g.
            augmented ones).

    Returns:
        `tf.data.Dataset` of (features dict of int32 [batch, sequence_length],
        labels in the task kind's dtype and shape: int32 [batch] ids, or
        float32 [batch, 1] for regression), or features only.

    Raises:
        ValueError: no preprocessor, or data pairing other than its own.
    """
    import tensorflow as tf

    from keras_compact.tasks.kinds import task_kind

    pair = is_pair(spec)
    check_preprocessor(preprocessor, pair)
    sequence_length = preprocessor.sequence_length
    label_shape = task_kind(labels.kind).label_shape if labels is not None else ()
    dataset = example_dataset(spec, labels, with_labels, count)
    if extra:
        dataset = dataset.concatenate(example_dataset(extra, labels, with_labels))
    if shuffle:
        dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    if drop_remainder is None:
        drop_remainder = bool(shuffle)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def encode(texts, texts_b, batch_labels):
        features = preprocessor(x=(texts, texts_b) if pair else texts)
        features = {k: tf.ensure_shape(tf.cast(v, tf.int32), [None, sequence_length])
                    for k, v in features.items()}
        batch_labels = tf.reshape(batch_labels, [-1, *label_shape])
        return (features, batch_labels) if with_labels else features

    return dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def read_examples(spec, labels, limit=None):
    """The first `limit` examples of a split as an in-memory list of tuples."""
    rows = []
    for text, text_b, label in _examples(spec, labels, True):
        if limit is not None and len(rows) >= limit:
            break
        rows.append((text, text_b, label) if is_pair(spec) else (text, label))
    return rows


def collect_labels(spec, labels):
    """The gold label ids (or scores) of a split, in file order, as numpy."""
    from keras_compact.tasks.kinds import task_kind

    values = [label for _, _, label in _examples(spec, labels, True)]
    return np.asarray(values, dtype=task_kind(labels.kind).label_dtype)
