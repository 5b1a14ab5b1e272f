"""Makes the PyTorch parity fixture of a small WaveNet: the same network as Recur's WaveNetModel written with torch's
own layers (state-dict names as Recur's), its logits, its loss and the gradient of every parameter.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_wavenet_fixtures.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(11)

LEVELS, R, D, S, LAYERS, STACKS, GLOBAL, LOCAL = 16, 4, 3, 5, 3, 2, 3, 2


class Layer(nn.Module):
    def __init__(self, dilation):
        super().__init__()
        self.dilation = dilation
        self.gate = nn.Conv1d(R, 2 * D, 2, dilation=dilation)
        self.residual = nn.Conv1d(D, R, 1)
        self.skip = nn.Conv1d(D, S, 1)
        setattr(self, "global", nn.Embedding(GLOBAL, 2 * D))
        self.local = nn.Conv1d(LOCAL, 2 * D, 1, bias=False)


class WaveNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.input = nn.Embedding(LEVELS, R)
        self.layers = nn.ModuleList([Layer(2 ** (i % LAYERS)) for i in range(LAYERS * STACKS)])
        self.head = nn.ModuleList([nn.Conv1d(S, S, 1), nn.Conv1d(S, LEVELS, 1)])

    def forward(self, codes, labels, local):  # codes [B, T], labels [B], local [B, LOCAL, T]
        x = self.input(codes).permute(0, 2, 1)
        skip = 0
        for i, layer in enumerate(self.layers):
            a = layer.gate(F.pad(x, (layer.dilation, 0)))
            a = a + getattr(layer, "global")(labels).unsqueeze(2) + layer.local(local)
            z = torch.tanh(a[:, :D]) * torch.sigmoid(a[:, D:])
            skip = skip + layer.skip(z)
            if i < len(self.layers) - 1:
                x = x + layer.residual(z)
        return self.head[1](F.relu(self.head[0](F.relu(skip))))


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


model = WaveNet()
for p in model.parameters():  # larger weights than the defaults, so every term matters
    nn.init.normal_(p, 0, 0.4)
codes = torch.randint(0, LEVELS, (2, 12))
labels = torch.tensor([2, 0])
local = torch.randn(2, LOCAL, 12)
logits = model(codes[:, :-1], labels, local[:, :, :-1])
loss = F.cross_entropy(logits.permute(0, 2, 1).reshape(-1, LEVELS), codes[:, 1:].reshape(-1))
loss.backward()
fixture = {
    "config": {"levels": LEVELS, "residual_channels": R, "dilation_channels": D, "skip_channels": S,
               "layers_per_stack": LAYERS, "stacks": STACKS, "global_conditions": GLOBAL, "local_channels": LOCAL},
    "codes": codes.tolist(), "labels": labels.tolist(), "local_shape": list(local.shape), "local": flat(local),
    "logits_shape": list(logits.shape), "logits": flat(logits), "loss": float(loss),
    "parameters": {name: {"shape": list(p.shape), "value": flat(p),
                          "grad": flat(p.grad if p.grad is not None else torch.zeros_like(p))}
                   for name, p in model.named_parameters()},
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wavenet_pytorch.json")
with open(path, "w") as f:
    json.dump(fixture, f)
print(f"wrote {path}: {len(fixture['parameters'])} parameters, loss {fixture['loss']:.6f}")
