"""Makes the PyTorch parity fixtures for Recur's recurrent layers.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_recurrent_fixtures.py
For each configuration it records the weights (state_dict names), the input, optional initial states and lengths,
random projections of every output, and then the outputs, final states and the gradients of
L = <output, g_output> + <h_n, g_h> (+ <c_n, g_c>) with respect to the input, the initial states and every weight.
"""
import json
import os
import struct

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

MODES = {"RNN_TANH": (torch.nn.RNN, {"nonlinearity": "tanh"}), "RNN_RELU": (torch.nn.RNN, {"nonlinearity": "relu"}),
         "LSTM": (torch.nn.LSTM, {}), "GRU": (torch.nn.GRU, {})}

VARIANTS = [
    # name, num_layers, bidirectional, batch_first, bias, lengths (or None), initial states
    ("basic", 1, False, False, True, None, False),
    ("stacked2", 2, False, False, True, None, False),
    ("stacked3_bidirectional", 3, True, False, True, None, False),
    ("bidirectional_lengths", 1, True, False, True, [5, 3, 1], False),
    ("batch_first_initial_states", 1, False, True, True, None, True),
    ("stacked2_bidirectional_lengths_batch_first_states_nobias", 2, True, True, False, [2, 5, 4], True),
    ("nobias_lengths", 1, False, False, False, [4, 5, 2], False),
]

# LSTM with a projection (proj_size, 8th field): h and the outputs are proj_size wide, c stays hidden wide
PROJECTED = [
    ("proj", 1, False, False, True, None, False, 2),
    ("proj_stacked2_bidirectional_lengths_batch_first_states", 2, True, True, True, [5, 3, 1], True, 3),
    ("proj_nobias_lengths", 1, False, False, False, [2, 5, 4], False, 1),
]


def tensor(t):
    t = t.detach().contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def make_case(mode, variant, seed):
    name, layers, bidirectional, batch_first, bias, lengths, states = variant[:7]
    proj = variant[7] if len(variant) > 7 else 0
    torch.manual_seed(seed)
    steps, batch, input_size, hidden = 5, 3, 3, 4
    cls, extra = MODES[mode]
    if proj:
        extra = dict(extra, proj_size=proj)
    module = cls(input_size, hidden, num_layers=layers, bias=bias, batch_first=batch_first,
                 bidirectional=bidirectional, **extra)
    directions = 2 if bidirectional else 1
    x = torch.randn((batch, steps, input_size) if batch_first else (steps, batch, input_size), requires_grad=True)
    h0 = torch.randn(layers * directions, batch, proj or hidden, requires_grad=True) if states else None
    c0 = torch.randn(layers * directions, batch, hidden, requires_grad=True) if states and mode == "LSTM" else None
    init = None if h0 is None else ((h0, c0) if mode == "LSTM" else h0)

    source = x if lengths is None else pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                                            enforce_sorted=False)
    output, final = module(source, init)
    if lengths is not None:
        output, _ = pad_packed_sequence(output, batch_first=batch_first, total_length=steps)
    h_n, c_n = final if mode == "LSTM" else (final, None)

    g_output = torch.randn_like(output)
    g_h = torch.randn_like(h_n)
    loss = (output * g_output).sum() + (h_n * g_h).sum()
    tensors = {"input": tensor(x), "g_output": tensor(g_output), "g_h": tensor(g_h)}
    if c_n is not None:
        g_c = torch.randn_like(c_n)
        loss = loss + (c_n * g_c).sum()
        tensors["g_c"] = tensor(g_c)
    loss.backward()

    for key, value in module.state_dict().items():
        tensors["weight." + key] = tensor(value)
    for key, value in module.named_parameters():
        tensors["grad." + key] = tensor(value.grad)
    tensors["output"] = tensor(output)
    tensors["h_n"] = tensor(h_n)
    tensors["grad.input"] = tensor(x.grad)
    if c_n is not None:
        tensors["c_n"] = tensor(c_n)
    if h0 is not None:
        tensors["h0"] = tensor(h0)
        tensors["grad.h0"] = tensor(h0.grad)
    if c0 is not None:
        tensors["c0"] = tensor(c0)
        tensors["grad.c0"] = tensor(c0.grad)
    config = {"mode": mode, "input_size": input_size, "hidden_size": hidden, "num_layers": layers,
              "bidirectional": bidirectional, "batch_first": batch_first, "bias": bias, "proj_size": proj}
    return {"name": f"{mode}_{name}", "config": config, "lengths": lengths, "tensors": tensors}


CELLS = {"RNN_TANH": (torch.nn.RNNCell, {"nonlinearity": "tanh"}), "RNN_RELU": (torch.nn.RNNCell, {"nonlinearity": "relu"}),
         "LSTM": (torch.nn.LSTMCell, {}), "GRU": (torch.nn.GRUCell, {})}


