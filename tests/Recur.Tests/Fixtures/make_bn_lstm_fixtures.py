"""Makes PyTorch parity fixtures for Recur's batch-normalised LSTM (Cooijmans et al. 2016).

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_bn_lstm_fixtures.py
The layer is written here from the paper's equations in torch operations: per time step, BN of W_ih x and of W_hh h
(gains only) with statistics of their own for each step up to MAX_STEPS (later steps share the last), gates i, f, g, o,
and BN of the cell state (gain and shift) before its tanh. For one training pass: the outputs, final state, running
statistics and the gradients of L = <outputs, g>; then the outputs of a second input in evaluation mode.
"""
import json
import os

import torch
import torch.nn.functional as F

T, B, I, H, MAX_STEPS, MOMENTUM = 5, 4, 3, 4, 3, 0.1


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def run(x, p, stats, training):
    h = torch.zeros(B, H); c = torch.zeros(B, H); out = []
    for t in range(T):
        row = min(t, MAX_STEPS - 1)

        def bn(v, name, gain, shift=None):
            mean, var = stats[name + ".running_mean"][row], stats[name + ".running_var"][row]
            return F.batch_norm(v, mean, var, gain, shift, training, MOMENTUM, 1e-5)

        gates = bn(x[t] @ p["weight_ih"].T, "bn_ih", p["bn_ih.weight"]) \
            + bn(h @ p["weight_hh"].T, "bn_hh", p["bn_hh.weight"]) + p["bias"]
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(bn(c, "bn_c", p["bn_c.weight"], p["bn_c.bias"]))
        out.append(h)
    return torch.stack(out), h, c


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(2027)
    shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias": (4 * H,), "bn_ih.weight": (4 * H,),
              "bn_hh.weight": (4 * H,), "bn_c.weight": (H,), "bn_c.bias": (H,)}
    p = {k: (torch.rand(s, generator=gen) * 1.2 - 0.6).requires_grad_() for k, s in shapes.items()}
    stats = {}
    for name, width in (("bn_ih", 4 * H), ("bn_hh", 4 * H), ("bn_c", H)):
        stats[name + ".running_mean"] = torch.zeros(MAX_STEPS, width)
        stats[name + ".running_var"] = torch.ones(MAX_STEPS, width)
    x = torch.randn(T, B, I, generator=gen).requires_grad_()
    out, h, c = run(x, p, stats, True)
    weights = torch.rand(out.shape, generator=gen) * 2 - 1
    ((out * weights).sum() + c.sum()).backward()
    x2 = torch.randn(T, B, I, generator=gen)
    with torch.no_grad():
        out2, _, _ = run(x2, p, stats, False)
    result = {"torch": torch.__version__, "T": T, "B": B, "I": I, "H": H, "max_steps": MAX_STEPS,
              "momentum": MOMENTUM, "params": {k: flat(v) for k, v in p.items()}, "input": flat(x),
              "output": flat(out), "h": flat(h), "c": flat(c), "output_weights": flat(weights),
              "input_grad": flat(x.grad), "param_grads": {k: flat(v.grad) for k, v in p.items()},
              "running": {k: flat(v) for k, v in stats.items()}, "eval_input": flat(x2), "eval_output": flat(out2)}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "bn_lstm_pytorch.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
