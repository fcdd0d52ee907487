"""Raw text to model inputs: the one packer and keras-hub-style preprocessors.

TF-only computation (tensorflow / tensorflow-text ops), usable from every
Keras backend through `tf.data`.

- `pack`: `[CLS] a [SEP] (b [SEP])` with transformers' longest-first truncation,
  segment ids and padding mask (core TF ops, TF Serving-safe).
- `TextClassifierPreprocessor`: strings or `(text, text_b)` pairs in,
  features out, for `TextClassifier`, `TextRegressor` and `TextEmbedder`.

Example:
```python
preprocessor = TextClassifierPreprocessor(tokenizer, sequence_length=128)
features = preprocessor(["Lists are mutable."])
```
"""

from keras_compact.preprocessing.packing import bound_text_length
from keras_compact.preprocessing.packing import encode
from keras_compact.preprocessing.packing import longest_first_lengths
from keras_compact.preprocessing.packing import pack
from keras_compact.preprocessing.packing import truncated_lengths
from keras_compact.preprocessing.text_classifier_preprocessor import (
    TextClassifierPreprocessor,
)
