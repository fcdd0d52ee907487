"""Latency of models side by side: `median_latency_ms` (interleaved calls).

Backend-agnostic (`predict_on_batch`); the benchmarks in tools/ and the
jobs' tables report its figures as ratios between models of one run.
"""

import time

import numpy as np


def median_latency_ms(models, sequence_length, batch_size, repeats=20, warmup=3):
    """Median milliseconds of one `predict_on_batch` per model, interleaved.

    Inputs are fixed random ids of shape (batch_size, sequence_length) with no
    padding, so only the models' compute is timed (no tokenization). The
    models take turns call by call, so a change in the machine's load hits
    all of them alike; compare the figures with each other, not across runs.

    Args:
        models: dict of name -> model taking token_ids / segment_ids /
            padding_mask (a `TextClassifier` or a `CompactBackbone`).
        sequence_length, batch_size: the input shape.
        repeats, warmup: timed and untimed calls per model.

    Returns:
        A dict of name -> median milliseconds.
    """
    rng = np.random.default_rng(0)

    def inputs(model):
        vocabulary_size = getattr(model, "backbone", model).vocabulary_size
        return {
            "token_ids": rng.integers(5, vocabulary_size, (batch_size, sequence_length)).astype("int32"),
            "segment_ids": np.zeros((batch_size, sequence_length), "int32"),
            "padding_mask": np.ones((batch_size, sequence_length), "int32"),
        }

    data = {name: inputs(model) for name, model in models.items()}
    for name, model in models.items():
        for _ in range(warmup):
            model.predict_on_batch(data[name])
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.predict_on_batch(data[name])  # returns numpy: the work is done
            times[name].append(time.perf_counter() - start)
    return {name: 1000.0 * float(np.median(t)) for name, t in times.items()}
