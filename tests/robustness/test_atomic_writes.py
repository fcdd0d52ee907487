"""utils/atomic: modes under the umask (issue 14 item 1), concurrent numbered
versions (item 4) and cleanup of a killed writer's temporaries (item 9)."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap

import pytest

from keras_compact.utils import atomic


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def public_dir():
    """A directory every uid can traverse (pytest's tmp_path is 0700 for root)."""
    path = tempfile.mkdtemp(prefix="kc-public-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _as_nobody(*command):
    """Runs `command` as uid/gid 65534; None when this process cannot switch."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           *command], capture_output=True, timeout=60)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_atomic_writes_get_the_modes_of_a_plain_write(tmp_path, umask):
    """Item 1: files 0666 & ~umask and directories 0777 & ~umask, inside too."""
    old = os.umask(umask)
    try:
        with atomic.atomic_file(str(tmp_path / "a.json")) as temp:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT, 0o600)  # a private writer
            os.close(fd)
        with atomic.atomic_directory(str(tmp_path / "d")) as temp:
            os.makedirs(os.path.join(temp, "variables"))
            fd, inner = tempfile.mkstemp(dir=os.path.join(temp, "variables"))
            os.close(fd)
        with atomic.atomic_numbered_directory(str(tmp_path / "m")) as target:
            open(os.path.join(target.temp, "saved_model.pb"), "w").close()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.json") == 0o666 & ~umask
    for directory in (tmp_path / "d", tmp_path / "d" / "variables", tmp_path / "m" / "1"):
        assert _mode(directory) == 0o777 & ~umask
    assert _mode(os.path.join(tmp_path / "d" / "variables", os.path.basename(inner))) \
        == 0o666 & ~umask
    assert _mode(tmp_path / "m" / "1" / "saved_model.pb") == 0o666 & ~umask


def test_exports_checkpoints_and_hf_files_are_readable_by_another_uid(public_dir, spm_model):
    """Item 1: a TF Serving process under another uid reads the export, the
    Hugging Face checkpoint and a training checkpoint (as uid 65534 when this
    test runs as root, else by mode)."""
    import keras

    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.convert.huggingface import to_huggingface
    from keras_compact.export import export_for_serving
    from keras_compact.training.checkpointing import AtomicBackupAndRestore

    backbone = CompactBackbone(vocabulary_size=4000, num_layers=1, num_heads=2,
                               hidden_dim=16, intermediate_dim=32, embedding_dim=8,
                               max_sequence_length=16)
    model = TextClassifier(backbone, num_classes=2)
    version = export_for_serving(model, spm_model, public_dir, "m", sequence_length=16)
    hf_dir = os.path.join(public_dir, "hf")
    to_huggingface(backbone, hf_dir)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    backup = AtomicBackupAndRestore(os.path.join(public_dir, "backup"))
    backup.set_model(model)
    backup.on_epoch_end(0)
    files = [os.path.join(version, "saved_model.pb"),
             os.path.join(hf_dir, "model.safetensors"), os.path.join(hf_dir, "config.json"),
             os.path.join(public_dir, "backup", "epoch-000001", "state.weights.h5"),
             os.path.join(public_dir, "backup", "epoch-000001", "random_state.json")]
    files += [os.path.join(version, "variables", n)
              for n in os.listdir(os.path.join(version, "variables"))]
    result = _as_nobody("cat", *files)
    if result is None:
        mask = atomic.current_umask()
        for path in files:
            assert _mode(path) & 0o044 == 0o044 & ~mask, path
    else:
        assert result.returncode == 0, result.stderr.decode()
        assert len(result.stdout) == sum(os.path.getsize(p) for p in files)
    keras.backend.clear_session()


# The writers load utils/atomic.py alone (it imports nothing of the package),
# so eight processes do not each pay for importing TensorFlow.
_LOAD_ATOMIC = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('kc_atomic', sys.argv.pop(1))\n"
    "atomic = importlib.util.module_from_spec(spec); spec.loader.exec_module(atomic)\n"
)
_WRITER = _LOAD_ATOMIC + textwrap.dedent("""
    import os, sys, time
    atomic_numbered_directory = atomic.atomic_numbered_directory
    parent, go, version = sys.argv[1], sys.argv[2], sys.argv[3]
    version = None if version == "none" else int(version)
    try:
        with atomic_numbered_directory(parent, version) as target:
            with open(os.path.join(target.temp, "saved_model.pb"), "w") as handle:
                handle.write(str(os.getpid()))
            while not os.path.exists(go):   # every writer renames at the same moment
                time.sleep(0.005)
        print(target.number)
    except FileExistsError as error:
        print("exists:", error)
        sys.exit(3)
""")


def _writers(parent, go, versions):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return [subprocess.Popen([sys.executable, "-c", _WRITER, atomic.__file__, parent, go, str(v)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env) for v in versions]


def _release(go, processes, parent):
    import time

    # Wait until every writer has its temporary directory, then let them go.
    deadline = time.time() + 60
    while time.time() < deadline:
        temps = [n for n in os.listdir(parent) if n.startswith(".")] \
            if os.path.isdir(parent) else []
        if len(temps) == len(processes):
            break
        time.sleep(0.01)
    open(go, "w").close()
    return [(p.wait(timeout=60), p.stdout.read(), p.stderr.read()) for p in processes]


def test_concurrent_writers_of_the_next_version_all_complete(tmp_path):
    """Item 4: eight processes export "the next version" at once; each gets
    its own number, every version is complete and nothing is left over."""
    parent, go = str(tmp_path / "model"), str(tmp_path / "go")
    os.makedirs(os.path.join(parent, "1"))
    open(os.path.join(parent, "1", "saved_model.pb"), "w").close()
    results = _release(go, _writers(parent, go, ["none"] * 8), parent)
    assert all(code == 0 for code, _, _ in results), results
    numbers = sorted(int(out.strip()) for _, out, _ in results)
    assert numbers == list(range(2, 10))
    assert sorted(os.listdir(parent), key=int) == [str(n) for n in range(1, 10)]
    for number in numbers:
        with open(os.path.join(parent, str(number), "saved_model.pb")) as handle:
            assert handle.read().isdigit()


def test_concurrent_writers_of_one_explicit_version_one_wins_one_clear_error(tmp_path):
    """Item 4: two exports asked for the same version: one writes it, the
    other fails with a message saying so; no partial directory remains."""
    parent, go = str(tmp_path / "model"), str(tmp_path / "go")
    results = _release(go, _writers(parent, go, [7, 7]), parent)
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3], results
    loser = [out for code, out, _ in results if code == 3][0]
    assert "version 7 already exists" in loser and "concurrent export" in loser
    assert os.listdir(parent) == ["7"]


def test_the_export_cli_reports_an_existing_version_in_one_line(exported_model_dir, capsys):
    """Item 4 at the CLI: an explicit existing version is one line, exit 2
    (this already held before the fix; the concurrent tests above are the
    ones that failed)."""
    from keras_compact.cli.main import main

    model, labels, base = exported_model_dir
    code = main(["export", "--model", model, "--labels", labels, "--base-dir", base,
                 "--name", "sections", "--version", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def exported_model_dir(tmp_path_factory, spm_model):
    import json

    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.cli.main import main

    folder = tmp_path_factory.mktemp("cli_export")
    model = TextClassifier(CompactBackbone(vocabulary_size=4000, num_layers=1, num_heads=2,
                                           hidden_dim=16, intermediate_dim=32,
                                           max_sequence_length=16), num_classes=2)
    model.save(str(folder / "classifier.keras"))
    (folder / "labels.json").write_text(json.dumps(
        {"label_names": ["a", "b"], "seq_len": 16, "vocab": spm_model}))
    base = str(folder / "base")
    assert main(["export", "--model", str(folder / "classifier.keras"), "--labels",
                 str(folder / "labels.json"), "--base-dir", base, "--name", "sections"]) == 0
    return str(folder / "classifier.keras"), str(folder / "labels.json"), base


_KILLED = _LOAD_ATOMIC + textwrap.dedent("""
    import os, signal, sys
    kind, target = sys.argv[1], sys.argv[2]
    if kind == "file":
        context = atomic.atomic_file(target)
    elif kind == "directory":
        context = atomic.atomic_directory(target)
    else:
        context = atomic.atomic_numbered_directory(target)
    with context as temp:
        temp = getattr(temp, "temp", temp)
        if kind == "file":
            open(temp, "w").write("half")
        else:
            open(os.path.join(temp, "part"), "w").write("half")
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_killed_writers_temporaries_are_removed_by_the_next_run(tmp_path):
    """Item 9: SIGKILL inside atomic_file / atomic_directory / a numbered
    version leaves hidden temporaries; clean_stale_temporaries (which the next
    checkpoint, export, make-examples and vocab run call) removes them, but
    never a live writer's."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for kind, target in (("file", tmp_path / "model.keras"),
                         ("directory", tmp_path / "epoch-000003"),
                         ("numbered", tmp_path / "export")):
        result = subprocess.run([sys.executable, "-c", _KILLED, atomic.__file__, kind, str(target)], env=env)
        assert result.returncode == -signal.SIGKILL
    left = sorted(os.listdir(tmp_path)) + sorted(os.listdir(tmp_path / "export"))
    assert len([n for n in left if n.startswith(".")]) == 3, left
    with atomic.atomic_file(str(tmp_path / "live.json")) as live:
        open(live, "w").close()
        removed = atomic.clean_stale_temporaries(str(tmp_path))
        removed += atomic.clean_stale_temporaries(str(tmp_path / "export"))
        assert os.path.exists(live)  # this (live) process's temporary stays
    assert len(removed) == 3
    assert sorted(os.listdir(tmp_path)) == ["export", "live.json"]
    assert os.listdir(tmp_path / "export") == []


def test_checkpoint_callback_cleans_a_killed_checkpoint_write(tmp_path):
    """Item 9: the next fit's AtomicBackupAndRestore removes .epoch-* leftovers."""
    import keras

    from keras_compact.training.checkpointing import AtomicBackupAndRestore

    backup_dir = tmp_path / "backup"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", _KILLED, atomic.__file__, "directory",
                    str(backup_dir / "epoch-000001")], env=env)
    assert [n for n in os.listdir(backup_dir) if n.startswith(".epoch-000001.")]
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = AtomicBackupAndRestore(str(backup_dir))
    model.fit(keras.ops.ones((4, 2)), keras.ops.ones((4, 1)), epochs=1, verbose=0,
              callbacks=[callback])
    assert sorted(os.listdir(backup_dir)) == ["epoch-000001", "latest.json"]
