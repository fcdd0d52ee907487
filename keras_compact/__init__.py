"""keras-compact: compact BERT-family language models for Keras 3.

ALBERT (factorized embeddings, cross-layer parameter sharing, sentence-order
prediction) and TinyBERT (transformer distillation), on the TensorFlow, JAX
and torch backends.
"""

from keras_compact.version import __version__
from keras_compact.layers import AttentionSublayer
from keras_compact.layers import FactorizedEmbedding
from keras_compact.layers import FeedForwardSublayer
from keras_compact.layers import SharedTransformerEncoder
from keras_compact.layers import TransformerBlock
from keras_compact.models import AlbertPretrainer
from keras_compact.models import CompactBackbone
from keras_compact.models import TextClassifier
from keras_compact.models import TextEmbedder
from keras_compact.models import TextRegressor
from keras_compact.preprocessing import TextClassifierPreprocessor
from keras_compact.models import PRESETS
from keras_compact.tokenizers import SentencePieceTokenizer
from keras_compact.tokenizers import WordPieceTokenizer
from keras_compact.tokenizers import load_tokenizer

# Everything a saved .keras file can name must be registered on import
# (`keras.saving.load_model` looks classes up by their registered name):
# the optimizer schedule of a saved pretrainer and the distillation model
# live outside layers/ and models/.
from keras_compact.optimizers import WarmupPolynomialDecay
from keras_compact.distill import Distiller
