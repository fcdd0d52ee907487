"""Fine-tune, evaluate and predict on labelled text files (or the bundled task).

The library side of `keras-compact finetune / evaluate / predict`:

- `load_backbone_and_tokenizer`: a backbone and its tokenizer from a `.keras`
  file (`CompactBackbone`, or the backbone inside a `TextClassifier` or
  `AlbertPretrainer`), a Hugging Face folder (`convert.from_huggingface`; the
  tokenizer is the folder's `vocab.txt`), or a fresh preset;
- `finetune_task`: `model.fit` on a prepared task (`tasks.datasets.prepare_task`),
  then every metric of the task on every labelled evaluation split; writes
  OUTPUT/classifier.keras, with its preprocessor (tokenizer, sequence length,
  pairing) saved inside, and OUTPUT/task.json (label vocabulary, columns,
  metrics, scores), so the run directory is self-contained and movable;
- `load_task_model`, `evaluate_split`, `predict_rows`: read such a run back.

Datasets come from `keras_compact.tasks` (tf.data, TF-only input side); the
model trains on any Keras backend.
"""

import json
import os

import numpy as np

from keras_compact.tasks.task_file import TASK_FILE
from keras_compact.tasks.task_file import check_task_file_against_model
from keras_compact.tasks.task_file import read_task_file
from keras_compact.utils.model_files import load_keras_file
MODEL_FILE = "classifier.keras"
# What a fine-tuning run writes in its directory (`overwrite` removes these);
# labels.json: the bundled section task's older run format.
FINETUNE_OUTPUTS = (MODEL_FILE, TASK_FILE, "labels.json")
TOKENIZER_DIR = "tokenizer"  # runs written before the preprocessor was saved inside
# Keys of task.json that the model's preprocessor answers (never written, so
# the two cannot disagree).
_PREPROCESSOR_KEYS = ("tokenizer", "tokenizer_kind", "lowercase", "seq_len")
PRETRAINED_LEARNING_RATE = 5e-5
FRESH_LEARNING_RATE = 1e-4


# ----------------------------------------------------------------- loading


def find_tokenizer_beside(path):
    """The tokenizer saved with a model: OUTPUT/tokenizer/, a vocab/ folder, a .model."""
    folder = os.path.dirname(os.path.abspath(path))
    info = os.path.join(folder, TASK_FILE)
    if os.path.isfile(info):
        tokenizer = read_task_file(info).get("tokenizer")
        if tokenizer:
            return os.path.join(folder, tokenizer)
    candidates = [os.path.join(folder, TOKENIZER_DIR), os.path.join(folder, "vocab", "spm.model"),
                  os.path.join(folder, "vocab.txt")]
    candidates += [os.path.join(folder, f) for f in sorted(os.listdir(folder))
                   if f.endswith(".model")]
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    return None


