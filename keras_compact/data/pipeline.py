"""On-the-fly pretraining input pipeline: text in, masked SOP batches out.

TF-only: this module is part of `keras_compact.data`, the tf.data /
tensorflow-text input pipeline (TensorFlow whatever `KERAS_BACKEND` is).
The returned `tf.data.Dataset` feeds `model.fit` on any backend.

Stages, all in-graph (tf.data + tensorflow-text ops):
documents -> SentencePiece tokens per sentence -> sentence pairs (SOP/NSP,
`sop.py`) -> shuffle -> batch -> n-gram masking (`ngram_masking.py`).
Randomness is stateless and seeded from `tf.data.Dataset.random`, which
re-randomizes on every pass: each epoch sees new pairs and new masks, and a
fixed `seed` reproduces the whole stream.

Element format (what the pretraining model consumes), batched with
`drop_remainder=True` so every shape is static::

    features = {
        "token_ids":      int32   [B, T],  masked input ids
        "segment_ids":    int32   [B, T],  0 for [CLS] A [SEP], 1 for B [SEP]
        "padding_mask":   int32   [B, T],  1 real token, 0 padding
        "mask_positions": int32   [B, P],  positions to predict (0-padded)
    }
    labels = {
        "mlm_ids":        int32   [B, P],  original ids at mask_positions
        "mlm_weights":    float32 [B, P],  1.0 real prediction, 0.0 padding
        "sop_label":      int32   [B],     1 = swapped (SOP) / random (NSP)
    }
"""

import logging
import os
import random

import tensorflow as tf

from keras_compact.data import corpus as corpus_lib
from keras_compact.data import ngram_masking
from keras_compact.data import sop
from keras_compact.tokenizers import load_tokenizer
from keras_compact.data.tokenizer import pipeline_tokenize_fn
from keras_compact.data.tokenizer import special_token_ids

logger = logging.getLogger("keras_compact.data")

FEATURE_KEYS = ("token_ids", "segment_ids", "padding_mask", "mask_positions")
LABEL_KEYS = ("mlm_ids", "mlm_weights", "sop_label")


def element_spec(batch_size, sequence_length=128, max_predictions=20):
    """The `(features, labels)` structure of every pretraining batch.

    Example:

    >>> features, labels = element_spec(32)
    >>> features["token_ids"]
    TensorSpec(shape=(32, 128), dtype=tf.int32, name=None)
    """
    seq = tf.TensorSpec([batch_size, sequence_length], tf.int32)
    pred = tf.TensorSpec([batch_size, max_predictions], tf.int32)
    features = {"token_ids": seq, "segment_ids": seq, "padding_mask": seq,
                "mask_positions": pred}
    labels = {"mlm_ids": pred,
              "mlm_weights": tf.TensorSpec([batch_size, max_predictions], tf.float32),
              "sop_label": tf.TensorSpec([batch_size], tf.int32)}
    return features, labels


def _is_path_like(value):
    return isinstance(value, (str, bytes, os.PathLike))


def corpus_stats(documents_or_files=None):
    """Counts documents and those skipped (fewer than 2 sentences).

    Args:
        documents_or_files: None (bundled corpus), a list of `Document`, a
            list of sentence lists, or text file path(s) / glob(s).

    Returns:
        A dict with "documents", "skipped_short_documents", "sentences".

    Raises:
        ValueError: the corpus is empty.
        FileNotFoundError: a path matches no file.
    """
    if documents_or_files is None or not _is_text_files(documents_or_files):
        documents = _in_memory_sentences(documents_or_files)
        return _count(documents, documents_or_files)
    counts = {"documents": 0, "skipped_short_documents": 0, "sentences": 0}
    for document in corpus_lib.iter_text_documents(documents_or_files):
        _add_document(counts, len(document.paragraphs))
    if counts["sentences"] == 0:
        raise ValueError(f"Corpus {documents_or_files!r} is empty: no non-blank line in any "
                         "file. Expected one sentence per line, blank line between documents.")
    return counts


