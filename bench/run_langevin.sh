#!/usr/bin/env bash
# Runs the Langevin benchmarks (benches/langevin.rs) and blackjax's sgld on the same chains
# workload (bench/anchors/.venv from bench/setup.sh); prints the JSON lines of both.
#   bench/run_langevin.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADFLOW_BENCH_THREADS=${GRADFLOW_BENCH_THREADS:-2}
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=$GRADFLOW_BENCH_THREADS"
py=$PWD/bench/anchors/.venv/bin/python
if [[ ! -x $py ]]; then
  echo "bench/anchors/.venv is missing: run bench/setup.sh first" >&2
  exit 2
fi
cargo bench --no-run --bench langevin >/dev/null 2>&1
(cd bench/anchors && taskset -c 0-$((GRADFLOW_BENCH_THREADS - 1)) "$py" langevin_blackjax.py 2>/dev/null) | grep '^{'
cargo bench --bench langevin 2>/dev/null | grep '^{'
