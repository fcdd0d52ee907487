#!/usr/bin/env bash
# The speed report in one run (TensorFlow backend; about 20 minutes on 2 cores):
# the CPU XLA/oneDNN choice, the train step vs keras-hub's AlbertBackbone, and
# this checkout vs an earlier version (train step and inference).
#   bash tools/benchmarks/bench_speed_report.sh REF [REPORT_FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."
ref=${1:?usage: bash tools/benchmarks/bench_speed_report.sh REF [REPORT_FILE]}
report=${2:-speed_report.txt}
export KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=2
{
  echo "# keras_compact speed report: $(git rev-parse --short HEAD) vs $ref, $(date -u +%FT%TZ)"
  echo "## tools/benchmarks/bench_jit_choice.py"; python tools/benchmarks/bench_jit_choice.py
  echo "## tools/benchmarks/bench_pretrain_step.py"; python tools/benchmarks/bench_pretrain_step.py
  echo "## tools/benchmarks/bench_vs_previous.py --ref $ref"; python tools/benchmarks/bench_vs_previous.py --ref "$ref"
} 2>&1 | grep -v "^[WIE]0000\|absl::\|UserWarning\|data_adapter" | tee "$report"