def make_cell_case(mode, seed):
    """Three steps of a single-step cell from a given state; loss = sum over steps of <h_t, g_t> (+ <c_t, gc_t>)."""
    torch.manual_seed(seed)
    steps, batch, input_size, hidden = 3, 2, 3, 4
    cls, extra = CELLS[mode]
    cell = cls(input_size, hidden, **extra)
    xs = torch.randn(steps, batch, input_size, requires_grad=True)
    h0 = torch.randn(batch, hidden, requires_grad=True)
    c0 = torch.randn(batch, hidden, requires_grad=True) if mode == "LSTM" else None
    gh = torch.randn(steps, batch, hidden)
    gc = torch.randn(steps, batch, hidden)
    h, c, loss, hs, cs = h0, c0, 0, [], []
    for t in range(steps):
        if mode == "LSTM":
            h, c = cell(xs[t], (h, c))
            loss = loss + (c * gc[t]).sum()
            cs.append(c)
        else:
            h = cell(xs[t], h)
        loss = loss + (h * gh[t]).sum()
        hs.append(h)
    loss.backward()
    tensors = {"input": tensor(xs), "h0": tensor(h0), "g_h": tensor(gh), "hidden": tensor(torch.stack(hs)),
               "grad.input": tensor(xs.grad), "grad.h0": tensor(h0.grad)}
    if c0 is not None:
        tensors.update({"c0": tensor(c0), "g_c": tensor(gc), "cell": tensor(torch.stack(cs)), "grad.c0": tensor(c0.grad)})
    for key, value in cell.state_dict().items():
        tensors["weight." + key] = tensor(value)
    for key, value in cell.named_parameters():
        tensors["grad." + key] = tensor(value.grad)
    return {"name": f"{mode}_cell", "mode": mode, "tensors": tensors}


def save_safetensors(path, tensors):
    """Writes float32 tensors in the safetensors layout: u64 little-endian header length, JSON header with dtype,
    shape and data_offsets, then the raw little-endian data (huggingface/safetensors format description)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def make_layer_run_case(folder, mode, layers, bidirectional, batch_first, lengths, states, seed, proj=0):
    """A `recur layer run` fixture: cfg.json, weights/input/grad_output safetensors and PyTorch's expected result."""
    torch.manual_seed(seed)
    steps, batch, input_size, hidden = 4, 2, 3, 5
    cls, extra = MODES[mode]
    if proj:
        extra = dict(extra, proj_size=proj)
    module = cls(input_size, hidden, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional, **extra)
    directions = 2 if bidirectional else 1
    x = torch.randn((batch, steps, input_size) if batch_first else (steps, batch, input_size), requires_grad=True)
    inputs = {"input": x}
    init = None
    if states:
        inputs["h0"] = torch.randn(layers * directions, batch, proj or hidden, requires_grad=True)
        init = inputs["h0"]
        if mode == "LSTM":
            inputs["c0"] = torch.randn(layers * directions, batch, hidden, requires_grad=True)
            init = (inputs["h0"], inputs["c0"])
    source = x if lengths is None else pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    output, final = module(source, init)
    if lengths is not None:
        output, _ = pad_packed_sequence(output, batch_first=batch_first, total_length=steps)
    h_n, c_n = final if mode == "LSTM" else (final, None)
    grads = {"output": torch.randn_like(output), "h_n": torch.randn_like(h_n)}
    loss = (output * grads["output"]).sum() + (h_n * grads["h_n"]).sum()
    expected = {"output": output, "h_n": h_n}
    if c_n is not None:
        grads["c_n"] = torch.randn_like(c_n)
        loss = loss + (c_n * grads["c_n"]).sum()
        expected["c_n"] = c_n
    loss.backward()
    for name, value in inputs.items():
        expected["grad." + name] = value.grad
    for name, value in module.named_parameters():
        expected["grad." + name] = value.grad
    os.makedirs(folder, exist_ok=True)
    config = {"mode": mode, "input_size": input_size, "hidden_size": hidden, "num_layers": layers,
              "bidirectional": bidirectional, "batch_first": batch_first}
    if proj:
        config["proj_size"] = proj
    if lengths is not None:
        config["lengths"] = lengths
    with open(os.path.join(folder, "cfg.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_safetensors(os.path.join(folder, "weights.safetensors"), dict(module.state_dict()))
    save_safetensors(os.path.join(folder, "input.safetensors"), inputs)
    save_safetensors(os.path.join(folder, "grad_output.safetensors"), grads)
    save_safetensors(os.path.join(folder, "expected.safetensors"), expected)


def main():
    torch.set_num_threads(1)
    cases = []
    seed = 100
    for mode in MODES:
        for variant in VARIANTS:
            cases.append(make_case(mode, variant, seed))
            seed += 1
    for variant in PROJECTED:
        cases.append(make_case("LSTM", variant, seed))
        seed += 1
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recurrent_pytorch.json")
    with open(path + ".tmp", "w") as f:
        cells = [make_cell_case(mode, 300 + i) for i, mode in enumerate(CELLS)]
        json.dump({"torch_version": torch.__version__, "cases": cases, "cells": cells}, f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print(f"wrote {len(cases)} cases to {path}")

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layer_run")
    make_layer_run_case(os.path.join(here, "lstm_bidirectional_lengths_states"), "LSTM", 2, True, False, [4, 2], True, 500)
    make_layer_run_case(os.path.join(here, "gru_batch_first"), "GRU", 1, False, True, None, False, 501)
    make_layer_run_case(os.path.join(here, "rnn_tanh_states"), "RNN_TANH", 1, False, False, None, True, 502)
    make_layer_run_case(os.path.join(here, "lstm_proj_bidirectional_states"), "LSTM", 2, True, False, [3, 4], True, 503, proj=2)
    print(f"wrote layer-run fixtures to {here}")


if __name__ == "__main__":
    main()
