"""TinyBERT transformer distillation (and DistilBERT's simpler recipe).

- `layer_mapping`: which teacher layer each student layer learns from.
- `losses`: embedding, hidden-state, attention, prediction and cosine losses.
- `Distiller`: a `keras.Model` that trains a student against a frozen teacher.
- `augmentation`: TinyBERT's data augmentation (teacher MLM + word vectors).
"""

from keras_compact.distill.distiller import STAGES
from keras_compact.distill.distiller import Distiller
from keras_compact.distill.distiller import distilbert_distiller
from keras_compact.distill.distiller import distilbert_student_from_teacher
from keras_compact.distill.layer_mapping import layer_mapping
from keras_compact.distill.losses import attention_loss
from keras_compact.distill.losses import cosine_hidden_loss
from keras_compact.distill.losses import embedding_loss
from keras_compact.distill.losses import hidden_loss
from keras_compact.distill.losses import prediction_loss
from keras_compact.distill.augmentation import TextAugmenter
from keras_compact.distill.augmentation import WordVectors
from keras_compact.distill.augmentation import augment_task
