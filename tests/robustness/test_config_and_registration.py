"""Unknown config keys are errors naming the closest key (issue 14 item 5),
--student-config errors name --student-config (item 10), and `import
keras_compact` registers every class a saved file can name (item 12)."""

import ast
import os
import subprocess
import sys
import textwrap

import pytest

import keras_compact
from keras_compact import CompactBackbone
from keras_compact.cli.main import main

TINY = dict(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=8)


def test_from_preset_and_the_constructor_reject_a_misspelt_key():
    """Item 5: `hiden_dim=8` is an error naming `hidden_dim`, not the preset."""
    with pytest.raises(ValueError, match="'hiden_dim'.*did you mean 'hidden_dim'"):
        CompactBackbone.from_preset("tinybert_4", hiden_dim=8)
    with pytest.raises(ValueError, match="'num_layerz'.*did you mean 'num_layers'"):
        CompactBackbone(**TINY, num_layerz=2)
    # What get_config writes still round-trips.
    backbone = CompactBackbone(**TINY, name="b")
    assert CompactBackbone.from_config(backbone.get_config()).name == "b"


@pytest.mark.parametrize("command", [
    ["summary", "--preset", "tinybert_4"],
    ["pretrain", "--output-dir", "{tmp}/p", "--vocab", "{vocab}", "--steps", "1",
     "--checkpoint-every", "1", "--batch-size", "2", "--seq-len", "16", "--eval-steps", "0"],
    ["finetune", "--output-dir", "{tmp}/f", "--vocab", "{vocab}", "--epochs", "1",
     "--max-train-examples", "2", "--max-eval-examples", "2", "--batch-size", "2",
     "--seq-len", "16"],
    ["distill", "--output-dir", "{tmp}/d", "--vocab", "{vocab}", "--teacher", "{vocab}",
     "--num-variants", "0"],
])
def test_every_config_flag_rejects_a_misspelt_key(command, tmp_path, spm_model, capsys):
    """Item 5 (and 10): summary/pretrain/finetune --config and distill
    --student-config reject {"num_layerz": 4}, naming the flag and the key,
    before anything is written."""
    flag = "--student-config" if command[0] == "distill" else "--config"
    argv = [a.format(tmp=tmp_path, vocab=spm_model) for a in command]
    assert main(argv + [flag, '{"num_layerz": 4}']) == 2
    err = capsys.readouterr().err
    assert f"{flag} has an unknown key 'num_layerz'; did you mean 'num_layers'?" in err
    assert len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_student_config_json_errors_name_student_config(tmp_path, spm_model, capsys):
    """Item 10: a malformed --student-config is reported as --student-config."""
    assert main(["distill", "--output-dir", str(tmp_path / "d"), "--vocab", spm_model,
                 "--teacher", spm_model, "--student-config", "[1]"]) == 2
    err = capsys.readouterr().err
    assert "--student-config must be a JSON object" in err and " --config" not in err


def _registered_classes():
    """(module, class) of every class decorated with register_keras_serializable."""
    root = os.path.dirname(keras_compact.__file__)
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and any(
                        "register_keras_serializable" in ast.unparse(d)
                        for d in node.decorator_list):
                    found.append(node.name)
    return found


def test_import_registers_every_serializable_class_in_a_fresh_process():
    """Item 12: after only `import keras_compact`, every class the package
    registers is found by name (a fresh process: no other module imported)."""
    names = _registered_classes()
    assert "WarmupPolynomialDecay" in names and "CompactBackbone" in names
    code = textwrap.dedent(f"""
        import keras, keras_compact
        missing = [n for n in {names!r}
                   if keras.saving.get_registered_object("keras_compact>" + n) is None]
        print("missing", missing)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, KERAS_BACKEND="tensorflow"))
    assert "missing []" in result.stdout, result.stdout + result.stderr[-2000:]


def test_a_saved_compiled_pretrainer_loads_after_only_importing_keras_compact(tmp_path):
    """Item 12: pretrainer.keras (LAMB + WarmupPolynomialDecay) loads in a
    fresh process that imports nothing but keras and keras_compact."""
    from keras_compact.training.pretrain import build_pretrainer

    pretrainer = build_pretrainer(dict(TINY, embedding_dim=4), batch_size=2, total_steps=10,
                                  learning_rate=1e-3, warmup_steps=2)
    path = str(tmp_path / "pretrainer.keras")
    pretrainer.save(path)
    code = textwrap.dedent(f"""
        import keras, keras_compact
        model = keras.saving.load_model({path!r})
        print(type(model).__name__, type(model.optimizer.learning_rate).__name__
              if not hasattr(model.optimizer, "_learning_rate") else
              type(model.optimizer._learning_rate).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, KERAS_BACKEND="tensorflow"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "AlbertPretrainer WarmupPolynomialDecay" in result.stdout
