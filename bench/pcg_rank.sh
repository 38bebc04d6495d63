#!/usr/bin/env bash
# Conjugate-gradient iterations against the Nyström preconditioner's rank and the
# regularisation: `gradflow predict --pcg` (one process, stored kernel) on n points of the
# d-dimensional unit sphere (one-hidden-layer ReLU NTK), λ = r·tr(Θ)/n, for each rank m of
# RANKS and each r of REGS, to ‖r‖/‖y‖ ≤ TOL within MAXIT iterations. One line per run: m, r,
# iterations (or "no convergence" and the residual reached), seconds.
# Usage: [RANKS="50 100 300 1000"] [REGS="1e-3 1e-2 1e-1"] [TOL=1e-6] [MAXIT=400] \
#        bench/pcg_rank.sh n d
set -euo pipefail
n=${1:-10000} d=${2:-10}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$n" "$d" "$dir" <<'PY'
import sys, numpy as np
n, d, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = np.random.default_rng(0)
x = r.standard_normal((n, d)); x /= np.linalg.norm(x, axis=1, keepdims=True)
np.save(f"{out}/x.npy", x); np.save(f"{out}/y.npy", np.sin(3 * x[:, 0]) + x[:, 1] * x[:, 2])
np.save(f"{out}/xt.npy", x[:10])
PY
for m in ${RANKS:-50 100 300 1000}; do
  for r in ${REGS:-1e-3 1e-2 1e-1}; do
    start=$(date +%s.%N)
    if "${GRADFLOW:-target/release/gradflow}" predict --x-train "$dir/x.npy" --y-train "$dir/y.npy" \
        --x-test "$dir/xt.npy" --depth 1 --diag-reg "$r" --pcg --pcg-rank "$m" \
        --pcg-tol "${TOL:-1e-6}" --pcg-max-iter "${MAXIT:-400}" --out "$dir/p.npy" --json \
        >"$dir/s.json" 2>"$dir/err.txt"; then
      its=$(python3 -c "import json,sys; s=json.load(open('$dir/s.json'))['pcg']; print(s['iterations'][0], 'iterations, kept', s['preconditioner_rank'])")
    else
      its="no convergence: $(grep -o 'relative residual [0-9.e+-]*' "$dir/err.txt" || tail -1 "$dir/err.txt")"
    fi
    printf 'n %s d %s m %s r %s: %s (%.1f s)\n' "$n" "$d" "$m" "$r" "$its" "$(echo "$(date +%s.%N) - $start" | bc)"
  done
done
