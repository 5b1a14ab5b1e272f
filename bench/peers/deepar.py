"""PyTorch peer for `recur bench forecast --model deepar`: training steps of a DeepAR-style network with the shapes of
Recur's DeepArForecaster on M3 quarterly (a 2-layer LSTM with dropout 0.1 between the layers over windows of context +
horizon steps, time-major, a linear head giving each step's Gaussian mean and softplus scale, the full Gaussian
negative log-likelihood of every step, gradient clipping at norm 1 and Adam), on random inputs of the same shapes.

Reads a JSON request {"batch", "steps", "features", "hidden", "layers", "dropout", "lr", "min_seconds", "repeat",
"threads"} and prints {"step": seconds, "step_min", "step_max"} (median of repeated optimizer steps after a warm-up).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from peer_timing import print_step_times, read_request


class DeepAR(nn.Module):
    def __init__(self, r):
        super().__init__()
        self.rnn = nn.LSTM(r["features"], r["hidden"], r["layers"], dropout=r["dropout"])
        self.head = nn.Linear(r["hidden"], 2)

    def forward(self, x):
        output, _ = self.rnn(x)
        raw = self.head(output).reshape(-1, 2)
        return raw[:, 0], F.softplus(raw[:, 1]) + 1e-3


def main():
    r = read_request()
    torch.set_num_threads(r["threads"])
    torch.manual_seed(0)
    model = DeepAR(r)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=r["lr"])
    x = torch.randn(r["steps"], r["batch"], r["features"])
    y = torch.randn(r["steps"] * r["batch"])

    def step(_):
        optimizer.zero_grad()
        mean, scale = model(x)
        loss = F.gaussian_nll_loss(mean, y, scale * scale, full=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    print_step_times(step, [None], r)


if __name__ == "__main__":
    main()
