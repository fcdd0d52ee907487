"""`keras-compact vocab` and `keras-compact make-examples`."""

import json
import os

from keras_compact.cli.main import main


def test_vocab_command(tmp_path, capsys):
    text = tmp_path / "corpus.txt"
    text.write_text("\n".join(f"Sentence {i} talks about lists, dicts and sets." for i in
                              range(300)), encoding="utf-8")
    output = tmp_path / "vocab" / "small.model"
    assert main(["vocab", "--input", str(text), "--output", str(output),
                 "--vocab-size", "60"]) == 0
    assert output.exists() and (tmp_path / "vocab" / "small.vocab").exists()
    assert "[MASK]=4" in capsys.readouterr().out


def test_make_examples_command(tmp_path, spm_model, capsys):
    from keras_compact.data import load_default_corpus
    from keras_compact.data import read_pretraining_tfrecords
    from keras_compact.data import write_text_corpus

    text = write_text_corpus(load_default_corpus(sections=["faq"]), str(tmp_path / "faq.txt"))
    output = tmp_path / "examples"
    assert main(["make-examples", "--input", text, "--vocab", spm_model, "--output-dir",
                 str(output), "--num-shards", "2", "--seq-len", "64", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "sop examples" in out and "max_predictions 11" in out
    with open(output / "pretraining-metadata.json", encoding="utf-8") as handle:
        metadata = json.load(handle)
    assert metadata["files"] == [
        "pretraining-00000-of-00002.tfrecord", "pretraining-00001-of-00002.tfrecord"]
    features, _ = next(iter(read_pretraining_tfrecords(str(output), batch_size=4)))
    assert features["token_ids"].shape == (4, 64)


def test_commands_report_bad_input_without_traceback(tmp_path, spm_model, capsys):
    missing_model = str(tmp_path / "missing.model")
    code = main(["make-examples", "--vocab", missing_model, "--output-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.model" in err and "Traceback" not in err
    code = main(["vocab", "--input", str(tmp_path / "nope.txt"), "--output",
                 str(tmp_path / "v.model")])
    err = capsys.readouterr().err
    assert code == 2 and "nope.txt" in err and "make-examples" not in err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    code = main(["make-examples", "--input", str(empty), "--vocab", spm_model,
                 "--output-dir", str(tmp_path / "o2")])
    assert code == 2 and "empty" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o2") or os.listdir(tmp_path / "o2") == []
