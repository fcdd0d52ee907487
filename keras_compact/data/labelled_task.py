"""A bundled labelled task: which part of the Python docs is a paragraph from?

Plain Python (part of `keras_compact.data`). The texts become datasets
through the one dataset path, the model's preprocessor mapped by
`keras_compact.tasks.datasets.make_dataset` (the bundled task is the named
dataset "sections", `keras_compact.tasks.named`).

The task: given one paragraph of the bundled corpus (prose of the Python 3.11
documentation, PSF licence, see `keras_compact/datasets/`), predict the
top-level section of the documentation it comes from ("library",
"whatsnew", "c-api", "tutorial", ...). The text and the labels are both
real: each label is the section of the source file the paragraph was taken
from. It is a small single-sentence classification task for checking that
fine-tuning works end to end (a pretrained backbone should beat a fresh one
and the majority class), not a benchmark from the literature.

Splits are by document, never by paragraph: all paragraphs of one source
file land in the same split, so a model cannot score by recognising a
file's neighbouring paragraphs. Within each section, documents are ordered
by a CRC-32 hash of their id (stable across runs, machines and Python
versions; it does not depend on `seed`) and dealt out in that order: to
"test" until it holds at least 10% of the section's paragraphs, then to
"validation" until it holds at least 10%, the rest to "train"; a document
that would take test or validation past twice its share goes to train
instead, and if that leaves test or validation without a document, it gets
the section's smallest training document. Files differ a lot in size, so
the fractions are approximate.

Which sections are kept (`MIN_DOCUMENTS`, `MIN_EXAMPLES`): a section needs
at least 5 documents and at least 300 paragraphs of `min_chars` characters
or more; otherwise the document split cannot give every split some of its
documents, and a class with a handful of test paragraphs from one file
measures that file rather than the class. With the defaults this keeps 10
of the corpus's 14 sections and drops "distributing", "general", "install"
and "installing". Label ids are the kept names in sorted order, so they do
not change with `seed` or `max_per_section`.

The classes are unbalanced ("library" is about half the paragraphs); pass
`max_per_section` to cap each class, and compare accuracy with the majority
class rate (`majority_rate`).
"""

import collections
import random
import zlib

from keras_compact.data.corpus import load_default_corpus

MIN_DOCUMENTS = 5
MIN_EXAMPLES = 300
TEST_FRACTION = 0.1
VALIDATION_FRACTION = 0.1
SPLITS = ("train", "validation", "test")


def document_hash(document_id):
    """The stable hash that orders documents for the split (CRC-32 of the id)."""
    return zlib.crc32(document_id.encode("utf-8"))


def _split_documents(documents):
    """{split: [document, ...]} for the documents of one section."""
    documents = sorted(documents, key=lambda d: (document_hash(d.id), d.id))
    total = sum(len(d.paragraphs) for d in documents)
    targets = (("test", TEST_FRACTION * total), ("validation", VALIDATION_FRACTION * total))
    assigned = {split: [] for split in SPLITS}
    counts = collections.Counter()
    for document in documents:
        size = len(document.paragraphs)
        split = next((name for name, target in targets
                      if counts[name] < target and counts[name] + size <= 2 * target), "train")
        assigned[split].append(document)
        counts[split] += size
    for split in ("test", "validation"):  # every document too big: the smallest one
        if not assigned[split] and len(assigned["train"]) > 1:
            smallest = min(assigned["train"], key=lambda d: (len(d.paragraphs), d.id))
            assigned["train"].remove(smallest)
            assigned[split].append(smallest)
    return assigned


def load_section_task(min_chars=80, sections=None, max_per_section=None, seed=0):
    """Loads the section-classification task from the bundled corpus.

    Args:
        min_chars: int. Paragraphs shorter than this are dropped (headings,
            one-line fragments); the section rule counts only the rest.
        sections: optional iterable of section names to use (each must pass
            the size rule). Default: every section that passes it.
        max_per_section: optional int. At most this many examples per
            section in each split, drawn at random with `seed`.
        seed: int. Orders (shuffles) the examples of each split and picks
            those kept by `max_per_section`. The split itself does not
            depend on it.

    Returns:
        A dict with "train", "validation", "test": lists of (text, label)
        pairs, label an int index into "label_names" (sorted section names);
        "documents": {split: sorted document ids}.

    Raises:
        ValueError: `min_chars` or `max_per_section` is not positive, a
            requested section does not exist or is too small (message names
            it and lists the usable ones), or fewer than 2 sections remain.

    Example:

    >>> task = load_section_task(max_per_section=500)
    >>> text, label = task["train"][0]
    >>> task["label_names"][label]          # e.g. "library"
    """
    if not isinstance(min_chars, int) or min_chars < 1:
        raise ValueError(f"min_chars must be a positive integer, got min_chars={min_chars!r}.")
    if max_per_section is not None and (not isinstance(max_per_section, int)
                                        or max_per_section < 1):
        raise ValueError("max_per_section must be a positive integer or None, got "
                         f"max_per_section={max_per_section!r}.")
    by_section = collections.defaultdict(list)
    for document in load_default_corpus():
        paragraphs = tuple(p for p in document.paragraphs if len(p.strip()) >= min_chars)
        if paragraphs:
            by_section[document.section].append(
                document.__class__(id=document.id, paragraphs=paragraphs,
                                   section=document.section))
    usable = sorted(
        name for name, documents in by_section.items()
        if len(documents) >= MIN_DOCUMENTS
        and sum(len(d.paragraphs) for d in documents) >= MIN_EXAMPLES)
    if sections is None:
        names = usable
    else:
        names = sorted(set(sections))
        for name in names:
            if name not in usable:
                reason = "is not a section of the corpus" if name not in by_section else (
                    f"is too small (needs {MIN_DOCUMENTS} documents and {MIN_EXAMPLES} "
                    f"paragraphs of {min_chars}+ characters)")
                raise ValueError(f"Section {name!r} {reason}; usable sections: "
                                 f"{', '.join(usable)}.")
    if len(names) < 2:
        raise ValueError(f"The task needs at least 2 sections, got {names}; usable "
                         f"sections at min_chars={min_chars}: {', '.join(usable) or 'none'}.")

    rng = random.Random(seed)
    task = {split: [] for split in SPLITS}
    task["documents"] = {split: [] for split in SPLITS}
    for label, name in enumerate(names):
        for split, documents in _split_documents(by_section[name]).items():
            pairs = [(p, label) for d in documents for p in d.paragraphs]
            if max_per_section is not None and len(pairs) > max_per_section:
                pairs = rng.sample(pairs, max_per_section)
            task[split].extend(pairs)
            task["documents"][split].extend(d.id for d in documents)
    for split in SPLITS:
        rng.shuffle(task[split])
        task["documents"][split].sort()
    task["label_names"] = names
    return task


def label_counts(pairs, num_classes):
    """How many examples of each label: a list of `num_classes` ints."""
    counts = [0] * num_classes
    for _, label in pairs:
        counts[label] += 1
    return counts


def majority_rate(pairs):
    """Accuracy of always predicting the most frequent label of `pairs`."""
    if not pairs:
        return 0.0
    counts = collections.Counter(label for _, label in pairs)
    return max(counts.values()) / len(pairs)
