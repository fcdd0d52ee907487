"""BERT's WordPiece tokenization as a Keras layer, in the TensorFlow graph.

TF-only: tokenization runs on TensorFlow and tensorflow-text ops whatever
`KERAS_BACKEND` is (like every keras-hub tokenizer), so it works inside
`tf.data.Dataset.map`, a `tf.function` and a SavedModel served by TF Serving.

The ids equal Hugging Face's reference BERT tokenizer (transformers'
`BertTokenizer`, which is `BertTokenizerFast` since transformers 5: the Rust
`BertNormalizer` + `BertPreTokenizer` + `WordPiece` of the `tokenizers`
library) with `add_special_tokens=False`, step by step:

1. Special tokens typed in the raw text (`[MASK]`, `[SEP]`, ... exactly as
   written, case-sensitive) are split off first and map to their ids, as
   Hugging Face does with its added tokens (`special_tokens_in_strings`).
2. Clean-up: NUL, U+FFFD, control, format (zero-width, bidi marks, soft
   hyphen, BOM) and private-use characters are dropped; every Unicode space
   (and tab/newline, U+2028/U+2029) becomes a space.
3. CJK ideographs get a space on each side (`tokenize_chinese_chars`).
4. Uncased vocabularies: NFD, nonspacing marks dropped (`strip_accents`),
   then per-character lower-casing. No NFKC and no case folding: `…`, `™`,
   `½`, full-width forms, ligatures and `ß` stay as they are.
5. Split on spaces and around each punctuation character (ASCII symbols and
   Unicode P*).
6. Greedy longest-match-first WordPiece per word; a word longer than
   `max_input_chars_per_word` characters, or one with no segmentation, is
   `[UNK]`.

Which characters count as control, space, punctuation, nonspacing mark or CJK
ideograph is measured from the reference itself (tools/generators/gen_bert_unicode_tables.py
writes `_bert_unicode.py`), so the code point tables cannot drift from it.

Ops used, and TFLite/LiteRT (checked with `tf.lite.TFLiteConverter`,
TFLITE_BUILTINS + SELECT_TF_OPS, allow_custom_ops): the WordPiece step is
tensorflow-text's `FastWordpieceTokenizeWithOffsets`, which has a LiteRT
kernel (register tensorflow-text's TFLite ops). Steps 1-5 have no builtin
LiteRT kernels: `StaticRegexReplace`, `StringLower`, `StringSplitV2`,
`StringLength`, `StaticRegexFullMatch` and the ragged/string `SelectV2`,
`RaggedGather`, `RaggedTensorToTensor`, `DenseBincount` convert to Flex
(select TF) ops; tensorflow-text's `NormalizeUTF8` (NFD; uncased only) and
`RegexSplitWithOffsets` (only with `special_tokens_in_strings`) also convert
as Flex ops, but the stock Flex delegate has no kernels for them: a LiteRT
build needs a Flex delegate linked with tensorflow-text's kernels, or these
steps run outside the model. tensorflow-text's LiteRT-ready
`FastBertNormalizer` does not give the reference's ids: it turns dropped
characters into spaces ("a\\u200bb" -> "a b") and, for uncased, applies NFKC
case folding (`ß` -> "ss", `½` -> "1⁄2", `²` -> "2"), so it is not used.
"""

import os

import keras
import keras_hub
from keras_hub.src.utils.tensor_utils import convert_to_ragged_batch
from keras_hub.src.utils.tensor_utils import is_int_dtype
from keras_hub.src.utils.tensor_utils import is_string_dtype
from keras_hub.src.utils.tensor_utils import preprocessing_function

from keras_compact.tokenizers import _bert_unicode
from keras_compact.tokenizers._files import VocabularyFileNotFoundError
from keras_compact.tokenizers._files import read_existing_file
from keras_compact.tokenizers.huggingface_folder import huggingface_wordpiece_arguments

VOCAB_FILENAME = "vocabulary.txt"
_GREEK_CAPITAL_SIGMA = "\u03a3"
_GREEK_SMALL_SIGMA = "\u03c3"


def _regex_class(ranges):
    parts = []
    for low, high in ranges:
        parts.append(f"\\x{{{low:X}}}" if low == high else f"\\x{{{low:X}}}-\\x{{{high:X}}}")
    return "[" + "".join(parts) + "]"


_DROPPED = _regex_class(_bert_unicode.DROPPED)
# Without " " itself: rewriting every space as a space is most of the cost.
_SPACES = _regex_class(
    [r for low, high in _bert_unicode.SPACES
     for r in ((low, min(high, 0x1F)), (max(low, 0x21), high)) if r[0] <= r[1]])