def load_backbone_and_tokenizer(backbone=None, preset=None, config=None, tokenizer=None,
                                seq_len=128):
    """(CompactBackbone, TextTokenizer, description) from a path or a preset.

    Args:
        backbone: a `.keras` file (a CompactBackbone, or the backbone of a
            TextClassifier / AlbertPretrainer) or a Hugging Face folder.
        preset, config: a fresh backbone instead (`config` overrides it).
        tokenizer: a .model, vocab.txt or Hugging Face folder; default: the
            Hugging Face folder itself, or the tokenizer saved beside the
            `.keras` file's preprocessor, else the one beside it
            (vocab/spm.model, vocab.txt).
        seq_len: a fresh backbone's position table is at least this long.

    Raises:
        FileNotFoundError / ValueError: naming the path and the fix.
    """
    from keras_compact.tasks.datasets import load_text_tokenizer

    if backbone is not None and preset is not None:
        raise ValueError(f"--backbone {backbone!r} and --preset {preset!r} both name a "
                         "backbone; pass one.")
    if backbone is None and preset is None:
        raise ValueError("Name a backbone: --backbone PATH.keras, --backbone HF_DIR, or "
                         "--preset NAME (with --tokenizer).")
    if backbone is not None:
        if not os.path.exists(backbone):
            raise FileNotFoundError(f"--backbone {backbone!r} does not exist; pass a .keras "
                                    "file or a Hugging Face folder (config.json + weights).")
        if os.path.isdir(backbone):
            from keras_compact.convert import from_huggingface

            model = from_huggingface(backbone)
            text_tokenizer = load_text_tokenizer(tokenizer or backbone)
            description = f"Hugging Face {backbone}"
        else:
            from keras_compact.models import CompactBackbone

            loaded = load_keras_file(backbone, "--backbone")
            model = getattr(loaded, "backbone", loaded)
            if not isinstance(model, CompactBackbone):
                raise ValueError(f"--backbone {backbone!r} holds a {type(loaded).__name__} "
                                 "without a CompactBackbone.")
            preprocessor = getattr(loaded, "preprocessor", None)
            if tokenizer is None and preprocessor is not None:  # saved inside the .keras
                from keras_compact.tasks.datasets import text_tokenizer_from_layer

                text_tokenizer = text_tokenizer_from_layer(
                    preprocessor.tokenizer, source=f"{backbone} (preprocessor)")
            else:
                source = tokenizer or find_tokenizer_beside(backbone)
                if source is None:
                    raise ValueError(f"No tokenizer in or beside --backbone {backbone!r}; "
                                     "pass --tokenizer (a .model, vocab.txt or Hugging Face "
                                     "folder).")
                text_tokenizer = load_text_tokenizer(source)
            description = backbone
    else:
        from keras_compact.models import CompactBackbone

        if tokenizer is None:
            raise ValueError(f"--preset {preset!r} builds a fresh backbone; pass --tokenizer "
                             "(a .model, vocab.txt or Hugging Face folder) for its vocabulary.")
        text_tokenizer = load_text_tokenizer(tokenizer)
        overrides = dict(config or {})
        overrides["vocabulary_size"] = text_tokenizer.vocabulary_size
        overrides.setdefault("max_sequence_length", seq_len)
        model = CompactBackbone.from_preset(preset, **overrides)
        description = f"fresh {preset}"
    if text_tokenizer.vocabulary_size > model.vocabulary_size:
        raise ValueError(f"The tokenizer {text_tokenizer.source!r} has "
                         f"{text_tokenizer.vocabulary_size} tokens but the backbone's table "
                         f"has {model.vocabulary_size}; pass the tokenizer it was trained with.")
    if model.max_sequence_length < seq_len:
        raise ValueError(f"--seq-len {seq_len} exceeds the backbone's position table "
                         f"({model.max_sequence_length}); lower --seq-len.")
    return model, text_tokenizer, description


# ------------------------------------------------------------ compile / fit


def compile_task_model(model, labels, optimizer, name=None):
    """The task kind's loss and Keras metrics (`keras_compact.tasks.kinds`)."""
    from keras_compact.tasks.kinds import task_kind

    glue = name if name in ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte",
                            "wnli") else None
    kind = task_kind(labels.kind)
    model.compile(optimizer=optimizer, loss=kind.loss(),
                  metrics=kind.keras_metrics(labels.num_classes, glue))
    return model


def predict_outputs(model, dataset):
    """Model outputs over a (features[, labels]) dataset, stacked as numpy."""
    import keras

    outputs = []
    for batch in dataset:
        features = batch[0] if isinstance(batch, tuple) else batch
        outputs.append(np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(features)),
                                  dtype="float32"))
    if not outputs:
        raise ValueError("The evaluation dataset is empty.")
    return np.concatenate(outputs)


def evaluate_predictions(outputs, gold, labels, metrics):
    """{metric: value} of raw model outputs against gold ids / scores."""
    from keras_compact.metrics import METRIC_FUNCTIONS
    from keras_compact.tasks.kinds import task_kind

    predictions = task_kind(labels.kind).predictions(outputs)
    return {name: METRIC_FUNCTIONS[name](gold, predictions) for name in metrics}


