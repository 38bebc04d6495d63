#!/usr/bin/env bash
# Matrix-free PCG over MPI at scale: `mpirun -n P gradflow predict --matrix-free` on n random
# points of the 8-dimensional unit sphere (one-hidden-layer ReLU NTK), printing the --json
# summary (iterations, residuals, seconds in kernel evaluation vs communication).
# Usage: bench/mpi_pcg.sh [n] [P]   (needs `cargo build --release --features mpi`)
set -euo pipefail
n=${1:-20000}
p=${2:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$n" "$dir" <<'PY'
import sys, numpy as np
n, d = int(sys.argv[1]), sys.argv[2]
r = np.random.default_rng(0)
x = r.standard_normal((n, 8)); x /= np.linalg.norm(x, axis=1, keepdims=True)
np.save(f"{d}/x.npy", x); np.save(f"{d}/y.npy", np.sin(3 * x[:, 0]) + x[:, 1] * x[:, 2])
np.save(f"{d}/xt.npy", x[:1000])
PY
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
/usr/bin/time -v mpirun --oversubscribe -n "$p" "${GRADFLOW:-target/release/gradflow}" predict \
    --x-train "$dir/x.npy" --y-train "$dir/y.npy" --x-test "$dir/xt.npy" --depth 1 \
    --diag-reg 1e-3 --matrix-free --pcg-rank 400 --pcg-tol 1e-8 --block-rows 512 \
    --out "$dir/pred.npy" --json