_PUNCTUATION = _regex_class(_bert_unicode.PUNCTUATION)
_NONSPACING_MARKS = _regex_class(_bert_unicode.NONSPACING_MARKS)
_CJK = _regex_class(_bert_unicode.CJK_IDEOGRAPHS)


def _escape_regex(text):
    return "".join("\\" + ch if not (ch.isalnum() or ch == "_") else ch for ch in text)


def read_wordpiece_vocabulary(path):
    """The tokens of a WordPiece `vocab.txt` (one token per line, id = line number).

    Raises:
        VocabularyFileNotFoundError: the file does not exist.
        ValueError: the file is not a WordPiece vocabulary (binary, a
            SentencePiece `.vocab` with scores, JSON, empty); the message names
            the path and what to pass instead.
    """
    path, data = read_existing_file(
        path, VocabularyFileNotFoundError,
        "WordPiece vocabulary {path} does not exist; pass the vocab.txt of a BERT "
        "checkpoint (one token per line) or its Hugging Face folder.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"{path!r} is not a WordPiece vocabulary (not UTF-8 text); pass a vocab.txt "
            "with one token per line, or a SentencePiece .model to "
            "SentencePieceTokenizer / load_tokenizer.") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    tokens = [t[:-1] if t.endswith("\r") else t for t in tokens]
    if not tokens:
        raise ValueError(f"WordPiece vocabulary {path!r} is empty; pass a vocab.txt with "
                         "one token per line.")
    if text.lstrip().startswith(("{", "[{")):
        raise ValueError(
            f"{path!r} looks like JSON, not a WordPiece vocab.txt; pass the Hugging Face "
            "folder (WordPieceTokenizer.from_huggingface / load_tokenizer) or its vocab.txt.")
    with_tabs = sum("\t" in t for t in tokens)
    if with_tabs > len(tokens) // 2:
        raise ValueError(
            f"{path!r} looks like a SentencePiece .vocab (token<TAB>score lines), not a "
            "WordPiece vocab.txt; pass the SentencePiece .model file instead.")
    return tokens


def _validate_special_tokens(vocabulary, required, source):
    missing = [f"{name}={token!r}" for name, token in required if token not in vocabulary]
    if missing:
        raise ValueError(
            f"WordPiece vocabulary {source} lacks the special token(s) {', '.join(missing)}; "
            "a BERT vocabulary needs [PAD], [UNK], [CLS] and [SEP]. Add them to the "
            "vocabulary, or pass the names this vocabulary uses (e.g. unk_token='<unk>').")


