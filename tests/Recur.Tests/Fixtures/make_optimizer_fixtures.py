"""Makes the PyTorch parity fixtures for Recur's optimizers and learning-rate schedules.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_optimizer_fixtures.py
Optimizers: two parameters start from seeded values; at every step the gradient is set to a * (w - t) (a quadratic
bowl with seeded curvature a and centre t, computed elementwise in float32 exactly as Recur computes it) and the
optimizer steps; the parameters after each step are recorded.
Schedules: the learning rate after each scheduler step, and for reduce-on-plateau the metric sequence fed to it.
"""
import json
import os

import torch

STEPS = 6
OPTIMIZERS = [
    ("sgd", torch.optim.SGD, {"lr": 0.1}),
    ("sgd_momentum", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    ("sgd_momentum_dampening_decay", torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    ("sgd_nesterov_decay", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("adam", torch.optim.Adam, {"lr": 0.01}),
    ("adam_decay_betas", torch.optim.Adam, {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.05}),
    ("adamw", torch.optim.AdamW, {"lr": 0.01}),
    ("adamw_decay", torch.optim.AdamW, {"lr": 0.03, "weight_decay": 0.2, "betas": (0.85, 0.99)}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01}),
    ("rmsprop_momentum_centered_decay", torch.optim.RMSprop,
     {"lr": 0.005, "alpha": 0.9, "momentum": 0.7, "centered": True, "weight_decay": 0.01}),
    ("rmsprop_centered", torch.optim.RMSprop, {"lr": 0.01, "centered": True}),
    ("adagrad", torch.optim.Adagrad, {"lr": 0.1}),
    ("adagrad_decay_accumulator", torch.optim.Adagrad,
     {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.02, "initial_accumulator_value": 0.1, "eps": 1e-8}),
]


def values(t):
    return [float(v) for v in t.detach().reshape(-1)]


def optimizer_case(name, cls, options):
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    shapes = [(3, 4), (5,)]
    params = [torch.randn(s, generator=g).requires_grad_() for s in shapes]
    curvature = [torch.rand(s, generator=g) * 2 + 0.1 for s in shapes]
    centre = [torch.randn(s, generator=g) for s in shapes]
    case = {"name": name, "optimizer": cls.__name__, "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()},
            "shapes": [list(s) for s in shapes], "start": [values(p) for p in params],
            "curvature": [values(a) for a in curvature], "centre": [values(c) for c in centre], "after": []}
    opt = cls(params, **options)
    for _ in range(STEPS):
        for p, a, c in zip(params, curvature, centre):
            p.grad = (p.detach() - c) * a
        opt.step()
        case["after"].append([values(p) for p in params])
    return case


def lrs(scheduler, optimizer, count, metrics=None):
    out = []
    for i in range(count):
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[i])
        out.append(optimizer.param_groups[0]["lr"])
    return out


def new_optimizer(lr):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def schedule_cases():
    cases = []
    o = new_optimizer(0.1)
    cases.append({"name": "step", "base": 0.1, "options": {"step_size": 3, "gamma": 0.5},
                  "lrs": lrs(torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), o, 10)})
    o = new_optimizer(0.1)
    cases.append({"name": "multistep", "base": 0.1, "options": {"milestones": [2, 5, 6], "gamma": 0.3},
                  "lrs": lrs(torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5, 6], gamma=0.3), o, 10)})
    o = new_optimizer(0.2)
    cases.append({"name": "exponential", "base": 0.2, "options": {"gamma": 0.9},
                  "lrs": lrs(torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), o, 10)})
    o = new_optimizer(0.01)
    warmup, total, floor, start = 4, 14, 1e-4, 0.1
    scheduler = torch.optim.lr_scheduler.SequentialLR(o, [
        torch.optim.lr_scheduler.LinearLR(o, start_factor=start, end_factor=1.0, total_iters=warmup),
        torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total - warmup, eta_min=floor)], milestones=[warmup])
    initial = o.param_groups[0]["lr"]
    cases.append({"name": "cosine_warmup", "base": 0.01, "initial": initial,
                  "options": {"warmup": warmup, "total": total, "min_lr": floor, "start_factor": start},
                  "lrs": lrs(scheduler, o, total)})
    o = new_optimizer(0.1)
    metrics = [1.0, 0.9, 0.9, 0.91, 0.9, 0.95, 0.89999, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    cases.append({"name": "plateau", "base": 0.1,
                  "options": {"factor": 0.5, "patience": 2, "threshold": 1e-4, "cooldown": 1, "min_lr": 0.02},
                  "metrics": metrics,
                  "lrs": lrs(torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, threshold=1e-4,
                                                                       cooldown=1, min_lr=0.02), o, len(metrics), metrics)})
    return cases


def main():
    torch.set_num_threads(1)
    out = {"torch": torch.__version__, "steps": STEPS,
           "optimizers": [optimizer_case(*c) for c in OPTIMIZERS], "schedules": schedule_cases()}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizer_pytorch.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
