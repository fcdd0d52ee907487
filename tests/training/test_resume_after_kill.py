"""A pretraining process killed with SIGKILL resumes from its checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

TINY = '{"num_layers": 2, "hidden_dim": 32, "num_heads": 2, "intermediate_dim": 64, "embedding_dim": 16}'


def _command(output_dir, vocab):
    return [
        sys.executable, "-m", "keras_compact.cli.main", "pretrain",
        "--output-dir", output_dir, "--vocab", vocab, "--config", TINY,
        "--steps", "40", "--checkpoint-every", "5", "--batch-size", "8",
        "--seq-len", "32", "--eval-steps", "0",
    ]


def test_sigkill_then_rerun_resumes_from_the_checkpoint(tmp_path, spm_model):
    output_dir = str(tmp_path / "run")
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    pointer = os.path.join(output_dir, "backup", "latest.json")
    first = subprocess.Popen(
        _command(output_dir, spm_model), env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:
        if os.path.exists(pointer):
            with open(pointer) as handle:
                if json.load(handle)["epoch"] >= 2:
                    break
        time.sleep(0.2)
    assert first.poll() is None, "training finished before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    with open(pointer) as handle:
        killed_at = json.load(handle)["epoch"]
    assert killed_at >= 2
    assert not os.path.exists(os.path.join(output_dir, "pretrainer.keras"))

    second = subprocess.run(
        _command(output_dir, spm_model), env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"Resumed from backup at epoch {killed_at}" in second.stdout
    # It trained only the remaining epochs: Keras numbers them from the resume.
    assert f"Epoch {killed_at + 1}/8" in second.stdout
    assert "Epoch 1/8" not in second.stdout
    assert os.path.exists(os.path.join(output_dir, "pretrainer.keras"))
    assert os.path.exists(os.path.join(output_dir, "curves.png"))
