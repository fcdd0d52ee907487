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
