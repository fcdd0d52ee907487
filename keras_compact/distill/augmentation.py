"""TinyBERT's data augmentation for task-specific distillation.

For each example, `num_variants` (N_a) new texts are made by replacing each
word with probability `replace_prob` (p_t):

- a word that is one SentencePiece piece is masked in its sentence and
  replaced by one of the teacher MLM's `top_k` (K) predictions for it;
- a word of several pieces is replaced by one of its K nearest neighbours
  in a word-vector table: a GloVe-format text file (`WordVectors.from_glove`),
  or, when none is given, the teacher's own token-embedding table
  (`WordVectors.from_token_embeddings`: a word's vector is the mean of its
  pieces' vectors, neighbours are whole-word pieces; a stand-in for GloVe
  that needs no download, documented as such).

The augmented texts are then labelled by the fine-tuned teacher
(`teacher_labels`), not with the original label, as in the paper.

Backend-agnostic: the MLM passes split and encode words in Python with
`sentencepiece`; the teacher labels the variants from the ids its own
`TextClassifierPreprocessor` computes (a tf.data map, as in fine-tuning),
converted to numpy. The models run through `predict_on_batch` on numpy
arrays, so this works on the TensorFlow, JAX and torch backends.

Words are split the way BERT's basic tokenizer does: runs of letters and
digits, each punctuation mark on its own; only words with a letter are
replaced. The variants are these words joined by single spaces (the
tokenizer lower-cases anyway). Only the words within the first
`sequence_length - 2` pieces get MLM candidates (the model sees no further).

Cost: the paper masks one word per MLM pass. `mask_fraction` masks several
words per pass instead (interleaved, about that fraction of the words, like
MLM pretraining's 15%), which divides the passes by about 1 / mask_fraction.
"""

import math
import re

import numpy as np

WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
WORD_START = "\u2581"  # SentencePiece's word-boundary marker


def split_words(text):
    """Words and punctuation marks of `text`, as BERT's basic tokenizer splits.

    Example:
    >>> split_words("Call f(x), then return.")
    ['Call', 'f', '(', 'x', ')', ',', 'then', 'return', '.']
    """
    return WORD_PATTERN.findall(text)


def _is_replaceable(word):
    return any(ch.isalpha() for ch in word)


def _whole_word_pieces(processor):
    """{piece id: word} for pieces that are a whole alphabetic word ("▁word")."""
    words = {}
    for piece_id in range(processor.get_piece_size()):
        if processor.is_control(piece_id) or processor.is_unknown(piece_id):
            continue
        piece = processor.id_to_piece(piece_id)
        word = piece[1:]
        if piece.startswith(WORD_START) and word.isalpha():
            words[piece_id] = word
    return words


def _packed_numpy(piece_ids, sequence_length, cls_id, sep_id, pad_id):
    """`keras_compact.preprocessing.pack` on Python lists of piece ids, as numpy."""
    import tensorflow as tf

    from keras_compact.preprocessing.packing import pack

    lengths = np.array([len(ids) for ids in piece_ids], dtype="int64")
    flat = np.fromiter((i for ids in piece_ids for i in ids), dtype="int32",
                       count=int(lengths.sum()))
    ragged = tf.RaggedTensor.from_row_lengths(flat, lengths)
    packed = pack(ragged, sequence_length=sequence_length, cls_id=cls_id, sep_id=sep_id,
                  pad_id=pad_id)
    return {key: value.numpy() for key, value in packed.items()}


