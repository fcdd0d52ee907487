"""`keras-compact pretrain` from offline TFRecords, and its input checks."""

import os

from keras_compact.cli.main import main

TINY = '{"num_layers": 2, "hidden_dim": 32, "num_heads": 2, "intermediate_dim": 64, "embedding_dim": 16}'


def test_pretrain_from_tfrecords(tmp_path, spm_model, capsys):
    from keras_compact.data import load_default_corpus
    from keras_compact.data import write_text_corpus

    text = write_text_corpus(load_default_corpus(sections=["faq"]), str(tmp_path / "faq.txt"))
    examples = str(tmp_path / "examples")
    assert main(["make-examples", "--input", text, "--vocab", spm_model, "--output-dir",
                 examples, "--num-shards", "2", "--seq-len", "32", "--no-progress"]) == 0
    run = str(tmp_path / "run")
    assert main(["pretrain", "--output-dir", run, "--tfrecords", examples, "--vocab",
                 spm_model, "--config", TINY, "--steps", "4", "--checkpoint-every", "2",
                 "--batch-size", "4", "--seq-len", "32"]) == 0
    out = capsys.readouterr().out
    assert "mlm_accuracy" in out and "sop_accuracy" in out
    for name in ("pretrainer.keras", "backbone.keras", "curves.png", "history.csv"):
        assert os.path.exists(os.path.join(run, name)), name


def test_pretrain_input_errors_name_the_fix(tmp_path, capsys):
    code = main(["pretrain", "--output-dir", str(tmp_path / "r"), "--tfrecords", "x/"])
    assert code == 2 and "needs --vocab" in capsys.readouterr().err
    code = main(["pretrain", "--output-dir", str(tmp_path / "r"), "--config", "[1]"])
    assert code == 2 and "--config must be a JSON object" in capsys.readouterr().err
