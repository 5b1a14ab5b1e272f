"""PyTorch peer for `recur bench speech`: training steps of the same Deep Speech-style model as Recur's
SpeechRecognizer (2-D convolutions over a log-mel spectrogram, bidirectional GRU layers, linear, log-softmax, CTC) with
Adam, on random features and digit-word transcripts of the same shapes.

Reads a JSON request {"batch", "frames", "mels", "conv_layers", "conv_channels", "hidden", "layers", "classes",
"targets": [[...]...], "min_seconds", "repeat", "threads"} and prints {"step": seconds, "step_min", "step_max"}
(median of repeated optimizer steps after a warm-up).
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from peer_timing import best_time, read_request


class Recognizer(nn.Module):
    def __init__(self, r):
        super().__init__()
        convs, bands = [], r["mels"]
        for layer in range(r["conv_layers"]):
            stride = (2, 2) if layer == 0 else (2, 1)
            convs.append(nn.Conv2d(1 if layer == 0 else r["conv_channels"], r["conv_channels"], (9, 5), stride,
                                   (4, 2)))
            bands = (bands + 8 - 9) // 2 + 1
        self.convs = nn.ModuleList(convs)
        self.rnn = nn.GRU(r["conv_channels"] * bands, r["hidden"], r["layers"], bidirectional=True,
                          dropout=0.1 if r["layers"] > 1 else 0)
        self.head = nn.Linear(2 * r["hidden"], r["classes"])

    def forward(self, x):  # x [B, 1, mels, frames]
        for conv in self.convs:
            x = F.relu(conv(x))
        b, c, h, t = x.shape
        x = x.permute(3, 0, 1, 2).reshape(t, b, c * h)
        out, _ = self.rnn(x)
        return F.log_softmax(self.head(F.dropout(out, 0.1, self.training)), dim=2)


def main():
    r = read_request()
    torch.set_num_threads(r["threads"])
    torch.manual_seed(0)
    model = Recognizer(r)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(r["batch"], 1, r["mels"], r["frames"])
    targets = torch.tensor([c for t in r["targets"] for c in t])
    target_lengths = torch.tensor([len(t) for t in r["targets"]])

    def step():
        optimizer.zero_grad()
        log_probs = model(x)
        input_lengths = torch.full((r["batch"],), log_probs.shape[0], dtype=torch.long)
        loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, zero_infinity=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    median, low, high = best_time(step, r["min_seconds"], r.get("repeat", 5))
    print(json.dumps({"step": median, "step_min": low, "step_max": high}))


if __name__ == "__main__":
    main()
