"""Models built from the package's layers."""

from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.classifier import TextClassifier
from keras_compact.models.classifier import TextRegressor
from keras_compact.models.embedder import TextEmbedder
from keras_compact.models.pretrainer import AlbertPretrainer
from keras_compact.models.presets import PRESETS
from keras_compact.models.presets import get_preset_config