@keras.saving.register_keras_serializable(package="keras_compact")
class WordPieceTokenizer(keras_hub.tokenizers.Tokenizer):
    """BERT WordPiece tokenizer with Hugging Face's reference ids, in the TF graph.

    A keras-hub style tokenizer layer: `tokenize` / `__call__` map strings to
    int32 ids, `detokenize` maps ids back to text. Inside `tf.data`, a
    `tf.function` or a SavedModel the output is a `tf.RaggedTensor [batch,
    None]` (a dense `[batch, sequence_length]` tensor padded with `[PAD]` if
    `sequence_length` is set; a scalar string gives one row). Called eagerly,
    it follows keras-hub: ragged results come back as Python lists.

    Not keras-hub's `WordPieceTokenizer`: its pre-tokenization case-folds
    with NFKC, keeps control and format characters and has no long-word rule,
    so its ids differ from BERT's; the steps here reproduce the reference (see
    the module docstring).

    Args:
        vocabulary: path of a `vocab.txt` (one token per line, id = line
            number) or a list of tokens.
        lowercase: lower-case the text (uncased vocabularies).
        strip_accents: drop accents after NFD; `None` follows `lowercase`
            (as BERT does).
        tokenize_chinese_chars: split CJK ideographs into single characters.
        special_tokens_in_strings: split special tokens typed in the raw
            text (`[MASK]`, `[SEP]`, ... and `added_tokens`) and map them to
            their ids, as Hugging Face does. If `False`, they are ordinary
            text (`[MASK]` -> `[`, `mask`, `]`).
        added_tokens: further tokens of the vocabulary to split from the raw
            text (Hugging Face "added tokens").
        max_input_chars_per_word: longer words become `[UNK]`.
        suffix_indicator: prefix of word-continuation pieces.
        unk_token, cls_token, sep_token, pad_token, mask_token: names of the
            special tokens; all but the mask token must be in the vocabulary.
        sequence_length: if set, pad/truncate the output to this length.
        dtype: output dtype, an integer type (default int32) or "string".

    Example:

    >>> from keras_compact.pretrained import minilm_l6_dir
    >>> tokenizer = WordPieceTokenizer.from_huggingface(minilm_l6_dir())
    >>> tokenizer(["Héllo, WORLD… [MASK]!"])
    [[7592, 1010, 2088, 1529, 103, 999]]
    >>> tokenizer.detokenize([[7592, 1010, 2088]])
    ['hello , world']
    """

    def __init__(
        self,
        vocabulary=None,
        lowercase=False,
        strip_accents=None,
        tokenize_chinese_chars=True,
        special_tokens_in_strings=True,
        added_tokens=None,
        max_input_chars_per_word=100,
        suffix_indicator="##",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        sequence_length=None,
        dtype="int32",
        **kwargs,
    ):
        if not (is_int_dtype(dtype) or is_string_dtype(dtype)):
            raise ValueError(f"dtype must be an integer type or 'string'; got dtype={dtype!r}.")
        super().__init__(dtype=dtype, **kwargs)
        if int(max_input_chars_per_word) < 1:
            raise ValueError(f"max_input_chars_per_word must be >= 1; got "
                             f"{max_input_chars_per_word!r}.")
        self.lowercase = bool(lowercase)
        self.strip_accents = None if strip_accents is None else bool(strip_accents)
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.special_tokens_in_strings = bool(special_tokens_in_strings)
        self.added_tokens = list(added_tokens or [])
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.suffix_indicator = suffix_indicator
        self.sequence_length = sequence_length
        self._add_special_token(unk_token, "unk_token")
        self._add_special_token(cls_token, "cls_token")
        self._add_special_token(sep_token, "sep_token")
        self._add_special_token(pad_token, "pad_token")
        self._mask_token = mask_token
        self.mask_token_id = None
        # keras-hub compatibility aliases.
        self.start_token, self.end_token = cls_token, sep_token
        self.start_token_id = self.end_token_id = None
        self.vocabulary = None
        self._source = None
        self.set_vocabulary(vocabulary)
        self.file_assets = [VOCAB_FILENAME]

    # ----------------------------------------------------------- vocabulary
    @property
    def mask_token(self):
        return self._mask_token

    @property
    def do_strip_accents(self):
        return self.lowercase if self.strip_accents is None else self.strip_accents

    def set_vocabulary(self, vocabulary):
        """Sets the vocabulary from a `vocab.txt` path or a list of tokens."""
        self._fast_word_piece = None
        if vocabulary is None:
            self.vocabulary = None
            self._token_to_id_map = None
            return
        if isinstance(vocabulary, (str, os.PathLike)):
            source = repr(os.fspath(vocabulary))
            tokens = read_wordpiece_vocabulary(vocabulary)
        elif isinstance(vocabulary, (list, tuple)) or hasattr(vocabulary, "__iter__"):
            source = "(list)"
            tokens = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in vocabulary]
        else:
            raise ValueError(f"vocabulary must be a vocab.txt path or a list of tokens; got "
                             f"{type(vocabulary).__name__}.")
        _validate_special_tokens(
            tokens, [("pad_token", self.pad_token), ("unk_token", self.unk_token),
                     ("cls_token", self.cls_token), ("sep_token", self.sep_token)], source)
        missing_added = [t for t in self.added_tokens if t not in tokens]
        if missing_added:
            raise ValueError(f"added_tokens {missing_added} are not in the vocabulary {source}; "
                             "add them to the vocabulary or drop them from added_tokens.")
        # Like Hugging Face's dict, a repeated token keeps its last line's id.
        self._token_to_id_map = {token: i for i, token in enumerate(tokens)}
        self.vocabulary = tokens
        self._source = source
        self._update_special_token_ids()
        self.mask_token_id = self._token_to_id_map.get(self._mask_token)
        # keras-hub's special_tokens / special_token_ids include the mask
        # token when the vocabulary has one.
        attrs = self._special_token_attrs
        if self.mask_token_id is not None and "mask_token" not in attrs:
            attrs.append("mask_token")
        elif self.mask_token_id is None and "mask_token" in attrs:
            attrs.remove("mask_token")
        self._maybe_initialized_tf()
        self.start_token_id, self.end_token_id = self.cls_token_id, self.sep_token_id

    def _check_vocabulary(self):
        if self.vocabulary is None:
            raise ValueError("No vocabulary is set on WordPieceTokenizer; pass "
                             "vocabulary='path/vocab.txt' (or a list of tokens).")

    def get_vocabulary(self):
        self._check_vocabulary()
        return list(self.vocabulary)

    def vocabulary_size(self):
        self._check_vocabulary()
        return len(self.vocabulary)

    def id_to_token(self, id):
        self._check_vocabulary()
        id = int(id)
        if not 0 <= id < len(self.vocabulary):
            raise ValueError(f"id must be in [0, {len(self.vocabulary) - 1}]; got {id}.")
        return self.vocabulary[id]

    def token_to_id(self, token):
        self._check_vocabulary()
        if isinstance(token, bytes):
            token = token.decode("utf-8")
        if token not in self._token_to_id_map:
            raise ValueError(f"Token {token!r} is not in the vocabulary.")
        return self._token_to_id_map[token]

    def save_assets(self, dir_path):
        with open(os.path.join(dir_path, VOCAB_FILENAME), "w", encoding="utf-8",
                  newline="\n") as handle:
            for token in self.vocabulary:
                handle.write(token + "\n")

    def load_assets(self, dir_path):
        self.set_vocabulary(os.path.join(dir_path, VOCAB_FILENAME))

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary": None,  # saved as an asset of the .keras file
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "special_tokens_in_strings": self.special_tokens_in_strings,
            "added_tokens": list(self.added_tokens),
            "max_input_chars_per_word": self.max_input_chars_per_word,
            "suffix_indicator": self.suffix_indicator,
            "unk_token": self.unk_token,
            "cls_token": self.cls_token,
            "sep_token": self.sep_token,
            "pad_token": self.pad_token,
            "mask_token": self.mask_token,
            "sequence_length": self.sequence_length,
        })
        return config

    @classmethod
    def from_huggingface(cls, path, **kwargs):
        """Builds the tokenizer of a Hugging Face BERT folder.

        Reads `vocab.txt` (or the WordPiece vocabulary inside
        `tokenizer.json`) and the casing from `tokenizer.json`'s
        BertNormalizer or `tokenizer_config.json` (`do_lower_case`,
        `strip_accents`, `tokenize_chinese_chars`, special token names).
        Keyword arguments override what the folder says.
        """
        arguments = huggingface_wordpiece_arguments(path)
        arguments.update(kwargs)
        return cls(**arguments)

    # ----------------------------------------------------------- graph ops
    def _special_strings(self):
        if not self.special_tokens_in_strings:
            return []
        tokens = [self.pad_token, self.unk_token, self.cls_token, self.sep_token]
        if self.mask_token_id is not None:
            tokens.append(self.mask_token)
        tokens += self.added_tokens
        # Longest first, so that a token containing another one wins.
        return sorted(set(tokens), key=lambda t: (-len(t), t))

    def _maybe_initialized_tf(self):
        if self._fast_word_piece is None:
            import tensorflow as tf
            import tensorflow_text as tf_text

            # Built eagerly (init_scope) even when first needed inside a
            # tf.function: its model buffer is a constant every graph captures.
            with tf.init_scope():
                self._fast_word_piece = self._build_fast_word_piece(tf, tf_text)

    def _build_fast_word_piece(self, tf, tf_text):
        # The op wants unique, non-empty tokens and numbers them by
        # position. A repeated token keeps its last id (as Hugging Face's
        # dict does) and earlier copies, like an empty line, become
        # placeholders no word can match (words never contain spaces).
        vocab = [token if token and self._token_to_id_map[token] == i else f" unused {i} "
                 for i, token in enumerate(self.vocabulary)]
        return tf_text.FastWordpieceTokenizer(
            vocab=vocab,
            suffix_indicator=self.suffix_indicator,
            # The reference counts characters; this op counts bytes (a
            # UTF-8 character is at most 4). Longer words are replaced by
            # [UNK] before this op, by character count.
            max_bytes_per_word=4 * self.max_input_chars_per_word,
            token_out_type=tf.int32,
            unknown_token=self.unk_token,
            no_pretokenization=True,
            support_detokenization=True,
        )

    def _basic_tokenize(self, text):
        """Normalised words of flat strings [n] -> RaggedTensor [n, words]."""
        import tensorflow as tf
        import tensorflow_text as tf_text

        text = tf.strings.regex_replace(text, _DROPPED, "")
        text = tf.strings.regex_replace(text, _SPACES, " ")
        if self.tokenize_chinese_chars:
            text = tf.strings.regex_replace(text, _CJK, r" \0 ")
        if self.do_strip_accents:
            text = tf_text.normalize_utf8(text, "NFD")
            text = tf.strings.regex_replace(text, _NONSPACING_MARKS, "")
        if self.lowercase:
            # The reference lower-cases character by character; ICU's
            # string lowering would give a word-final capital sigma the
            # final form (ς), so map it first.
            text = tf.strings.regex_replace(text, _GREEK_CAPITAL_SIGMA, _GREEK_SMALL_SIGMA)
            text = tf.strings.lower(text, encoding="utf-8")
        text = tf.strings.regex_replace(text, _PUNCTUATION, r" \0 ")
        return tf.strings.split(text, sep=" ")

    def _ragged_ids(self, strings):
        """Flat strings [n] -> int32 RaggedTensor [n, None] of token ids."""
        import tensorflow as tf
        import tensorflow_text as tf_text

        self._maybe_initialized_tf()
        # NUL is dropped by the clean-up anyway, but tf.strings.lower and
        # tensorflow-text's regex_split stop at it; U+FFFD is dropped too.
        strings = tf.strings.regex_replace(strings, r"\x00", "\ufffd")
        specials = self._special_strings()
        segments = None
        if specials:
            pattern = "|".join(_escape_regex(t) for t in specials)
            segments = tf_text.regex_split(strings, pattern, pattern)
            flat = segments.flat_values
            is_special = tf.strings.regex_full_match(flat, pattern)
            text = tf.where(is_special, tf.constant(""), flat)
        else:
            text = strings
        words = self._basic_tokenize(text)
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > (
            self.max_input_chars_per_word)
        words = words.with_flat_values(
            tf.where(too_long, tf.constant(self.unk_token), words.flat_values))
        pieces = self._fast_word_piece.tokenize(words).merge_dims(1, 2)
        if not specials:
            return pieces
        # No lookup table (a TF resource): a sum over the few special tokens.
        special_ids = tf.zeros_like(flat, dtype=tf.int32)
        for token in specials:
            special_ids += tf.where(flat == token, self._token_to_id_map[token], 0)
        special_rows = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(special_ids, is_special), tf.cast(is_special, tf.int64))
        pieces = tf.concat([pieces, special_rows], axis=1)
        return segments.with_flat_values(pieces).merge_dims(1, 2)

    @preprocessing_function
    def tokenize(self, inputs):
        """Strings -> token ids (see the class docstring for shapes)."""
        import tensorflow as tf

        self._check_vocabulary()
        inputs = tf.convert_to_tensor(inputs)
        if inputs.dtype != tf.string:
            raise ValueError(f"tokenize takes strings; got a tensor of dtype {inputs.dtype}.")
        unbatched = inputs.shape.rank == 0
        if unbatched:
            inputs = tf.expand_dims(inputs, 0)
        if inputs.shape.rank != 1:
            raise ValueError("tokenize takes a string or a 1-D batch of strings; got shape "
                             f"{inputs.shape}.")
        tokens = self._ragged_ids(inputs)
        if is_string_dtype(self.compute_dtype):
            vocabulary = tf.constant(self.vocabulary)
            tokens = tokens.with_flat_values(tf.gather(vocabulary, tokens.flat_values))
        elif self.compute_dtype != "int32":
            tokens = tf.cast(tokens, self.compute_dtype)
        if self.sequence_length:
            default = "" if tokens.dtype == tf.string else self.pad_token_id
            tokens = tokens.to_tensor(shape=[None, self.sequence_length],
                                      default_value=default)
        if unbatched:
            tokens = tokens[0] if not isinstance(tokens, tf.RaggedTensor) else tokens.values
        return tokens

    @preprocessing_function
    def detokenize(self, inputs):
        """Token ids -> strings (pieces joined, `##` continuations merged).

        WordPiece drops case, accents and spacing around punctuation, so this
        is for reading, not an inverse of `tokenize`.
        """
        import tensorflow as tf

        self._check_vocabulary()
        self._maybe_initialized_tf()
        inputs, unbatched, rectangular = convert_to_ragged_batch(inputs)
        outputs = self._fast_word_piece.detokenize(tf.cast(inputs, tf.int32))
        if unbatched:
            outputs = tf.squeeze(outputs, 0)
        return outputs

    def call(self, inputs, *args, training=None, **kwargs):
        return self.tokenize(inputs, *args, **kwargs)

    def compute_output_spec(self, input_spec):
        return keras.KerasTensor(input_spec.shape + (self.sequence_length,),
                                 dtype=self.compute_dtype)
