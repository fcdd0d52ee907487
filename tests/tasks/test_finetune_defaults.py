"""Fine-tuning's defaults that follow the model and the data (issue 20): the
learning rate by the backbone's width, the best validation epoch kept, and
`sequence_length="auto"` from the training texts' token counts, checked
against transformers' tokenizer and numpy's percentile."""

import json
import math
import os

import numpy as np
import pytest

from keras_compact.cli.main import main
from keras_compact.training.finetune_job import FinetuneJob
from keras_compact.training.finetune_job import auto_sequence_length
from keras_compact.training.finetune_job import default_learning_rate
from keras_compact.training.finetune_job import run_finetune
from tests.conftest import minilm_dir_or_skip
from tests.tasks.fixtures import pair_rows
from tests.tasks.fixtures import write_rows

TINY = {"num_layers": 1, "hidden_dim": 32, "num_heads": 2, "intermediate_dim": 64,
        "embedding_dim": 16}


def test_default_learning_rate_follows_the_width():
    assert default_learning_rate(768) == 5e-5  # BERT-base: the BERT paper's range
    assert default_learning_rate(384) == 1e-4  # all-MiniLM-L6-v2: the main job's rate
    assert default_learning_rate(312) == 1.2e-4  # TinyBERT-4, rounded to two digits
    assert default_learning_rate(1024) == 3.8e-5  # BERT-large
    assert default_learning_rate(16) == 3e-4 and default_learning_rate(8192) == 2e-5  # bounds
    assert default_learning_rate(768, pretrained=False) == 1e-4  # a fresh backbone

    from keras_compact.models import CompactBackbone

    backbone = CompactBackbone(vocabulary_size=100, num_layers=1, num_heads=2, hidden_dim=192,
                               intermediate_dim=64, max_sequence_length=16)
    assert default_learning_rate(backbone) == 2e-4

    from keras_compact.training.main_job import MINILM_FINETUNE

    assert MINILM_FINETUNE["learning_rate"] == 1e-4


def test_auto_sequence_length_is_the_percentile_rule_on_the_real_tokenizer():
    from transformers import AutoTokenizer

    from keras_compact.tasks.labels import LabelInfo
    from keras_compact.tokenizers import load_tokenizer

    folder = minilm_dir_or_skip()
    reference = AutoTokenizer.from_pretrained(folder)
    ours = load_tokenizer(folder)
    labels = LabelInfo.from_json({"kind": "classification", "names": ["neg", "pos"]})
    texts = [("word " * n).strip() + "." for n in (1, 3, 9, 14, 30, 2, 5, 40, 7, 11)]
    single = [(text, i % 2) for i, text in enumerate(texts)]
    counts = [len(reference(text)["input_ids"]) for text in texts]  # with [CLS], [SEP]
    expected = 8 * math.ceil(np.percentile(counts, 95) / 8)
    assert auto_sequence_length(single, labels, ours, 512)[0] == expected
    assert auto_sequence_length(single, labels, ours, 24)[0] == 24  # the position table caps it

    # A sample of 4 of the 10 rows, evenly spaced; and pairs count both texts.
    rows = np.linspace(0, 9, 4).round().astype(int)
    sampled = 8 * math.ceil(np.percentile(np.asarray(counts)[rows], 95) / 8)
    assert auto_sequence_length(single, labels, ours, 512, sample=4)[0] == sampled
    pairs = [(a, b, 0) for a, b in zip(texts, texts[::-1])]
    pair_counts = [len(reference(a, b)["input_ids"]) for a, b, _ in pairs]
    length, value, examples = auto_sequence_length(pairs, labels, ours, 512)
    assert examples == 10 and value == pytest.approx(np.percentile(pair_counts, 95))
    assert length == 8 * math.ceil(value / 8)


def test_bad_sequence_lengths_are_one_line_errors_naming_the_value(tmp_path, capsys):
    with pytest.raises(ValueError, match="sequence_length must be a positive integer, got 0"):
        run_finetune(FinetuneJob(output_dir=str(tmp_path / "a"), sequence_length=0))
    with pytest.raises(ValueError, match="sequence_length='long' is neither"):
        run_finetune(FinetuneJob(output_dir=str(tmp_path / "a"), sequence_length="long"))
    for value, message in (("foo", "--seq-len 'foo' is neither a number of tokens nor 'auto'"),
                           ("0", "--seq-len must be a positive integer, got 0")):
        assert main(["finetune", "--output-dir", str(tmp_path / "b"), "--seq-len",
                     value]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


def test_auto_length_and_the_best_epoch_are_what_the_run_keeps(tmp_path, capsys):
    """A regression task (validation Pearson differs every epoch) at a rate
    high enough to overshoot: the saved model scores the validation split
    as the best epoch did, and the run record holds the number that "auto"
    chose."""
    from keras_compact.training.tasks import evaluate_split
    from keras_compact.training.tasks import load_task_model

    vocab = minilm_dir_or_skip()
    rows = pair_rows(2, regression=True)
    train = write_rows(tmp_path / "train.jsonl", rows)
    dev = write_rows(tmp_path / "dev.jsonl", rows[:12])
    data = {"train": train, "validation": dev, "text_column": "premise",
            "text_b_column": "hypothesis"}
    job = FinetuneJob(output_dir=str(tmp_path / "run"), data=data, preset="tinybert_4",
                      config=TINY, tokenizer=vocab, epochs=4, batch_size=4,
                      learning_rate=3e-3, dropout=0.0)
    result = run_finetune(job, verbose=0)
    out = capsys.readouterr().out
    history = result["history"]["val_pearson"]
    kept = result["training"]["kept_epoch"]
    assert kept == int(np.argmax(history)) + 1 and result["training"]["kept_by"] == "val_pearson"
    assert f"Kept epoch {kept} of 4: best val_pearson {max(history):.4f}" in out
    # The saved model is the kept epoch's: its validation MSE is that epoch's
    # val_loss (here epoch 3 of 4 on TensorFlow's CPU; Pearson is compared
    # through the loss, which Keras and numpy compute alike).
    val_loss = result["history"]["val_loss"][kept - 1]
    assert result["scores"]["validation"]["mse"] == pytest.approx(val_loss, rel=1e-4)
    model, info = load_task_model(str(tmp_path / "run"))
    assert info["training"] == result["training"]
    assert evaluate_split(model, info_spec(dev), info["label_info"], ["mse"])[
        "mse"] == pytest.approx(val_loss, rel=1e-4)

    line = next(l for l in out.splitlines() if l.startswith("Sequence length"))
    length = int(line.split()[2])
    assert "(auto): the 95th percentile of 24 training examples" in line
    assert model.preprocessor.sequence_length == length
    with open(tmp_path / "run" / "run_settings.json") as handle:
        assert json.load(handle)["settings"]["sequence_length"] == length
    # A rerun asking for another number stops, naming the recorded one.
    with pytest.raises(ValueError, match=f"sequence_length: {length} -> {length + 8}"):
        run_finetune(FinetuneJob(**{**job.__dict__, "sequence_length": length + 8}))


def info_spec(path):
    from keras_compact.tasks.text_files import FileSpec

    return FileSpec(path, text_column="premise", text_b_column="hypothesis")
