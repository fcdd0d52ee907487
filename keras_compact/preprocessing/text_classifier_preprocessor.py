"""`TextClassifierPreprocessor`: raw strings (or pairs) to model inputs.

TF-only computation (tensorflow / tensorflow-text ops, as keras-hub's
preprocessors), usable from every Keras backend: Tasks map it over a
`tf.data` pipeline, whose batches feed `fit` on TensorFlow, JAX and torch.
"""

import keras
from keras_hub.models import Preprocessor

from keras_compact.preprocessing.packing import CHARS_PER_TOKEN
from keras_compact.preprocessing.packing import MAX_TEXT_CHARS
from keras_compact.preprocessing.packing import check_sequence_length
from keras_compact.preprocessing.packing import encode

try:  # keras-hub's own eager-input / backend-output conversion (pinned 0.32.x)
    from keras_hub.src.utils.tensor_utils import preprocessing_function
except ImportError:  # pragma: no cover - keras-hub moved it
    def preprocessing_function(fn):
        return fn


def _is_string_like(value):
    """True for str/bytes, lists of them and string tensors/arrays."""
    import numpy as np

    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, (list, tuple)):
        return bool(value) and all(_is_string_like(v) for v in value)
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return False
    if isinstance(value, np.ndarray):
        return value.dtype.kind in ("U", "S", "O")
    return "string" in str(dtype)


def _vocabulary_size(tokenizer):
    """The tokenizer's vocabulary size, or None while it has no vocabulary.

    A tokenizer restored from `.keras` gets its vocabulary from the saved
    assets after it is constructed; checks against it wait until then.
    """
    try:
        return int(tokenizer.vocabulary_size())
    except (ValueError, RuntimeError, TypeError, AttributeError):
        return None