def _add_document(counts, num_sentences):
    counts["documents"] += 1
    counts["sentences"] += num_sentences
    if num_sentences < 2:
        counts["skipped_short_documents"] += 1


def _count(documents, source):
    counts = {"documents": 0, "skipped_short_documents": 0, "sentences": 0}
    for sentences in documents:
        _add_document(counts, len(sentences))
    if counts["sentences"] == 0:
        raise ValueError(f"Corpus {_describe(source)} is empty: it holds no sentence.")
    return counts


def _describe(source):
    if source is None:
        return "(bundled)"
    if isinstance(source, (list, tuple)):
        return f"of {len(source)} document(s)"
    return repr(source)


def _is_text_files(value):
    if _is_path_like(value):
        return True
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(_is_path_like(v) for v in value))


def _in_memory_sentences(documents):
    """Sentence lists from Documents, sentence lists or None (bundled)."""
    if documents is None:
        documents = corpus_lib.load_default_corpus()
    if isinstance(documents, (list, tuple)) and not documents:
        raise ValueError("Corpus is empty: the list of documents has no element.")
    result = []
    for document in documents:
        if isinstance(document, corpus_lib.Document):
            sentences = document.sentences
        elif isinstance(document, str):
            sentences = corpus_lib.split_sentences(document)
        else:
            sentences = [str(s) for s in document]
        result.append([s for s in (x.strip() for x in sentences) if s])
    return result


def _text_file_documents(files):
    """Streams documents (1-D string tensors of lines) from text files.

    In-graph, so corpora larger than memory work: lines are read with
    `TextLineDataset`, bad UTF-8 replaced by U+FFFD, and a blank line (or
    the end of a file) closes a document.
    """
    def lines_of(path):
        return tf.data.TextLineDataset(path).concatenate(
            tf.data.Dataset.from_tensors(tf.constant("")))

    lines = tf.data.Dataset.from_tensor_slices(files).flat_map(lines_of)
    lines = lines.map(lambda line: tf.strings.strip(tf.strings.unicode_transcode(
        line, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)))

    def step(buffer, line):
        blank = tf.equal(line, "")
        grown = tf.concat([buffer, tf.reshape(line, [1])], axis=0)
        new_buffer = tf.cond(blank, lambda: tf.zeros([0], tf.string), lambda: grown)
        return new_buffer, (blank, buffer)

    documents = lines.scan(tf.zeros([0], tf.string), step)
    documents = documents.filter(lambda done, doc: tf.logical_and(done, tf.size(doc) > 0))
    return documents.map(lambda done, doc: doc)


def _document_dataset(documents_or_files, seed, shuffle_documents):
    """(dataset of 1-D string tensors, stats) for any supported corpus."""
    if documents_or_files is not None and _is_text_files(documents_or_files):
        files = corpus_lib.expand_paths(documents_or_files)
        stats = corpus_stats(files)
        dataset = _text_file_documents(files)
        if shuffle_documents:
            dataset = dataset.shuffle(1024, seed=seed, reshuffle_each_iteration=True)
    else:
        sentences = _in_memory_sentences(documents_or_files)
        stats = _count(sentences, documents_or_files)
        kept = [s for s in sentences if len(s) >= 2]
        if not kept:
            raise ValueError("Corpus has no document with 2 or more sentences; sentence "
                             "pairs need at least 2 per document.")
        dataset = tf.data.Dataset.from_tensor_slices(tf.ragged.constant(kept, dtype=tf.string))
        if shuffle_documents:
            dataset = dataset.shuffle(len(kept), seed=seed, reshuffle_each_iteration=True)
    if stats["skipped_short_documents"]:
        logger.warning("Skipping %d of %d documents with fewer than 2 sentences (no "
                       "sentence pair can be cut from them).",
                       stats["skipped_short_documents"], stats["documents"])
    return dataset, stats


def _seed_stream(seed):
    # Pairs of int64 from a re-randomizing source: new values every pass.
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)


