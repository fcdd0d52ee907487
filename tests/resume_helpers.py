"""Shared by the kill-and-resume tests: a CLI run killed with SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time


def pretrain_command(output_dir, vocab, config, *, steps, checkpoint_every, batch_size,
                     seq_len, corpus=None, preset=None):
    """The `keras-compact pretrain` command line of a tiny run (no evaluation)."""
    command = [sys.executable, "-m", "keras_compact.cli.main", "pretrain",
               "--output-dir", output_dir, "--vocab", vocab]
    if corpus is not None:
        command += ["--corpus", corpus]
    if preset is not None:
        command += ["--preset", preset]
    return command + ["--config", config, "--steps", str(steps),
                      "--checkpoint-every", str(checkpoint_every),
                      "--batch-size", str(batch_size), "--seq-len", str(seq_len),
                      "--eval-steps", "0"]


def tensorflow_env():
    return dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")


def latest_checkpoint_epoch(output_dir):
    """The epoch of the newest checkpoint in `output_dir/backup` (0 if none)."""
    pointer = os.path.join(output_dir, "backup", "latest.json")
    if not os.path.exists(pointer):
        return 0
    with open(pointer) as handle:
        return json.load(handle)["epoch"]


def kill_after_checkpoint(command, output_dir, env, epoch, *, timeout, poll, log=None):
    """Runs `command`, sends SIGKILL once `output_dir/backup` holds `epoch` (or
    later), and returns the epoch of the checkpoint the killed run left.

    `log`: optional path that receives the killed run's stdout.
    """
    with open(log or os.devnull, "w") as stdout:
        process = subprocess.Popen(command, env=env, stdout=stdout,
                                   stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline and process.poll() is None:
            if latest_checkpoint_epoch(output_dir) >= epoch:
                break
            time.sleep(poll)
        assert process.poll() is None, "training finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
    return latest_checkpoint_epoch(output_dir)
