"""Makes PyTorch parity fixtures for Recur's BatchNorm1d.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_batchnorm_fixtures.py
For [N, C] and [N, C, L] inputs: torch.nn.BatchNorm1d with random γ and β, two training batches (outputs and the
running statistics after them), the gradients of L = <y, g> for the second batch with respect to its input, γ and β,
then one batch in evaluation mode with its output and gradients.
"""
import json
import os

import torch


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def case(name, shape, g):
    channels = shape[1]
    bn = torch.nn.BatchNorm1d(channels, momentum=0.2)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(channels, generator=g) + 0.5)
        bn.bias.copy_(torch.rand(channels, generator=g) - 0.5)
    xs = [(torch.randn(shape, generator=g) * 2 + 1).requires_grad_() for _ in range(3)]
    bn.train()
    y1 = bn(xs[0])
    y2 = bn(xs[1])
    w2 = torch.rand(shape, generator=g) * 2 - 1
    (y2 * w2).sum().backward()
    train = {"x1": flat(xs[0]), "y1": flat(y1), "x2": flat(xs[1]), "y2": flat(y2), "g2": flat(w2),
             "running_mean": flat(bn.running_mean), "running_var": flat(bn.running_var),
             "x2_grad": flat(xs[1].grad), "weight_grad": flat(bn.weight.grad), "bias_grad": flat(bn.bias.grad)}
    bn.zero_grad()
    bn.eval()
    y3 = bn(xs[2])
    w3 = torch.rand(shape, generator=g) * 2 - 1
    (y3 * w3).sum().backward()
    evaluation = {"x3": flat(xs[2]), "y3": flat(y3), "g3": flat(w3), "x3_grad": flat(xs[2].grad),
                  "weight_grad": flat(bn.weight.grad), "bias_grad": flat(bn.bias.grad)}
    return {"name": name, "shape": list(shape), "momentum": 0.2, "weight": flat(bn.weight), "bias": flat(bn.bias),
            "train": train, "eval": evaluation}


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(2026)
    out = {"torch": torch.__version__, "cases": [case("nc", (6, 3), g), case("ncl", (4, 3, 5), g)]}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "batchnorm_pytorch.json")
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
