#!/usr/bin/env bash
# Convolutional kernels side by side with neural-tangents 0.6.5 in one run, on the same inputs:
# the CNTK with global average pooling (two 3×3 SAME conv + ReLU, GAP, Dense; NTK) and the
# flatten-readout CNN-GP (three 3×3 SAME conv + ReLU, flatten, Dense; NNGP). Records wall and CPU
# seconds and peak memory of both (GNU time; the Python side's own process_time and ru_maxrss),
# the largest relative difference of the two kernels, the machine's f64 FMA peak
# (bench/peak_flops.c) and gradflow's flop rate on the pair computation.
#   bench/run_conv.sh [N1 N2 SIDE] [cntk_gap|cnngp_flatten] [NT_BATCH]
#       (defaults: 200 200 16 cntk_gap 10)
# Environment: GRADFLOW_NT_PYTHON — the Python of neural-tangents' pinned environment
# (default bench/anchors/.venv-nt/bin/python, made by bench/setup.sh); GRADFLOW_BENCH_THREADS —
# threads of both sides (default 2); GRADFLOW_BENCH_NT_ROWS — compute neural-tangents' kernel on
# only the first rows of x1 (its time then scales by N1/rows: stated in its JSON line);
# GRADFLOW_BENCH_NO_BUILD=1 — use target/release/gradflow as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
n1=${1:-200}; n2=${2:-200}; side=${3:-16}; which=${4:-cntk_gap}; batch=${5:-10}
py=${GRADFLOW_NT_PYTHON:-$PWD/bench/anchors/.venv-nt/bin/python}
[[ -x $py ]] || { echo "$py is missing: run bench/setup.sh or set GRADFLOW_NT_PYTHON" >&2; exit 2; }
[[ -n ${GRADFLOW_BENCH_NO_BUILD:-} ]] || cargo build --release --bin gradflow >/dev/null 2>&1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cc -O2 -mavx2 -mfma -pthread bench/peak_flops.c -o "$dir/peak_flops"
threads=${GRADFLOW_BENCH_THREADS:-2}
"$dir/peak_flops" 1
"$dir/peak_flops" "$threads"
"$py" -c "import numpy as np; r = np.random.default_rng(0)
np.save('$dir/x1.npy', r.normal(size=($n1, $side, $side, 3)))
np.save('$dir/x2.npy', r.normal(size=($n2, $side, $side, 3)))"
w=1.4142135623730951
depth=$([[ $which == cnngp_flatten ]] && echo 3 || echo 2)
{
  for _ in $(seq "$depth"); do
    printf '[[layer]]\nkind = "conv"\nfilter_shape = [3, 3]\npadding = "SAME"\nw_std = %s\n[[layer]]\nkind = "relu"\n' "$w"
  done
  if [[ $which == cntk_gap ]]; then printf '[[layer]]\nkind = "global_avg_pool"\n'; else printf '[[layer]]\nkind = "flatten"\n'; fi
  printf '[[layer]]\nkind = "dense"\n'
} >"$dir/net.toml"
kind=$([[ $which == cntk_gap ]] && echo ntk || echo nngp)
/usr/bin/time -o "$dir/time.json" -f '{"bench": "'"$which"'", "impl": "gradflow", "seconds": %e, "user_seconds": %U, "system_seconds": %S, "peak_rss_kb": %M}' \
  target/release/gradflow --threads "$threads" --quiet kernel --x "$dir/x1.npy" --x2 "$dir/x2.npy" \
  --net "$dir/net.toml" --kind "$kind" --out "$dir/k.npy"
cat "$dir/time.json"
# Flops of the pair computation, per pair of images (P positions; executed operations, the
# windows' zero-weighted padding entries included): full path (GAP) — Σ⁰ 2CP² + P²; each
# window 2·3 fused multiply-adds per entry per buffer (Θ skipped at the first layer); each
# ReLU map 53 flops per entry (src/kernel/conv/relu.rs: 12 Horner steps, two square roots, the
# Dense update; 2 less at the first layer, whose Θ is 0); the pooled sums 2P². Same-position
# path (flatten): the same per position instead of per pair of positions, its ReLU map (the
# dense kernels' a/b-ReLU pairs) ≈ 75 flops per entry.
"$py" - "$dir/time.json" "$n1" "$n2" "$side" "$which" "$depth" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); n1, n2, side, which, depth = sys.argv[2:]
n1, n2, side, depth = int(n1), int(n2), int(side), int(depth)
p = side * side
relu = lambda l: (51 if l == 0 else 53) if which == "cntk_gap" else 75
per_entry = 2 * 3 + 1 + sum(12 * (1 if l == 0 else 2) + relu(l) for l in range(depth)) + 2
pairs = n1 * n2 + n1 + n2  # cross pairs, and each input with itself
flops = pairs * per_entry * (p * p if which == "cntk_gap" else p)
cpu = t["user_seconds"] + t["system_seconds"]
print(json.dumps({"bench": which, "gradflow_flops": flops, "gflops_per_cpu_second": flops / cpu / 1e9,
                  "gflops_wall": flops / t["seconds"] / 1e9}))
PY
rows=${GRADFLOW_BENCH_NT_ROWS:-$n1}
"$py" -c "import numpy as np; np.save('$dir/x1nt.npy', np.load('$dir/x1.npy')[:$rows])"
/usr/bin/time -o "$dir/nt_time.json" -f '{"bench": "'"$which"'", "impl": "neural-tangents (process)", "seconds": %e, "user_seconds": %U, "system_seconds": %S, "peak_rss_kb": %M, "rows": '"$rows"'}' \
  "$py" bench/anchors/conv_nt.py "$dir/x1nt.npy" "$dir/x2.npy" "$which" "$batch" 2>/dev/null | grep '^{' || true
cat "$dir/nt_time.json"
"$py" -c "import numpy as np; a = np.load('$dir/k.npy')[:$rows]; b = np.load('/tmp/nt_$which.npy').reshape(a.shape)
print('{\"max_relative_difference\": %.3e}' % (abs(a - b).max() / abs(b).max()))"
