#!/usr/bin/env python3
"""Throughput of the pretraining data paths on the bundled corpus.

Measures, at sequence length 128 (20 mask slots) on the bundled Python-docs
corpus with a freshly trained 8,000-piece SentencePiece model:

* the in-graph tf.data pipeline (`make_pretraining_dataset`): examples/s of
  finished, masked batches after a warm-up (tokenization, pairing and
  masking all on the fly);
* the offline writer (`write_pretraining_tfrecords`): examples/s end to end,
  one pass over the corpus, including start-up;
* reading those TFRecords back (`read_pretraining_tfrecords`).

Run from the repository root:

    python tools/benchmarks/bench_data_pipeline.py [--batch-size 32] [--steps 300]
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=300, help="batches timed")
    parser.add_argument("--warmup", type=int, default=20, help="batches before timing")
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args(argv)

    from keras_compact import data

    max_predictions = data.default_max_predictions(args.seq_len)
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        text = data.default_corpus_text_file(os.path.join(workdir, "docs.txt"))
        model = data.train_vocabulary(text, os.path.join(workdir, "spm.model"),
                                      vocab_size=args.vocab_size)
        print(f"vocabulary ({args.vocab_size} pieces): {time.perf_counter() - start:.1f} s")

        dataset = data.make_pretraining_dataset(
            None, model, batch_size=args.batch_size, sequence_length=args.seq_len,
            max_predictions=max_predictions, seed=0)
        iterator = iter(dataset)
        start = time.perf_counter()
        for _ in range(args.warmup):
            next(iterator)
        first = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(args.steps):
            next(iterator)
        elapsed = time.perf_counter() - start
        rate = args.steps * args.batch_size / elapsed
        print(f"in-graph pipeline: {rate:,.0f} examples/s ({rate / args.batch_size:,.0f} "
              f"batches/s of {args.batch_size} x {args.seq_len}; warm-up of "
              f"{args.warmup} batches {first:.1f} s)")

        output = os.path.join(workdir, "records")
        start = time.perf_counter()
        metadata = data.write_pretraining_tfrecords(
            None, model, output, sequence_length=args.seq_len,
            max_predictions=max_predictions, num_shards=8, seed=0, progress=False)
        elapsed = time.perf_counter() - start
        print(f"offline writer: {metadata['num_examples'] / elapsed:,.0f} examples/s "
              f"({metadata['num_examples']:,} examples in {elapsed:.1f} s, one pass, "
              f"8 shards, {sum(os.path.getsize(os.path.join(output, f)) for f in metadata['files']) / 1e6:.1f} MB)")

        reader = data.read_pretraining_tfrecords(output, batch_size=args.batch_size, seed=0)
        iterator = iter(reader)
        for _ in range(args.warmup):
            next(iterator)
        start = time.perf_counter()
        for _ in range(args.steps):
            next(iterator)
        elapsed = time.perf_counter() - start
        print(f"TFRecord reader: {args.steps * args.batch_size / elapsed:,.0f} examples/s")
    print(f"machine: {os.cpu_count()} CPU cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
