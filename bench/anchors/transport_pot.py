"""POT side of the transport benchmarks (bench/run_transport.sh).

Writes the shared problems to DIR (x.npy, y.npy: two clouds of 2000 points in d = 10, the
second shifted by 0.5; x1d.npy, y1d.npy: 10^6 samples of N(0, 1) and N(0, 4)) and times
ot.emd2, ot.sinkhorn2 (log and plain, ε = 0.05·mean(C), stopThr = 1e-9) and
ot.wasserstein_1d on them. One JSON line per measurement.   python transport_pot.py DIR
"""
import json, os, sys, time

import numpy as np
import ot

from common import median_of_3


def emit(bench, seconds, value, **extra):
    print(json.dumps({"bench": bench, "impl": extra.pop("impl", "pot"), "seconds": seconds,
                      "value": float(value), **extra}), flush=True)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 10))
    y = rng.standard_normal((2000, 10)) + 0.5
    x1 = rng.standard_normal((10**6, 1))
    y1 = 2.0 * rng.standard_normal((10**6, 1))
    for name, arr in [("x", x), ("y", y), ("x1d", x1), ("y1d", y1)]:
        np.save(os.path.join(out, name + ".npy"), arr)
    a = np.full(2000, 1 / 2000)
    C = ot.dist(x, y)
    res = {}
    t = median_of_3(lambda: res.__setitem__("emd", ot.emd2(a, a, C, numItermax=10**8)))
    emit("exact_2000", t, res["emd"], version=ot.__version__)
    reg = 0.05 * C.mean()
    for method, impl in [("sinkhorn_log", "pot"), ("sinkhorn", "pot_plain")]:
        t = median_of_3(lambda: res.__setitem__(method, ot.sinkhorn2(
            a, a, C, reg, method=method, stopThr=1e-9, numItermax=100000)))
        emit("sinkhorn_2000", t, res[method], impl=impl)
    t = median_of_3(lambda: res.__setitem__("w1d", ot.wasserstein_1d(x1[:, 0], y1[:, 0], p=2)))
    emit("w1d_1e6", t, res["w1d"])


if __name__ == "__main__":
    main()
