"""OpenBLAS peer for `recur bench gemm`: times float32 matrix products through Debian's numpy.

Reads a JSON request {"shapes": [{"m","n","k"}...], "min_seconds"} on its standard input and prints one JSON list
of GFLOP/s figures. The thread count is set by the caller through OPENBLAS_NUM_THREADS before numpy is imported.
"""
import json
import time

import numpy as np

from peer_timing import read_request


def gflops(m, n, k, min_seconds):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.empty((m, n), dtype=np.float32)
    for _ in range(3):
        np.matmul(a, b, out=c)
    best = float("inf")
    total, reps = 0.0, 0
    while total < min_seconds or reps < 5:
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        total += elapsed
        reps += 1
    return 2.0 * m * n * k / best / 1e9


def main():
    request = read_request()
    shapes, min_seconds = request["shapes"], request["min_seconds"]
    print(json.dumps([gflops(s["m"], s["n"], s["k"], min_seconds) for s in shapes]))


if __name__ == "__main__":
    main()
