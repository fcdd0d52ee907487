"""Hugging Face `*ForSequenceClassification` folders as keras-compact task models.

A BERT or ALBERT checkpoint fine-tuned with transformers (config.json with
`id2label`, weights with `classifier.weight` / `classifier.bias`, and its
tokenizer files) becomes a `TextClassifier` (a `TextRegressor` for one
output) whose preprocessor is the folder's own tokenizer, so it takes raw
strings and can serve as a distillation teacher.

TensorFlow-only through the preprocessor (tensorflow-text tokenizers); the
model itself computes with `keras.ops`.
"""

import os
import re

import numpy as np

from keras_compact.convert.checkpoint_files import find_weight_file
from keras_compact.convert.checkpoint_files import read_json
from keras_compact.convert.huggingface import backbone_from_checkpoint
from keras_compact.convert.huggingface import read_checkpoint

# transformers fills id2label with these when a model is saved without names.
_GENERIC_LABEL = re.compile(r"LABEL_\d+")


def is_huggingface_folder(path):
    """True when `path` is a directory holding a Hugging Face config.json."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json"))


def huggingface_label_names(path_or_dir):
    """The checkpoint's class names in id order, or None when it has none.

    None also when transformers' placeholders (`LABEL_0`, ...) are all it has.
    """
    config_path, _ = find_weight_file(path_or_dir)
    return _label_names(read_json(config_path))


def _label_names(config):
    id2label = config.get("id2label") or {}
    names = [id2label.get(str(i)) for i in range(len(id2label))]
    if not names or any(name is None for name in names):
        return None
    if all(_GENERIC_LABEL.fullmatch(str(name)) for name in names):
        return None
    return [str(name) for name in names]


def from_huggingface_classifier(path_or_dir, sequence_length=128, pair=False, label_names=None,
                                dtype=None):
    """Builds a task model from a Hugging Face sequence-classification checkpoint.

    Args:
        path_or_dir: the folder written by `save_pretrained` (or its weight
            file, with the tokenizer files beside it).
        sequence_length: the preprocessor's packed length.
        pair: whether the preprocessor takes (text, text_b) pairs.
        label_names: optional class names in the order the outputs should
            have (e.g. a task's label vocabulary); the head's rows are
            reordered from the checkpoint's `id2label` to match. Checkpoints
            with placeholder names (`LABEL_0`, ...) keep their order.
        dtype: optional dtype policy, e.g. "mixed_bfloat16".

    Returns:
        A `TextClassifier`, or a `TextRegressor` when the checkpoint has one
        output, with the checkpoint's head and its tokenizer inside.

    Raises:
        ValueError: the checkpoint has no classification head (a base model:
            fine-tune it first), `label_names` are not its classes, or its
            backbone does not fit (see `from_huggingface`).

    Example:
    ```python
    classifier = from_huggingface_classifier("hf_sst2_model/", sequence_length=64)
    classifier.predict(["A fine film.", "Dull and long."])
    ```
    """
    from keras_compact.models import TextClassifier
    from keras_compact.models import TextRegressor
    from keras_compact.preprocessing import TextClassifierPreprocessor
    from keras_compact.tokenizers import load_tokenizer

    checkpoint = read_checkpoint(path_or_dir)  # the weight file is read once
    config, weights = checkpoint.config, checkpoint.weights
    config_path, weights_path = checkpoint.config_path, checkpoint.weights_path
    if "classifier.weight" not in weights:
        raise ValueError(
            f"{weights_path} has no sequence-classification head (classifier.weight; "
            f"architectures {config.get('architectures')}). Fine-tune it first, e.g. "
            f"`keras-compact finetune --backbone {os.path.dirname(config_path)} ...`, "
            "and use the classifier.keras it writes.")
    kernel = np.asarray(weights["classifier.weight"]).T  # torch Linear: (out, in)
    bias = np.asarray(weights["classifier.bias"])
    regression = kernel.shape[1] == 1  # transformers' num_labels=1 is regression
    names = _label_names(config)
    if label_names is not None and names is not None and not regression:
        if sorted(names) != sorted(label_names):
            raise ValueError(
                f"{config_path} has the classes {names} (id2label, in id order), not "
                f"{list(label_names)}. Use a checkpoint trained on these classes, or give "
                "the data its label names.")
        order = [names.index(name) for name in label_names]
        kernel, bias = kernel[:, order], bias[order]
    # BERT: classifier_dropout (None means hidden_dropout_prob); ALBERT: classifier_dropout_prob.
    dropout = config.get("classifier_dropout", config.get("classifier_dropout_prob"))
    if dropout is None:
        dropout = config.get("hidden_dropout_prob", 0.1)
    backbone = backbone_from_checkpoint(checkpoint, dtype=dtype)
    tokenizer = load_tokenizer(os.path.dirname(config_path))
    preprocessor = TextClassifierPreprocessor(tokenizer, sequence_length, pair=pair)
    if regression:
        model = TextRegressor(backbone, preprocessor=preprocessor, dropout=dropout)
    else:
        model = TextClassifier(backbone, num_classes=kernel.shape[1],
                               preprocessor=preprocessor, dropout=dropout)
    model.output_dense.set_weights([kernel, bias])
    return model
