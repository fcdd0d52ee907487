#!/usr/bin/env bash
# Sets everything up, then runs the test suite: the tests on the TensorFlow
# backend, and the model tests (marker multi_backend) again on JAX and torch.
#
#   bash tools/run_tests.sh           # what CI runs: every test not marked slow
#   bash tools/run_tests.sh --all     # also the slow tier (notebooks, long
#                                     # end-to-end runs, multi-process training)
#   bash tools/run_tests.sh -k parity # extra pytest arguments pass through
set -euo pipefail
cd "$(dirname "$0")/.."
tier="not slow"
if [ "${1:-}" = "--all" ]; then tier=""; shift; fi
bash tools/setup_env.sh
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0
status=0
KERAS_BACKEND=tensorflow python -m pytest -q -n 2 --durations=15 \
  ${tier:+-m "$tier"} "$@" || status=$?
for backend in jax torch; do
  KERAS_BACKEND=$backend python -m pytest -q -n 2 --durations=5 \
    -m "multi_backend${tier:+ and $tier}" "$@" || {
    rc=$?; [ "$rc" -eq 5 ] || status=$rc; }
done
exit $status
