#!/usr/bin/env bash
# Matrix-free PCG over MPI at scale: `mpirun -n P gradflow predict --matrix-free` on n random
# points of the 8-dimensional unit sphere (one-hidden-layer ReLU NTK), printing the --json
# summary (iterations, residuals, seconds in kernel evaluation vs communication).
# Usage: bench/mpi_pcg.sh [n] [P]   (needs `cargo build --release --features mpi`)
set -euo pipefail
# shellcheck source=bench/mpi_common.sh
source "$(dirname "$0")/mpi_common.sh"
/usr/bin/time -v mpirun --oversubscribe -n "$p" "${GRADFLOW:-target/release/gradflow}" predict \
    --x-train "$dir/x.npy" --y-train "$dir/y.npy" --x-test "$dir/xt.npy" --depth 1 \
    --diag-reg 1e-3 --matrix-free --pcg-rank 400 --pcg-tol 1e-8 --block-rows 512 \
    --out "$dir/pred.npy" --json