@keras.saving.register_keras_serializable(package="keras_compact")
class TextClassifierPreprocessor(Preprocessor):
    """Tokenizes and packs texts or text pairs for the package's task models.

    Each example becomes `[CLS] a [SEP]`, or `[CLS] a [SEP] b [SEP]` for
    pairs, with transformers' longest-first truncation to `sequence_length`,
    segment ids and a padding mask (`keras_compact.preprocessing.pack`), the
    ids the training pipelines and the exported serving graphs use.

    keras-hub `Preprocessor` conventions: call it on `x`, `(x, y)` or
    `(x, y, sample_weight)`; `y` and `sample_weight` pass through. `x` is a
    string or a batch of strings, or for `pair=True` a tuple
    `(texts, texts_b)`; a dict that already holds "token_ids" (features)
    passes through unchanged, so a Task with a preprocessor still takes ids. Works eagerly and inside `tf.data.Dataset.map`;
    the tokenizer (with its vocabulary) is saved with it in `.keras` files.

    Work per text is bounded before tokenizing: each text is first cut to
    `max_text_chars` characters (default 64 per sequence position), so a
    30 MB string costs about what a 10 kB one does. A text whose first
    `sequence_length` pieces lie within that many characters (any ordinary
    text: 64 characters per piece is far beyond real pieces) gets exactly
    the ids of the uncut text.

    Args:
        tokenizer: a tokenizer with `tokenize` (strings -> int ragged ids)
            and `cls_token_id`, `sep_token_id`, `pad_token_id`, e.g.
            `keras_compact.tokenizers.WordPieceTokenizer` or
            `SentencePieceTokenizer` (a keras-hub tokenizer works too).
        sequence_length: int. Packed length (>= 3; >= 4 for pairs); at most
            the backbone's `max_sequence_length`.
        pair: bool. Examples are `(text, text_b)` pairs.
        max_text_chars: int or None. Characters kept per text before
            tokenizing; None means 64 * sequence_length.
        **kwargs: `keras.layers.Layer` arguments (name, ...).

    Example:
    ```python
    tokenizer = keras_compact.tokenizers.load_tokenizer("vocab.txt")
    preprocessor = TextClassifierPreprocessor(tokenizer, sequence_length=128)
    x = preprocessor(["The quick brown fox.", "Call me Ishmael."])
    x["token_ids"].shape  # (2, 128)

    pairs = TextClassifierPreprocessor(tokenizer, 128, pair=True)
    x, y = pairs((["A man plays."], ["Someone plays."]), [1])
    ```
    """

    def __init__(self, tokenizer, sequence_length=512, pair=False, max_text_chars=None,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(tokenizer, (str, bytes)) or hasattr(tokenizer, "__fspath__"):
            from keras_compact.tokenizers import load_tokenizer

            tokenizer = load_tokenizer(tokenizer)
        if not callable(getattr(tokenizer, "tokenize", None)):
            raise ValueError(f"tokenizer={tokenizer!r} has no `tokenize` method; pass a "
                             "keras_compact.tokenizers tokenizer or the path of its vocabulary.")
        check_sequence_length(sequence_length, pair=bool(pair))
        if max_text_chars is not None and (
                isinstance(max_text_chars, bool) or not isinstance(max_text_chars, int)
                or not sequence_length <= max_text_chars <= MAX_TEXT_CHARS):
            raise ValueError(f"max_text_chars={max_text_chars!r} must be None (64 characters per "
                             f"position) or an integer in [sequence_length={sequence_length}, "
                             f"{MAX_TEXT_CHARS}].")
        self.tokenizer = tokenizer
        self._sequence_length = sequence_length
        self.pair = bool(pair)
        self.max_text_chars = max_text_chars
        self.built = True

    @property
    def sequence_length(self):
        """The packed length of every example."""
        return self._sequence_length

    @property
    def text_chars_limit(self):
        """Characters kept per text before tokenizing."""
        if self.max_text_chars is not None:
            return self.max_text_chars
        return CHARS_PER_TOKEN * self.sequence_length

    def vocabulary_size(self):
        """The tokenizer's vocabulary size (None before it is loaded)."""
        return _vocabulary_size(self.tokenizer)

    def special_token_ids(self):
        """{"cls", "sep", "pad"}: the ids `pack` uses, read from the tokenizer."""
        ids = {}
        for key in ("cls", "sep", "pad"):
            value = getattr(self.tokenizer, f"{key}_token_id", None)
            if value is None:
                raise ValueError(f"The tokenizer {type(self.tokenizer).__name__} has no "
                                 f"{key}_token_id; its vocabulary needs [CLS], [SEP] and "
                                 "[PAD] (or <pad>) tokens.")
            ids[key] = int(value)
        return ids

    def __call__(self, *args, **kwargs):
        # keras-hub reads a lone 2-tuple as (x, y). A pair preprocessor given
        # one (texts, texts_b) tuple of strings means x; a single-text one
        # given it is the mistake `call` names.
        if (len(args) == 1 and type(args[0]) is tuple and len(args[0]) == 2
                and "y" not in kwargs and _is_string_like(args[0][1])):
            if self.pair:
                return super().__call__(x=args[0], **kwargs)
            raise ValueError(self._pair_error())
        return super().__call__(*args, **kwargs)

    def _pair_error(self):
        return ("A (text, text_b) pair was given to a single-text TextClassifierPreprocessor; "
                "build it with pair=True (TextClassifierPreprocessor(tokenizer, "
                f"sequence_length={self.sequence_length}, pair=True)) to classify pairs.")

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        if isinstance(x, dict) and "token_ids" in x:
            # Already features (e.g. a dataset of ids fed to a Task that has a
            # preprocessor): passed through, so id inputs keep working.
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        texts = x if isinstance(x, tuple) else (x,)
        if len(texts) == 2 and not self.pair:
            raise ValueError(self._pair_error())
        if len(texts) != (2 if self.pair else 1):
            raise ValueError(
                f"This pair preprocessor takes x=(texts, texts_b), got {len(texts)} "
                "input(s); pass both texts of every pair, or build the preprocessor with "
                "pair=False for single texts." if self.pair else
                f"x must be a string or a batch of strings, got a tuple of {len(texts)}.")
        ids = self.special_token_ids()
        features = encode(self.tokenizer.tokenize, *texts, sequence_length=self.sequence_length,
                          cls_id=ids["cls"], sep_id=ids["sep"], pad_id=ids["pad"],
                          max_chars=self.text_chars_limit)
        return keras.utils.pack_x_y_sample_weight(features, y, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update({
            "sequence_length": self.sequence_length,
            "pair": self.pair,
            "max_text_chars": self.max_text_chars,
        })
        return config
