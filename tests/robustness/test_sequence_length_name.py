"""One name for the sequence length (issue 19): `sequence_length` in the library
and in every file it writes, `--seq-len` on the command line; files written
before the rename (with `seq_len` / `max_seq_len`) are still read."""

import json

from keras_compact.cli.flags import FLAG_NAMES
from keras_compact.cli.flags import translate


def test_library_errors_become_the_flag_and_max_sequence_length_stays():
    message = ("sequence_length=64 exceeds the teacher's position table "
               "(max_sequence_length=32); pass sequence_length=32 or less.")
    assert translate(message, FLAG_NAMES) == (
        "--seq-len 64 exceeds the teacher's position table (max_sequence_length=32); "
        "pass --seq-len 32 or less.")


def test_a_run_record_written_with_seq_len_still_resumes(tmp_path):
    from keras_compact.utils.run_settings import RECORD_NAME
    from keras_compact.utils.run_settings import check_run_settings
    from keras_compact.utils.run_settings import fingerprint

    old = {"seq_len": 64, "steps": 2}
    (tmp_path / RECORD_NAME).write_text(json.dumps({
        "format": "keras_compact.run_settings.v1", "kind": "pretrain",
        "fingerprint": fingerprint(old), "settings": old}))
    assert check_run_settings(str(tmp_path), "pretrain",
                              {"sequence_length": 64, "steps": 2}) == "resume"


def test_a_task_file_written_with_seq_len_reads_as_sequence_length(tmp_path):
    from keras_compact.tasks.task_file import read_task_file

    path = tmp_path / "task.json"
    path.write_text(json.dumps({"labels": {"kind": "classification", "names": ["a", "b"]},
                                "seq_len": 16}))
    info = read_task_file(str(path))
    assert info["sequence_length"] == 16 and "seq_len" not in info


def test_examples_metadata_written_with_max_seq_len_reads_as_sequence_length(tmp_path):
    from keras_compact.data.tfrecords import find_tfrecord_files

    (tmp_path / "pretraining-metadata.json").write_text(json.dumps({
        "files": ["pretraining-00000-of-00001.tfrecord"], "max_seq_len": 32,
        "max_predictions": 6}))
    files, metadata = find_tfrecord_files(str(tmp_path))
    assert metadata["sequence_length"] == 32 and "max_seq_len" not in metadata
    assert files == [str(tmp_path / "pretraining-00000-of-00001.tfrecord")]
