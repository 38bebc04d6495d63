#!/usr/bin/env bash
# Runs gradflow's benchmarks side by side with their anchors, interleaved over several rounds
# on the same machine, and prints the median of each with the ratios as a Markdown table
# (paste it into bench/RESULTS.md with this command line).
#
#   bench/setup.sh            # once: the anchors' venv (torch, jax, numpy; pinned)
#   bench/run.sh [ROUNDS]     # default 3 rounds; GRADFLOW_BENCH_THREADS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
export GRADFLOW_BENCH_THREADS=${GRADFLOW_BENCH_THREADS:-2}
py=$PWD/bench/anchors/.venv/bin/python
if [[ ! -x $py ]]; then
  echo "bench/anchors/.venv is missing: run bench/setup.sh first" >&2
  exit 2
fi
cargo bench --no-run --bench train_step >/dev/null 2>&1
log=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds" >&2
  cargo bench --bench train_step 2>/dev/null | grep '^{' >>"$log"
  (cd bench/anchors && "$py" train_step_torch.py 2>/dev/null) >>"$log"
  (cd bench/anchors && "$py" train_step_jax.py 2>/dev/null) >>"$log"
done
"$py" bench/summarize.py "$log"
rm -f "$log"