def evaluate_split(model, source, labels, tokenizer, seq_len, metrics, batch_size=64):
    """Every metric in `metrics` over a whole labelled split."""
    from keras_compact.tasks.datasets import collect_labels
    from keras_compact.tasks.datasets import is_pair
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.utils.validation import require_positive

    require_positive("batch_size", batch_size, integer=True)
    pair = getattr(getattr(model, "preprocessor", None), "pair", None)
    if pair is not None and is_pair(source) != pair:
        raise ValueError(_pairing_mismatch(pair))
    dataset = make_dataset(source, labels, tokenizer, seq_len=seq_len, batch_size=batch_size)
    outputs = predict_outputs(model, dataset)
    gold = collect_labels(source, labels)
    return evaluate_predictions(outputs, gold, labels, metrics)


def _epoch_printer():
    import keras

    def show(epoch, logs):
        logs = logs or {}
        values = "  ".join(f"{k} {v:.4f}" for k, v in logs.items()
                           if k != "learning_rate" and isinstance(v, float))
        print(f"epoch {epoch + 1}: {values}", flush=True)

    return keras.callbacks.LambdaCallback(on_epoch_end=show)


def make_preprocessor(tokenizer, seq_len, pair):
    """The `TextClassifierPreprocessor` saved inside a task model's .keras file."""
    from keras_compact.preprocessing import TextClassifierPreprocessor

    return TextClassifierPreprocessor(tokenizer.tokenizer, seq_len, pair=bool(pair))


