"""Medians and speed-ups of bench/run_kernels.sh's JSON lines, as Markdown."""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    key = tuple((k, r[k]) for k in sorted(r) if k not in ("impl", "seconds"))
    impl = "gradflow" if r["impl"] == "gradflow" else "anchor"
    runs[key][impl].append(r["seconds"])
    if impl == "anchor":
        runs[key]["anchor_name"] = r["impl"]

print("| workload | gradflow (s) | anchor (s) | speed-up |")
print("|---|---:|---:|---:|")
for key, v in runs.items():
    label = ", ".join(f"{k}={val}" for k, val in key)
    ours = statistics.median(v["gradflow"]) if v["gradflow"] else float("nan")
    theirs = statistics.median(v["anchor"]) if v["anchor"] else float("nan")
    print(f"| {label} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}× |")
