# Sourced by the MPI benchmarks (bench/mpi_pcg.sh, bench/mpi_matvec.sh): reads n (default
# 20000) and P (default 2) from the script's arguments, writes n random points of the
# 8-dimensional unit sphere to "$dir"/x.npy (targets y.npy = sin 3x₁ + x₂x₃, the first 1000
# points as the test set xt.npy) in a temporary folder removed on exit, and lets mpirun run
# as root.
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
