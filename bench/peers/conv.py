"""PyTorch peer for `recur bench conv`: times torch.nn.functional.conv1d/conv2d forward (no_grad) and
forward+backward on the same shapes as Recur.

Reads a JSON request {"configs": [{"kind": "conv1d"|"conv2d", "input": [...], "weight": [...], "stride", "padding",
"dilation"}...], "min_seconds", "threads"} and prints a JSON list of {"forward": seconds, "train": seconds}
(median of repeated runs after a warm-up, with the min and max).
"""
import json

import torch
import torch.nn.functional as F

from peer_timing import best_time, read_request


def measure(c, min_seconds, repeat):
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

    f, t = best_time(forward, min_seconds, repeat), best_time(train, min_seconds, repeat)
    return {"forward": f[0], "forward_min": f[1], "forward_max": f[2],
            "train": t[0], "train_min": t[1], "train_max": t[2]}


def main():
    request = read_request()
    torch.set_num_threads(request["threads"])
    print(json.dumps([measure(c, request["min_seconds"], request.get("repeat", 5)) for c in request["configs"]]))


if __name__ == "__main__":
    main()
