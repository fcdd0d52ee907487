"""Offline pretraining examples: sharded TFRecord writer and reader.

TF-only: this module is part of `keras_compact.data`, the tf.data /
tensorflow-text input pipeline (TensorFlow whatever `KERAS_BACKEND` is).

The writer runs the same in-graph pairing and masking as
`make_pretraining_dataset`, once (or `dupe_factor` times, each with new
pairs and masks, as in BERT's `create_pretraining_data`), and stores the
examples; the reader returns exactly the same `(features, labels)` element
format. Masks are then fixed per stored example: use the on-the-fly pipeline
to get new masks every epoch.

Files written into `output_dir`::

    <prefix>-00000-of-00008.tfrecord ...   tf.train.Example records
    <prefix>-metadata.json                 lengths, counts, shard list

Writes are atomic: shards go to hidden temp files first and are renamed
into place only when every shard is complete, metadata last; on any error
the temp files are removed and nothing half-written is left. A later run
removes the temp files of a killed one, and a second run into the same
folder removes the shards of the first that its metadata does not list.
"""

import glob
import json
import os

import tensorflow as tf

from keras_compact.data import pipeline as pipeline_lib
from keras_compact.tokenizers import load_tokenizer
from keras_compact.utils.atomic import apply_umask_modes
from keras_compact.utils.atomic import clean_stale_temporaries
from keras_compact.utils.atomic import temporary_name

METADATA_SUFFIX = "-metadata.json"
_INT_KEYS = ("token_ids", "segment_ids", "padding_mask", "mask_positions", "mlm_ids")


