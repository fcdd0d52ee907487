"""The distillation job's inputs: the teacher, its tokenizer, the task's data and
the augmented examples (cached in the run directory).

TF-only input side (tf.data / tensorflow-text). Used by
`keras_compact.training.distillation_job`.
"""

import json
import os

from keras_compact.training.distillation_stages import job_path
from keras_compact.utils.model_files import load_keras_file


def load_teacher(job, data):
    """The teacher: a classifier.keras, or a Hugging Face sequence-classification folder
    (its outputs put in the task's class order)."""
    from keras_compact.convert.sequence_classification import from_huggingface_classifier
    from keras_compact.convert.sequence_classification import is_huggingface_folder
    from keras_compact.models import TextClassifier

    if not is_huggingface_folder(job.teacher):
        return load_keras_file(job.teacher, "teacher", TextClassifier)
    labels = data["labels"]
    return from_huggingface_classifier(
        job.teacher, sequence_length=job.sequence_length, pair=data["pair"],
        label_names=None if labels.regression else labels.names)


def job_task(job):
    """The job's data: the bundled section task, or its files (every row checked).

    Returns:
        A dict: "train" (a FileSpec or an in-memory list), "test" (same),
        "test_name", "labels" (`LabelInfo`), "train_count", "test_count",
        "metrics", "name", "pair".
    """
    if not job.data:
        from keras_compact.tasks.named import named_task

        task = named_task("sections", seed=job.seed, max_train_examples=job.max_train_examples,
                          max_eval_examples=job.max_eval_examples)
        return {"train": task["train"], "test": task["test"]["test"], "test_name": "test",
                "labels": task["labels"], "train_count": task["counts"]["train"],
                "test_count": task["counts"]["test"], "metrics": task["metrics"],
                "name": task["name"], "pair": False}
    from keras_compact.tasks.options import task_from_options

    task = task_from_options(job.data)
    evaluation = {**task["validation"], **{k: v for k, v in task["test"].items()
                                          if v.label_column is not None}}
    name = job.test_split or ("test" if "test" in evaluation else next(iter(evaluation)))
    if name not in evaluation:
        raise ValueError(f"test_split={name!r} is not a labelled split; have "
                         f"{sorted(evaluation)}.")
    train = task["train"]
    train_count = task["counts"]["train"]
    if job.max_train_examples and job.max_train_examples < train_count:
        from keras_compact.tasks.datasets import read_examples

        train = read_examples(train, task["labels"], job.max_train_examples)
        train_count = len(train)
    return {"train": train, "test": evaluation[name], "test_name": name,
            "labels": task["labels"], "train_count": train_count,
            "test_count": task["counts"][name], "metrics": task["metrics"],
            "name": task.get("name"), "pair": task["pair"]}


def job_tokenizer(job, teacher=None):
    """The teacher's tokenizer (`keras_compact.tokenizers`): tokenizer/vocab, else the
    one inside the teacher's .keras (its preprocessor), else one saved beside it."""
    from keras_compact.tokenizers import load_tokenizer
    from keras_compact.training.tasks import find_tokenizer_beside

    if job.tokenizer or job.vocab:
        return load_tokenizer(job.tokenizer or job.vocab)
    if teacher is None:
        return None
    preprocessor = getattr(teacher, "preprocessor", None)
    if preprocessor is not None:
        return preprocessor.tokenizer
    source = find_tokenizer_beside(job.teacher)
    if source is None:
        raise ValueError(f"No tokenizer for teacher={job.teacher!r}: pass tokenizer= (a "
                         ".model, vocab.txt or Hugging Face folder).")
    return load_tokenizer(source)


def sentencepiece_file(job, teacher=None):
    """The teacher's SentencePiece .model file, when the job names one (tokenizer or
    vocab) or one lies beside a teacher saved without its preprocessor; else None."""
    from keras_compact.training.tasks import find_tokenizer_beside

    path = job.tokenizer or job.vocab
    if path is None and teacher is not None and getattr(teacher, "preprocessor", None) is None:
        path = find_tokenizer_beside(job.teacher)
    return path if path and str(path).endswith(".model") else None


