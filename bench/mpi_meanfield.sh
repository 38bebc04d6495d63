#!/usr/bin/env bash
# A two-layer net of width M sharded over P ranks: `mpirun -n P gradflow run` (ReLU, γ = 1,
# plain SGD, full batch) on n points of the d-dimensional sphere, for S1 and S2 steps; prints
# the time per step ((t(S2) − t(S1)) / (S2 − S1), wall and CPU: CPU time is the measure on a
# machine shared with other work) and every rank's peak resident memory (`/usr/bin/time` around
# each rank). With P = 0 it runs one process without mpirun.
# Usage: bench/mpi_meanfield.sh [M] [P] [n] [d] [S1] [S2]
#        (needs `cargo build --release --features mpi`)
set -euo pipefail
m=${1:-1000000}
p=${2:-2}
n=${3:-1000}
d=${4:-10}
s1=${5:-1}
s2=${6:-3}
bin=$(realpath "${GRADFLOW:-target/release/gradflow}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for s in "$s1" "$s2"; do
    cat >"$dir/spec$s.toml" <<TOML
seed = 0
[data]
kind = "sphere"
n = $n
dim = $d
target = { kind = "harmonic", degree = 1 }
[model]
kind = "two_layer"
width = $m
activation = "relu"
gamma = 1.0
[[optimizer]]
kind = "sgd"
lr = 1.0
[train]
steps = $s
record_every = $s
TOML
    timing="rank %e s wall %U s user %S s system %M KiB max resident"
    if [ "$p" = 0 ]; then
        /usr/bin/time -f "$timing" "$bin" run "$dir/spec$s.toml" --out "$dir/out$s" \
            2>"$dir/log$s" >/dev/null
    else
        mpirun --oversubscribe -n "$p" /usr/bin/time -f "$timing" "$bin" run \
            "$dir/spec$s.toml" --out "$dir/out$s" 2>"$dir/log$s" >/dev/null
    fi
    grep "max resident" "$dir/log$s" | sed "s/^/M=$m P=$p n=$n d=$d steps=$s: /"
done
python3 - "$dir/log$s1" "$dir/log$s2" "$s1" "$s2" <<'PY'
import re, sys
def worst(path):
    rows = [l for l in open(path) if "max resident" in l]
    wall = max(float(re.search(r"([\d.]+) s wall", l).group(1)) for l in rows)
    cpu = sum(float(re.search(r"([\d.]+) s user", l).group(1))
              + float(re.search(r"([\d.]+) s system", l).group(1)) for l in rows)
    return wall, cpu
(w1, c1), (w2, c2) = worst(sys.argv[1]), worst(sys.argv[2])
k = int(sys.argv[4]) - int(sys.argv[3])
print("per step: %.2f s wall, %.2f CPU-s (all ranks)" % ((w2 - w1) / k, (c2 - c1) / k))
PY
