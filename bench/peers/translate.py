"""PyTorch peer for the English->French translation benchmark (`recur translate train`).

The same data, model and training schedule as

    recur translate train --pairs eng-fra.txt --attention general --max-words 10 --hidden 128 --embed 128
                          --min-frequency 3 --threads 1 --time-limit 60

The pairs come from `recur translate split` (same normalisation, tokenisation and held-out split): each line holds the
source tokens, the target tokens and the reference text. Model: embeddings (padding id 0, dropout 0.2) -> bidirectional
LSTM encoder (forget-gate bias 1, packed by length) -> tanh bridges from the final states to the decoder's h and c ->
an LSTMCell decoder reading [embedding; previous attentional vector] (input feeding), Luong "general" or (with
--attention additive) Bahdanau additive attention over the encoder outputs with padding masked, attentional vector
tanh(W_c [context; s_t]), dropout, output layer; mean cross-entropy over the target tokens and <eos>; Adam 1e-3, batch
64 of similar source lengths, global-norm clipping at 5.

Every --validate-every steps the held-out sources are translated greedily (batches of 128, at most 50 tokens) and the
translations are written to OUT/hyp-<step>.txt, with one JSON line per validation giving the step and the seconds
since training began; `recur translate bleu --hypotheses OUT/hyp-<step>.txt --references valid.tsv` scores them with the
same BLEU as Recur's.

Run with Debian's python3 (python3-torch + libopenblas0-pthread), e.g.
    /usr/bin/python3 bench/peers/translate.py --split DIR --out OUT --minutes 60 --threads 1
"""
import argparse
import collections
import json
import os
import random
import re
import time

import torch
import torch.nn as nn

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def read(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            source, target, reference = line.rstrip("\n").split("\t")
            rows.append((source.split(), target.split(), reference))
    return rows


def vocabulary(sentences, min_frequency):
    counts = collections.Counter(w for s in sentences for w in s)
    words = sorted((w for w, c in counts.items() if c >= min_frequency), key=lambda w: (-counts[w], w))
    itos = ["<pad>", "<unk>", "<bos>", "<eos>"] + words
    return {w: i for i, w in enumerate(itos)}, itos


class Seq2Seq(nn.Module):
    def __init__(self, source_size, target_size, embed, hidden, dropout, attention):
        super().__init__()
        self.attention = attention
        width = 2 * hidden
        self.source_embedding = nn.Embedding(source_size, embed, padding_idx=PAD)
        self.target_embedding = nn.Embedding(target_size, embed, padding_idx=PAD)
        self.encoder = nn.LSTM(embed, hidden, bidirectional=True)
        for name, p in self.encoder.named_parameters():
            if name.startswith("bias_ih"):
                with torch.no_grad():
                    p[hidden:2 * hidden].fill_(1.0)
                    getattr(self.encoder, name.replace("ih", "hh"))[hidden:2 * hidden].fill_(0.0)
        self.bridge_hidden = nn.Linear(width, width)
        self.bridge_cell = nn.Linear(width, width)
        self.decoder = nn.LSTMCell(embed + width, width)
        if attention == "general":
            self.keys = nn.Linear(width, width, bias=False)  # score = <s_t, W h_j>
        else:  # additive: score = v . tanh(W h_j + b + U s_t)
            self.keys = nn.Linear(width, width)
            self.query = nn.Linear(width, width, bias=False)
            self.energy = nn.Linear(width, 1, bias=False)
        self.combine = nn.Linear(2 * width, width, bias=False)
        self.output = nn.Linear(width, target_size)
        self.drop = nn.Dropout(dropout)
        self.width = width

    def encode(self, sources, lengths):
        embedded = self.drop(self.source_embedding(sources))  # [S, B, E]
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, enforce_sorted=False)
        outputs, (h, c) = self.encoder(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs)  # [S, B, W]
        h = torch.tanh(self.bridge_hidden(torch.cat([h[0], h[1]], 1)))
        c = torch.tanh(self.bridge_cell(torch.cat([c[0], c[1]], 1)))
        penalty = (sources == PAD).float() * -1e9  # [S, B]
        return outputs, self.keys(outputs), penalty, (h, c, torch.zeros_like(h))

    def step(self, outputs, keys, penalty, state, previous):
        h, c, feed = state
        x = torch.cat([self.drop(self.target_embedding(previous)), feed], 1)
        h, c = self.decoder(x, (h, c))
        if self.attention == "general":
            scores = (keys * h.unsqueeze(0)).sum(2) + penalty
        else:
            scores = self.energy(torch.tanh(keys + self.query(h).unsqueeze(0))).squeeze(2) + penalty
        weights = torch.softmax(scores, 0)
        context = (outputs * weights.unsqueeze(2)).sum(0)
        attentional = torch.tanh(self.combine(torch.cat([context, h], 1)))
        self.last_weights = weights
        return attentional, (h, c, attentional)

    def loss(self, sources, lengths, targets):
        outputs, keys, penalty, state = self.encode(sources, lengths)
        steps, batch = targets.shape
        previous = torch.full((batch,), BOS, dtype=torch.long)
        tops = []
        for t in range(steps):
            top, state = self.step(outputs, keys, penalty, state, previous)
            tops.append(top)
            previous = targets[t]
        logits = self.output(self.drop(torch.stack(tops)))
        return nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=PAD)

    @torch.no_grad()
    def greedy(self, sources, lengths, max_length=50, on_last=None):
        """Greedy translations; on_last (a two-element list) accumulates the attention weight on each sentence's last
        source token and the number of decoder steps, to see whether attention collapsed onto the final token."""
        outputs, keys, penalty, state = self.encode(sources, lengths)
        batch = sources.size(1)
        previous = torch.full((batch,), BOS, dtype=torch.long)
        result = [[] for _ in range(batch)]
        done = [False] * batch
        for _ in range(max_length):
            top, state = self.step(outputs, keys, penalty, state, previous)
            previous = self.output(top).argmax(1)
            if on_last is not None:
                for b in range(batch):
                    if not done[b]:
                        on_last[0] += float(self.last_weights[int(lengths[b]) - 1, b])
                        on_last[1] += 1
            for b, token in enumerate(previous.tolist()):
                if done[b]:
                    continue
                if token == EOS:
                    done[b] = True
                else:
                    result[b].append(token)
            if all(done):
                break
        return result