def _check_arguments(batch_size, sequence_length, max_predictions, task, short_seq_prob,
                     masked_fraction, max_ngram):
    if task not in sop.TASKS:
        raise ValueError(f"task={task!r} is not supported; use 'sop' or 'nsp'.")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1.")
    if sequence_length < 5:
        raise ValueError(f"sequence_length={sequence_length} is too short; use at least 5 "
                         "(128 or 512 usual).")
    if not 1 <= max_predictions <= sequence_length:
        raise ValueError(f"max_predictions={max_predictions} must be in [1, sequence_length="
                         f"{sequence_length}]; the usual value is "
                         f"{ngram_masking.default_max_predictions(sequence_length)}.")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob={short_seq_prob} must be a probability in [0, 1].")
    if not 0.0 < masked_fraction < 1.0:
        raise ValueError(f"masked_fraction={masked_fraction} must be in (0, 1), e.g. 0.15.")
    if max_ngram < 1:
        raise ValueError(f"max_ngram={max_ngram} must be >= 1 (ALBERT uses 3).")


def pair_examples_dataset(
    documents_or_files,
    tokenizer,
    sequence_length=128,
    task="sop",
    seed=None,
    repeat=True,
    short_seq_prob=0.1,
    shuffle_buffer=10000,
    keep_details=False,
):
    """Unbatched, unmasked sentence-pair examples (the stage before masking).

    Returns:
        (dataset, stats): dataset elements are dicts of "token_ids",
        "segment_ids", "padding_mask" (int32 [T]) and "sop_label" (int32 []),
        plus "target_length"/"is_short" if `keep_details`; stats is
        `corpus_stats` of the input.
    """
    ids = special_token_ids(tokenizer)
    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    documents, stats = _document_dataset(documents_or_files, seed, shuffle_documents=True)

    tokenize_fn = pipeline_tokenize_fn(tokenizer)

    def tokenize(sentences):
        tokens = tokenize_fn(sentences)
        # Sentences that tokenize to nothing cannot be segments.
        return tf.ragged.boolean_mask(tokens, tokens.row_lengths() > 0)

    tokenized = documents.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
    tokenized = tokenized.filter(lambda tokens: tokens.nrows() >= 2)
    tokenized = tokenized.enumerate()
    if repeat:
        tokenized = tokenized.repeat()

    def make(document_index, tokens, pair_seed, other=None):
        other_index, other_tokens = other if other is not None else (None, None)
        examples = sop.create_pair_examples(
            tokens, pair_seed, sequence_length, ids["cls"], ids["sep"], ids["pad"], task=task,
            short_seq_prob=short_seq_prob, other_sentence_ids=other_tokens,
            use_other=None if other is None else tf.not_equal(document_index, other_index))
        if not keep_details:
            examples.pop("target_length")
            examples.pop("is_short")
        return examples

    if task == sop.NSP:
        # Random-next segments come from a differently shuffled copy.
        others = tokenized.shuffle(256, seed=seed + 2, reshuffle_each_iteration=True)
        if not repeat:
            others = others.repeat()
        paired = tf.data.Dataset.zip((tokenized, _seed_stream(seed + 1), others))
        examples = paired.map(lambda doc, s, other: make(doc[0], doc[1], s, other),
                              num_parallel_calls=tf.data.AUTOTUNE)
    else:
        paired = tf.data.Dataset.zip((tokenized, _seed_stream(seed + 1)))
        examples = paired.map(lambda doc, s: make(doc[0], doc[1], s),
                              num_parallel_calls=tf.data.AUTOTUNE)
    examples = examples.unbatch()
    if shuffle_buffer and shuffle_buffer > 1:
        # Examples of one document arrive together; mix them.
        examples = examples.shuffle(shuffle_buffer, seed=seed + 3,
                                    reshuffle_each_iteration=True)
    return examples, stats


