"""Cost of raw-text preprocessing against the model's training throughput.

Times, on paragraphs of the bundled corpus:
- preprocessing: `TextClassifierPreprocessor` (WordPiece over the
  all-MiniLM-L6-v2 vocabulary, or --vocab) mapped over batches in tf.data,
  examples/s with one map call at a time and with AUTOTUNE parallelism;
- training: `TextClassifier.fit` steps on already preprocessed batches of
  the same shape (a --preset backbone), examples/s.
Prints the ratio preprocessing / training: above 1, tf.data preprocessing
keeps up with training (with `prefetch` it then costs no step time).

    python tools/benchmarks/bench_preprocessing.py --preset tinybert_4 --seq-len 128 --batch 32
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def examples_per_second(dataset, batches, batch):
    iterator = iter(dataset)
    next(iterator)  # trace and warm up
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", default=None,
                        help="Tokenizer file/folder (default: all-MiniLM-L6-v2's vocab.txt).")
    parser.add_argument("--preset", default="tinybert_4")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact import TextClassifierPreprocessor
    from keras_compact.tokenizers import load_tokenizer
    from tools.benchmarks.speed_probe import corpus_paragraphs

    if args.vocab is None:
        from keras_compact.pretrained import minilm_l6_dir

        args.vocab = minilm_l6_dir()
    tokenizer = load_tokenizer(args.vocab)
    preprocessor = TextClassifierPreprocessor(tokenizer, args.seq_len)
    paragraphs = corpus_paragraphs()
    texts = tf.data.Dataset.from_tensor_slices(paragraphs).repeat().batch(args.batch)
    serial = examples_per_second(texts.map(preprocessor), args.batches, args.batch)
    parallel = examples_per_second(
        texts.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE).prefetch(4),
        args.batches, args.batch)

    backbone = CompactBackbone.from_preset(args.preset,
                                           vocabulary_size=tokenizer.vocabulary_size(),
                                           max_sequence_length=max(512, args.seq_len))
    classifier = TextClassifier(backbone, num_classes=2)
    classifier.compile(optimizer="adam",
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    features = next(iter(texts.map(preprocessor)))
    labels = tf.zeros([args.batch], tf.int32)
    data = tf.data.Dataset.from_tensors((features, labels)).repeat()
    classifier.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace, warm up
    start = time.perf_counter()
    classifier.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
    training = args.steps * args.batch / (time.perf_counter() - start)

    print(f"tokenizer {type(tokenizer).__name__} ({tokenizer.vocabulary_size()} tokens), "
          f"preset {args.preset}, sequence {args.seq_len}, batch {args.batch}, "
          f"{os.cpu_count()} CPUs")
    print(f"preprocessing: {serial:,.0f} examples/s (one call at a time), "
          f"{parallel:,.0f} examples/s (AUTOTUNE)")
    print(f"training ({keras.backend.backend()}): {training:,.0f} examples/s")
    print(f"ratio preprocessing / training: {serial / training:.1f}x (serial), "
          f"{parallel / training:.1f}x (AUTOTUNE)")


if __name__ == "__main__":
    main()
