"""Makes PyTorch parity fixtures for Recur's likelihood losses (the heads of DeepAR-style forecasters).

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_likelihood_fixtures.py
Each case gives the inputs, optional per-element weights, the loss and its gradient with respect to every input:
- gaussian: torch.nn.functional.gaussian_nll_loss(input, target, var, full, eps) (mean reduction; with weights the
  unreduced losses are weighted and divided by the sum of the weights);
- student_t: −torch.distributions.StudentT(df, loc, scale).log_prob(target), weighted mean;
- negative_binomial: −NegativeBinomial(total_count=1/alpha, probs=mu/(1/alpha + mu)).log_prob(counts), weighted mean.
"""
import json
import os

import torch
import torch.nn.functional as F
from torch.distributions import NegativeBinomial, StudentT

torch.manual_seed(29)
D = torch.float64


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def finish(name, kind, shape, inputs, loss, weights, extra=None):
    loss.backward()
    case = {"name": name, "kind": kind, "shape": list(shape), "loss": float(loss),
            "weights": flat(weights) if weights is not None else None,
            "inputs": {k: flat(v) for k, v in inputs.items()},
            "grads": {k: flat(v.grad) for k, v in inputs.items() if v.requires_grad}}
    case.update(extra or {})
    return case


def reduce(losses, weights):
    return losses.mean() if weights is None else (losses * weights).sum() / weights.sum()


def gaussian(name, shape, full=False, eps=1e-6, weighted=False, tiny_var=False):
    x = torch.randn(*shape, dtype=D, requires_grad=True)
    t = torch.randn(*shape, dtype=D, requires_grad=True)
    v = torch.rand(*shape, dtype=D) * 2 + 0.05
    if tiny_var:
        v[0] = eps / 4  # below eps: clamped in the value, not in the gradient
    v.requires_grad_(True)
    w = torch.rand(*shape, dtype=D) if weighted else None
    losses = F.gaussian_nll_loss(x, t, v, full=full, eps=eps, reduction="none")
    return finish(name, "gaussian", shape, {"input": x, "target": t, "variance": v}, reduce(losses, w), w,
                  {"full": full, "eps": eps})


def student_t(name, shape, weighted=False):
    mu = torch.randn(*shape, dtype=D, requires_grad=True)
    sigma = (torch.rand(*shape, dtype=D) * 2 + 0.1).requires_grad_(True)
    nu = (torch.rand(*shape, dtype=D) * 20 + 0.5).requires_grad_(True)
    z = (torch.randn(*shape, dtype=D) * 3).requires_grad_(True)
    w = torch.rand(*shape, dtype=D) if weighted else None
    losses = -StudentT(nu, mu, sigma).log_prob(z)
    return finish(name, "student_t", shape, {"location": mu, "scale": sigma, "degrees_of_freedom": nu, "target": z},
                  reduce(losses, w), w)


def negative_binomial(name, shape, weighted=False):
    mu = (torch.rand(*shape, dtype=D) * 30 + 0.2).requires_grad_(True)
    alpha = (torch.rand(*shape, dtype=D) * 2 + 0.01).requires_grad_(True)
    counts = torch.poisson(mu.detach() * 1.3)
    w = torch.rand(*shape, dtype=D) if weighted else None
    r = 1 / alpha
    losses = -NegativeBinomial(total_count=r, probs=mu / (r + mu)).log_prob(counts)
    case = finish(name, "negative_binomial", shape, {"mean": mu, "dispersion": alpha}, reduce(losses, w), w)
    case["inputs"]["target"] = flat(counts)
    return case


cases = [
    gaussian("gaussian_mean", (3, 5)),
    gaussian("gaussian_full_weighted", (4, 3), full=True, weighted=True),
    gaussian("gaussian_variance_below_eps", (6,), eps=1e-3, tiny_var=True),
    student_t("student_t_mean", (3, 5)),
    student_t("student_t_weighted", (10,), weighted=True),
    negative_binomial("negative_binomial_mean", (3, 5)),
    negative_binomial("negative_binomial_weighted", (12,), weighted=True),
]

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "likelihoods_pytorch.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases to {path}")