def _int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _serialize(example):
    feature = {key: _int_feature(example[key]) for key in _INT_KEYS}
    feature["mlm_weights"] = _float_feature(example["mlm_weights"])
    feature["sop_label"] = _int_feature([example["sop_label"]])
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_pretraining_tfrecords(
    documents_or_files,
    tokenizer_or_model_path,
    output_dir,
    sequence_length=128,
    max_predictions=20,
    task="sop",
    dupe_factor=1,
    num_shards=8,
    seed=0,
    short_seq_prob=0.1,
    masked_fraction=0.15,
    max_ngram=3,
    prefix="pretraining",
    progress=True,
):
    """Writes masked pretraining examples to sharded TFRecord files.

    Args:
        documents_or_files: as in `make_pretraining_dataset` (None for the
            bundled corpus, Documents, or text file paths/globs).
        tokenizer_or_model_path: SentencePiece .model path or tokenizer.
        output_dir: folder for the shards (created if needed).
        sequence_length, max_predictions, task, short_seq_prob, masked_fraction,
            max_ngram: as in `make_pretraining_dataset`.
        dupe_factor: passes over the corpus, each with new pairs and masks.
        num_shards: number of output files (examples are dealt round-robin).
        seed: int; the same seed writes the same examples.
        prefix: file name prefix.
        progress: show a tqdm progress bar.

    Returns:
        The metadata dict (also written as `<prefix>-metadata.json`):
        "num_examples", "files", "sequence_length", "max_predictions", "task",
        corpus counts ("documents", "skipped_short_documents"), ...

    Raises:
        ValueError, FileNotFoundError: as `make_pretraining_dataset`.

    Example:

    >>> meta = write_pretraining_tfrecords(None, "vocab/spm.model", "examples/")
    >>> ds = read_pretraining_tfrecords("examples/", batch_size=32)
    """
    from tqdm.auto import tqdm

    if num_shards < 1:
        raise ValueError(f"num_shards={num_shards} must be >= 1.")
    tokenizer = load_tokenizer(tokenizer_or_model_path)
    seed = int(seed)
    dataset, stats = pipeline_lib.pretraining_examples_dataset(
        documents_or_files, tokenizer, sequence_length=sequence_length,
        max_predictions=max_predictions, task=task, seed=seed, passes=dupe_factor,
        short_seq_prob=short_seq_prob, masked_fraction=masked_fraction, max_ngram=max_ngram)
    dataset = dataset.batch(256).prefetch(2)

    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise NotADirectoryError(20, "--output-dir is a file, not a directory", output_dir)
    os.makedirs(output_dir, exist_ok=True)
    clean_stale_temporaries(output_dir)  # shards of a killed earlier run
    names = [f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    temps = [os.path.join(output_dir, temporary_name(name)) for name in names]
    writers = []
    count = 0
    try:
        writers = [tf.io.TFRecordWriter(path) for path in temps]
        bar = tqdm(unit=" examples", desc="make-examples", disable=not progress)
        for features, labels in dataset.as_numpy_iterator():
            rows = features["token_ids"].shape[0]
            for row in range(rows):
                example = {key: features[key][row].tolist() for key in pipeline_lib.FEATURE_KEYS}
                example["mlm_ids"] = labels["mlm_ids"][row].tolist()
                example["mlm_weights"] = labels["mlm_weights"][row].tolist()
                example["sop_label"] = int(labels["sop_label"][row])
                writers[count % num_shards].write(_serialize(example))
                count += 1
            bar.update(rows)
        bar.close()
        for writer in writers:
            writer.close()
        if count == 0:
            raise ValueError("No example could be made from the corpus (every document has "
                             "fewer than 2 non-empty sentences).")
        metadata = {
            "format": "keras_compact.pretraining.v1",
            "num_examples": count,
            "files": names,
            "sequence_length": sequence_length,
            "max_predictions": max_predictions,
            "task": task,
            "dupe_factor": dupe_factor,
            "seed": seed,
            "short_seq_prob": short_seq_prob,
            "masked_fraction": masked_fraction,
            "max_ngram": max_ngram,
            "vocabulary_size": int(tokenizer.vocabulary_size()),
            **stats,
        }
        metadata_temp = os.path.join(output_dir, temporary_name(prefix + METADATA_SUFFIX))
        with open(metadata_temp, "w", encoding="utf-8") as handle:
            json.dump(metadata, handle, indent=2)
        temps.append(metadata_temp)
        for temp in temps:
            apply_umask_modes(temp)
        for temp, name in zip(temps[:-1], names):
            os.replace(temp, os.path.join(output_dir, name))
        os.replace(metadata_temp, os.path.join(output_dir, prefix + METADATA_SUFFIX))
        # Shards of an earlier run with this prefix (e.g. another --num-shards)
        # would otherwise be mixed in by a glob: the new metadata no longer
        # lists them, so they go.
        stale = sorted(set(glob.glob(os.path.join(glob.escape(output_dir),
                                                  f"{glob.escape(prefix)}-*-of-*.tfrecord")))
                       - {os.path.join(output_dir, name) for name in names})
        for path in stale:
            os.remove(path)
        if stale:
            print(f"Removed {len(stale)} stale shard(s) of an earlier run from {output_dir}")
    except BaseException:
        for writer in writers:
            writer.close()
        for temp in temps:
            if os.path.exists(temp):
                os.remove(temp)
        raise
    return metadata


def find_tfrecord_files(pattern, prefix="pretraining"):
    """(files, metadata or None) for a `make-examples` folder or a glob."""
    return _find_files(pattern, prefix)


def _find_files(pattern, prefix):
    """Files and metadata for a folder (uses its metadata) or a glob."""
    pattern = os.fspath(pattern)
    if os.path.isdir(pattern):
        metadata_path = os.path.join(pattern, prefix + METADATA_SUFFIX)
        if not os.path.exists(metadata_path):
            raise FileNotFoundError(f"No {prefix + METADATA_SUFFIX} in {pattern!r}; pass the "
                                    "folder written by `keras-compact make-examples` or a glob "
                                    "of .tfrecord files with sequence_length and "
                                    "max_predictions.")
        metadata = _read_metadata(metadata_path)
        return [os.path.join(pattern, name) for name in metadata["files"]], metadata
    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError(f"No TFRecord file matches {pattern!r}; write some with "
                                "`keras-compact make-examples`.")
    metadata = None
    candidates = glob.glob(os.path.join(os.path.dirname(files[0]), "*" + METADATA_SUFFIX))
    if len(candidates) == 1:
        metadata = _read_metadata(candidates[0])
    return files, metadata


def _read_metadata(path):
    with open(path, encoding="utf-8") as handle:
        metadata = json.load(handle)
    if "max_seq_len" in metadata:  # written before the rename to sequence_length (issue 19)
        metadata.setdefault("sequence_length", metadata.pop("max_seq_len"))
    return metadata


def read_pretraining_tfrecords(
    pattern,
    batch_size,
    sequence_length=None,
    max_predictions=None,
    shuffle=True,
    repeat=True,
    seed=None,
    shuffle_buffer=10000,
    prefix="pretraining",
):
    """Reads TFRecords from `write_pretraining_tfrecords` as training batches.

    Args:
        pattern: the output folder of the writer (its metadata gives the
            shapes), or a glob of .tfrecord files.
        batch_size: examples per batch (`drop_remainder=True`).
        sequence_length, max_predictions: shapes; read from the metadata when
            None. Given values must match it.
        shuffle: shuffle files and examples.
        repeat: loop forever.
        seed: shuffling seed.
        shuffle_buffer: examples in the shuffle buffer.
        prefix: file name prefix used by the writer.

    Returns:
        A `tf.data.Dataset` of `(features, labels)` in the same format as
        `make_pretraining_dataset`.

    Raises:
        FileNotFoundError: no file matches.
        ValueError: shapes unknown or different from the files'.

    Example:

    >>> ds = read_pretraining_tfrecords("examples/", batch_size=32)
    >>> features, labels = next(iter(ds))
    """
    files, metadata = _find_files(pattern, prefix)
    for name, value in (("sequence_length", sequence_length),
                        ("max_predictions", max_predictions)):
        if metadata is not None and value is not None and value != metadata[name]:
            raise ValueError(f"{name}={value} does not match the files in {pattern!r}, "
                             f"written with {name}={metadata[name]}.")
    if metadata is not None:
        sequence_length = metadata["sequence_length"]
        max_predictions = metadata["max_predictions"]
    if sequence_length is None or max_predictions is None:
        raise ValueError(f"Shapes of {pattern!r} are unknown (no metadata file); pass "
                         "sequence_length and max_predictions.")
    spec = {
        "token_ids": tf.io.FixedLenFeature([sequence_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([sequence_length], tf.int64),
        "padding_mask": tf.io.FixedLenFeature([sequence_length], tf.int64),
        "mask_positions": tf.io.FixedLenFeature([max_predictions], tf.int64),
        "mlm_ids": tf.io.FixedLenFeature([max_predictions], tf.int64),
        "mlm_weights": tf.io.FixedLenFeature([max_predictions], tf.float32),
        "sop_label": tf.io.FixedLenFeature([], tf.int64),
    }

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        features = {key: tf.cast(parsed[key], tf.int32) for key in pipeline_lib.FEATURE_KEYS}
        labels = {
            "mlm_ids": tf.cast(parsed["mlm_ids"], tf.int32),
            "mlm_weights": parsed["mlm_weights"],
            "sop_label": tf.cast(parsed["sop_label"], tf.int32),
        }
        return features, labels

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                                 num_parallel_calls=tf.data.AUTOTUNE,
                                 deterministic=seed is not None or not shuffle)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=True)
    return dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
