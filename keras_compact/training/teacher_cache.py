"""The teacher's logits over the task-specific training data, computed once.

The prediction-layer stage compares the student's logits with the teacher's
on every step; the teacher's do not change, so they are computed once over
the (augmented) training examples and stored in the run directory:

- OUTPUT_DIR/stages/teacher_logits.npy: float32 [examples, outputs];
- OUTPUT_DIR/stages/teacher_logits.json: the fingerprint they were made
  with: the teacher file's identity, the task data, `sequence_length`, the
  augmentation settings, and a SHA-256 of the packed token ids, segments and
  masks themselves.

A rerun (a resumed job) reuses them only when the fingerprint is the same;
anything else recomputes them. Both files are written atomically, the
fingerprint last. Every epoch then costs the student only
(`Distiller(cached_teacher_logits=True)`).

TF-only input side (tf.data), used by `keras_compact.training.distillation_job`.
"""

import hashlib
import json
import os
import time

import numpy as np

from keras_compact.training.distillation_stages import job_path

LOGITS_FILE = "teacher_logits.npy"
FINGERPRINT_FILE = "teacher_logits.json"
_AUGMENTATION = ("num_variants", "replace_prob", "top_k", "mask_fraction", "word_vectors",
                 "max_augment_examples", "max_train_examples", "seed")


def packed_examples(dataset):
    """(features dict of numpy arrays, labels) of an unshuffled batched dataset of
    (features, labels): every example packed once by the task's pipeline."""
    features, labels = {}, []
    for batch_features, batch_labels in dataset.as_numpy_iterator():
        for key, value in batch_features.items():
            features.setdefault(key, []).append(value)
        labels.append(batch_labels)
    return ({key: np.concatenate(parts) for key, parts in features.items()},
            np.concatenate(labels))


def cache_fingerprint(job, settings, features):
    """What the cached logits depend on (see the module docstring); `settings` is
    the job's `run_settings` (input files by identity)."""
    digest = hashlib.sha256()
    for key in sorted(features):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(features[key]).tobytes())
    return json.loads(json.dumps({
        "teacher": settings["teacher"], "data": settings["data"],
        "tokenizer": settings["tokenizer"], "vocab": settings["vocab"],
        "sequence_length": job.sequence_length, **{name: settings[name] for name in _AUGMENTATION},
        "examples": int(len(next(iter(features.values())))),
        "features_sha256": digest.hexdigest(),
    }, sort_keys=True, default=str))


def teacher_logits(job, settings, teacher, features):
    """The teacher's logits for `features`, from the run directory's cache when it
    was written with the same fingerprint, else computed now and cached."""
    from keras_compact.utils.atomic import atomic_file

    path, record = job_path(job, "stages", LOGITS_FILE), job_path(job, "stages",
                                                                  FINGERPRINT_FILE)
    wanted = cache_fingerprint(job, settings, features)
    if os.path.isfile(path) and os.path.isfile(record):
        with open(record, encoding="utf-8") as handle:
            found = json.load(handle)
        if found == wanted:
            logits = np.load(path)
            print(f"Teacher logits: reusing {path} ({len(logits):,} examples, same "
                  "teacher, data, sequence_length and augmentation)")
            return logits
        changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
        print(f"Teacher logits: {path} was computed with other settings "
              f"({', '.join(changed)}); computing them again")
    start = time.perf_counter()
    logits = np.asarray(teacher.predict(features, batch_size=job.batch_size,
                                        verbose=0), dtype="float32")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.isfile(record):
        os.remove(record)  # the fingerprint goes last: no stale pair survives a crash
    with atomic_file(path) as temp:
        with open(temp, "wb") as handle:
            np.save(handle, logits)
    with atomic_file(record) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(wanted, handle, indent=1)
    print(f"Teacher logits: computed once for {len(logits):,} examples in "
          f"{time.perf_counter() - start:.1f} s, saved to {path}")
    return logits


def cached_dataset(features, labels, logits, batch_size, seed):
    """Shuffled batches of ({features..., "teacher_logits"}, labels), reshuffled
    every epoch; the last partial batch is dropped, as in training."""
    import tensorflow as tf

    inputs = dict(features)
    if logits is not None:
        inputs["teacher_logits"] = logits
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
    dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