def save_task_model(model, output_dir, info, tokenizer=None):
    """Writes classifier.keras (with its preprocessor) and task.json, atomically each.

    Args:
        model: a TextClassifier / TextRegressor; one without a preprocessor
            gets `make_preprocessor(tokenizer, info["seq_len"], info["pair"])`.
        output_dir: the run directory.
        info: the task description (`task_info`).
        tokenizer: the `TextTokenizer` the model was trained with.
    """
    from keras_compact.utils.atomic import atomic_file
    from keras_compact.utils.validation import require_finite_weights

    require_finite_weights(model, f"The model for {os.path.join(output_dir, MODEL_FILE)!r}")
    if getattr(model, "preprocessor", None) is None:
        if tokenizer is None:
            raise ValueError("save_task_model needs the tokenizer of a model saved "
                             "without a preprocessor.")
        model.preprocessor = make_preprocessor(tokenizer, info["seq_len"], info.get("pair"))
    os.makedirs(output_dir, exist_ok=True)
    info = {k: v for k, v in info.items() if k not in _PREPROCESSOR_KEYS}
    model_path = os.path.join(output_dir, MODEL_FILE)
    with atomic_file(model_path) as temp:
        model.save(temp)
    info_path = os.path.join(output_dir, TASK_FILE)
    with atomic_file(info_path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(info, handle, indent=1)
    return {"classifier": model_path, "task": info_path}


def task_info(task, seq_len, pair=None):
    """The JSON-able description of a prepared task saved beside its model."""
    spec = task["train"]
    column = getattr(spec, "text_column", "text")  # in-memory splits: the defaults
    return {
        "name": task.get("name"),
        "labels": task["labels"].to_json(),
        "label_names": task["labels"].names,
        "text_column": column if not isinstance(column, int) else str(column),
        "text_b_column": getattr(spec, "text_b_column", None),
        "label_column": getattr(spec, "label_column", "label"),
        "pair": task["pair"] if pair is None else pair,
        "seq_len": seq_len,
        "metrics": list(task["metrics"]),
    }


def finetune_task(task, backbone, tokenizer, output_dir, epochs=3, batch_size=32, seq_len=128,
                  learning_rate=5e-5, dropout=0.1, seed=0, verbose=2):
    """Fine-tunes a TextClassifier (or a one-output regressor) on a prepared task.

    Args:
        task: from `keras_compact.tasks.datasets.prepare_task` (every split
            already checked; nothing has been written yet).
        backbone: a `CompactBackbone`; tokenizer: its `TextTokenizer`.
        output_dir: receives classifier.keras (its preprocessor inside) and
            task.json.
        epochs, batch_size, seq_len, learning_rate, dropout, seed: the run.

    Returns:
        A dict: "classifier", "scores" (split -> metric -> value), "paths".

    Example:
    ```python
    task = prepare_task(FileSpec("train.csv", "sentence"), FileSpec("dev.csv", "sentence"))
    backbone, tokenizer, _ = load_backbone_and_tokenizer("minilm_hf_dir/")
    finetune_task(task, backbone, tokenizer, "runs/sst")
    ```
    """
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.tasks.kinds import task_kind
    from keras_compact.training.finetune import make_adamw

    from keras_compact.utils.validation import require_in_range
    from keras_compact.utils.validation import require_positive

    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("seq_len", seq_len)):
        require_positive(name, value, integer=True)
    require_positive("learning_rate", learning_rate)
    require_in_range("dropout", dropout, 0, 1)
    labels = task["labels"]
    train_count = task["counts"]["train"]
    if train_count < batch_size:
        batch_size = max(1, train_count)
    steps_per_epoch = max(1, train_count // batch_size)
    # Saved inside classifier.keras: evaluate, predict and export read the
    # tokenizer, sequence length and pairing from the model. The datasets
    # below feed packed ids, which pass through a Task's preprocessor.
    preprocessor = make_preprocessor(tokenizer, seq_len, task["pair"])
    classifier = task_kind(labels.kind).build_model(backbone, labels.num_classes, dropout,
                                                    preprocessor)
    compile_task_model(classifier, labels, make_adamw(steps_per_epoch * epochs, learning_rate),
                       name=task.get("name"))
    train = make_dataset(task["train"], labels, tokenizer, seq_len=seq_len,
                         batch_size=batch_size, shuffle=True, seed=seed,
                         count=train_count).repeat()
    validation = None
    if task["validation"]:
        split, first = next(iter(task["validation"].items()))
        validation = make_dataset(first, labels, tokenizer, seq_len=seq_len,
                                  batch_size=batch_size, count=task["counts"][split])
    kind = "regression" if labels.regression else f"{labels.num_classes} classes"
    print(f"Task {task.get('name') or os.path.basename(task['train'].path)}: {kind}, "
          f"{'pairs' if task['pair'] else 'single texts'}; examples "
          + ", ".join(f"{k} {v:,}" for k, v in task["counts"].items())
          + ("; bad rows skipped " + ", ".join(f"{k} {v}" for k, v in task["skipped"].items()
                                               if v) if any(task["skipped"].values()) else ""))
    print(f"Fine-tuning {backbone.count_params():,} backbone parameters: {epochs} epochs of "
          f"{steps_per_epoch} steps, batch {batch_size}, AdamW peak {learning_rate:g}",
          flush=True)
    import keras

    history = classifier.fit(
        train, validation_data=validation, epochs=epochs, steps_per_epoch=steps_per_epoch,
        verbose=0, shuffle=False,
        callbacks=[keras.callbacks.TerminateOnNaN()] + ([_epoch_printer()] if verbose else []))
    losses = history.history.get("loss", [])
    if len(losses) < epochs or not np.isfinite(losses).all():
        raise ValueError(f"Training diverged: the loss became NaN or infinite in epoch "
                         f"{len(losses)} of {epochs} (learning_rate {learning_rate:g}); "
                         f"nothing was saved in {output_dir!r}. Lower the learning rate "
                         "(--learning-rate) and train again.")
    scores = {}
    for split, spec in [*task["validation"].items(), *task["test"].items()]:
        if getattr(spec, "label_column", "in memory") is None:
            continue
        scores[split] = evaluate_split(classifier, spec, labels, tokenizer, seq_len,
                                       task["metrics"], batch_size=batch_size)
        print(f"{split}: " + "  ".join(f"{k} {v:.4f}" for k, v in scores[split].items()),
              flush=True)
    info = dict(task_info(task, seq_len), scores=scores)
    paths = save_task_model(classifier, output_dir, info)
    return {"classifier": classifier, "scores": scores, "paths": paths}


# ----------------------------------------------------------- reading back


def load_task_model(model_path):
    """(model, info dict, TextTokenizer) of a run written by `finetune_task`.

    The tokenizer, sequence length and pairing come from the model's
    preprocessor (saved inside the .keras file); task.json beside it gives
    the labels, columns and metrics.

    Raises:
        FileNotFoundError: no model, or no task.json beside it (names the path).
        ValueError: not a task model (e.g. a backbone), or a task.json that
            does not fit it (`keras_compact.tasks.task_file`).
    """
    from keras_compact.models import TextClassifier
    from keras_compact.tasks.datasets import load_text_tokenizer
    from keras_compact.tasks.datasets import text_tokenizer_from_layer
    from keras_compact.tasks.text_files import LabelInfo
    from keras_compact.utils.paths import require_file

    if os.path.isdir(model_path):
        model_path = os.path.join(model_path, MODEL_FILE)
    require_file(model_path, "--model", "the classifier.keras written by `keras-compact "
                 "finetune` (or the student/ of `distill`)")
    model = load_keras_file(
        model_path, "--model", TextClassifier,
        fix="a backbone has no task head; fine-tune it first (`keras-compact finetune "
        "--backbone PATH`) and pass the classifier.keras that writes")
    info_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), TASK_FILE)
    if not os.path.isfile(info_path):
        raise FileNotFoundError(f"No {TASK_FILE} beside {model_path!r}: it holds the labels "
                                "and columns; keep the run directory together.")
    info = read_task_file(info_path)
    check_task_file_against_model(info, model, info_path)
    info["label_info"] = LabelInfo.from_json(info["labels"])
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is not None:
        tokenizer = text_tokenizer_from_layer(preprocessor.tokenizer,
                                              source=f"{model_path} (preprocessor)")
        info["seq_len"] = preprocessor.sequence_length
        info["pair"] = preprocessor.pair
    elif info.get("tokenizer"):  # a run written before the preprocessor was saved inside
        tokenizer = load_text_tokenizer(
            os.path.join(os.path.dirname(info_path), info["tokenizer"]),
            lowercase=info.get("lowercase"))
    else:
        raise ValueError(f"--model {model_path!r} has no preprocessor and {info_path!r} names "
                         "no tokenizer; save the model with its TextClassifierPreprocessor.")
    return model, info, tokenizer


