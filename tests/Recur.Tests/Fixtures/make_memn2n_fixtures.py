"""Makes the PyTorch parity fixture of a small end-to-end memory network: the same network as Recur's MemoryNetwork
written with torch's own layers (state-dict names as Recur's), its answer logits and attention, its loss and the
gradient of every parameter, for questions whose stories differ in length (one longer than the memory) — so Recur's
padding, its memory of a fixed number of slots (empty ones take part in the attention) and its most-recent-first
order are checked too. One more forward without the memory softmax
(linear start) gives the logits of that mode.

Run with Debian's own python3 (python3-torch):  /usr/bin/python3 tests/Recur.Tests/Fixtures/make_memn2n_fixtures.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)

VOCAB, LENGTH, DIM, HOPS, MEMORY = 11, 4, 6, 3, 5


def position_encoding(length, size):
    j = torch.arange(1, length + 1, dtype=torch.float64).unsqueeze(1)
    k = torch.arange(1, size + 1, dtype=torch.float64).unsqueeze(0)
    return (1 + 4 * (k - (size + 1) / 2) * (j - (length + 1) / 2) / (size * length)).float()


class MemN2N(nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = nn.ModuleList([nn.Embedding(VOCAB, DIM) for _ in range(HOPS + 1)])
        self.temporal = nn.ModuleList([nn.Embedding(MEMORY + 1, DIM) for _ in range(HOPS + 1)])
        for p in self.parameters():
            nn.init.normal_(p, 0, 0.5)  # larger than training's 0.1, so every path matters
        with torch.no_grad():
            for k in range(HOPS + 1):
                self.embeddings[k].weight[0].zero_()
                self.temporal[k].weight[MEMORY].zero_()
        self.pe = position_encoding(LENGTH, DIM)

    def forward(self, questions, linear=False):
        """questions: list of (sentences oldest first, question words); pads as Recur documents it."""
        slots = MEMORY  # empty slots are zero vectors that take part in the softmax
        story = torch.zeros(len(questions), slots, LENGTH, dtype=torch.long)
        ages = torch.full((len(questions), slots), MEMORY, dtype=torch.long)
        mask = torch.zeros(len(questions), slots)
        query = torch.zeros(len(questions), LENGTH, dtype=torch.long)
        for b, (sentences, words) in enumerate(questions):
            kept = sentences[-MEMORY:][::-1]  # most recent first
            for i, sentence in enumerate(kept):
                story[b, i, :len(sentence)] = torch.tensor(sentence)
                ages[b, i] = i
            query[b, :len(words)] = torch.tensor(words)
        not_pad = (story != 0).unsqueeze(3).float()
        memories = [(self.embeddings[k](story) * not_pad * self.pe).sum(2) + self.temporal[k](ages)
                    for k in range(HOPS + 1)]
        u = (self.embeddings[0](query) * (query != 0).unsqueeze(2).float() * self.pe).sum(1)
        attention = []
        for k in range(1, HOPS + 1):
            scores = torch.bmm(memories[k - 1], u.unsqueeze(2)).squeeze(2)
            p = scores * (mask == 0).float() if linear else F.softmax(scores + mask, dim=1)
            attention.append(p)
            u = u + torch.bmm(p.unsqueeze(1), memories[k]).squeeze(1)
        return u @ self.embeddings[HOPS].weight.t(), attention


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def sentence(n):
    return [int(v) for v in torch.randint(1, VOCAB, (n,))]


questions = [([sentence(3), sentence(1), sentence(4)], sentence(2)),
             ([sentence(2) for _ in range(7)], sentence(4)),  # longer than the memory: the oldest two are dropped
             ([sentence(1)], sentence(3))]
answers = torch.tensor([3, 7, 1])
model = MemN2N()
logits, attention = model(questions)
loss = F.cross_entropy(logits, answers)
loss.backward()
linear_logits, _ = model(questions, linear=True)
fixture = {
    "config": {"vocabulary_size": VOCAB, "sentence_length": LENGTH, "embedding_size": DIM, "hops": HOPS,
               "memory_size": MEMORY},
    "questions": [{"memories": s, "question": q, "answer": int(a)} for (s, q), a in zip(questions, answers)],
    "logits": flat(logits), "attention": [flat(p) for p in attention], "loss": float(loss),
    "linear_start_logits": flat(linear_logits),
    "parameters": {name: {"shape": list(p.shape), "value": flat(p), "grad": flat(p.grad)}
                   for name, p in model.named_parameters()},
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "memn2n_pytorch.json")
with open(path, "w") as f:
    json.dump(fixture, f)
print(f"wrote {path}: {len(fixture['parameters'])} parameters, loss {fixture['loss']:.6f}")
