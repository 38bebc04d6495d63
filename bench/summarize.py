"""Reads the JSON lines of bench/run.sh and prints medians and ratios as Markdown."""
import json
import statistics
import sys
from collections import defaultdict

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
times = defaultdict(list)
extra = defaultdict(list)
for r in rows:
    if r["bench"] == "train_step":
        times[r["impl"]].append(r["seconds_per_step"])
        if "gemm_fraction" in r:
            extra["gemm_fraction"].append(r["gemm_fraction"])
        if "gflops" in r:
            extra["step_gflops"].append(r["gflops"])
    elif r["bench"] == "gemm_pair":
        extra["gemm_gflops"].append(r["gflops"])
    elif r["bench"] == "gemm_pair_blocked":
        extra["blocked_gflops"].append(r["gflops"])

med = {k: statistics.median(v) for k, v in times.items()}
ours = med.get("gradflow")
print("| implementation | ms / step (median) | runs | gradflow speed-up |")
print("|---|---:|---:|---:|")
for impl, t in sorted(med.items(), key=lambda kv: kv[1]):
    ratio = t / ours if ours else float("nan")
    print(f"| {impl} | {1e3 * t:.1f} | {len(times[impl])} | {ratio:.2f}× |")
if extra["gemm_gflops"]:
    print()
    print(f"faer GEMM on the step's two products, same run: "
          f"{statistics.median(extra['gemm_gflops']):.1f} GFLOP/s (median); "
          f"gradflow's step runs at {statistics.median(extra['gemm_fraction']):.0%} of it.")
if extra["blocked_gflops"] and extra["step_gflops"]:
    print(f"The same products in the step's 128-neuron blocks, one single-threaded GEMM per "
          f"block and core: {statistics.median(extra['blocked_gflops']):.1f} GFLOP/s; the whole "
          f"step (GEMM flops / step time): {statistics.median(extra['step_gflops']):.1f} GFLOP/s.")
