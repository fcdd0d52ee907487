"""Tokenizers and tf.data pipelines for labelled text files (TF-only module).

`prepare_task` reads every split once, streaming, before anything is trained
or written: it fixes the label vocabulary from the training split and checks
every row of every split, so a bad file fails at once with a message that
names it. `make_dataset` then streams a split through tf.data
(`Dataset.from_generator` over `text_files.iter_rows`, a bounded shuffle
buffer), tokenizes in the graph and packs `[CLS] a [SEP] (b [SEP])` with
BERT's longest-first truncation. The datasets feed `model.fit` on any Keras
backend.

Tokenizers: `load_text_tokenizer` takes a SentencePiece `.model`, a WordPiece
`vocab.txt`, or a Hugging Face folder (with `vocab.txt` and
`tokenizer_config.json`). It uses `keras_compact.tokenizers` when that
package is present, else keras-hub's SentencePiece tokenizer or
tensorflow-text's `BertTokenizer`.

Example:
```python
from keras_compact.tasks.text_files import FileSpec
from keras_compact.tasks.datasets import load_text_tokenizer, make_dataset, prepare_task

task = prepare_task(FileSpec("train.csv", "sentence", label_column="label"),
                    {"validation": FileSpec("dev.csv", "sentence", label_column="label")})
tokenizer = load_text_tokenizer("hf_model_dir/")
train = make_dataset(task["train"], task["labels"], tokenizer, seq_len=128, shuffle=True)
```
"""

import dataclasses
import json
import os

import numpy as np

from keras_compact.tasks import text_files

SHUFFLE_BUFFER = 10_000


# ---------------------------------------------------------------- tokenizers


@dataclasses.dataclass
class TextTokenizer:
    """What the pipelines need from a tokenizer.

    Attributes:
        kind: "sentencepiece" or "wordpiece".
        source: the file or folder it was read from.
        cls_id, sep_id, pad_id, mask_id, unk_id: special token ids.
        vocabulary_size: int.
        tokenizer: the underlying tokenizer object.
        lowercase: WordPiece only.
    """

    kind: str
    source: str
    cls_id: int
    sep_id: int
    pad_id: int
    mask_id: int
    unk_id: int
    vocabulary_size: int
    tokenizer: object = None
    lowercase: bool = True
    vocab_file: str = None

    def tokenize_fn(self):
        """strings [N] -> int32 RaggedTensor [N, None], safe inside tf.data maps."""
        import tensorflow as tf

        if self.kind == "sentencepiece":
            from keras_compact.data.tokenizer import pipeline_tokenize_fn

            return pipeline_tokenize_fn(self.tokenizer)
        tokenizer = self.tokenizer

        def tokenize(strings):
            ids = tokenizer.tokenize(tf.reshape(strings, [-1]))
            if isinstance(ids, tf.RaggedTensor):
                if ids.ragged_rank == 2:  # tensorflow-text: [batch, words, pieces]
                    ids = ids.merge_dims(1, 2)
            elif isinstance(ids, tf.Tensor):  # eager keras-hub style: dense when even
                ids = tf.RaggedTensor.from_tensor(ids)
            else:  # lists or arrays from an eager call
                ids = tf.ragged.constant(ids if isinstance(ids, list) else ids.tolist(),
                                         dtype=tf.int32)
            return tf.cast(ids, tf.int32)

        return tokenize

    def encode_numpy(self, texts, texts_b=None, seq_len=128):
        """Packed features (numpy) for a list of texts, outside tf.data."""
        import tensorflow as tf

        features = _pack(self, self.tokenize_fn(), tf.constant(texts),
                         None if texts_b is None else tf.constant(texts_b), seq_len)
        return {k: v.numpy() for k, v in features.items()}

    def files(self):
        """The vocabulary files to copy beside a saved model."""
        return [self.vocab_file or self.source]