class WordVectors:
    """A word-vector table with cosine nearest neighbours.

    Build it with `from_glove` (a GloVe-format text file: one word and its
    numbers per line) or `from_token_embeddings` (the teacher's own
    embedding table, when no word vectors are at hand).

    Example:
    ```python
    vectors = WordVectors.from_glove("glove.6B.300d.txt", max_words=100_000)
    vectors.neighbours("parameter", 15)      # ["parameters", "argument", ...]
    ```
    """

    def __init__(self, words, vectors, lookup=None):
        vectors = np.asarray(vectors, dtype="float32")
        if vectors.ndim != 2 or len(words) != len(vectors) or not len(words):
            raise ValueError(
                f"WordVectors needs one vector per word, got {len(words)} words "
                f"and vectors of shape {vectors.shape}."
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.words = list(words)
        self.unit_vectors = vectors / np.maximum(norms, 1e-12)
        self.index = {word: i for i, word in enumerate(self.words)}
        # How to get a vector for a word that is not in `words`: None (only
        # table words have neighbours) or a function word -> vector or None.
        self._lookup = lookup
        self._cache = {}

    @classmethod
    def from_glove(cls, path, max_words=None):
        """Reads a GloVe-format text file ("word v1 v2 ... vd" per line).

        Args:
            path: the file (e.g. glove.6B.300d.txt; UTF-8).
            max_words: optional int; read only the first lines (GloVe files
                are ordered by frequency).

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: a line is not a word followed by d numbers (the
                message names the line) or the file is empty.
        """
        import os

        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Word-vector file {path!r} does not exist; pass a GloVe-format "
                "text file (one word and its numbers per line), or none to use "
                "the teacher's embedding table."
            )
        words, rows, width = [], [], None
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line_number, line in enumerate(handle, start=1):
                if max_words is not None and len(words) >= max_words:
                    break
                fields = line.rstrip().split(" ")
                if len(fields) < 2:
                    continue
                try:
                    values = [float(x) for x in fields[1:]]
                except ValueError:
                    raise ValueError(
                        f"{path}:{line_number} is not 'word v1 ... vd' (GloVe "
                        f"format): {line[:80]!r}."
                    ) from None
                if width is None:
                    width = len(values)
                elif len(values) != width:
                    raise ValueError(
                        f"{path}:{line_number} has {len(values)} numbers, the "
                        f"first line {width}; the file is not a GloVe table."
                    )
                words.append(fields[0])
                rows.append(values)
        if not words:
            raise ValueError(f"Word-vector file {path!r} holds no vectors.")
        return cls(words, np.array(rows, dtype="float32"))

    @classmethod
    def from_token_embeddings(cls, processor, embedding_matrix):
        """Word vectors from a SentencePiece model's token-embedding table.

        The table's rows are the pieces; the neighbours offered are the
        whole-word pieces ("▁word"), and a word of several pieces gets the
        mean of its pieces' vectors. This is not GloVe: the paper used GloVe,
        which needs a download; the teacher's table is always at hand.

        Args:
            processor: `sentencepiece.SentencePieceProcessor`.
            embedding_matrix: (vocabulary_size, E) array, e.g.
                `backbone.token_embedding.embeddings`.
        """
        table = np.asarray(keras_to_numpy(embedding_matrix), dtype="float32")
        whole = _whole_word_pieces(processor)
        ids = sorted(whole)

        def lookup(word):
            pieces = processor.encode(word)
            return table[pieces].mean(axis=0) if pieces else None

        return cls([whole[i] for i in ids], table[ids], lookup=lookup)

    def neighbours(self, word, k):
        """The k nearest other words by cosine similarity ([] if unknown)."""
        key = word.lower()
        if key in self._cache:
            return self._cache[key][:k]
        if key in self.index:
            query = self.unit_vectors[self.index[key]]
        elif self._lookup is not None and (vector := self._lookup(key)) is not None:
            query = vector / max(float(np.linalg.norm(vector)), 1e-12)
        else:
            self._cache[key] = []
            return []
        scores = self.unit_vectors @ query
        order = np.argsort(-scores)[: k + 1]
        found = [self.words[i] for i in order if self.words[i].lower() != key][:k]
        self._cache[key] = found
        return found


def keras_to_numpy(value):
    """A numpy copy of a Keras variable or tensor, on any backend."""
    import keras

    return keras.ops.convert_to_numpy(value)


