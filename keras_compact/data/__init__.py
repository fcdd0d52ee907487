"""Text to ALBERT pretraining examples (TF-only: tf.data / tensorflow-text).

The whole data package runs on TensorFlow, whatever `KERAS_BACKEND` is; the
datasets it returns feed `model.fit` on any backend.

Typical use::

    from keras_compact import data

    text = data.default_corpus_text_file()                # bundled corpus
    model = data.train_vocabulary(text, "vocab/spm.model", vocab_size=8000)
    ds = data.make_pretraining_dataset(None, model, batch_size=32)   # on the fly
    data.write_pretraining_tfrecords(None, model, "examples/")       # offline
    ds = data.read_pretraining_tfrecords("examples/", batch_size=32)

Modules: `corpus` (documents), `vocabulary` (SentencePiece training),
`tokenizer` (in-graph tokenizer), `sop` (sentence pairs), `ngram_masking`,
`pipeline` (on-the-fly tf.data), `tfrecords` (offline shards).
"""

from keras_compact.data.corpus import Document
from keras_compact.data.corpus import default_corpus_path
from keras_compact.data.corpus import default_corpus_text_file
from keras_compact.data.corpus import iter_text_documents
from keras_compact.data.corpus import load_default_corpus
from keras_compact.data.corpus import load_text_corpus
from keras_compact.data.corpus import split_sentences
from keras_compact.data.corpus import write_text_corpus
from keras_compact.data.vocabulary import SPECIAL_PIECES
from keras_compact.data.vocabulary import check_special_pieces
from keras_compact.data.vocabulary import train_vocabulary
from keras_compact.data.tokenizer import special_token_ids
from keras_compact.data.ngram_masking import default_max_predictions
from keras_compact.data.ngram_masking import ngram_mask
from keras_compact.data.ngram_masking import ngram_probabilities
from keras_compact.data.sop import create_pair_examples
from keras_compact.data.pipeline import corpus_stats
from keras_compact.data.pipeline import element_spec
from keras_compact.data.pipeline import make_pretraining_dataset
from keras_compact.data.pipeline import pretraining_examples_dataset
from keras_compact.data.tfrecords import read_pretraining_tfrecords
from keras_compact.data.tfrecords import write_pretraining_tfrecords
from keras_compact.data.labelled_task import load_section_task

__all__ = [
    "load_section_task",
    "Document",
    "default_corpus_path",
    "default_corpus_text_file",
    "iter_text_documents",
    "load_default_corpus",
    "load_text_corpus",
    "split_sentences",
    "write_text_corpus",
    "SPECIAL_PIECES",
    "check_special_pieces",
    "train_vocabulary",
    "special_token_ids",
    "default_max_predictions",
    "ngram_mask",
    "ngram_probabilities",
    "create_pair_examples",
    "corpus_stats",
    "element_spec",
    "make_pretraining_dataset",
    "pretraining_examples_dataset",
    "read_pretraining_tfrecords",
    "write_pretraining_tfrecords",
]