def _read_hf_casing(folder):
    for name in ("tokenizer_config.json", "tokenizer.json"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
            if name == "tokenizer.json":
                config = (config.get("normalizer") or {})
                return bool(config.get("lowercase", True))
            return bool(config.get("do_lower_case", True))
    return True


def load_text_tokenizer(path, lowercase=None):
    """A `TextTokenizer` from a .model, a vocab.txt or a Hugging Face folder.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: a file of unknown kind, or a vocabulary without
            [CLS]/[SEP]/[PAD]/[UNK] (names the path).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Tokenizer {path!r} does not exist; pass a SentencePiece "
                                ".model, a WordPiece vocab.txt or a Hugging Face folder.")
    if path.endswith(".model"):
        from keras_compact.tokenizers import load_tokenizer
        from keras_compact.data.tokenizer import special_token_ids

        tokenizer = load_tokenizer(path)
        ids = special_token_ids(tokenizer)
        return TextTokenizer("sentencepiece", path, ids["cls"], ids["sep"], ids["pad"],
                             ids["mask"], ids["unk"], ids["vocabulary_size"], tokenizer,
                             vocab_file=path)
    folder = path if os.path.isdir(path) else None
    vocab_file = os.path.join(path, "vocab.txt") if folder else path
    if folder and not os.path.isfile(vocab_file):
        spm = [f for f in sorted(os.listdir(folder)) if f.endswith(".model")]
        if spm:
            return load_text_tokenizer(os.path.join(folder, spm[0]))
        raise ValueError(f"{path!r} holds neither vocab.txt nor a .model file; pass a "
                         "Hugging Face folder, a vocab.txt or a SentencePiece .model.")
    if lowercase is None:
        lowercase = _read_hf_casing(folder) if folder else True
    with open(vocab_file, encoding="utf-8") as handle:
        vocabulary = [line.rstrip("\r\n") for line in handle]
    index = {token: i for i, token in enumerate(vocabulary)}
    missing = [t for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]") if t not in index]
    if missing:
        raise ValueError(f"WordPiece vocabulary {vocab_file!r} lacks {', '.join(missing)}; "
                         "pass a BERT-style vocab.txt.")
    tokenizer = None
    try:  # the package's own WordPiece (exact Hugging Face parity), when present
        from keras_compact import tokenizers as own

        tokenizer = (own.WordPieceTokenizer.from_huggingface(folder) if folder
                     else own.WordPieceTokenizer(vocabulary=vocab_file, lowercase=lowercase,
                                                 strip_accents=lowercase))
    except ImportError:
        import tensorflow as tf
        import tensorflow_text as tf_text

        table = tf.lookup.StaticVocabularyTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(vocabulary), tf.range(len(vocabulary), dtype=tf.int64)),
            num_oov_buckets=1)
        tokenizer = tf_text.BertTokenizer(table, token_out_type=tf.int64,
                                          lower_case=lowercase, unknown_token="[UNK]")
    return TextTokenizer("wordpiece", path, index["[CLS]"], index["[SEP]"], index["[PAD]"],
                         index.get("[MASK]", index["[UNK]"]), index["[UNK]"], len(vocabulary),
                         tokenizer, lowercase=lowercase, vocab_file=vocab_file)


def text_tokenizer_from_layer(layer, source="the model's preprocessor"):
    """A `TextTokenizer` around a `keras_compact.tokenizers` layer.

    Used for a model saved with its preprocessor: the tokenizer inside the
    `.keras` file is the one the model was trained with, so evaluation and
    prediction read no vocabulary file.
    """
    from keras_compact.tokenizers import WordPieceTokenizer

    kind = "wordpiece" if isinstance(layer, WordPieceTokenizer) else "sentencepiece"
    unk = layer.unk_token_id
    mask = getattr(layer, "mask_token_id", None)
    return TextTokenizer(kind, source, layer.cls_token_id, layer.sep_token_id,
                         layer.pad_token_id, unk if mask is None else mask, unk,
                         int(layer.vocabulary_size()), layer,
                         lowercase=bool(getattr(layer, "lowercase", True)))


# ------------------------------------------------------------------- packing


def _pack(tokenizer, tokenize, texts, texts_b, seq_len):
    """[CLS] a [SEP] (b [SEP]) with BERT's longest-first truncation, padded."""
    import tensorflow as tf

    try:
        from keras_compact.preprocessing import pack
    except ImportError:
        pack = None
    first = tokenize(texts)
    second = None if texts_b is None else tokenize(texts_b)
    ids = dict(cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id, pad_id=tokenizer.pad_id)
    if pack is not None:
        return pack(first, second, sequence_length=seq_len, **ids)
    from keras_compact.data.sop import pack_pairs
    from keras_compact.data.sop import truncated_lengths

    if second is None:
        first = first[:, : seq_len - 2]
        empty = tf.RaggedTensor.from_row_lengths(
            tf.zeros([0], first.dtype), tf.zeros([first.nrows()], tf.int64))
        token_ids, segment_ids, mask = pack_pairs(first, empty, seq_len, **ids)
        # pack_pairs closes a pair; a single text ends at its first [SEP].
        lengths = tf.cast(first.row_lengths(), tf.int32) + 2
        mask = tf.sequence_mask(lengths, seq_len, dtype=tf.int32)
        token_ids = tf.where(mask > 0, token_ids, tokenizer.pad_id)
        segment_ids = tf.zeros_like(mask)
    else:
        length_a, length_b = truncated_lengths(
            tf.cast(first.row_lengths(), tf.int32), tf.cast(second.row_lengths(), tf.int32),
            seq_len - 3)
        first = tf.ragged.boolean_mask(
            first, tf.ragged.range(first.row_lengths()) < tf.cast(length_a, tf.int64)[:, None])
        second = tf.ragged.boolean_mask(
            second, tf.ragged.range(second.row_lengths()) < tf.cast(length_b, tf.int64)[:, None])
        token_ids, segment_ids, mask = pack_pairs(first, second, seq_len, **ids)
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": mask}


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
    labels, train_count = text_files.infer_labels(train, task=task, label_names=label_names)
    counts = {"train": train_count}
    skipped = {"train": train.skipped}
    for split, spec in [*validation.items(), *test.items()]:
        with_labels = spec.label_column is not None
        counts[split] = text_files.count_examples(spec, labels if with_labels else None)
        skipped[split] = spec.skipped
    glue = name is not None and str(name).lower().replace("-", "").replace("_", "") in (
        "cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
    if metrics is None:
        metrics = metric_names(name if glue else None, regression=labels.regression)
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
            label = text_files.label_id(labels, spec, row)
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

    regression = labels is not None and labels.regression
    label_spec = tf.TensorSpec([], tf.float32 if regression else tf.int32)
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


def make_dataset(spec, labels, tokenizer, seq_len=128, batch_size=32, shuffle=False, seed=0,
                 with_labels=True, drop_remainder=None, count=None, extra=None):
    """A tf.data pipeline of (features, labels) batches streamed from a file.

    Args:
        spec: a `FileSpec`, or an in-memory list of (text, label) or
            (text, text_b, label) tuples (labels: ids or floats).
        labels: the task's `LabelInfo` (from `prepare_task`).
        tokenizer: a `TextTokenizer`.
        seq_len: packed length (>= 3, >= 4 for pairs).
        batch_size: int.
        shuffle: shuffle within a bounded buffer (training), reshuffled per epoch.
        with_labels: False yields features only (prediction).
        drop_remainder: None means "when shuffling".
        count: the number of examples, when known (from `prepare_task`):
            lets Keras size epochs and progress bars.
        extra: optional in-memory list appended to the examples (e.g.
            augmented ones).

    Returns:
        `tf.data.Dataset` of (features dict of int32 [batch, seq_len], labels:
        int32 [batch] ids, or float32 [batch, 1] for regression), or features only.
    """
    import tensorflow as tf

    pair = is_pair(spec)
    if seq_len < (4 if pair else 3):
        raise ValueError(f"seq_len must be at least {4 if pair else 3} "
                         f"({'[CLS] a [SEP] b [SEP]' if pair else '[CLS] a [SEP]'}), "
                         f"got seq_len={seq_len}.")
    regression = labels is not None and labels.regression
    dataset = example_dataset(spec, labels, with_labels, count)
    if extra:
        dataset = dataset.concatenate(example_dataset(extra, labels, with_labels))
    if shuffle:
        dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    if drop_remainder is None:
        drop_remainder = bool(shuffle)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    tokenize = None

    def encode(texts, texts_b, batch_labels):
        nonlocal tokenize
        if tokenize is None:
            tokenize = tokenizer.tokenize_fn()
        features = _pack(tokenizer, tokenize, texts, texts_b if pair else None, seq_len)
        features = {k: tf.ensure_shape(tf.cast(v, tf.int32), [None, seq_len])
                    for k, v in features.items()}
        if regression:  # (batch, 1), the regressor's output shape
            batch_labels = tf.expand_dims(batch_labels, -1)
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
    values = [label for _, _, label in _examples(spec, labels, True)]
    return np.asarray(values, dtype="float32" if labels.regression else "int32")
