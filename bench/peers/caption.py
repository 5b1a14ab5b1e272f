"""PyTorch peer for `recur bench caption`: training steps of the same Show, Attend and Tell captioner as Recur's
Captioner with the attention decoder — three 3x3 convolutions (padding 1) each with ReLU and 2x2 max pooling, a
learned embedding of each feature-map cell's place added to its annotation vector, additive attention with a
sigmoid gate on the context, an LSTM cell reading [word; context], the deep output L_o(E y + L_h h + L_z z), the
initial state from the whole feature map, cross-entropy over the words and <eos>, and the doubly stochastic
regulariser — with Adam and norm clipping 5, on the images and captions Recur sends.

Reads a JSON request {"channels", "hidden", "embedding", "joint", "vocabulary", "height", "width", "lambda",
"batches": [{"images": [B][H*W], "captions": [[ids]]}], "min_seconds", "repeat", "threads"} and prints
{"step": seconds, "step_min", "step_max"} (median; one step is one batch, cycling through the batches).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from peer_timing import print_step_times, read_request

BOS, EOS = 2, 3


class Captioner(nn.Module):
    def __init__(self, r):
        super().__init__()
        c, d, h, e, j = r["channels"], 2 * r["channels"], r["hidden"], r["embedding"], r["joint"]
        cells = (r["height"] // 8) * (r["width"] // 8)
        self.convs = nn.ModuleList([nn.Conv2d(1, c, 3, padding=1), nn.Conv2d(c, 2 * c, 3, padding=1),
                                    nn.Conv2d(2 * c, d, 3, padding=1)])
        self.embedding = nn.Embedding(r["vocabulary"], e, padding_idx=0)
        self.places = nn.Parameter(torch.randn(cells, 1, d) * 0.1)
        self.bridge, self.bridge_cell = nn.Linear(d * cells, h), nn.Linear(d * cells, h)
        self.keys, self.query = nn.Linear(d, j), nn.Linear(h, j, bias=False)
        self.energy, self.gate = nn.Linear(j, 1, bias=False), nn.Linear(h, 1)
        self.decoder = nn.LSTMCell(e + d, h)
        self.state_out, self.context_out = nn.Linear(h, e), nn.Linear(d, e, bias=False)
        self.head = nn.Linear(e, r["vocabulary"])
        self.regulariser = r["lambda"]

    def loss(self, images, previous, targets, live, least):  # [B,1,H,W], [T,B], [T,B], [T,B], [B]
        x = images
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        b, d = x.shape[0], x.shape[1]
        annotations = x.reshape(b, d, -1).permute(2, 0, 1) + self.places  # [L,B,D]
        keys = self.keys(annotations)
        whole = x.reshape(b, -1)
        h, c = torch.tanh(self.bridge(whole)), torch.tanh(self.bridge_cell(whole))
        logits, coverage = [], 0
        for t in range(previous.shape[0]):
            word = self.embedding(previous[t])
            scores = self.energy(torch.tanh(keys + self.query(h).unsqueeze(0))).squeeze(2)
            weights = F.softmax(scores, 0)
            context = (annotations * weights.unsqueeze(2)).sum(0) * torch.sigmoid(self.gate(h))
            h, c = self.decoder(torch.cat([word, context], 1), (h, c))
            logits.append(self.head(word + self.state_out(h) + self.context_out(context)))
            coverage = coverage + weights * live[t]
        loss = F.cross_entropy(torch.cat(logits, 0), targets.reshape(-1), ignore_index=-100)
        cells = coverage.shape[0]
        penalty = ((1 - coverage) ** 2).sum(0) - least
        return loss + penalty.mean() * (self.regulariser / cells)


def tensors(batch, r):
    captions = batch["captions"]
    b, steps = len(captions), max(len(c) for c in captions) + 1
    previous = torch.zeros(steps, b, dtype=torch.long)
    targets = torch.full((steps, b), -100, dtype=torch.long)
    live = torch.zeros(steps, b)
    for i, caption in enumerate(captions):
        for t in range(steps):
            previous[t, i] = BOS if t == 0 else (caption[t - 1] if t - 1 < len(caption) else 0)
            if t < len(caption):
                targets[t, i] = caption[t]
            elif t == len(caption):
                targets[t, i] = EOS
            live[t, i] = 1.0 if t <= len(caption) else 0.0
    cells = (r["height"] // 8) * (r["width"] // 8)
    least = torch.tensor([(cells - (len(c) + 1)) ** 2 / cells for c in captions])
    images = torch.tensor(batch["images"], dtype=torch.float32).reshape(b, 1, r["height"], r["width"])
    return images, previous, targets, live, least


def main():
    r = read_request()
    torch.set_num_threads(r["threads"])
    torch.manual_seed(0)
    model = Captioner(r)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    batches = [tensors(b, r) for b in r["batches"]]
    def step(batch):
        optimizer.zero_grad()
        model.loss(*batch).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    print_step_times(step, batches, r)

if __name__ == "__main__":
    main()