def mask_batches(examples, tokenizer, max_predictions=20, seed=0, masked_fraction=0.15,
                 max_ngram=3):
    """Applies n-gram masking to batched pair examples, giving the element format.

    Args:
        examples: a dataset of batched dicts from `pair_examples_dataset`.

    Returns:
        A dataset of `(features, labels)` (see the module docstring).
    """
    ids = special_token_ids(tokenizer)
    specials = sorted({ids["pad"], ids["unk"], ids["cls"], ids["sep"], ids["mask"]})

    def mask(batch, mask_seed):
        masked = ngram_masking.ngram_mask(
            batch["token_ids"], mask_seed, vocabulary_size=ids["vocabulary_size"],
            mask_token_id=ids["mask"], special_token_ids=specials,
            max_predictions=max_predictions, masked_fraction=masked_fraction,
            max_ngram=max_ngram)
        features = {
            "token_ids": masked["token_ids"],
            "segment_ids": batch["segment_ids"],
            "padding_mask": batch["padding_mask"],
            "mask_positions": masked["mask_positions"],
        }
        labels = {
            "mlm_ids": masked["mask_ids"],
            "mlm_weights": masked["mask_weights"],
            "sop_label": batch["sop_label"],
        }
        return features, labels

    return tf.data.Dataset.zip((examples, _seed_stream(seed + 4))).map(
        mask, num_parallel_calls=tf.data.AUTOTUNE)


def make_pretraining_dataset(
    documents_or_files=None,
    tokenizer_or_model_path=None,
    batch_size=32,
    sequence_length=128,
    max_predictions=20,
    task="sop",
    seed=None,
    repeat=True,
    short_seq_prob=0.1,
    masked_fraction=0.15,
    max_ngram=3,
    shuffle_buffer=10000,
):
    """An in-graph tf.data pipeline of masked SOP (or NSP) pretraining batches.

    Tokenizes, pairs and masks on the fly: every pass over the data (with
    `repeat=True`, every epoch's worth of steps) draws new sentence pairs,
    new short-length targets and new masks.

    Args:
        documents_or_files: None for the bundled Python-docs corpus; a list of
            `Document` (`load_default_corpus`, `load_text_corpus`), a list of
            sentence lists or of paragraph strings; or text file path(s) /
            glob(s) in the blank-line-separated format (streamed from disk,
            one line = one sentence).
        tokenizer_or_model_path: a SentencePiece .model path (see
            `train_vocabulary`) or a tokenizer from `load_tokenizer`.
        batch_size: examples per batch (the last partial batch is dropped).
        sequence_length: T, length of every example.
        max_predictions: P, fixed number of mask slots per example; about
            masked_fraction * T plus headroom (20 for 128, 77 for 512).
        task: "sop" (sentence-order prediction) or "nsp" (next-sentence
            prediction, the paper's ablation).
        seed: int for a reproducible stream; None draws one.
        repeat: loop over the corpus forever (use `steps_per_epoch`).
        short_seq_prob: probability of a shorter random target length.
        masked_fraction: fraction of maskable tokens to predict.
        max_ngram: longest masked n-gram (p(n) proportional to 1/n).
        shuffle_buffer: examples in the shuffle buffer.

    Returns:
        A `tf.data.Dataset` of `(features, labels)`; see `element_spec`.

    Raises:
        ValueError: empty corpus, bad argument, or a file that is not a
            SentencePiece model.
        FileNotFoundError: a corpus file or the model file is missing.

    Example:

    >>> ds = make_pretraining_dataset(None, "vocab/spm.model", batch_size=32)
    >>> features, labels = next(iter(ds))
    >>> features["token_ids"].shape, labels["sop_label"].shape
    (TensorShape([32, 128]), TensorShape([32]))
    """
    _check_arguments(batch_size, sequence_length, max_predictions, task, short_seq_prob,
                     masked_fraction, max_ngram)
    if tokenizer_or_model_path is None:
        raise ValueError("tokenizer_or_model_path is required: pass the .model file written "
                         "by `keras-compact vocab`.")
    tokenizer = load_tokenizer(tokenizer_or_model_path)
    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    examples, _ = pair_examples_dataset(
        documents_or_files, tokenizer, sequence_length=sequence_length, task=task, seed=seed,
        repeat=repeat, short_seq_prob=short_seq_prob, shuffle_buffer=shuffle_buffer)
    batches = examples.batch(batch_size, drop_remainder=True)
    dataset = mask_batches(batches, tokenizer, max_predictions=max_predictions, seed=seed,
                           masked_fraction=masked_fraction, max_ngram=max_ngram)
    return dataset.prefetch(tf.data.AUTOTUNE)


