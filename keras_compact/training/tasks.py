"""Fine-tune, evaluate and predict on a prepared task (files or a bundled dataset).

The library side of `keras-compact finetune / evaluate / predict`
(`keras_compact.training.finetune_job.FinetuneJob` runs a whole job):

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
model trains on any Keras backend. A little over 500 lines on purpose: how a
task model is loaded, trained, saved and read back is one format, read together.
"""

import json
import os

import numpy as np

from keras_compact.tasks.task_file import TASK_FILE
from keras_compact.tasks.task_file import check_task_file_against_model
from keras_compact.tasks.task_file import read_task_file
from keras_compact.utils.model_files import load_keras_file
MODEL_FILE = "classifier.keras"
# What a fine-tuning run writes in its directory (`overwrite` removes these).
FINETUNE_OUTPUTS = (MODEL_FILE, TASK_FILE)
TOKENIZER_DIR = "tokenizer"  # runs written before the preprocessor was saved inside
# Keys of task.json that the model's preprocessor answers (never written, so
# the two cannot disagree).
_PREPROCESSOR_KEYS = ("tokenizer", "tokenizer_kind", "lowercase", "sequence_length")


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


def _tokenizer_size(tokenizer):
    return int(tokenizer.vocabulary_size())


def load_backbone_and_tokenizer(backbone=None, preset=None, config=None, tokenizer=None,
                                sequence_length=128):
    """(CompactBackbone, tokenizer, description) from a path or a preset.

    Args:
        backbone: a `.keras` file (a CompactBackbone, or the backbone of a
            TextClassifier / AlbertPretrainer) or a Hugging Face folder.
        preset, config: a fresh backbone instead (`config` overrides it).
        tokenizer: a .model, vocab.txt or Hugging Face folder; default: the
            Hugging Face folder itself, or the tokenizer saved inside the
            `.keras` file's preprocessor, else the one beside it
            (vocab/spm.model, vocab.txt).
        sequence_length: a fresh backbone's position table is at least this long
            (None: the preset's, and no check).

    Returns:
        The backbone, a `keras_compact.tokenizers` tokenizer
        (`load_tokenizer`), and a one-line description of both.

    Raises:
        FileNotFoundError / ValueError: naming the argument, the path and the fix.
    """
    from keras_compact.tokenizers import load_tokenizer

    if backbone is not None and preset is not None:
        raise ValueError(f"backbone={backbone!r} and preset={preset!r} both name a "
                         "backbone; pass one.")
    if backbone is None and preset is None:
        raise ValueError("Name a backbone: backbone=PATH.keras, backbone=HF_DIR, or "
                         "preset=NAME (with tokenizer=...).")
    source = tokenizer
    if backbone is not None:
        if not os.path.exists(backbone):
            raise FileNotFoundError(f"backbone={backbone!r} does not exist; pass a .keras "
                                    "file or a Hugging Face folder (config.json + weights).")
        if os.path.isdir(backbone):
            from keras_compact.convert import from_huggingface

            model = from_huggingface(backbone)
            source = tokenizer or backbone
            text_tokenizer = load_tokenizer(source)
            description = f"Hugging Face {backbone}"
        else:
            from keras_compact.models import CompactBackbone

            loaded = load_keras_file(backbone, "backbone")
            model = getattr(loaded, "backbone", loaded)
            if not isinstance(model, CompactBackbone):
                raise ValueError(f"backbone={backbone!r} holds a {type(loaded).__name__} "
                                 "without a CompactBackbone.")
            preprocessor = getattr(loaded, "preprocessor", None)
            if tokenizer is None and preprocessor is not None:  # saved inside the .keras
                text_tokenizer = preprocessor.tokenizer
                source = f"{backbone} (preprocessor)"
            else:
                source = tokenizer or find_tokenizer_beside(backbone)
                if source is None:
                    raise ValueError(f"No tokenizer in or beside backbone={backbone!r}; "
                                     "pass tokenizer= (a .model, vocab.txt or Hugging Face "
                                     "folder).")
                text_tokenizer = load_tokenizer(source)
            description = backbone
    else:
        from keras_compact.models import CompactBackbone

        if tokenizer is None:
            raise ValueError(f"preset={preset!r} builds a fresh backbone; pass tokenizer= "
                             "(a .model, vocab.txt or Hugging Face folder) for its vocabulary.")
        text_tokenizer = load_tokenizer(tokenizer)
        overrides = dict(config or {})
        overrides["vocabulary_size"] = _tokenizer_size(text_tokenizer)
        if sequence_length is not None:
            overrides.setdefault("max_sequence_length", sequence_length)
        model = CompactBackbone.from_preset(preset, **overrides)
        description = f"fresh {preset}"
    size = _tokenizer_size(text_tokenizer)
    if size > model.vocabulary_size:
        raise ValueError(f"The tokenizer {source!r} has {size} tokens but the backbone's "
                         f"table has {model.vocabulary_size}; pass the tokenizer it was "
                         "trained with.")
    if sequence_length is not None and model.max_sequence_length < sequence_length:
        raise ValueError(f"sequence_length={sequence_length} exceeds the backbone's position "
                         f"table ({model.max_sequence_length}); lower sequence_length.")
    description += (f"; tokenizer: {type(text_tokenizer).__name__} {source} "
                    f"({size:,} tokens)")
    return model, text_tokenizer, description