def tensor(rows, index, eos):
    length = max(len(r) for r in rows) + (1 if eos else 0)
    data = torch.full((length, len(rows)), PAD, dtype=torch.long)
    for b, r in enumerate(rows):
        ids = [index.get(w, UNK) for w in r] + ([EOS] if eos else [])
        data[:len(ids), b] = torch.tensor(ids, dtype=torch.long)
    return data


def batches(rows, size, rng, pool=50):
    order = list(range(len(rows)))
    rng.shuffle(order)
    result = []
    for start in range(0, len(order), size * pool):
        chunk = sorted(order[start:start + size * pool], key=lambda i: len(rows[i][0]))
        result += [chunk[i:i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(result)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", required=True, help="folder written by `recur translate split`")
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--validate-every", type=int, default=1500)
    parser.add_argument("--min-frequency", type=int, default=3)
    parser.add_argument("--attention", choices=["general", "additive"], default="general")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    rng = random.Random(1)
    os.makedirs(args.out, exist_ok=True)
    train, valid = read(os.path.join(args.split, "train.tsv")), read(os.path.join(args.split, "valid.tsv"))
    source_index, _ = vocabulary([r[0] for r in train], args.min_frequency)
    target_index, target_words = vocabulary([r[1] for r in train], args.min_frequency)
    model = Seq2Seq(len(source_index), len(target_index), 128, 128, 0.2, args.attention)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    print(json.dumps({"train": len(train), "valid": len(valid), "source_vocabulary": len(source_index),
                      "target_vocabulary": len(target_index), "attention": args.attention,
                      "parameters": sum(p.numel() for p in model.parameters())}), flush=True)

    def validate(step, elapsed):
        model.eval()
        lines, on_last = [], [0.0, 0]
        for start in range(0, len(valid), 128):
            rows = valid[start:start + 128]
            sources = tensor([r[0] for r in rows], source_index, False)
            lengths = torch.tensor([len(r[0]) for r in rows])
            for ids in model.greedy(sources, lengths, on_last=on_last):
                text = " ".join(target_words[i] for i in ids)
                lines.append(re.sub(r"(\w) - (?=\w)", r"\1-", text))
        with open(os.path.join(args.out, f"hyp-{step}.txt"), "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
        model.train()
        print(json.dumps({"step": step, "elapsed_seconds": round(elapsed, 1), "hypotheses": f"hyp-{step}.txt",
                          "attention_on_last_token": round(on_last[0] / max(1, on_last[1]), 3)}), flush=True)

    start, step, tokens, loss_sum = time.time(), 0, 0, 0.0
    deadline = args.minutes * 60
    while time.time() - start < deadline:
        for batch in batches(train, 64, rng):
            rows = [train[i] for i in batch]
            sources = tensor([r[0] for r in rows], source_index, False)
            lengths = torch.tensor([len(r[0]) for r in rows])
            targets = tensor([r[1] for r in rows], target_index, True)
            loss = model.loss(sources, lengths, targets)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            step += 1
            tokens += int((targets != PAD).sum())
            loss_sum += loss.item()
            if step % 100 == 0:
                elapsed = time.time() - start
                print(json.dumps({"step": step, "loss": round(loss_sum / 100, 4), "pairs_per_second": round(step * 64 / elapsed, 1),
                                  "elapsed_seconds": round(elapsed, 1)}), flush=True)
                loss_sum = 0.0
            if step % args.validate_every == 0:
                validate(step, time.time() - start)
            if time.time() - start >= deadline:
                break
    validate(step, time.time() - start)


if __name__ == "__main__":
    main()
