"""PyTorch peer for `recur bench forecast`: training steps of the same network as Recur's GlobalForecaster (an LSTM
over the window, time-major input, a linear head on the last hidden state giving every horizon step at once), the
pinball loss at the median, gradient clipping at norm 1 and Adam, on random inputs of the same shapes.

Reads a JSON request {"batch", "window", "features", "hidden", "horizon", "quantile", "lr", "min_seconds", "repeat",
"threads"} and prints {"step": seconds, "step_min", "step_max"} (median of repeated optimizer steps after a warm-up).
"""
import torch
import torch.nn as nn

from peer_timing import print_step_times, read_request


class GlobalForecaster(nn.Module):
    def __init__(self, r):
        super().__init__()
        self.rnn = nn.LSTM(r["features"], r["hidden"])
        self.head = nn.Linear(r["hidden"], r["horizon"])

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(output[-1])


def pinball(prediction, target, quantile):
    u = target - prediction
    return torch.maximum(quantile * u, (quantile - 1) * u).mean()


def main():
    r = read_request()
    torch.set_num_threads(r["threads"])
    torch.manual_seed(0)
    model = GlobalForecaster(r)
    optimizer = torch.optim.Adam(model.parameters(), lr=r["lr"])
    x = torch.randn(r["window"], r["batch"], r["features"]) * 0.3
    y = torch.randn(r["batch"], r["horizon"]) * 0.05

    def step(_):
        optimizer.zero_grad()
        loss = pinball(model(x), y, r["quantile"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    print_step_times(step, [None], r)


if __name__ == "__main__":
    main()