def _pairing_mismatch(pair):
    if pair:
        return ("The model classifies text pairs, but the data names no second text; pass "
                "text_b_column (--text-b-column).")
    return ("The model classifies single texts, but the data has second texts "
            "(text_b_column, --text-b-column), which it would ignore; drop --text-b-column.")


def predict_rows(model, info, tokenizer, rows, batch_size=32):
    """Yields one dict per row: the label (or score) and, for classes, probabilities."""
    from keras_compact.tasks.datasets import _pack
    from keras_compact.utils.validation import require_positive

    require_positive("batch_size", batch_size, integer=True)
    labels = info["label_info"]
    tokenize = tokenizer.tokenize_fn()
    seq_len = info["seq_len"]

    def flush(batch):
        import tensorflow as tf

        texts = tf.constant([row.text for row in batch])
        texts_b = tf.constant([row.text_b or "" for row in batch]) if info["pair"] else None
        features = _pack(tokenizer, tokenize, texts, texts_b, seq_len)
        import keras

        outputs = np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(
            {k: v.numpy() for k, v in features.items()})), dtype="float64")
        for row, output in zip(batch, outputs):
            if labels.regression:
                yield {"line": row.line, "score": float(output[0])}
            else:
                exp = np.exp(output - output.max())
                probabilities = exp / exp.sum()
                yield {"line": row.line, "label": labels.names[int(np.argmax(output))],
                       "probabilities": {name: round(float(p), 6) for name, p in
                                         zip(labels.names, probabilities)}}

    batch = []
    for row in rows:
        if info["pair"] and row.text_b is None:
            raise ValueError(f"line {row.line}: the model classifies text pairs; give "
                             f"{info['text_column']!r} and {info['text_b_column']!r}.")
        if not info["pair"] and row.text_b is not None:
            raise ValueError(_pairing_mismatch(False))
        batch.append(row)
        if len(batch) == batch_size:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)
