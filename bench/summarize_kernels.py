"""Medians and speed-ups of bench/run_kernels.sh's JSON lines, as Markdown. A workload is
identified by its bench name and sizes; extra fields (the solver used, Krylov steps, page faults
per call) are shown in the notes, the anchor's prefixed "anchor"; lines without a time
(agreement checks) are listed after the table."""
import json
import statistics
import sys
from collections import defaultdict

SIZE_KEYS = ("bench", "n", "depth", "b_std", "width", "n_train", "n_test", "output_weights")
runs = defaultdict(lambda: defaultdict(list))
extras = {}
anchor_extras = {}
notes = []
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if "seconds" not in r:
        notes.append(", ".join(f"{k}={v}" for k, v in r.items() if k != "impl"))
        continue
    key = tuple((k, r[k]) for k in SIZE_KEYS if k in r)
    impl = "gradflow" if r["impl"] == "gradflow" else "anchor"
    runs[key][impl].append(r["seconds"])
    extra = {k: v for k, v in r.items() if k not in SIZE_KEYS + ("impl", "seconds")}
    if extra:
        (extras if impl == "gradflow" else anchor_extras)[key] = extra

# gradflow-only variants (e.g. predict_eigen, or another draw of the output weights) are
# compared with the anchor of the same sizes under the base bench name.
def anchor_times(key):
    v = runs[key]["anchor"]
    if v:
        return v
    d = dict(key)
    d.pop("output_weights", None)
    for cand in (d, {**d, "bench": d["bench"].split("_")[0]}):
        base = tuple((k, cand[k]) for k in SIZE_KEYS if k in cand)
        if runs.get(base, {}).get("anchor"):
            return runs[base]["anchor"]
    return []


print("| workload | gradflow (s) | anchor (s) | speed-up | notes |")
print("|---|---:|---:|---:|---|")
for key, v in runs.items():
    if not v["gradflow"]:
        continue
    label = ", ".join(f"{k}={val}" for k, val in key)
    ours = statistics.median(v["gradflow"])
    theirs = anchor_times(key)
    theirs = statistics.median(theirs) if theirs else float("nan")
    extra = ", ".join(
        [f"{k}={val}" for k, val in extras.get(key, {}).items()]
        + [f"anchor {k}={val}" for k, val in anchor_extras.get(key, {}).items()]
    )
    print(f"| {label} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}× | {extra} |")
for n in notes:
    print(f"\n{n}")
