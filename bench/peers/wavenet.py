"""PyTorch peer for `recur bench wavenet`: training steps of the same WaveNet as Recur's WaveNetModel (embedded mu-law
codes, dilated causal convolutions with gated units, 1x1 residual and skip convolutions, global label conditioning,
ReLU-1x1-ReLU-1x1 head, cross-entropy) with Adam, on random codes of the same shapes.

Reads a JSON request {"batch", "crop", "levels", "residual", "gate", "skip", "layers", "stacks", "labels",
"min_seconds", "repeat", "threads"} and prints {"step": seconds, "step_min", "step_max"} (median of repeated optimizer
steps after a warm-up).
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from peer_timing import best_time, read_request


class WaveNet(nn.Module):
    def __init__(self, r):
        super().__init__()
        self.gate_channels = r["gate"]
        self.input = nn.Embedding(r["levels"], r["residual"])
        count = r["layers"] * r["stacks"]
        self.dilations = [2 ** (i % r["layers"]) for i in range(count)]
        self.gates = nn.ModuleList([nn.Conv1d(r["residual"], 2 * r["gate"], 2, dilation=d) for d in self.dilations])
        self.residuals = nn.ModuleList([nn.Conv1d(r["gate"], r["residual"], 1) for _ in range(count)])
        self.skips = nn.ModuleList([nn.Conv1d(r["gate"], r["skip"], 1) for _ in range(count)])
        self.globals = nn.ModuleList([nn.Embedding(r["labels"], 2 * r["gate"]) for _ in range(count)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(r["skip"], r["skip"], 1), nn.ReLU(),
                                  nn.Conv1d(r["skip"], r["levels"], 1))

    def forward(self, codes, labels):
        x = self.input(codes).permute(0, 2, 1)
        skip = 0
        d = self.gate_channels
        for i, dilation in enumerate(self.dilations):
            a = self.gates[i](F.pad(x, (dilation, 0))) + self.globals[i](labels).unsqueeze(2)
            z = torch.tanh(a[:, :d]) * torch.sigmoid(a[:, d:])
            skip = skip + self.skips[i](z)
            if i < len(self.dilations) - 1:
                x = x + self.residuals[i](z)
        return self.head(skip)


def main():
    r = read_request()
    torch.set_num_threads(r["threads"])
    torch.manual_seed(0)
    model = WaveNet(r)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    codes = torch.randint(0, r["levels"], (r["batch"], r["crop"] + 1))
    labels = torch.randint(0, r["labels"], (r["batch"],))

    def step():
        optimizer.zero_grad()
        logits = model(codes[:, :-1], labels)
        loss = F.cross_entropy(logits.permute(0, 2, 1).reshape(-1, r["levels"]), codes[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    median, low, high = best_time(step, r["min_seconds"], r.get("repeat", 5))
    print(json.dumps({"step": median, "step_min": low, "step_max": high}))


if __name__ == "__main__":
    main()