class TextAugmenter:
    """Makes TinyBERT's augmented variants of texts with a teacher MLM.

    Args:
        mlm_model: a masked-LM model taking "token_ids", "segment_ids",
            "padding_mask" and "mask_positions" and returning a dict whose
            "mlm" entry holds (batch, positions, vocabulary) logits, e.g. the
            pretrained teacher's `keras_compact.models.AlbertPretrainer`.
        spm_model_path: the teacher's SentencePiece .model file.
        word_vectors: a `WordVectors`, or None to build one from the MLM
            model's token-embedding table (see the module docstring).
        num_variants: int. N_a, variants per text (paper: 20).
        replace_prob: float. p_t, probability of replacing each word (0.4).
        top_k: int. K, MLM predictions / neighbours to choose from (15).
        sequence_length: int. Length of the MLM passes (and of the
            teacher's labelling passes when it has no preprocessor).
        mask_fraction: None (one word per MLM pass, as the paper) or a float
            in (0, 1]: mask about this fraction of a text's words per pass.
        batch_size: int. Sequences per MLM call.
        seed: int.

    Example:
    ```python
    augmenter = TextAugmenter(pretrainer, "vocab/spm.model", num_variants=20)
    variants = augmenter.augment(["The function returns a list of names."])
    variants[0][:2]   # ["the function returns a list of values .", ...]
    ```
    """

    def __init__(
        self,
        mlm_model,
        spm_model_path,
        word_vectors=None,
        num_variants=20,
        replace_prob=0.4,
        top_k=15,
        sequence_length=128,
        mask_fraction=None,
        batch_size=64,
        seed=0,
    ):
        from keras_compact.data.tokenizer import load_sentencepiece_processor

        checks = (
            ("num_variants", num_variants, num_variants >= 1),
            ("top_k", top_k, top_k >= 1),
            ("sequence_length", sequence_length, sequence_length >= 3),
            ("batch_size", batch_size, batch_size >= 1),
        )
        for name, value, ok in checks:
            if not isinstance(value, int) or not ok:
                raise ValueError(f"{name} must be a positive integer (sequence_length >= 3), "
                                 f"got {name}={value!r}.")
        if not 0.0 <= replace_prob <= 1.0:
            raise ValueError(f"replace_prob must be in [0, 1], got replace_prob={replace_prob!r}.")
        if mask_fraction is not None and not 0.0 < mask_fraction <= 1.0:
            raise ValueError("mask_fraction must be None (one word per pass) or in (0, 1], "
                             f"got mask_fraction={mask_fraction!r}.")
        self.processor = load_sentencepiece_processor(spm_model_path)
        self.spm_model_path = spm_model_path
        self.mlm_model = mlm_model
        vocabulary_size = _mlm_vocabulary_size(mlm_model)
        if vocabulary_size != self.processor.get_piece_size():
            raise ValueError(
                f"The MLM model predicts {vocabulary_size} pieces but "
                f"{spm_model_path!r} has {self.processor.get_piece_size()}; pass the "
                "SentencePiece model the teacher was trained with."
            )
        if word_vectors is None:
            word_vectors = WordVectors.from_token_embeddings(
                self.processor, mlm_model.backbone.token_embedding.embeddings
            )
        self.word_vectors = word_vectors
        self.num_variants = num_variants
        self.replace_prob = float(replace_prob)
        self.top_k = top_k
        self.sequence_length = sequence_length
        self.mask_fraction = mask_fraction
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.whole_words = _whole_word_pieces(self.processor)
        candidate_ids = np.zeros(vocabulary_size, dtype=bool)
        candidate_ids[list(self.whole_words)] = True
        self._not_candidate = ~candidate_ids
        self.mask_id = self.processor.piece_to_id("[MASK]")
        self.cls_id = self.processor.piece_to_id("[CLS]")
        self.sep_id = self.processor.piece_to_id("[SEP]")
        self.pad_id = self.processor.piece_to_id("<pad>")

    def _mlm_queries(self, words_per_text):
        """Rows of (text index, piece ids (no specials), [(word index, position), ...])."""
        queries = []
        limit = self.sequence_length - 2
        for t, words in enumerate(words_per_text):
            ids, single = [], []
            for w, word in enumerate(words):
                pieces = self.processor.encode(word)
                if len(pieces) == 1 and len(ids) < limit and _is_replaceable(word):
                    single.append((w, len(ids) + 1))  # +1: [CLS]
                ids.extend(pieces)
            groups = 1 if not single else (
                len(single) if self.mask_fraction is None
                else min(len(single), math.ceil(1.0 / self.mask_fraction)))
            for g in range(groups):
                chosen = single[g::groups]
                if chosen:
                    queries.append((t, ids, chosen))
        return queries

    def _run_mlm(self, batch, slots):
        # Fixed shapes (batch_size, sequence_length, slots) so the model traces once.
        # Rows beyond the batch are empty texts ([CLS] [SEP]).
        pieces = [ids for _, ids, _ in batch] + [[]] * (self.batch_size - len(batch))
        packed = _packed_numpy(pieces, self.sequence_length, self.cls_id, self.sep_id,
                               self.pad_id)
        token_ids, padding_mask = packed["token_ids"], packed["padding_mask"]
        positions = np.zeros((self.batch_size, slots), dtype="int32")
        for row, (_, ids, chosen) in enumerate(batch):
            for slot, (_, position) in enumerate(chosen):
                token_ids[row, position] = self.mask_id
                positions[row, slot] = position
        outputs = self.mlm_model.predict_on_batch({
            "token_ids": token_ids,
            "segment_ids": packed["segment_ids"],
            "padding_mask": padding_mask,
            "mask_positions": positions,
        })
        logits = np.asarray(keras_to_numpy(outputs["mlm"]), dtype="float32")[: len(batch)]
        logits[..., self._not_candidate] = -np.inf
        return logits

    def candidates(self, texts, progress=True):
        """Replacement candidates for every word of every text.

        Returns:
            A list (one per text) of (words, candidates): the split words
            and, per word, a list of replacement words (empty: never
            replaced).
        """
        from tqdm.auto import tqdm

        words_per_text = [split_words(text) for text in texts]
        found = [[[] for _ in words] for words in words_per_text]
        # Words of several pieces (or beyond the MLM's reach): word vectors.
        queries = self._mlm_queries(words_per_text)
        by_mlm = {(t, w) for t, _, chosen in queries for w, _ in chosen}
        for t, words in enumerate(words_per_text):
            for w, word in enumerate(words):
                if (t, w) not in by_mlm and _is_replaceable(word):
                    found[t][w] = self.word_vectors.neighbours(word, self.top_k)
        # Single-piece words: the teacher MLM's top-K, in fixed-size batches.
        slots = max((len(chosen) for _, _, chosen in queries), default=1)
        batches = range(0, len(queries), self.batch_size)
        for start in tqdm(batches, desc="teacher MLM", unit="batch", disable=not progress):
            batch = queries[start : start + self.batch_size]
            logits = self._run_mlm(batch, slots)
            for row, (t, _, chosen) in enumerate(batch):
                for slot, (w, _) in enumerate(chosen):
                    best = np.argsort(-logits[row, slot])[: self.top_k + 1]
                    original = words_per_text[t][w].lower()
                    found[t][w] = [
                        self.whole_words[i] for i in best
                        if i in self.whole_words and self.whole_words[i] != original
                    ][: self.top_k]
        return list(zip(words_per_text, found))

    def augment(self, texts, progress=True):
        """`num_variants` augmented versions of each text.

        Returns:
            A list (one per text) of `num_variants` strings.
        """
        variants = []
        for words, options in self.candidates(texts, progress=progress):
            per_text = []
            for _ in range(self.num_variants):
                new = [
                    option[self.rng.integers(len(option))]
                    if option and self.rng.random() < self.replace_prob else word
                    for word, option in zip(words, options)
                ]
                per_text.append(" ".join(new))
            variants.append(per_text)
        return variants


