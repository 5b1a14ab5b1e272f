"""Makes PyTorch parity fixtures for Recur's CTC loss.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_ctc_fixtures.py
Each case: logits [T, B, C], targets (label lists), input lengths, blank, reduction and zero_infinity; the loss of
torch.nn.functional.ctc_loss on log_softmax(logits) and the gradient of the loss with respect to the logits (for
reduction none, of the sum of the losses weighted by "weights"). The gradient is taken with respect to the logits
because PyTorch's own gradient with respect to log_probs assumes a log_softmax follows (it adds exp(log_probs)).
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(11)


def case(name, T, B, C, targets, input_lengths, blank=0, reduction="mean", zero_infinity=False):
    logits = torch.randn(T, B, C, dtype=torch.float64, requires_grad=True)
    log_probs = F.log_softmax(logits, dim=2)
    flat = torch.tensor([l for t in targets for l in t], dtype=torch.long)
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    loss = F.ctc_loss(log_probs, flat, torch.tensor(input_lengths), target_lengths, blank=blank,
                      reduction=reduction, zero_infinity=zero_infinity)
    weights = torch.randn(B, dtype=torch.float64) if reduction == "none" else torch.ones(())
    (loss * weights).sum().backward()
    return {"name": name, "shape": [T, B, C], "logits": [float(v) for v in logits.detach().reshape(-1)],
            "targets": targets, "input_lengths": input_lengths, "blank": blank, "reduction": reduction,
            "zero_infinity": zero_infinity, "loss": [float(v) for v in loss.detach().reshape(-1)],
            "weights": [float(v) for v in weights.reshape(-1)], "grad": [float(v) for v in logits.grad.reshape(-1)]}


cases = [
    case("mean", 12, 3, 6, [[1, 2, 3], [4, 4], [5, 1, 5, 2]], [12, 9, 11]),
    case("sum_repeats", 10, 2, 4, [[1, 1, 2], [3]], [10, 7], reduction="sum"),
    case("none_weighted", 8, 3, 5, [[2, 4], [1], [3, 3, 3]], [8, 5, 8], reduction="none"),
    case("blank_last", 9, 2, 5, [[0, 1, 2], [3, 0]], [9, 6], blank=4),
    case("empty_target", 6, 2, 4, [[], [2]], [6, 4]),
    case("impossible_zero_infinity", 4, 2, 4, [[1, 1, 1], [2]], [4, 3], zero_infinity=True),
]

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ctc_pytorch.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases to {path}")
