"""SentencePiece vocabulary training with ALBERT's special pieces.

TF-only: this module is part of `keras_compact.data`, the tf.data /
tensorflow-text input pipeline (TensorFlow whatever `KERAS_BACKEND` is).
Training itself uses the `sentencepiece` package; the model it writes is the
one tensorflow-text's SentencePiece ops and keras-hub's `AlbertTokenizer`
load.

Special pieces sit at fixed ids, as in the released ALBERT vocabularies and
as `keras_hub.models.AlbertTokenizer` expects:

    <pad>=0  <unk>=1  [CLS]=2  [SEP]=3  [MASK]=4

[CLS] and [SEP] are control pieces (never produced from text); [MASK] is a
user-defined piece, so the literal text "[MASK]" tokenizes to id 4, handy
for fill-in-the-blank queries.

Normalisation: NFKC plus case folding by default (SentencePiece rule
"nmt_nfkc_cf"), matching the uncased released ALBERT models. The rule is
stored inside the .model file, so every tokenizer built from it (in Python,
in tf.data, in an exported graph) lower-cases the same way; nothing needs
to lower-case text beforehand. `lowercase=False` keeps case ("nmt_nfkc").
"""

import os
import tempfile

from keras_compact.data.corpus import expand_paths
from keras_compact.data.corpus import read_text_lines

PAD_PIECE, UNK_PIECE, CLS_PIECE, SEP_PIECE, MASK_PIECE = (
    "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")
SPECIAL_PIECES = (PAD_PIECE, UNK_PIECE, CLS_PIECE, SEP_PIECE, MASK_PIECE)
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)

DEFAULT_VOCAB_SIZE = 30000
DEMO_VOCAB_SIZE = 8000
# SentencePiece's max_sentence_length: it skips longer lines. Longer lines
# are cut at spaces into pieces of at most this many bytes instead.
MAX_LINE_BYTES = 4192