def _mlm_vocabulary_size(mlm_model):
    backbone = getattr(mlm_model, "backbone", None)
    if backbone is None or not hasattr(backbone, "token_embedding"):
        raise ValueError(
            "mlm_model must be a masked-LM model with a `backbone` (e.g. the "
            f"teacher's AlbertPretrainer), got {type(mlm_model).__name__}."
        )
    return int(backbone.vocabulary_size)


def teacher_preprocessor(classifier, tokenizer=None, sequence_length=128):
    """The preprocessor the teacher labels texts with: its own, else one from `tokenizer`.

    Args:
        classifier: the teacher `TextClassifier`.
        tokenizer: its tokenizer (or vocabulary path), used only when the
            classifier carries no preprocessor.
        sequence_length: int, for a preprocessor built from `tokenizer`.

    Returns:
        A single-text `keras_compact.preprocessing.TextClassifierPreprocessor`.

    Raises:
        ValueError: the classifier has no preprocessor and no `tokenizer` is
            given, or it classifies text pairs.
    """
    from keras_compact.preprocessing import TextClassifierPreprocessor
    from keras_compact.tasks.datasets import check_preprocessor

    preprocessor = getattr(classifier, "preprocessor", None)
    if preprocessor is None:
        if tokenizer is None:
            raise ValueError("The teacher has no preprocessor; pass tokenizer= (its "
                             "vocabulary, e.g. the SentencePiece .model) to label texts.")
        preprocessor = TextClassifierPreprocessor(tokenizer, sequence_length=sequence_length)
    return check_preprocessor(preprocessor, pair=False)


