"""PyTorch peer for `recur bench memnet`: training steps of the same end-to-end memory network as Recur's MemoryNetwork
(adjacent weight tying, position encoding, temporal encoding, masked memory softmax, answer scores against the last
embedding table, cross-entropy) with Adam and norm clipping 40, on the batches Recur sends, padded as Recur pads them.

Reads a JSON request {"vocabulary", "sentence_length", "embedding", "hops", "memory_size", "batches": [{"story":
[B][M][J], "ages": [B][M], "mask": [B][M], "question": [B][J], "answers": [B]}], "min_seconds", "repeat", "threads"}
and prints {"step": seconds, "step_min", "step_max"} (median over repeated steps, cycling through the batches; one
step is one batch).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from peer_timing import print_step_times, read_request


def position_encoding(length, size):
    j = torch.arange(1, length + 1, dtype=torch.float32).unsqueeze(1)
    k = torch.arange(1, size + 1, dtype=torch.float32).unsqueeze(0)
    return 1 + 4 * (k - (size + 1) / 2) * (j - (length + 1) / 2) / (size * length)


class MemN2N(nn.Module):
    def __init__(self, r):
        super().__init__()
        self.hops = r["hops"]
        d = r["embedding"]
        self.embeddings = nn.ModuleList([nn.Embedding(r["vocabulary"], d, padding_idx=0)
                                         for _ in range(self.hops + 1)])
        self.temporal = nn.ModuleList([nn.Embedding(r["memory_size"] + 1, d, padding_idx=r["memory_size"])
                                       for _ in range(self.hops + 1)])
        for p in self.parameters():
            nn.init.normal_(p, 0, 0.1)
        self.register_buffer("pe", position_encoding(r["sentence_length"], d))

    def forward(self, story, ages, mask, question):  # [B,M,J], [B,M], [B,M] (0 or -inf), [B,J]
        memories = [(self.embeddings[k](story) * self.pe).sum(2) + self.temporal[k](ages)
                    for k in range(self.hops + 1)]
        u = (self.embeddings[0](question) * self.pe).sum(1)
        for k in range(1, self.hops + 1):
            p = F.softmax(torch.bmm(memories[k - 1], u.unsqueeze(2)).squeeze(2) + mask, dim=1)
            u = u + torch.bmm(p.unsqueeze(1), memories[k]).squeeze(1)
        return u @ self.embeddings[self.hops].weight.t()


def main():
    r = read_request()
    torch.set_num_threads(r["threads"])
    torch.manual_seed(0)
    model = MemN2N(r)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    batches = [(torch.tensor(b["story"]), torch.tensor(b["ages"]), torch.tensor(b["mask"], dtype=torch.float32),
                torch.tensor(b["question"]), torch.tensor(b["answers"])) for b in r["batches"]]
    def step(batch):
        story, ages, mask, question, answers = batch
        optimizer.zero_grad()
        loss = F.cross_entropy(model(story, ages, mask, question), answers)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 40.0)
        optimizer.step()

    print_step_times(step, batches, r)

if __name__ == "__main__":
    main()