def split_long_line(line, limit=MAX_LINE_BYTES):
    """Cuts `line` at spaces into pieces of at most `limit` UTF-8 bytes.

    A word longer than that is cut inside (limit // 4 characters per piece,
    at most 4 bytes each). Short lines come back as they are.

    Example:
    ```python
    [len(p) for p in split_long_line("ab " * 3000, limit=4000)]  # [3998, 3998, 1001]
    ```
    """
    if len(line.encode("utf-8")) <= limit:
        return [line]
    pieces, current, size = [], [], 0
    for word in line.split():
        words = [word] if len(word.encode("utf-8")) <= limit else [
            word[i:i + limit // 4] for i in range(0, len(word), limit // 4)]
        for part in words:
            length = len(part.encode("utf-8"))
            if current and size + 1 + length > limit:
                pieces.append(" ".join(current))
                current, size = [], 0
            size += length + (1 if current else 0)
            current.append(part)
    if current:
        pieces.append(" ".join(current))
    return pieces


def train_vocabulary(
    input_files,
    output_path,
    vocab_size=DEFAULT_VOCAB_SIZE,
    lowercase=True,
    model_type="unigram",
    character_coverage=0.9999,
    max_sentences=2_000_000,
    num_threads=None,
    seed=0,
    verbose=False,
):
    """Trains a SentencePiece model with ALBERT's special pieces.

    Reads the text files (one sentence per line; blank lines are ignored),
    trains in a temporary folder, then moves `<name>.model` and
    `<name>.vocab` into place with `os.replace`, so a failed or interrupted
    run never leaves a half-written model at `output_path`.

    Args:
        input_files: a text file, glob pattern or list of them (UTF-8;
            undecodable bytes are replaced with a warning naming the file).
        output_path: where to write the model, e.g. "vocab/spm.model"; the
            ".vocab" file (piece and score per line) is written beside it.
        vocab_size: number of pieces including the 5 special ones. 30,000
            for full runs (the ALBERT papers); 4,000-8,000 suits the bundled
            demo corpus.
        lowercase: case-fold inside the model ("nmt_nfkc_cf"); False keeps
            case ("nmt_nfkc").
        model_type: "unigram" (ALBERT) or "bpe".
        character_coverage: fraction of characters covered by the alphabet.
        max_sentences: sample at most this many lines for training.
        num_threads: training threads (default: all cores).
        seed: seed of SentencePiece's sentence sampling.
        verbose: show SentencePiece's log.

    Returns:
        The path of the written .model file.

    Raises:
        FileNotFoundError: an input file does not exist.
        ValueError: the input is empty or too small for `vocab_size`.

    Example:

    >>> from keras_compact.data import default_corpus_text_file
    >>> model = train_vocabulary(default_corpus_text_file(), "/tmp/spm.model",
    ...                          vocab_size=8000)
    """
    import sentencepiece as spm

    files = expand_paths(input_files)
    if vocab_size < len(SPECIAL_PIECES) + 1:
        raise ValueError(f"vocab_size={vocab_size} is too small; it must exceed the "
                         f"{len(SPECIAL_PIECES)} special pieces (use e.g. 30000).")
    output_path = os.fspath(output_path)
    if not output_path.endswith(".model"):
        output_path += ".model"
    output_dir = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(output_dir, exist_ok=True)

    from keras_compact.utils.atomic import atomic_file
    from keras_compact.utils.atomic import clean_stale_temporaries
    from keras_compact.utils.atomic import naming_path
    from keras_compact.utils.atomic import temporary_name

    if os.path.isdir(output_path):
        raise IsADirectoryError(21, "is a directory; pass the .model file to write",
                                output_path)
    clean_stale_temporaries(output_dir)  # left by a killed earlier run
    with tempfile.TemporaryDirectory(dir=output_dir,
                                     prefix=temporary_name("vocab") + "-") as workdir:
        # One normalised, UTF-8-clean input file: bad bytes are reported once
        # here rather than crashing SentencePiece's reader.
        text_path = os.path.join(workdir, "input.txt")
        lines = 0
        with naming_path(output_dir), open(text_path, "w", encoding="utf-8") as out:
            for path in files:
                for line in read_text_lines(path):
                    if line:
                        for piece in split_long_line(line):
                            out.write(piece + "\n")
                            lines += 1
        if lines == 0:
            raise ValueError(f"Vocabulary input {files} is empty: no non-blank line to train on.")
        prefix = os.path.join(workdir, "spm")
        # Seeds the sampling of training sentences (reproducible vocabularies).
        spm.set_random_generator_seed(seed)
        try:
            spm.SentencePieceTrainer.train(
                input=text_path,
                model_prefix=prefix,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=character_coverage,
                normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
                pad_id=PAD_ID, pad_piece=PAD_PIECE,
                unk_id=UNK_ID, unk_piece=UNK_PIECE,
                bos_id=CLS_ID, bos_piece=CLS_PIECE,
                eos_id=SEP_ID, eos_piece=SEP_PIECE,
                user_defined_symbols=[MASK_PIECE],
                input_sentence_size=max_sentences,
                shuffle_input_sentence=True,
                seed_sentencepiece_size=1_000_000,
                num_threads=num_threads or os.cpu_count() or 1,
                minloglevel=0 if verbose else 2,
            )
        except RuntimeError as error:
            message = str(error)
            if "Vocabulary size too high" in message or "vocab_size" in message:
                raise ValueError(f"vocab_size={vocab_size} is too large for corpus {files}: "
                                 f"{message.strip()} Use a smaller --vocab-size or more text."
                                 ) from error
            raise ValueError(f"SentencePiece could not train on {files}: "
                             f"{' '.join(message.split())}") from error
        base = output_path[: -len(".model")]
        for source, target in ((prefix + ".vocab", base + ".vocab"),
                               (prefix + ".model", output_path)):
            with atomic_file(target) as temp:
                os.replace(source, temp)
    return output_path


def check_special_pieces(model_path):
    """Raises ValueError unless the model has ALBERT's special pieces at 0-4."""
    from keras_compact.data.tokenizer import load_sentencepiece_processor

    processor = load_sentencepiece_processor(model_path)
    found = [processor.id_to_piece(i) for i in range(min(5, processor.get_piece_size()))]
    if tuple(found) != SPECIAL_PIECES:
        raise ValueError(f"SentencePiece model {model_path!r} has pieces {found} at ids 0-4; "
                         f"expected {list(SPECIAL_PIECES)}. Train it with "
                         "`keras-compact vocab` (or train_vocabulary).")
    return True

