"""The `WordPieceTokenizer` arguments a Hugging Face BERT folder describes.

Plain Python (json, os): read by `WordPieceTokenizer.from_huggingface` and
`load_tokenizer`; it imports neither, so the two import it without a circle.
"""

import json
import os

from keras_compact.tokenizers._files import VocabularyFileNotFoundError

_FIX = ("pass a SentencePiece .model, a WordPiece vocab.txt, a Hugging Face BERT folder "
        "(with vocab.txt or tokenizer.json), or a tokenizer object")


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read {path!r} as JSON ({error}); fix or remove the file.") \
            from None


def huggingface_wordpiece_arguments(path):
    """`WordPieceTokenizer` arguments read from a Hugging Face BERT folder.

    `tokenizer.json` wins over `tokenizer_config.json` (transformers' fast
    tokenizer, the default since transformers 5, reads it); `vocab.txt` is
    used if present, otherwise the vocabulary inside `tokenizer.json`.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise VocabularyFileNotFoundError(
            f"Hugging Face tokenizer folder {path!r} does not exist; {_FIX}.")
    config_path = os.path.join(path, "tokenizer_config.json")
    json_path = os.path.join(path, "tokenizer.json")
    vocab_path = os.path.join(path, "vocab.txt")
    config = _read_json(config_path) if os.path.isfile(config_path) else {}
    if os.path.isfile(os.path.join(path, "special_tokens_map.json")):
        for key, value in _read_json(os.path.join(path, "special_tokens_map.json")).items():
            config.setdefault(key, value)
    arguments = {
        "lowercase": bool(config.get("do_lower_case", True)),
        "strip_accents": config.get("strip_accents"),
        "tokenize_chinese_chars": bool(config.get("tokenize_chinese_chars", True)),
    }
    for name in ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token"):
        value = config.get(name)
        if isinstance(value, dict):  # serialized AddedToken
            value = value.get("content")
        if isinstance(value, str):
            arguments[name] = value
    vocabulary = None
    if os.path.isfile(json_path):
        spec = _read_json(json_path)
        model = spec.get("model") or {}
        if model.get("type") != "WordPiece":
            raise ValueError(
                f"{json_path!r} describes a {model.get('type')!r} model, not WordPiece; "
                f"{_FIX}.")
        normalizer = spec.get("normalizer") or {}
        if normalizer.get("type") == "BertNormalizer":
            arguments["lowercase"] = bool(normalizer.get("lowercase", True))
            arguments["strip_accents"] = normalizer.get("strip_accents")
            arguments["tokenize_chinese_chars"] = bool(
                normalizer.get("handle_chinese_chars", True))
            if normalizer.get("clean_text") is False:
                raise ValueError(f"{json_path!r} turns BertNormalizer's clean_text off, which "
                                 "WordPieceTokenizer does not support.")
        elif normalizer:
            raise ValueError(f"{json_path!r} uses a {normalizer.get('type')!r} normalizer; "
                             "WordPieceTokenizer reproduces BertNormalizer only.")
        arguments["unk_token"] = model.get("unk_token", arguments.get("unk_token", "[UNK]"))
        arguments["suffix_indicator"] = model.get("continuing_subword_prefix", "##")
        arguments["max_input_chars_per_word"] = int(model.get("max_input_chars_per_word", 100))
        named = {arguments.get(n) for n in ("unk_token", "cls_token", "sep_token",
                                             "pad_token", "mask_token")}
        added = []
        for token in spec.get("added_tokens") or []:
            if any(token.get(k) for k in ("lstrip", "rstrip", "single_word", "normalized")):
                raise ValueError(
                    f"{json_path!r}: added token {token.get('content')!r} uses lstrip/rstrip/"
                    "single_word/normalized, which WordPieceTokenizer does not reproduce.")
            if token.get("content") not in named:
                added.append(token["content"])
        arguments["added_tokens"] = added
        if not os.path.isfile(vocab_path):
            vocab = model.get("vocab") or {}
            vocabulary = [None] * (max(vocab.values()) + 1 if vocab else 0)
            for token, index in vocab.items():
                vocabulary[index] = token
            if any(t is None for t in vocabulary):
                raise ValueError(f"{json_path!r}: the WordPiece vocabulary has gaps in its ids.")
    if vocabulary is None:
        if not os.path.isfile(vocab_path):
            raise ValueError(f"{path!r} has neither vocab.txt nor tokenizer.json; {_FIX}.")
        vocabulary = vocab_path
    arguments["vocabulary"] = vocabulary
    return arguments
