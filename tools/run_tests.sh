#!/usr/bin/env bash
# Sets everything up, then runs the test suite: every test on the TensorFlow
# backend, and the model tests (marker multi_backend) again on JAX and torch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0
status=0
KERAS_BACKEND=tensorflow python -m pytest -q -n 2 --durations=15 "$@" || status=$?
for backend in jax torch; do
  KERAS_BACKEND=$backend python -m pytest -q -n 2 -m multi_backend "$@" || {
    rc=$?; [ "$rc" -eq 5 ] || status=$rc; }
done
exit $status