def pretraining_examples_dataset(
    documents_or_files,
    tokenizer_or_model_path,
    sequence_length=128,
    max_predictions=20,
    task="sop",
    seed=0,
    passes=1,
    short_seq_prob=0.1,
    masked_fraction=0.15,
    max_ngram=3,
    shuffle_buffer=10000,
):
    """A finite, unbatched stream of masked examples (what the writer stores).

    `passes` runs over the corpus, each with new pairs and masks. Elements
    are `(features, labels)` as in `make_pretraining_dataset` without the
    batch dimension. The same arguments give the same stream.

    Returns:
        (dataset, stats): stats is `corpus_stats` of the input.

    Example:

    >>> ds, stats = pretraining_examples_dataset(None, "vocab/spm.model")
    >>> eval_batches = ds.take(1000).batch(50, drop_remainder=True)
    """
    _check_arguments(None, sequence_length, max_predictions, task, short_seq_prob,
                     masked_fraction, max_ngram)
    if passes < 1:
        raise ValueError(f"passes (dupe_factor)={passes} must be >= 1.")
    tokenizer = load_tokenizer(tokenizer_or_model_path)
    examples, stats = pair_examples_dataset(
        documents_or_files, tokenizer, sequence_length=sequence_length, task=task, seed=int(seed),
        repeat=False, short_seq_prob=short_seq_prob, shuffle_buffer=shuffle_buffer)
    # Masking is vectorised over batches; 256 rows amortise its overhead.
    batches = examples.repeat(passes).batch(256)
    masked = mask_batches(batches, tokenizer, max_predictions=max_predictions, seed=int(seed),
                          masked_fraction=masked_fraction, max_ngram=max_ngram)
    return masked.unbatch(), stats


def make_text_features_dataset(
    documents_or_files=None,
    tokenizer_or_model_path=None,
    batch_size=32,
    sequence_length=128,
    seed=None,
    repeat=True,
    shuffle_buffer=10000,
):
    """Unmasked sentence-pair batches for general distillation.

    The same pairs as `make_pretraining_dataset` (consecutive segments of a
    document, truncated to `sequence_length`) without masks or labels: what
    TinyBERT's general distillation feeds teacher and student.

    Returns:
        A `tf.data.Dataset` of dicts "token_ids", "segment_ids",
        "padding_mask" (int32 [batch_size, sequence_length]).

    Example:
    >>> ds = make_text_features_dataset(None, "vocab/spm.model", batch_size=32)
    >>> distiller.fit(ds, steps_per_epoch=100, epochs=10)
    """
    _check_arguments(batch_size, sequence_length, 1, "sop", 0.1, 0.15, 1)
    if tokenizer_or_model_path is None:
        raise ValueError("tokenizer_or_model_path is required: pass the .model file written "
                         "by `keras-compact vocab`.")
    tokenizer = load_tokenizer(tokenizer_or_model_path)
    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    examples, _ = pair_examples_dataset(
        documents_or_files, tokenizer, sequence_length=sequence_length, seed=seed,
        repeat=repeat, shuffle_buffer=shuffle_buffer)
    keys = ("token_ids", "segment_ids", "padding_mask")
    batches = examples.batch(batch_size, drop_remainder=True)
    return batches.map(lambda e: {k: e[k] for k in keys}).prefetch(tf.data.AUTOTUNE)