def augmented_pairs(job, sources, teacher, pretrainer, tokenizer):
    """Augmented training examples, cached in OUTPUT_DIR/augmented.jsonl.

    With the teacher's pretrainer (MLM) and a SentencePiece single-text task,
    TinyBERT's recipe (`TextAugmenter`: MLM for single-piece words, word
    vectors for the rest), labelled by the teacher. Otherwise (no MLM head,
    e.g. a Hugging Face sentence-embedding checkpoint, or pairs) every word's
    candidates come from word vectors: `--word-vectors`, else the teacher's
    token-embedding table (`EmbeddingAugmenter`); those variants keep their
    source's gold label, which the distiller does not read (it reads the
    teacher's logits, `keras_compact.training.teacher_cache`).
    """
    from keras_compact.distill.augmentation import TextAugmenter
    from keras_compact.distill.augmentation import WordVectors
    from keras_compact.distill.augmentation import augment_task
    from keras_compact.distill.augmentation import teacher_preprocessor
    from keras_compact.distill.embedding_augmentation import EmbeddingAugmenter
    from keras_compact.utils.atomic import atomic_file

    cache = job_path(job, "augmented.jsonl")
    if os.path.isfile(cache):
        with open(cache, encoding="utf-8") as handle:
            pairs = [tuple(json.loads(line)) for line in handle]
        print(f"Augmented data: reusing {cache} ({len(pairs):,} examples)")
        return pairs
    vectors = WordVectors.from_glove(job.word_vectors) if job.word_vectors else None
    pair = bool(sources) and len(sources[0]) == 3
    # The MLM augmenter reads the SentencePiece .model file (--vocab); a
    # tokenizer taken from the teacher's preprocessor has none.
    vocab_file = sentencepiece_file(job, teacher)
    use_mlm = pretrainer is not None and not pair and vocab_file is not None
    source_of = job.word_vectors or "teacher embedding table"
    print(f"Augmenting {len(sources):,} training texts x {job.num_variants} variants "
          f"(p_t={job.replace_prob}, K={job.top_k}, candidates: "
          + (f"teacher MLM + {source_of})" if use_mlm else
             f"{source_of} only, the teacher has no MLM head)"), flush=True)
    if use_mlm:
        augmenter = TextAugmenter(
            pretrainer, vocab_file, word_vectors=vectors,
            num_variants=job.num_variants, replace_prob=job.replace_prob, top_k=job.top_k,
            sequence_length=job.sequence_length, mask_fraction=job.mask_fraction, batch_size=64,
            seed=job.seed)
        # Labels from the ids the teacher computes itself (its preprocessor).
        augmented = augment_task(
            sources, augmenter, teacher,
            teacher_preprocessor(teacher, tokenizer or vocab_file, job.sequence_length),
            keep_originals=False)
        agree = sum(1 for (_, gold), (_, new) in zip(
            [p for p in sources for _ in range(job.num_variants)], augmented) if gold == new)
        print(f"The teacher's label equals the source's gold label for "
              f"{agree / max(1, len(augmented)):.1%} of the variants")
    else:
        texts = [t for example in sources for t in example[:-1]]
        augmenter = EmbeddingAugmenter.from_teacher(
            teacher, tokenizer, texts, word_vectors=vectors, num_variants=job.num_variants,
            replace_prob=job.replace_prob, top_k=job.top_k, seed=job.seed)
        firsts = augmenter.augment([example[0] for example in sources])
        seconds = augmenter.augment([example[1] for example in sources]) if pair else None
        augmented = []
        for i, example in enumerate(sources):
            for v in range(job.num_variants):
                if pair:
                    augmented.append((firsts[i][v], seconds[i][v], example[-1]))
                else:
                    augmented.append((firsts[i][v], example[-1]))
    os.makedirs(job.output_dir, exist_ok=True)
    with atomic_file(cache) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            for example in augmented:
                handle.write(json.dumps([*example[:-1], _json_label(example[-1])]) + "\n")
    print(f"Augmented data: {len(augmented):,} variants")
    return augmented


def _json_label(value):
    return float(value) if isinstance(value, float) else int(value)


def task_info_for_student(job, data):
    from keras_compact.tasks.task_file import TASK_FILE
    from keras_compact.tasks.task_file import read_task_file

    info_path = os.path.join(os.path.dirname(os.path.abspath(job.teacher)), TASK_FILE)
    if os.path.isfile(info_path):
        info = read_task_file(info_path)
    else:
        options = job.data
        info = {"name": data["name"], "labels": data["labels"].to_json(),
                "label_names": data["labels"].names,
                "text_column": options.get("text_column") or "text",
                "text_b_column": options.get("text_b_column"),
                "label_column": options.get("label_column") or "label",
                "pair": data["pair"], "metrics": list(data["metrics"])}
    info = {k: v for k, v in info.items() if k not in ("tokenizer", "scores")}
    info["sequence_length"] = job.sequence_length
    return info
