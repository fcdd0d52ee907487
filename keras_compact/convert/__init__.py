"""Converters between keras_compact and other implementations' weights.

- `from_keras_hub`: keras-hub `AlbertBackbone` / `BertBackbone` objects.
- `from_huggingface` / `to_huggingface`: Hugging Face ALBERT and BERT
  checkpoint directories (config.json + safetensors or pytorch_model.bin).
- `from_huggingface_classifier`: a Hugging Face `*ForSequenceClassification`
  folder as a `TextClassifier` / `TextRegressor` with its tokenizer inside.
- `from_albert_tf1_checkpoint`: google-research/albert TF1 checkpoints
  (needs TensorFlow to read them).
"""

from keras_compact.convert.albert_tf1 import from_albert_tf1_checkpoint
from keras_compact.convert.huggingface import from_huggingface
from keras_compact.convert.huggingface import to_huggingface
from keras_compact.convert.keras_hub import from_keras_hub
from keras_compact.convert.sequence_classification import from_huggingface_classifier
