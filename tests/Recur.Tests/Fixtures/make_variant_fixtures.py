"""Makes PyTorch parity fixtures for Recur's composed recurrent variants.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_variant_fixtures.py
The projected LSTM is torch.nn.LSTM(proj_size=...) itself; peephole LSTM, Cho GRU, leaky units, layer-norm LSTM/GRU
and the Jordan network are written here directly in torch operations from their papers' equations. For each: the
weights (Recur's parameter names), the input, the outputs and final state, and the gradients of
L = <outputs, g> with respect to the input and every weight.
"""
import json
import os

import torch
import torch.nn.functional as F

T, B, I, H = 5, 3, 4, 6


def lstm_peephole(x, p):
    h = torch.zeros(B, H); c = torch.zeros(B, H); out = []
    for t in range(T):
        g = x[t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
        i, f, gg, o = g.chunk(4, 1)
        i = torch.sigmoid(i + p["weight_ci"] * c); f = torch.sigmoid(f + p["weight_cf"] * c)
        c = f * c + i * torch.tanh(gg)
        h = torch.sigmoid(o + p["weight_co"] * c) * torch.tanh(c)
        out.append(h)
    return torch.stack(out), [h, c]


def cho_gru(x, p):
    h = torch.zeros(B, H); out = []
    wi, bi, wh, bh = p["weight_ih"], p["bias_ih"], p["weight_hh"], p["bias_hh"]
    for t in range(T):
        gx = x[t] @ wi.T + bi
        r = torch.sigmoid(gx[:, :H] + h @ wh[:H].T + bh[:H])
        z = torch.sigmoid(gx[:, H:2 * H] + h @ wh[H:2 * H].T + bh[H:2 * H])
        n = torch.tanh(gx[:, 2 * H:] + (r * h) @ wh[2 * H:].T + bh[2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out), [h]


def leaky(x, p, alpha=0.6):
    h = torch.zeros(B, H); out = []
    for t in range(T):
        h = alpha * h + (1 - alpha) * torch.tanh(x[t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"])
        out.append(h)
    return torch.stack(out), [h]


def ln(v, p, name):
    return F.layer_norm(v, (v.shape[-1],), p[name + ".weight"], p[name + ".bias"], 1e-5)


def ln_lstm(x, p):
    h = torch.zeros(B, H); c = torch.zeros(B, H); out = []
    for t in range(T):
        g = ln(x[t] @ p["weight_ih"].T, p, "ln_ih") + ln(h @ p["weight_hh"].T, p, "ln_hh")
        i, f, gg, o = g.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        h = torch.sigmoid(o) * torch.tanh(ln(c, p, "ln_c"))
        out.append(h)
    return torch.stack(out), [h, c]


def ln_gru(x, p):
    h = torch.zeros(B, H); out = []
    for t in range(T):
        a = ln(x[t] @ p["weight_ih"].T, p, "ln_ih"); b = ln(h @ p["weight_hh"].T, p, "ln_hh")
        r = torch.sigmoid(a[:, :H] + b[:, :H]); z = torch.sigmoid(a[:, H:2 * H] + b[:, H:2 * H])
        n = torch.tanh(a[:, 2 * H:] + r * b[:, 2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out), [h]


def jordan(x, p, outputs=2):
    y = torch.zeros(B, outputs); out = []
    for t in range(T):
        hidden = torch.tanh(x[t] @ p["weight_ih"].T + p["bias_ih"] + y @ p["weight_oh"].T)
        y = hidden @ p["weight_ho"].T + p["bias_ho"]
        out.append(y)
    return torch.stack(out), [y]


def shapes(kind):
    s = {"weight_ih": (4 * H, I), "bias_ih": (4 * H,), "weight_hh": (4 * H, H), "bias_hh": (4 * H,)}
    if kind == "peephole":
        s.update({"weight_ci": (H,), "weight_cf": (H,), "weight_co": (H,)})
    if kind in ("cho_gru", "leaky"):
        g = 3 if kind == "cho_gru" else 1
        s = {"weight_ih": (g * H, I), "bias_ih": (g * H,), "weight_hh": (g * H, H), "bias_hh": (g * H,)}
    if kind in ("ln_lstm", "ln_gru"):
        g = 4 if kind == "ln_lstm" else 3
        s = {"weight_ih": (g * H, I), "weight_hh": (g * H, H), "ln_ih.weight": (g * H,), "ln_ih.bias": (g * H,),
             "ln_hh.weight": (g * H,), "ln_hh.bias": (g * H,)}
        if kind == "ln_lstm":
            s.update({"ln_c.weight": (H,), "ln_c.bias": (H,)})
    if kind == "jordan":
        s = {"weight_ih": (H, I), "bias_ih": (H,), "weight_oh": (H, 2), "weight_ho": (2, H), "bias_ho": (2,)}
    return s


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def case(kind, fn, g):
    params = {k: (torch.rand(s, generator=g) * 1.2 - 0.6).requires_grad_() for k, s in shapes(kind).items()}
    x = torch.randn(T, B, I, generator=g).requires_grad_()
    out, state = fn(x, params)
    weights = torch.rand(out.shape, generator=g) * 2 - 1
    (out * weights).sum().backward()
    return {"name": kind, "input": flat(x), "output_shape": list(out.shape), "output": flat(out), "output_weights": flat(weights),
            "state": [flat(s) for s in state], "params": {k: flat(v) for k, v in params.items()},
            "input_grad": flat(x.grad), "param_grads": {k: flat(v.grad) for k, v in params.items()}}


def projection_case(g):
    lstm = torch.nn.LSTM(I, H, proj_size=2)
    with torch.no_grad():
        for p in lstm.parameters():
            p.copy_(torch.rand(p.shape, generator=g) * 1.2 - 0.6)
    x = torch.randn(T, B, I, generator=g).requires_grad_()
    out, (h, c) = lstm(x)
    weights = torch.rand(out.shape, generator=g) * 2 - 1
    (out * weights).sum().backward()
    names = {n: n[:-3] for n, _ in lstm.named_parameters()}  # weight_ih_l0 -> weight_ih
    return {"name": "projection", "input": flat(x), "output_shape": list(out.shape), "output": flat(out), "output_weights": flat(weights),
            "state": [flat(h[0]), flat(c[0])], "params": {names[n]: flat(p) for n, p in lstm.named_parameters()},
            "input_grad": flat(x.grad), "param_grads": {names[n]: flat(p.grad) for n, p in lstm.named_parameters()}}


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(2024)
    cases = [case("peephole", lstm_peephole, g), case("cho_gru", cho_gru, g), case("leaky", leaky, g),
             case("ln_lstm", ln_lstm, g), case("ln_gru", ln_gru, g), case("jordan", jordan, g), projection_case(g)]
    out = {"torch": torch.__version__, "T": T, "B": B, "I": I, "H": H, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "variants_pytorch.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
