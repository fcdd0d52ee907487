"""LAMB with ALBERT's learning-rate schedule; AdamW with BERT's fine-tuning one."""

from keras_compact.optimizers.adamw import make_adamw
from keras_compact.optimizers.lamb import PAPER_BATCH_SIZE
from keras_compact.optimizers.lamb import PAPER_LEARNING_RATE
from keras_compact.optimizers.lamb import make_lamb_optimizer
from keras_compact.optimizers.lamb import scaled_learning_rate
from keras_compact.optimizers.schedules import WarmupPolynomialDecay
