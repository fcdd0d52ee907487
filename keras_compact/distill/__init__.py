"""TinyBERT, MiniLM and MiniLMv2 distillation (and DistilBERT's recipe).

- `layer_mapping`: which teacher layer each student layer learns from.
- `losses`: embedding, hidden-state, attention, prediction, cosine, MiniLM
  attention-distribution / value-relation and MiniLMv2 relation losses.
- `loss_table`: one object per loss; the Distiller iterates over it.
- `Distiller`: a `keras.Model` that trains a student against a frozen teacher;
  `PretrainingDistiller`: MLM + SOP + soft MLM targets + intermediate losses.
- `augmentation`: TinyBERT's data augmentation (teacher MLM + word vectors).
"""

from keras_compact.distill.distiller import STAGES
from keras_compact.distill.distiller import Distiller
from keras_compact.distill.distiller import PretrainingDistiller
from keras_compact.distill.distiller_setup import describe_mismatches
from keras_compact.distill.loss_table import LOSS_NAMES
from keras_compact.distill.loss_table import LOSS_TABLE
from keras_compact.distill.distilbert import distilbert_distiller
from keras_compact.distill.distilbert import distilbert_student_from_teacher
from keras_compact.distill.layer_mapping import layer_mapping
from keras_compact.distill.losses import attention_loss
from keras_compact.distill.losses import cosine_hidden_loss
from keras_compact.distill.losses import embedding_loss
from keras_compact.distill.losses import hidden_loss
from keras_compact.distill.losses import prediction_loss
from keras_compact.distill.losses import attention_distribution_loss
from keras_compact.distill.losses import relation_loss
from keras_compact.distill.losses import soft_target_loss
from keras_compact.distill.losses import value_relation_loss
from keras_compact.distill.augmentation import TextAugmenter
from keras_compact.distill.augmentation import WordVectors
from keras_compact.distill.augmentation import augment_task
