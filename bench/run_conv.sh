#!/usr/bin/env bash
# Convolutional kernels side by side with neural-tangents (bench/anchors/.venv-nt from
# bench/setup.sh), on the same inputs: the CNTK with global average pooling (two 3×3 SAME conv +
# ReLU, GAP, Dense; NTK) and the flatten-readout CNN-GP (three 3×3 SAME conv + ReLU, flatten,
# Dense; NNGP). Records wall and CPU seconds and peak memory (GNU time) of both, and the largest
# relative difference of the two kernels.
#   bench/run_conv.sh [N1 N2 SIDE] [cntk_gap|cnngp_flatten]   (defaults: 200 200 16 cntk_gap)
set -euo pipefail
cd "$(dirname "$0")/.."
n1=${1:-200}; n2=${2:-200}; side=${3:-16}; which=${4:-cntk_gap}
py=$PWD/bench/anchors/.venv-nt/bin/python
[[ -x $py ]] || { echo "bench/anchors/.venv-nt is missing: run bench/setup.sh first" >&2; exit 2; }
cargo build --release --bin gradflow >/dev/null 2>&1
dir=$(mktemp -d)
"$py" -c "import numpy as np; r = np.random.default_rng(0)
np.save('$dir/x1.npy', r.normal(size=($n1, $side, $side, 3)))
np.save('$dir/x2.npy', r.normal(size=($n2, $side, $side, 3)))"
w=1.4142135623730951
{
  for l in 1 2 $([[ $which == cnngp_flatten ]] && echo 3); do
    printf '[[layer]]\nkind = "conv"\nfilter_shape = [3, 3]\npadding = "SAME"\nw_std = %s\n[[layer]]\nkind = "relu"\n' "$w"
  done
  if [[ $which == cntk_gap ]]; then printf '[[layer]]\nkind = "global_avg_pool"\n'; else printf '[[layer]]\nkind = "flatten"\n'; fi
  printf '[[layer]]\nkind = "dense"\n'
} >"$dir/net.toml"
kind=$([[ $which == cntk_gap ]] && echo ntk || echo nngp)
threads=${GRADFLOW_BENCH_THREADS:-2}
/usr/bin/time -f '{"bench": "'"$which"'", "impl": "gradflow", "seconds": %e, "user_seconds": %U, "system_seconds": %S, "peak_rss_kb": %M}' \
  target/release/gradflow --threads "$threads" --quiet kernel --x "$dir/x1.npy" --x2 "$dir/x2.npy" \
  --net "$dir/net.toml" --kind "$kind" --out "$dir/k.npy" 2>&1 | tail -1
(cd "$dir" && "$py" "$OLDPWD/bench/anchors/conv_nt.py" x1.npy x2.npy "$which" 2>/dev/null | grep '^{')
"$py" -c "import numpy as np; a = np.load('$dir/k.npy'); b = np.load('/tmp/nt_$which.npy').reshape(a.shape)
print('{\"max_relative_difference\": %.3e}' % (abs(a - b).max() / abs(b).max()))"
rm -rf "$dir"
