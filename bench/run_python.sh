#!/usr/bin/env bash
# gradflow from Python against the same kernels in Rust (benches/kernels.rs, the library call
# `Network::kernels`) and in neural-tangents (bench/anchors/.venv-nt, when bench/setup.sh has
# built it, or the Python that GRADFLOW_NT_PYTHON names), interleaved over rounds on the same machine; prints the medians and the ratios.
# Needs the package installed in .venv (./test.sh does it).   bench/run_python.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
export GRADFLOW_BENCH_THREADS=${GRADFLOW_BENCH_THREADS:-2}
nt=${GRADFLOW_NT_PYTHON:-$PWD/bench/anchors/.venv-nt/bin/python}
cargo bench --no-run --bench kernels >/dev/null 2>&1
log=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds" >&2
  cargo bench --bench kernels -- analytic 2>/dev/null | grep '^{' | grep '"analytic"' | grep '"b_std": null' >>"$log"
  .venv/bin/python bench/python_kernels.py | grep '^{' >>"$log"
  if [[ -x $nt ]]; then
    (cd bench/anchors && "$nt" kernels_nt.py --analytic-only 2>/dev/null) | grep '^{' | grep '"analytic"' | grep '"b_std": null' >>"$log" || true
  fi
done
python3 bench/summarize_python.py "$log"
rm -f "$log"
