#!/usr/bin/env bash
# The cost of one matrix-free product with Θ + λI over MPI: `mpirun -n P gradflow predict
# --matrix-free` on n random points of the 8-dimensional unit sphere (one-hidden-layer ReLU
# NTK), with a loose CG tolerance so that the run is a few products (the Nyström
# preconditioner of 50 landmarks and 1000 test rows are small beside them). Prints n, P, the
# products, rank 0's wall and CPU seconds in them (`timing.products_s`, `products_cpu_s`: CPU
# time is the measure on a machine shared with other work) and its kernel / communication
# seconds, then the whole job's CPU seconds (`/usr/bin/time`).
# Usage: [TOL=0.05] bench/mpi_matvec.sh [n] [P]   (needs `cargo build --release --features mpi`)
set -euo pipefail
# shellcheck source=bench/mpi_common.sh
source "$(dirname "$0")/mpi_common.sh"
/usr/bin/time -f "job: %e s wall, %U s user, %S s system, %M KiB max resident (one rank)" \
    mpirun --oversubscribe -n "$p" "${GRADFLOW:-target/release/gradflow}" predict \
    --x-train "$dir/x.npy" --y-train "$dir/y.npy" --x-test "$dir/xt.npy" --depth 1 \
    --diag-reg 1e-3 --matrix-free --pcg-rank 50 --pcg-tol "${TOL:-0.05}" --pcg-max-iter 50 \
    --block-rows 512 --out "$dir/pred.npy" --json >"$dir/summary.json"
python3 - "$n" "$p" "$dir/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[3]))["pcg"]
t, k = s["timing"], s["products"]
print("n", sys.argv[1], "P", sys.argv[2], "products", k, "iterations", s["iterations"])
print("rank 0 per product: %.3f s wall, %.3f s CPU" % (t["products_s"] / k, t["products_cpu_s"] / k))
print("rank 0 totals: kernel %.2f s, communication %.3f s, all %.2f s"
      % (t["kernel_s"], t["communication_s"], t["total_s"]))
PY