def teacher_labels(classifier, texts, preprocessor=None, batch_size=64):
    """The teacher classifier's predicted label for each text.

    The texts go through the one dataset path
    (`keras_compact.tasks.datasets.make_dataset`) over the teacher's own
    preprocessor, so the labels come from the ids the teacher computes
    itself; the batches are converted to numpy for `predict_on_batch` on any
    backend.

    Args:
        classifier: a fine-tuned `TextClassifier`.
        texts: list of strings.
        preprocessor: the `TextClassifierPreprocessor` to use; default: the
            classifier's own (`teacher_preprocessor`).
        batch_size: int.

    Returns:
        An int array (len(texts),) of argmax labels.
    """
    from keras_compact.tasks.datasets import make_dataset

    if preprocessor is None:
        preprocessor = teacher_preprocessor(classifier)
    if not texts:
        return np.zeros(0, "int32")
    dataset = make_dataset([(text, 0) for text in texts], None, preprocessor,
                           batch_size=batch_size, with_labels=False)
    labels = []
    for features in dataset.as_numpy_iterator():
        count = len(features["token_ids"])
        if count < batch_size:  # one static shape: no retracing
            features = {k: np.pad(v, ((0, batch_size - count), (0, 0)))
                        for k, v in features.items()}
        logits = keras_to_numpy(classifier.predict_on_batch(features))[:count]
        labels.append(np.argmax(logits, axis=-1))
    return np.concatenate(labels).astype("int32")


def augment_task(pairs, augmenter, teacher, preprocessor=None, keep_originals=True,
                 progress=True):
    """TinyBERT's augmented task data: variants labelled by the teacher.

    Args:
        pairs: list of (text, label), e.g. `load_section_task()["train"]`.
        augmenter: a `TextAugmenter`.
        teacher: the fine-tuned `TextClassifier` that labels the variants.
        preprocessor: the teacher's `TextClassifierPreprocessor`; default:
            its own, or (a teacher without one) one built from the
            augmenter's SentencePiece model at its `sequence_length`.
        keep_originals: bool. Keep the original pairs (with their labels)
            before the variants.

    Returns:
        A list of (text, label) pairs: originals, then N_a variants of each
        text with the teacher's predicted label.

    Example:
    ```python
    augmenter = TextAugmenter(pretrainer, "spm.model", num_variants=20)
    augmented = augment_task(task["train"], augmenter, teacher)
    ```
    """
    if preprocessor is None:
        preprocessor = teacher_preprocessor(teacher, augmenter.spm_model_path,
                                            augmenter.sequence_length)
    variants = augmenter.augment([text for text, _ in pairs], progress=progress)
    texts = [v for per_text in variants for v in per_text]
    labels = teacher_labels(teacher, texts, preprocessor)
    augmented = list(pairs) if keep_originals else []
    augmented.extend(zip(texts, labels.tolist()))
    return augmented
