"""Multi-backend Keras layers (computed with `keras.ops` only)."""

from keras_compact.layers.factorized_embedding import FactorizedEmbedding
from keras_compact.layers.attention import ScoredMultiHeadAttention
from keras_compact.layers.transformer_block import AttentionSublayer
from keras_compact.layers.transformer_block import FeedForwardSublayer
from keras_compact.layers.transformer_block import TransformerBlock
from keras_compact.layers.shared_encoder import SharedTransformerEncoder
from keras_compact.layers.shared_encoder import SHARING_MODES
