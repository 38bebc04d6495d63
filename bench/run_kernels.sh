#!/usr/bin/env bash
# Runs the kernel benchmarks side by side with neural-tangents (its own pinned venv,
# bench/anchors/.venv-nt from bench/setup.sh), interleaved over rounds, and prints a Markdown
# table of medians and speed-ups.   bench/run_kernels.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
export GRADFLOW_BENCH_THREADS=${GRADFLOW_BENCH_THREADS:-2}
py=$PWD/bench/anchors/.venv-nt/bin/python
if [[ ! -x $py ]]; then
  echo "bench/anchors/.venv-nt is missing: run bench/setup.sh first" >&2
  exit 2
fi
cargo bench --no-run --bench kernels >/dev/null 2>&1
log=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds" >&2
  cargo bench --bench kernels 2>/dev/null | grep '^{' >>"$log"
  (cd bench/anchors && "$py" kernels_nt.py 2>/dev/null) | grep '^{' >>"$log"
done
python3 bench/summarize_kernels.py "$log"
rm -f "$log"
