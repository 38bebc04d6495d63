"""Markdown table of the transport benchmark log: medians over rounds, speed-up of gradflow
against each anchor implementation, and the difference of the values."""
import json, statistics, sys
from collections import defaultdict

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
times, values, extra = defaultdict(list), {}, {}
for r in rows:
    key = (r["bench"], r["impl"])
    times[key].append(r["seconds"])
    values[key] = r["value"]
    extra[key] = {k: v for k, v in r.items() if k not in ("bench", "impl", "seconds", "value")}
print("| bench | impl | median s | gradflow speed-up | value | |Δ value| |")
print("|---|---|---|---|---|---|")
for bench in sorted({b for b, _ in times}):
    ours = times.get((bench, "gradflow"))
    for (b, impl), ts in sorted(times.items()):
        if b != bench:
            continue
        t = statistics.median(ts)
        speed = "" if impl == "gradflow" or not ours else f"{t / statistics.median(ours):.2f}×"
        diff = ""
        if impl != "gradflow" and (bench, "gradflow") in values:
            diff = f"{abs(values[(bench, impl)] - values[(bench, 'gradflow')]):.1e}"
        print(f"| {bench} | {impl} | {t:.3f} | {speed} | {values[(b, impl)]:.12g} | {diff} |")
