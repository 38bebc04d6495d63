#!/usr/bin/env bash
# The scale run: `mpirun -n P gradflow predict --matrix-free` by preconditioned CG on n points
# of the d-dimensional unit sphere (one-hidden-layer ReLU NTK, depth 1), the kernel never
# stored. Writes into DIR: the inputs, pred.npy, summary.json (the --json summary: CG
# iterations and residuals, rank 0's seconds in kernel evaluation, communication and
# products, wall and CPU), time.txt (/usr/bin/time -v of the whole job) and load.txt (the
# load average every 30 s while it runs).
# Usage: [RANK=1000] [REG=0.1] [TOL=1e-4] [BLOCK=256] bench/mpi_scale.sh n d P DIR
#   (needs `cargo build --release --features mpi`; run it with `nice` on a shared machine)
set -euo pipefail
n=${1:?n} d=${2:?d} p=${3:?P} dir=${4:?DIR}
mkdir -p "$dir"
python3 - "$n" "$d" "$dir" <<'PY'
import sys, numpy as np
n, d, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = np.random.default_rng(0)
x = r.standard_normal((n, d)); x /= np.linalg.norm(x, axis=1, keepdims=True)
np.save(f"{out}/x.npy", x); np.save(f"{out}/y.npy", np.sin(3 * x[:, 0]) + x[:, 1] * x[:, 2])
xt = r.standard_normal((1000, d)); xt /= np.linalg.norm(xt, axis=1, keepdims=True)
np.save(f"{out}/xt.npy", xt); np.save(f"{out}/yt.npy", np.sin(3 * xt[:, 0]) + xt[:, 1] * xt[:, 2])
PY
(while sleep 30; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; done) >"$dir/load.txt" &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
/usr/bin/time -v -o "$dir/time.txt" mpirun --oversubscribe -n "$p" \
    "${GRADFLOW:-target/release/gradflow}" predict \
    --x-train "$dir/x.npy" --y-train "$dir/y.npy" --x-test "$dir/xt.npy" --depth 1 \
    --diag-reg "${REG:-0.1}" --matrix-free --pcg-rank "${RANK:-1000}" --pcg-tol "${TOL:-1e-4}" \
    --block-rows "${BLOCK:-256}" --out "$dir/pred.npy" --json >"$dir/summary.json"
python3 - "$dir" <<'PY'
import json, sys, numpy as np
d = sys.argv[1]
s = json.load(open(f"{d}/summary.json"))["pcg"]
t, k = s["timing"], s["products"]
print("iterations", s["iterations"], "products", k, "landmarks", s["landmarks"], "kept", s["preconditioner_rank"], "lambda", s["lambda"])
print("final residual", [r[-1] for r in s["residuals"]])
print("rank 0: products %.1f s wall, %.1f s CPU; per product %.2f s wall, %.2f s CPU"
      % (t["products_s"], t["products_cpu_s"], t["products_s"] / k, t["products_cpu_s"] / k))
print("rank 0: kernel %.1f s, communication %.2f s, total %.1f s" % (t["kernel_s"], t["communication_s"], t["total_s"]))
p, yt = np.load(f"{d}/pred.npy").ravel(), np.load(f"{d}/yt.npy").ravel()
print("test relative error %.4f" % (np.linalg.norm(p - yt) / np.linalg.norm(yt)))
PY
