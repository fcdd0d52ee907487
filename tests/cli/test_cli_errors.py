"""The CLI's error boundary (issue 14 item 6): a read-only directory, an
output path that is a file, a full disk, a .keras with a bad CRC, a
labels.json that is a list and a corpus of one 5 MB line each give one line
naming the path and the cause, exit code 2 and no partial output (or, for the
long line, a vocabulary)."""

import contextlib
import json
import os
import random
import subprocess
import zipfile

import pytest

from keras_compact.cli.main import main


@contextlib.contextmanager
def _tmpfs(path, options):
    """A tmpfs mounted at `path` (root only); None when mounting is impossible."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0:
        yield None
        return
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True)
    if result.returncode:
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from keras_compact.data import load_default_corpus
    from keras_compact.data import write_text_corpus

    folder = tmp_path_factory.mktemp("cli_errors")
    return write_text_corpus(load_default_corpus(sections=["faq"]), str(folder / "faq.txt"))


def test_read_only_output_directory(tmp_path, corpus, capsys):
    with _tmpfs(tmp_path / "ro", "ro,size=1m") as mounted:
        if mounted is None:  # not root: a mode that forbids writing
            os.chmod(tmp_path / "ro", 0o555)
        code = main(["vocab", "--input", corpus, "--output", str(tmp_path / "ro" / "spm.model"),
                     "--vocab-size", "100"])
        line = _one_line(capsys.readouterr().err)
        assert code == 2
        assert str(tmp_path / "ro") in line
        assert "read-only file system" in line or "permission denied" in line
        assert os.listdir(tmp_path / "ro") == []


def test_full_disk_leaves_nothing_behind(tmp_path, corpus, capsys):
    with _tmpfs(tmp_path / "full", "size=64k") as mounted:
        if mounted is None:
            pytest.skip("needs root to mount a small tmpfs")
        code = main(["vocab", "--input", corpus, "--output",
                     str(tmp_path / "full" / "spm.model"), "--vocab-size", "100"])
        line = _one_line(capsys.readouterr().err)
        assert code == 2
        assert str(tmp_path / "full") in line and "no space left" in line
        assert os.listdir(tmp_path / "full") == []


def test_output_path_that_is_a_file(tmp_path, corpus, spm_model, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("not a directory")
    for argv in (["pretrain", "--output-dir", str(a_file), "--vocab", spm_model],
                 ["make-examples", "--input", corpus, "--vocab", spm_model,
                  "--output-dir", str(a_file), "--no-progress"]):
        assert main(argv) == 2
        line = _one_line(capsys.readouterr().err)
        assert f"{a_file}: --output-dir is a file, not a directory" in line
    assert a_file.read_text() == "not a directory"


def _flip_a_byte_inside(path, member):
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    with open(path, "r+b") as handle:
        handle.seek(info.header_offset + 26)
        name_length, extra_length = (int.from_bytes(handle.read(2), "little")
                                     for _ in range(2))
        position = info.header_offset + 30 + name_length + extra_length + \
            info.compress_size // 2
        handle.seek(position)
        byte = handle.read(1)
        handle.seek(position)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_keras_file_with_a_bad_crc_and_labels_that_are_a_list(tmp_path, spm_model, capsys):
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier

    model = TextClassifier(CompactBackbone(vocabulary_size=4000, num_layers=1, num_heads=2,
                                           hidden_dim=16, intermediate_dim=32,
                                           max_sequence_length=16), num_classes=2)
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    _flip_a_byte_inside(path, "model.weights.h5")
    base = tmp_path / "base"
    code = main(["export", "--model", path, "--vocab", spm_model, "--base-dir", str(base),
                 "--name", "m", "--seq-len", "16"])
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and path in line and "CRC" in line
    assert not base.exists()

    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(["a", "b"]))
    code = main(["export", "--model", path, "--labels", str(labels), "--base-dir", str(base),
                 "--name", "m"])
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and str(labels) in line and "JSON list" in line
    assert not base.exists()


def test_vocab_on_a_corpus_of_one_5_mb_line(tmp_path, capsys):
    """SentencePiece skips lines over 4,192 bytes; the line is cut at spaces
    instead, so one 5 MB line trains a vocabulary rather than crashing."""
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 7)))
             for _ in range(300)]
    line = " ".join(rng.choice(words) for _ in range(5_000_000 // 5))
    corpus = tmp_path / "one_line.txt"
    corpus.write_text(line + "\n")
    assert corpus.stat().st_size > 4_900_000
    output = tmp_path / "out" / "spm.model"
    code = main(["vocab", "--input", str(corpus), "--output", str(output), "--vocab-size",
                 "200", "--max-sentences", "2000"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    assert sorted(os.listdir(output.parent)) == ["spm.model", "spm.vocab"]
