"""Medians over rounds of bench/run_python.sh's JSON lines, and the ratios: Python / Rust for
the same kernel (≤ 1.05 is the target) and neural-tangents / Python (≥ 10)."""
import collections
import json
import statistics
import sys

rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    impl = "rust" if r["impl"] == "gradflow" else ("python" if "Python" in r["impl"] else "nt")
    rows[(r["bench"], r.get("depth"), impl)].append(r["seconds"])
med = {k: statistics.median(v) for k, v in rows.items()}
print("| measurement | Rust | Python | neural-tangents | Python / Rust | neural-tangents / Python |")
print("|---|---|---|---|---|---|")
for bench, depth, impl in sorted(k for k in med if k[2] == "python"):
    if bench.startswith("overhead"):
        print(f"| {bench} (per call) | | {med[(bench, depth, 'python')] * 1e6:.1f} µs | | | |")
        continue
    py = med[(bench, depth, "python")]
    rust = med.get((bench, depth, "rust"))
    nt = med.get((bench, depth, "nt"))
    cells = [
        f"{bench}, depth {depth}",
        f"{rust * 1e3:.1f} ms" if rust else "—",
        f"{py * 1e3:.1f} ms",
        f"{nt * 1e3:.1f} ms" if nt else "not run",
        f"{py / rust:.3f}" if rust else "—",
        f"{nt / py:.1f}×" if nt else "—",
    ]
    print("| " + " | ".join(cells) + " |")
print(f"\nrounds: {max(len(v) for v in rows.values())}")
