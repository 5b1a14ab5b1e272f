"""PyTorch peer for `recur bench rnn`: times torch.nn.LSTM/GRU/RNN (tanh or relu) forward (no_grad) and
forward+backward.

Reads a JSON request {"configs": [{"mode","steps","batch","input","hidden"[,"int8"]}...], "min_seconds", "threads"}
as its argument and prints a JSON list of {"forward": seconds, "train": seconds} (median of repeated runs after a
warm-up, with the min and max beside them as forward_min, forward_max, train_min, train_max). A config with
"int8": true times only the forward of the model torch.ao.quantization.quantize_dynamic makes (train is 0). With
{"memory": config, "threads"} instead it prints the peak resident memory of one LSTM forward+backward.
"""
import json

import torch

from peer_timing import best_time, read_request


def measure(config, min_seconds, repeat):
    torch.manual_seed(0)
    mode = config["mode"]
    if mode == "RNN_RELU":
        module = torch.nn.RNN(config["input"], config["hidden"], nonlinearity="relu")
    else:
        cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN_TANH": torch.nn.RNN}[mode]
        module = cls(config["input"], config["hidden"])
    x = torch.randn(config["steps"], config["batch"], config["input"])
    if config.get("int8"):
        # PyTorch's own dynamic quantisation: int8 weights per output channel, activations quantised per step
        quantized = torch.ao.quantization.quantize_dynamic(module, {type(module)}, dtype=torch.qint8)

        def forward_int8():
            with torch.no_grad():
                quantized(x)

        f = best_time(forward_int8, min_seconds, repeat)
        return {"forward": f[0], "forward_min": f[1], "forward_max": f[2], "train": 0, "train_min": 0,
                "train_max": 0}
    x_grad = x.clone().requires_grad_(True)

    def forward():
        with torch.no_grad():
            module(x)

    def train():
        module.zero_grad()
        output, _ = module(x_grad)
        output.sum().backward()

    f, t = best_time(forward, min_seconds, repeat), best_time(train, min_seconds, repeat)
    return {"forward": f[0], "forward_min": f[1], "forward_max": f[2],
            "train": t[0], "train_min": t[1], "train_max": t[2]}


def main():
    request = read_request()
    torch.set_num_threads(request["threads"])
    if "memory" in request:
        print(json.dumps(memory(request["memory"])))
    else:
        print(json.dumps([measure(c, request["min_seconds"], request.get("repeat", 5)) for c in request["configs"]]))


def status_mb(field):
    """A memory figure of this process from /proc/self/status, in MiB. (getrusage's ru_maxrss would include the
    parent's peak: it survives execve.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def memory(config):
    """Peak resident memory (MiB) of one forward+backward in a fresh process, and the baseline before it."""
    torch.manual_seed(0)
    module = torch.nn.LSTM(config["input"], config["hidden"])
    x = torch.randn(config["steps"], config["batch"], config["input"], requires_grad=True)
    baseline = status_mb("VmHWM")
    output, _ = module(x)
    output.sum().backward()
    return {"baseline_mb": baseline, "peak_mb": status_mb("VmHWM")}


if __name__ == "__main__":
    main()
