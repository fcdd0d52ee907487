#!/usr/bin/env bash
# Sets everything up, then runs the main job on the bundled default data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
. .venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2
keras-compact main-job "$@"
