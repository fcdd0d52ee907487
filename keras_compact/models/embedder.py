"""`TextEmbedder`: one vector per text, the mean of its real tokens' states.

Backend-agnostic (Keras layers); raw strings go through the preprocessor in
`tf.data`, as for every keras-hub Task.
"""

import keras
from keras_hub.models import Task

from keras_compact.models.backbone import CompactBackbone
from keras_compact.models.classifier import check_preprocessor
from keras_compact.preprocessing.text_classifier_preprocessor import (
    TextClassifierPreprocessor,
)


@keras.saving.register_keras_serializable(package="keras_compact")
class TextEmbedder(Task):
    """Sentence embeddings: mean pooling over real tokens, optionally L2-normalised.

    The vector is the average of the backbone's last hidden states over the
    positions the padding mask marks ([CLS] and [SEP] included, padding
    excluded), what sentence-embedding checkpoints such as
    all-MiniLM-L6-v2 were trained with; their pooler ([CLS] + tanh) is not
    their embedding. `normalize=True` divides by the L2 norm (as
    sentence-transformers' Normalize module does), so dot products are
    cosines.

    Built from Keras' own layers: `GlobalAveragePooling1D` with the padding
    mask, then `UnitNormalization`.

    Args:
        backbone: a `keras_compact.models.CompactBackbone` (e.g. from
            `keras_compact.convert.from_huggingface`).
        preprocessor: a `TextClassifierPreprocessor` or None (then inputs are
            feature dicts).
        normalize: bool. L2-normalise the embeddings.
        **kwargs: `keras_hub.models.Task` arguments (name, ...).

    Example:
    ```python
    backbone = keras_compact.convert.from_huggingface(minilm_dir)
    tokenizer = keras_compact.tokenizers.WordPieceTokenizer.from_huggingface(minilm_dir)
    embedder = TextEmbedder(
        backbone, TextClassifierPreprocessor(tokenizer, sequence_length=256),
        normalize=True)
    vectors = embedder.predict(["A man is eating food.", "A man eats."])
    float(vectors[0] @ vectors[1])   # cosine similarity
    ```
    """

    backbone_cls = CompactBackbone
    preprocessor_cls = TextClassifierPreprocessor

    def __init__(self, backbone, preprocessor=None, normalize=False, **kwargs):
        check_preprocessor(backbone, preprocessor)
        policy = backbone.dtype_policy
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooling = keras.layers.GlobalAveragePooling1D(dtype=policy, name="mean_pooling")
        self.normalization = (keras.layers.UnitNormalization(axis=-1, dtype=policy,
                                                             name="l2_normalization")
                              if normalize else None)

        # === Functional model ===
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        embedding = self.pooling(sequence, mask=keras.ops.not_equal(inputs["padding_mask"], 0))
        if self.normalization is not None:
            embedding = self.normalization(embedding)
        # Nothing to train by default (no loss), so no default compile; call
        # `compile` to fine-tune it with a loss of your own.
        kwargs.setdefault("compile", False)
        super().__init__(inputs=inputs, outputs=embedding, **kwargs)

        # === Config ===
        self.normalize = bool(normalize)

    def get_config(self):
        config = super().get_config()
        config.update({"normalize": self.normalize, "trainable": self.trainable})
        return config
