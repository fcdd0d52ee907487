#!/usr/bin/env bash
# Runs tools/gpu_check.py (issue 21's GPU check, <= 8 minutes) on a lent device machine.
#
# The device machine has no network: it has jax (CUDA), torch and
# transformers, but not keras, keras-hub or tensorflow. So:
#   1. here (network), once:  bash tools/gpu_check.sh --fetch-wheels
#      downloads keras, keras-hub, namex and optree wheels for its Python 3.12
#      into .whl/ (about 5 MB; ignored by git through .git/info/exclude);
#   2. through the device tool: command "bash tools/gpu_check.sh", carry [".whl"],
#      timeout_s 560. Figures come back in $OUT/gpu_check.json.
# With a .venv in the repository it uses that; with keras importable it uses
# what is there. keras_compact itself is imported from the repository
# (PYTHONPATH), never installed. Extra arguments go to gpu_check.py
# (e.g. --budget 300, --smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--fetch-wheels" ]; then
  grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> "$(git rev-parse --git-path info/exclude)"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl \
    keras==3.15.1 keras-hub==0.32.0 namex==0.1.0 optree==0.20.0
  ls -la .whl
  exit 0
fi
if [ -f .venv/bin/activate ]; then
  . .venv/bin/activate
elif ! python3 -c "import keras, keras_hub" 2>/dev/null; then
  if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  else
    echo "keras / keras-hub are not importable and .whl/ is empty: run 'bash tools/gpu_check.sh --fetch-wheels' here and carry .whl." >&2
    exit 2
  fi
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec python3 tools/gpu_check.py "$@"
