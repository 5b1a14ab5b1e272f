"""Makes PyTorch parity fixtures for Recur's convolution and pooling ops.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_conv_fixtures.py
For each case: the op and its arguments, the input (and weight and bias), the output of torch.nn.functional, and the
gradients of L = <output, g> for a random g with respect to every tensor. Shapes are flattened row-major.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(7)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def case(name, op, x, w=None, b=None, **args):
    x = x.clone().requires_grad_(True)
    tensors = [x]
    if w is not None:
        w = w.clone().requires_grad_(True); tensors.append(w)
    if b is not None:
        b = b.clone().requires_grad_(True); tensors.append(b)
    if op == "conv1d":
        y = F.conv1d(x, w, b, **args)
    elif op == "conv2d":
        y = F.conv2d(x, w, b, **args)
    elif op == "causal_conv1d":
        d = args["dilation"]
        y = F.conv1d(F.pad(x, (d * (w.shape[2] - 1), 0)), w, b, dilation=d)
    else:
        y = getattr(F, op)(x, **args)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    out = {"name": name, "op": op, "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in args.items()},
           "input_shape": list(x.shape), "input": flat(x), "output_shape": list(y.shape), "output": flat(y),
           "output_grad": flat(g), "input_grad": flat(x.grad)}
    if w is not None:
        out.update(weight_shape=list(w.shape), weight=flat(w), weight_grad=flat(w.grad))
    if b is not None:
        out.update(bias=flat(b), bias_grad=flat(b.grad))
    return out


r = torch.randn
cases = [
    case("conv1d_basic", "conv1d", r(2, 3, 9), r(4, 3, 3), r(4)),
    case("conv1d_stride_pad", "conv1d", r(2, 3, 11), r(5, 3, 4), r(5), stride=2, padding=2),
    case("conv1d_dilation_groups", "conv1d", r(2, 4, 13), r(6, 2, 3), r(6), dilation=3, groups=2, padding=1),
    case("conv1d_depthwise_nobias", "conv1d", r(1, 3, 10), r(3, 1, 5), None, groups=3, padding=2),
    case("causal_conv1d", "causal_conv1d", r(2, 3, 12), r(3, 3, 2), r(3), dilation=4),
    case("conv2d_basic", "conv2d", r(2, 3, 7, 6), r(4, 3, 3, 3), r(4)),
    case("conv2d_stride_pad", "conv2d", r(2, 2, 9, 11), r(3, 2, 3, 5), r(3), stride=(2, 3), padding=(1, 2)),
    case("conv2d_dilation_groups", "conv2d", r(1, 4, 10, 9), r(4, 2, 3, 2), r(4), dilation=(2, 3), groups=2),
    case("max_pool1d", "max_pool1d", r(2, 3, 11), kernel_size=3, stride=2, padding=1),
    case("avg_pool1d", "avg_pool1d", r(2, 3, 10), kernel_size=4, stride=3, padding=2),
    case("max_pool2d", "max_pool2d", r(2, 2, 7, 8), kernel_size=(3, 2), stride=(2, 2), padding=(1, 1)),
    case("avg_pool2d", "avg_pool2d", r(2, 2, 6, 7), kernel_size=(2, 3), stride=(2, 2), padding=(1, 1)),
    # a large kernel with a stride, as Deep Speech 2's first layer: the shape Recur's Fourier-transform path serves
    case("conv2d_large_kernel", "conv2d", r(2, 1, 41, 30), r(5, 1, 21, 7) * 0.2, r(5), stride=(2, 2),
         padding=(10, 3)),
]

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_pytorch.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases to {path}")
