#!/usr/bin/env python3
"""Tokenization throughput (examples/s) of keras_compact.tokenizers, with ratios.

On paragraphs of the bundled corpus, best of --rounds passes, batch
--batch-size, after one warm-up pass:

* WordPieceTokenizer (all-MiniLM-L6-v2 vocabulary) in a tf.data map;
* keras-hub's WordPieceTokenizer (lowercase + strip_accents) in the same map,
  for the cost of the exact BERT clean-up (its ids differ from BERT's);
* transformers' BertTokenizer (Rust) on the same batches, the reference;
* SentencePieceTokenizer (a 4,000-piece model trained on the corpus, or
  --spm PATH) in the same map.

Run from the repository root (TensorFlow backend; CPU):

    python tools/benchmarks/bench_tokenizers.py [--batch-size 64] [--examples 4096]
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def corpus_texts(count):
    from keras_compact.data import load_default_corpus

    texts = [p for d in load_default_corpus() for p in d.paragraphs if p.strip()]
    return (texts * (count // max(len(texts), 1) + 1))[:count]


def best_examples_per_second(run, examples, rounds):
    run()  # warm-up (tracing, caches)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return examples / best


def tf_data_runner(tokenizer, texts, batch_size):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size).map(
        tokenizer, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def run():
        for _ in dataset:
            pass

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--examples", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spm", default=None, help="a SentencePiece .model (default: train one)")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

    import keras_hub
    from transformers import BertTokenizer

    from keras_compact.pretrained import minilm_l6_dir
    from keras_compact.tokenizers import SentencePieceTokenizer
    from keras_compact.tokenizers import WordPieceTokenizer

    texts = corpus_texts(args.examples)
    mean_chars = sum(map(len, texts)) / len(texts)
    folder = minilm_l6_dir()
    ours = WordPieceTokenizer.from_huggingface(folder)
    hub = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=os.path.join(folder, "vocab.txt"), lowercase=True, strip_accents=True)
    reference = BertTokenizer.from_pretrained(folder)
    spm_path = args.spm
    if spm_path is None:
        from keras_compact.data import default_corpus_text_file
        from keras_compact.data import train_vocabulary

        scratch = tempfile.mkdtemp(prefix="bench_tokenizers_")
        text_file = default_corpus_text_file(os.path.join(scratch, "corpus.txt"))
        spm_path = train_vocabulary(text_file, os.path.join(scratch, "spm.model"),
                                    vocab_size=4000, max_sentences=30000, seed=0)
    sentencepiece = SentencePieceTokenizer(spm_path)

    batches = [texts[i:i + args.batch_size] for i in range(0, len(texts), args.batch_size)]

    def run_reference():
        for batch in batches:
            reference(batch, add_special_tokens=False)

    results = {
        "WordPieceTokenizer (tf.data)": tf_data_runner(ours, texts, args.batch_size),
        "keras-hub WordPieceTokenizer (tf.data)": tf_data_runner(hub, texts, args.batch_size),
        "transformers BertTokenizer (Rust)": run_reference,
        "SentencePieceTokenizer (tf.data)": tf_data_runner(sentencepiece, texts,
                                                           args.batch_size),
    }
    print(f"{len(texts)} paragraphs, mean {mean_chars:.0f} characters, batch "
          f"{args.batch_size}, best of {args.rounds}")
    speeds = {name: best_examples_per_second(run, len(texts), args.rounds)
              for name, run in results.items()}
    base = speeds["WordPieceTokenizer (tf.data)"]
    for name, speed in speeds.items():
        print(f"{name:42s} {speed:10.0f} examples/s   x{speed / base:.2f} of ours")


if __name__ == "__main__":
    main()