# ------------------------------------------------------------ compile / fit


def _glue_task(name):
    return name if name in ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte",
                            "wnli") else None


def compile_task_model(model, labels, optimizer, name=None):
    """The task kind's loss and Keras metrics (`keras_compact.tasks.kinds`)."""
    from keras_compact.tasks.kinds import task_kind

    kind = task_kind(labels.kind)
    model.compile(optimizer=optimizer, loss=kind.loss(),
                  metrics=kind.keras_metrics(labels.num_classes, _glue_task(name)))
    return model


def best_epoch_callback(task, epochs):
    """`keras.callbacks.EarlyStopping` that never stops but restores the best epoch.

    It watches the validation value of the task's first metric when the
    compiled model logs it (`compile_task_model`: val_accuracy,
    val_matthews_corrcoef, val_pearson), else val_loss; `patience=epochs`
    lets every epoch run and `restore_best_weights` leaves the best epoch's
    weights (the first of equals) in the model when `fit` ends.
    """
    import keras

    from keras_compact.tasks.kinds import task_kind

    labels = task["labels"]
    logged = [m.name for m in task_kind(labels.kind).keras_metrics(
        labels.num_classes, _glue_task(task.get("name")))]
    metric = task["metrics"][0] if task["metrics"][0] in logged else "loss"
    return keras.callbacks.EarlyStopping(monitor=f"val_{metric}", patience=epochs,
                                         mode="min" if metric == "loss" else "max",
                                         restore_best_weights=True)


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


def evaluate_split(model, source, labels, metrics, batch_size=64, preprocessor=None):
    """Every metric in `metrics` over a whole labelled split.

    The split's raw texts go through `preprocessor`, by default the model's
    own (`model.preprocessor`).
    """
    from keras_compact.tasks.datasets import collect_labels
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.utils.validation import require_positive

    require_positive("batch_size", batch_size, integer=True)
    if preprocessor is None:
        preprocessor = getattr(model, "preprocessor", None)
    dataset = make_dataset(source, labels, preprocessor, batch_size=batch_size)
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


def make_preprocessor(tokenizer, sequence_length, pair):
    """The `TextClassifierPreprocessor` a task model carries (and is trained through).

    Args:
        tokenizer: a `keras_compact.tokenizers` tokenizer, or the path of its
            vocabulary (`load_tokenizer`).
        sequence_length: int, the packed length.
        pair: bool, examples are (text, text_b) pairs.
    """
    from keras_compact.preprocessing import TextClassifierPreprocessor

    return TextClassifierPreprocessor(tokenizer, sequence_length, pair=bool(pair))


def save_task_model(model, output_dir, info, preprocessor=None):
    """Writes classifier.keras (with its preprocessor) and task.json, atomically each.

    Args:
        model: a TextClassifier / TextRegressor; one without a preprocessor
            gets `preprocessor`.
        output_dir: the run directory.
        info: the task description (`task_info`).
        preprocessor: the `TextClassifierPreprocessor` the model was trained
            through, for a model built without one.
    """
    from keras_compact.utils.atomic import atomic_file
    from keras_compact.utils.validation import require_finite_weights

    require_finite_weights(model, f"The model for {os.path.join(output_dir, MODEL_FILE)!r}")
    if getattr(model, "preprocessor", None) is None:
        if preprocessor is None:
            raise ValueError("save_task_model needs preprocessor= for a model built "
                             "without one.")
        model.preprocessor = preprocessor
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


def task_info(task, sequence_length, pair=None):
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
        "sequence_length": sequence_length,
        "metrics": list(task["metrics"]),
    }


