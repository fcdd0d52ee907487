"""A pretraining process killed with SIGKILL resumes from its checkpoint."""

import os
import subprocess

from tests.resume_helpers import kill_after_checkpoint
from tests.resume_helpers import pretrain_command
from tests.resume_helpers import tensorflow_env

TINY = '{"num_layers": 2, "hidden_dim": 32, "num_heads": 2, "intermediate_dim": 64, "embedding_dim": 16}'


def _command(output_dir, vocab):
    return pretrain_command(output_dir, vocab, TINY, steps=40, checkpoint_every=5,
                            batch_size=8, seq_len=32)


def test_sigkill_then_rerun_resumes_from_the_checkpoint(tmp_path, spm_model):
    output_dir = str(tmp_path / "run")
    env = tensorflow_env()
    killed_at = kill_after_checkpoint(_command(output_dir, spm_model), output_dir, env,
                                      epoch=2, timeout=240, poll=0.2)
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
