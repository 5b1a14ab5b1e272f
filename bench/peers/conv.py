"""PyTorch peer for `recur bench conv`: times torch.nn.functional.conv1d/conv2d forward (no_grad) and
forward+backward on the same shapes as Recur.

Takes a JSON request {"configs": [{"kind": "conv1d"|"conv2d", "input": [...], "weight": [...], "stride", "padding",
"dilation"}...], "min_seconds", "threads"} and prints a JSON list of {"forward": seconds, "train": seconds}
(best of repeated runs).
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def best_time(function, min_seconds):
    for _ in range(2):
        function()
    best, total, reps = float("inf"), 0.0, 0
    while total < min_seconds or reps < 3:
        start = time.perf_counter()
        function()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        total += elapsed
        reps += 1
    return best


def measure(c, min_seconds):
    torch.manual_seed(0)
    x = torch.randn(*c["input"])
    w = torch.randn(*c["weight"]) * 0.1
    b = torch.zeros(c["weight"][0])
    conv = F.conv1d if c["kind"] == "conv1d" else F.conv2d
    args = {"stride": tuple(c["stride"]) if c["kind"] == "conv2d" else c["stride"][0],
            "padding": tuple(c["padding"]) if c["kind"] == "conv2d" else c["padding"][0],
            "dilation": tuple(c["dilation"]) if c["kind"] == "conv2d" else c["dilation"][0]}
    xg, wg, bg = x.clone().requires_grad_(True), w.clone().requires_grad_(True), b.clone().requires_grad_(True)

    def forward():
        with torch.no_grad():
            conv(x, w, b, **args)

    def train():
        for t in (xg, wg, bg):
            t.grad = None
        conv(xg, wg, bg, **args).sum().backward()

    return {"forward": best_time(forward, min_seconds), "train": best_time(train, min_seconds)}


def main():
    request = json.loads(sys.argv[1])
    torch.set_num_threads(request["threads"])
    print(json.dumps([measure(c, request["min_seconds"]) for c in request["configs"]]))


if __name__ == "__main__":
    main()