def finetune_task(task, backbone, tokenizer, output_dir, epochs=3, batch_size=32,
                  sequence_length=128, learning_rate=5e-5, dropout=0.1, seed=0, verbose=2,
                  one_pass_per_epoch=False):
    """Fine-tunes the task kind's model (`keras_compact.tasks.kinds`) on a prepared task.

    The model carries its `TextClassifierPreprocessor` (tokenizer, sequence
    length, pairing); every split's raw texts go through it, in training as
    in evaluation, prediction and export.

    Args:
        task: from `keras_compact.tasks.datasets.prepare_task` (every split
            already checked; nothing has been written yet), or in-memory
            splits of the same shape (`keras_compact.tasks.named`).
        backbone: a `CompactBackbone`; tokenizer: its `keras_compact.tokenizers`
            tokenizer (or the path of its vocabulary).
        output_dir: receives classifier.keras (its preprocessor inside) and
            task.json.
        epochs, batch_size, sequence_length, learning_rate, dropout, seed: the run.
        verbose: 0 prints no per-epoch line.
        one_pass_per_epoch: False (default): one repeated, reshuffled stream
            cut into epochs of `steps_per_epoch`; True: each epoch is a
            fresh pass over the split. Both shuffle every epoch, with other
            orders from epoch 2 on; the main job's from-scratch ALBERT
            teacher keeps its recorded figures with True.

    Returns:
        A dict: "classifier", "scores" (split -> metric -> value), "paths",
        "history" (Keras'), "training" (also in task.json): "epochs",
        "learning_rate", "kept_epoch" (1-based: with a validation split the
        model saved is the epoch with the best validation value of the
        task's first metric, `best_epoch_callback`) and "kept_by" (the
        value watched, e.g. "val_accuracy"; None without validation).

    Example:
    ```python
    task = prepare_task(FileSpec("train.csv", "sentence"), FileSpec("dev.csv", "sentence"))
    backbone, tokenizer, _ = load_backbone_and_tokenizer("minilm_hf_dir/")
    finetune_task(task, backbone, tokenizer, "runs/sst")
    ```
    """
    import keras

    from keras_compact.optimizers import make_adamw
    from keras_compact.tasks.datasets import make_dataset
    from keras_compact.tasks.kinds import task_kind
    from keras_compact.utils.validation import require_in_range
    from keras_compact.utils.validation import require_positive

    for name, value in (("epochs", epochs), ("batch_size", batch_size),
                        ("sequence_length", sequence_length)):
        require_positive(name, value, integer=True)
    require_positive("learning_rate", learning_rate)
    require_in_range("dropout", dropout, 0, 1)
    labels = task["labels"]
    train_count = task["counts"]["train"]
    if train_count < batch_size:
        batch_size = max(1, train_count)
    steps_per_epoch = max(1, train_count // batch_size)
    # Saved inside classifier.keras: evaluate, predict and export read the
    # tokenizer, sequence length and pairing from the model, and the datasets
    # below map this same preprocessor over the raw texts.
    preprocessor = make_preprocessor(tokenizer, sequence_length, task["pair"])
    classifier = task_kind(labels.kind).build_model(backbone, labels.num_classes, dropout,
                                                    preprocessor)
    compile_task_model(classifier, labels, make_adamw(steps_per_epoch * epochs, learning_rate),
                       name=task.get("name"))
    train = make_dataset(task["train"], labels, preprocessor, batch_size=batch_size,
                         shuffle=True, seed=seed, count=train_count)
    steps = {} if one_pass_per_epoch else {"steps_per_epoch": steps_per_epoch}
    if not one_pass_per_epoch:
        train = train.repeat()
    validation = None
    if task["validation"]:
        split, first = next(iter(task["validation"].items()))
        validation = make_dataset(first, labels, preprocessor, batch_size=batch_size,
                                  count=task["counts"][split])
    kind = (f"{labels.num_classes} classes" if task_kind(labels.kind).has_names
            else labels.kind)
    name = task.get("name") or os.path.basename(getattr(task["train"], "path", "train"))
    print(f"Task {name}: {kind}, {'pairs' if task['pair'] else 'single texts'}; examples "
          + ", ".join(f"{k} {v:,}" for k, v in task["counts"].items())
          + ("; bad rows skipped " + ", ".join(f"{k} {v}" for k, v in task["skipped"].items()
                                               if v) if any(task["skipped"].values()) else ""))
    print(f"Fine-tuning {backbone.count_params():,} backbone parameters: {epochs} epochs of "
          f"{steps_per_epoch} steps, batch {batch_size}, AdamW peak {learning_rate:g}",
          flush=True)
    # With a validation split the saved model is its best epoch's (no resume
    # within a fit here, so the best weights can live in memory).
    best = best_epoch_callback(task, epochs) if validation is not None else None
    history = classifier.fit(
        train, validation_data=validation, epochs=epochs, **steps,
        verbose=0, shuffle=False,
        callbacks=[keras.callbacks.TerminateOnNaN()] + ([_epoch_printer()] if verbose else [])
        + ([best] if best else []))
    losses = history.history.get("loss", [])
    if len(losses) < epochs or not np.isfinite(losses).all():
        raise ValueError(f"Training diverged: the loss became NaN or infinite in epoch "
                         f"{len(losses)} of {epochs} (learning_rate={learning_rate:g}); "
                         f"nothing was saved in {output_dir!r}. Lower learning_rate and "
                         "train again.")
    training = {"epochs": epochs, "learning_rate": learning_rate, "kept_epoch": epochs,
                "kept_by": None}
    if best is not None and best.best is not None:
        training.update(kept_epoch=best.best_epoch + 1, kept_by=best.monitor)
        print(f"Kept epoch {best.best_epoch + 1} of {epochs}: best {best.monitor} "
              f"{best.best:.4f}", flush=True)
    scores = {}
    for split, spec in [*task["validation"].items(), *task["test"].items()]:
        if getattr(spec, "label_column", "in memory") is None:
            continue
        scores[split] = evaluate_split(classifier, spec, labels, task["metrics"],
                                       batch_size=batch_size)
        print(f"{split}: " + "  ".join(f"{k} {v:.4f}" for k, v in scores[split].items()),
              flush=True)
    info = dict(task_info(task, sequence_length), scores=scores, training=training)
    paths = save_task_model(classifier, output_dir, info)
    return {"classifier": classifier, "scores": scores, "paths": paths, "training": training,
            "history": history.history}


# ----------------------------------------------------------- reading back


def load_task_model(model_path):
    """(model, info dict) of a run written by `finetune_task` (or `distill`).

    The model carries its preprocessor (tokenizer, sequence length and
    pairing, saved inside the .keras file); task.json beside it gives the
    labels, columns and metrics. `info` also gets "label_info"
    (`LabelInfo`), "sequence_length" and "pair" read from the preprocessor.

    Raises:
        FileNotFoundError: no model, or no task.json beside it (names the path).
        ValueError: not a task model (e.g. a backbone), a model without its
            preprocessor, or a task.json that does not fit it
            (`keras_compact.tasks.task_file`).
    """
    from keras_compact.models import TextClassifier
    from keras_compact.tasks.labels import LabelInfo
    from keras_compact.utils.paths import require_file

    if os.path.isdir(model_path):
        model_path = os.path.join(model_path, MODEL_FILE)
    require_file(model_path, "model", "the classifier.keras written by `keras-compact "
                 "finetune` (or the student/ of `distill`)")
    model = load_keras_file(
        model_path, "model", TextClassifier,
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
    if preprocessor is None:
        raise ValueError(f"model={model_path!r} has no preprocessor; fine-tune it again with "
                         "keras-compact >= this version, which saves the "
                         "TextClassifierPreprocessor inside classifier.keras.")
    info["sequence_length"] = preprocessor.sequence_length
    info["pair"] = preprocessor.pair
    return model, info


def predict_rows(model, info, rows, batch_size=32):
    """Yields one dict per row: the label (or score) and, for classes, probabilities.

    Each batch of raw texts goes through the model's own preprocessor.
    """
    import keras
    import tensorflow as tf

    from keras_compact.tasks.datasets import features_function
    from keras_compact.tasks.datasets import pairing_mismatch
    from keras_compact.utils.validation import require_positive

    from keras_compact.tasks.kinds import task_kind

    require_positive("batch_size", batch_size, integer=True)
    labels = info["label_info"]
    kind = task_kind(labels.kind)
    encode = features_function(model.preprocessor)

    def flush(batch):
        texts = tf.constant([row.text for row in batch])
        texts_b = tf.constant([row.text_b or "" for row in batch]) if info["pair"] else None
        features = encode(texts, texts_b)
        outputs = np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(
            {k: v.numpy() for k, v in features.items()})), dtype="float64")
        for row, output in zip(batch, outputs):
            yield {"line": row.line, **kind.format_prediction(output, labels.names)}

    batch = []
    for row in rows:
        if info["pair"] and row.text_b is None:
            raise ValueError(f"line {row.line}: the model classifies text pairs; give "
                             f"{info['text_column']!r} and {info['text_b_column']!r}.")
        if not info["pair"] and row.text_b is not None:
            raise ValueError(pairing_mismatch(False))
        batch.append(row)
        if len(batch) == batch_size:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)
