"""Fine-tuning and measuring classifiers: optimizer, compile, accuracy, latency.

Backend-agnostic (Keras optimizers and `model.fit`); the datasets come from
`keras_compact.data.labelled_task` (tf.data, which feeds any backend).
"""

import time

import keras
import numpy as np


def make_adamw(total_steps, peak_learning_rate, warmup_fraction=0.1, weight_decay=0.01):
    """AdamW with linear warm-up then cosine decay to 0, the BERT recipe.

    Weight decay skips biases and LayerNorm scales / offsets.

    Args:
        total_steps: int. Optimizer steps of the whole run.
        peak_learning_rate: float. Rate at the end of the warm-up.
        warmup_fraction: float. Share of the steps spent warming up.
        weight_decay: float.

    Example:
    ```python
    classifier.compile(optimizer=make_adamw(1000, 5e-5), loss=...)
    ```
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got total_steps={total_steps}.")
    if not peak_learning_rate > 0:
        raise ValueError("peak_learning_rate must be positive, got "
                         f"peak_learning_rate={peak_learning_rate!r}.")
    warmup = max(1, int(total_steps * warmup_fraction))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=max(1, total_steps - warmup), alpha=0.0,
        warmup_target=peak_learning_rate, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def compile_classifier(classifier, optimizer="adamw"):
    """Compiles a `TextClassifier` with cross-entropy on logits and accuracy."""
    classifier.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return classifier


def classifier_accuracy(classifier, dataset):
    """Accuracy of `classifier` on a (features, labels) dataset, on any backend."""
    correct = total = 0
    for features, labels in dataset:
        logits = keras.ops.convert_to_numpy(classifier.predict_on_batch(features))
        labels = np.asarray(labels)
        correct += int((np.argmax(logits, axis=-1) == labels).sum())
        total += len(labels)
    if not total:
        raise ValueError("The evaluation dataset is empty.")
    return correct / total


def median_latency_ms(models, seq_len, batch_size, repeats=20, warmup=3):
    """Median milliseconds of one `predict_on_batch` per model, interleaved.

    Inputs are fixed random ids of shape (batch_size, seq_len) with no
    padding, so only the models' compute is timed (no tokenization). The
    models take turns call by call, so a change in the machine's load hits
    all of them alike; compare the figures with each other, not across runs.

    Args:
        models: dict of name -> model taking token_ids / segment_ids /
            padding_mask (a `TextClassifier` or a `CompactBackbone`).
        seq_len, batch_size: the input shape.
        repeats, warmup: timed and untimed calls per model.

    Returns:
        A dict of name -> median milliseconds.
    """
    rng = np.random.default_rng(0)

    def inputs(model):
        vocabulary_size = getattr(model, "backbone", model).vocabulary_size
        return {
            "token_ids": rng.integers(5, vocabulary_size, (batch_size, seq_len)).astype("int32"),
            "segment_ids": np.zeros((batch_size, seq_len), "int32"),
            "padding_mask": np.ones((batch_size, seq_len), "int32"),
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


def print_epoch(epoch, logs):
    """One line per epoch: train and validation loss and accuracy."""
    logs = logs or {}
    values = "  ".join(f"{name} {logs[key]:.4f}" for name, key in (
        ("loss", "loss"), ("train_accuracy", "accuracy"), ("val_loss", "val_loss"),
        ("val_accuracy", "val_accuracy")) if key in logs)
    print(f"epoch {epoch + 1}: {values}", flush=True)


def finetune_section_classifier(backbone, output_dir, vocab, epochs=3, batch_size=32,
                                seq_len=128, learning_rate=5e-5, dropout=0.1,
                                max_train_examples=None, max_eval_examples=None,
                                max_per_section=None, seed=0):
    """Fine-tunes a `TextClassifier` on the bundled section task and saves it.

    Writes OUTPUT_DIR/classifier.keras (with its preprocessor: tokenizer and
    vocabulary inside, so it predicts on raw text and moves freely) and
    labels.json (label names, sequence length, test accuracy; no paths),
    both atomically.
    Prints the task, per-epoch train / validation accuracy and the test
    accuracy. Call `keras.utils.set_random_seed` before building the
    backbone for a reproducible run.

    Args:
        backbone: a `CompactBackbone` (pretrained, or fresh for a baseline).
        output_dir: where the files go.
        vocab: the backbone's SentencePiece .model.
        epochs, batch_size, seq_len: the run's shape.
        learning_rate: peak AdamW rate (warm-up 10%, cosine decay).
        dropout: before the classification layer.
        max_train_examples, max_eval_examples: caps on the splits (validation
            and test each get `max_eval_examples`).
        max_per_section: cap per class in each split (balances classes).
        seed: shuffling and `max_per_section` sampling.

    Returns:
        A dict: "classifier", "test_accuracy", "majority_rate", "paths".

    Example:
    ```python
    backbone = keras.saving.load_model("runs/main_job/backbone.keras")
    result = finetune_section_classifier(backbone, "runs/ft", "runs/main_job/vocab/spm.model")
    ```
    """
    import json
    import os

    from keras_compact.data.labelled_task import label_counts
    from keras_compact.data.labelled_task import load_section_task
    from keras_compact.data.labelled_task import majority_rate
    from keras_compact.data.labelled_task import make_classification_dataset
    from keras_compact.tokenizers import load_tokenizer
    from keras_compact.models import TextClassifier
    from keras_compact.preprocessing import TextClassifierPreprocessor
    from keras_compact.utils.atomic import atomic_file

    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("seq_len", seq_len)):
        if value < 1:
            raise ValueError(f"{name} must be positive, got {name}={value}.")
    if backbone.max_sequence_length < seq_len:
        raise ValueError(f"seq_len={seq_len} exceeds the backbone's "
                         f"max_sequence_length={backbone.max_sequence_length}; lower it.")
    task = load_section_task(max_per_section=max_per_section, seed=seed)
    names = task["label_names"]
    train = task["train"][:max_train_examples]
    validation = task["validation"][:max_eval_examples]
    test = task["test"][:max_eval_examples]
    if len(train) < batch_size:
        raise ValueError(f"{len(train)} training examples is less than one batch of "
                         f"{batch_size}; raise max_train_examples or lower batch_size.")
    print(f"Section task: {len(names)} classes ({', '.join(names)}); "
          f"train {len(train)}, validation {len(validation)}, test {len(test)} paragraphs")
    print(f"Train class counts: {dict(zip(names, label_counts(train, len(names))))}")
    print(f"Majority-class accuracy: validation {majority_rate(validation):.4f}, "
          f"test {majority_rate(test):.4f}")

    # The preprocessor (tokenizer and vocabulary included) is saved inside
    # classifier.keras: the file predicts on raw text and exports without
    # the vocabulary file or any path to it.
    preprocessor = TextClassifierPreprocessor(load_tokenizer(vocab), seq_len)
    classifier = TextClassifier(backbone, num_classes=len(names), dropout=dropout,
                                preprocessor=preprocessor)
    common = dict(spm_model_path=vocab, batch_size=batch_size, seq_len=seq_len)
    train_ds = make_classification_dataset(train, shuffle=True, seed=seed, **common)
    val_ds = make_classification_dataset(validation, **common)
    test_ds = make_classification_dataset(test, **common)
    steps = (len(train) // batch_size) * epochs
    compile_classifier(classifier, make_adamw(steps, learning_rate))
    print(f"Fine-tuning ({backbone.count_params():,} backbone parameters): {epochs} epochs "
          f"of {steps // epochs} steps, AdamW peak {learning_rate:g}")
    classifier.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0,
                   shuffle=False,  # the dataset shuffles; silences Keras's warning
                   callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=print_epoch)])
    accuracy = classifier_accuracy(classifier, test_ds)
    print(f"test_accuracy {accuracy:.4f}  (majority class {majority_rate(test):.4f})")

    os.makedirs(output_dir, exist_ok=True)
    paths = {"classifier": os.path.join(output_dir, "classifier.keras"),
             "labels": os.path.join(output_dir, "labels.json")}
    with atomic_file(paths["classifier"]) as temp:
        classifier.save(temp)
    with atomic_file(paths["labels"]) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump({"label_names": names, "seq_len": seq_len, "test_accuracy": accuracy},
                      handle, indent=1)
    return {"classifier": classifier, "test_accuracy": accuracy,
            "majority_rate": majority_rate(test), "paths": paths}
