from keras_compact.cli.main import main


def test_summary_prints_parameter_count(capsys):
    assert main(["summary", "--preset", "albert_base"]) == 0
    assert "albert_base: 11,683,584 parameters" in capsys.readouterr().out


def test_summary_with_config_overrides(capsys):
    config = '{"num_layers": 2, "hidden_dim": 64, "num_heads": 2, "intermediate_dim": 128, "vocabulary_size": 500}'
    assert main(["summary", "--preset", "albert_base", "--config", config]) == 0
    assert "parameters" in capsys.readouterr().out


def test_unknown_preset_is_a_clear_error(capsys):
    assert main(["summary", "--preset", "albert_huge"]) == 2
    err = capsys.readouterr().err
    assert "Unknown preset 'albert_huge'" in err and "albert_base" in err


def test_bad_config_json_is_a_clear_error(capsys):
    assert main(["summary", "--config", "{num_layers: 2}"]) == 2
    assert "--config is not valid JSON" in capsys.readouterr().err


def test_a_command_starts_without_tensorflow_start_up_lines():
    """No "Could not find cuda drivers" / "failed call to cuInit" / CPU
    feature lines on a machine without a GPU, unless the user asks for them."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = "tensorflow"
    # The console script, as users run it (`python -m` imports the package first).
    script = os.path.join(os.path.dirname(sys.executable), "keras-compact")
    result = subprocess.run(
        [script, "summary", "--preset", "tinybert_4"],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Total params" in result.stdout
    assert result.stderr.strip() == "", result.stderr[-2000:]
