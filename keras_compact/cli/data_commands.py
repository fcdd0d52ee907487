"""`keras-compact vocab` and `keras-compact make-examples`: text to training data.

TensorFlow and sentencepiece are imported inside the command functions, so
`keras-compact --help` stays fast.
"""

import os
import tempfile


def register(subparsers):
    """Adds the `vocab` and `make-examples` subcommands."""
    vocab = subparsers.add_parser(
        "vocab",
        help="Train a SentencePiece vocabulary ([CLS]/[SEP]/[MASK] at fixed ids).",
        description="Train a SentencePiece model with <pad>=0 <unk>=1 [CLS]=2 [SEP]=3 "
        "[MASK]=4, as keras-hub's AlbertTokenizer expects. Input: UTF-8 text files, one "
        "sentence per line (blank lines separate documents and are ignored here). "
        "Without --input, the bundled Python-docs corpus is used.",
    )
    vocab.add_argument("--input", nargs="+", metavar="FILE",
                       help="text files or globs (default: the bundled corpus)")
    vocab.add_argument("--output", required=True, metavar="PATH.model",
                       help="model file to write; PATH.vocab is written beside it")
    vocab.add_argument("--vocab-size", type=int, default=None,
                       help="number of pieces (default 30000; 8000 for the bundled corpus)")
    vocab.add_argument("--cased", action="store_true",
                       help="keep case (default: NFKC + lower-casing, stored in the model)")
    vocab.add_argument("--model-type", default="unigram", choices=("unigram", "bpe"))
    vocab.add_argument("--max-sentences", type=int, default=2_000_000,
                       help="lines sampled for training (default 2,000,000)")
    vocab.add_argument("--seed", type=int, default=0)
    vocab.set_defaults(func=run_vocab)

    examples = subparsers.add_parser(
        "make-examples",
        help="Write masked SOP/NSP pretraining examples as sharded TFRecords.",
        description="Cut sentence pairs (SOP or NSP), apply n-gram masking and write "
        "sharded TFRecord files plus a metadata JSON, atomically. Read them back with "
        "keras_compact.data.read_pretraining_tfrecords(OUTPUT_DIR, batch_size). Input "
        "format: UTF-8 text, one sentence per line, a blank line between documents.",
    )
    examples.add_argument("--input", nargs="+", metavar="FILE",
                          help="text files or globs (default: the bundled corpus)")
    examples.add_argument("--vocab", required=True, metavar="PATH.model",
                          help="SentencePiece model from `keras-compact vocab`")
    examples.add_argument("--output-dir", required=True)
    examples.add_argument("--seq-len", type=int, default=128)
    examples.add_argument("--max-predictions", type=int, default=None,
                          help="mask slots per example (default: round(0.15 * "
                          "seq-len) + 1, i.e. 20 for 128)")
    examples.add_argument("--task", default="sop", choices=("sop", "nsp"))
    examples.add_argument("--dupe-factor", type=int, default=1,
                          help="passes over the corpus, each with new pairs and masks")
    examples.add_argument("--num-shards", type=int, default=8)
    examples.add_argument("--seed", type=int, default=0)
    examples.add_argument("--short-seq-prob", type=float, default=0.1)
    examples.add_argument("--masked-fraction", type=float, default=0.15)
    examples.add_argument("--max-ngram", type=int, default=3)
    examples.add_argument("--prefix", default="pretraining", help="file name prefix")
    examples.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    examples.set_defaults(func=run_make_examples)


def run_vocab(args):
    from keras_compact.data import corpus
    from keras_compact.data import vocabulary

    vocab_size = args.vocab_size
    if vocab_size is not None and vocab_size <= len(vocabulary.SPECIAL_PIECES):
        raise ValueError(f"--vocab-size {vocab_size} is too small; it must exceed the "
                         f"{len(vocabulary.SPECIAL_PIECES)} special pieces (e.g. 8000).")
    with tempfile.TemporaryDirectory(prefix="keras-compact-vocab-") as workdir:
        if args.input:
            inputs = corpus.expand_paths(args.input)
            default = vocabulary.DEFAULT_VOCAB_SIZE
        else:
            inputs = corpus.default_corpus_text_file(os.path.join(workdir, "corpus.txt"))
            default = vocabulary.DEMO_VOCAB_SIZE
        vocab_size = default if vocab_size is None else vocab_size
        path = vocabulary.train_vocabulary(
            inputs, args.output, vocab_size=vocab_size, lowercase=not args.cased,
            model_type=args.model_type, max_sentences=args.max_sentences, seed=args.seed)
    print(f"wrote {path} ({vocab_size} pieces; <pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4; "
          f"{'cased' if args.cased else 'lower-cased'})")
    return 0


def run_make_examples(args):
    from keras_compact.data import ngram_masking
    from keras_compact.data import tfrecords

    max_predictions = args.max_predictions
    if max_predictions is None:
        max_predictions = ngram_masking.default_max_predictions(args.seq_len,
                                                                args.masked_fraction)
    metadata = tfrecords.write_pretraining_tfrecords(
        args.input or None, args.vocab, args.output_dir, sequence_length=args.seq_len,
        max_predictions=max_predictions, task=args.task, dupe_factor=args.dupe_factor,
        num_shards=args.num_shards, seed=args.seed, short_seq_prob=args.short_seq_prob,
        masked_fraction=args.masked_fraction, max_ngram=args.max_ngram, prefix=args.prefix,
        progress=not args.no_progress)
    print(f"wrote {metadata['num_examples']} {args.task} examples (sequence_length "
          f"{metadata['sequence_length']}, max_predictions {metadata['max_predictions']}) to "
          f"{len(metadata['files'])} shard(s) in {args.output_dir}; "
          f"{metadata['documents']} documents, {metadata['skipped_short_documents']} skipped "
          "(fewer than 2 sentences)")
    return 0
