#!/usr/bin/env bash
# Runs the transport benchmarks side by side with POT (bench/anchors/.venv from bench/setup.sh)
# on the same problems (written by the POT script), interleaved over rounds, and prints a
# Markdown table of medians, speed-ups and value differences.
#   bench/run_transport.sh [ROUNDS]        GRADFLOW_BENCH_SCALE=1 adds the scale runs.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
export GRADFLOW_BENCH_THREADS=${GRADFLOW_BENCH_THREADS:-2}
export OMP_NUM_THREADS=$GRADFLOW_BENCH_THREADS OPENBLAS_NUM_THREADS=$GRADFLOW_BENCH_THREADS
py=$PWD/bench/anchors/.venv/bin/python
if [[ ! -x $py ]]; then
  echo "bench/anchors/.venv is missing: run bench/setup.sh first" >&2
  exit 2
fi
data=$PWD/target/transport-bench
export GRADFLOW_TRANSPORT_DATA=$data
cargo bench --no-run --bench transport >/dev/null 2>&1
log=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds" >&2
  (cd bench/anchors && "$py" transport_pot.py "$data" 2>/dev/null) | grep '^{' >>"$log"
  cargo bench --bench transport 2>/dev/null | grep '^{' >>"$log"
done
python3 bench/summarize_transport.py "$log"
rm -f "$log"
