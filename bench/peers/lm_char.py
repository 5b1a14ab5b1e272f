"""PyTorch peer for the tiny-shakespeare language-model benchmark (`recur lm train`).

The same model, data split and training schedule as

    recur lm train --text input.txt --tokenizer char --hidden 512 --embed 128 --layers 2 --dropout 0.25 --bptt 128
                   --batch 32 --lr 2e-3 --clip-norm 5 --validate-every 123 --time-limit 60

embedding -> dropout -> 2-layer LSTM (dropout between layers) -> dropout -> linear; Adam, global-norm clipping, the
last 10% of the characters held out, 32 parallel streams with the state carried across chunks of 128 steps
(detached), validation on 16 streams. Prints one JSON line per validation with the training time so far, so that
times to a given loss can be compared with Recur's metrics.jsonl, then training and generation throughput.

Run with Debian's python3 (python3-torch + libopenblas0-pthread), e.g.
    /usr/bin/python3 bench/peers/lm_char.py --text ../shared/data/tinyshakespeare/input.txt --minutes 60
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, vocabulary, embed, hidden, layers, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embed)
        self.rnn = nn.LSTM(embed, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden, vocabulary)
        self.drop = nn.Dropout(dropout)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, x, state=None):
        output, state = self.rnn(self.drop(self.embedding(x)), state)
        return self.decoder(self.drop(output)), state


def streams(ids, count):
    length = len(ids) // count
    return torch.tensor(ids[: length * count], dtype=torch.long).view(count, length).t().contiguous()  # [T, B]


def evaluate(model, data, bptt):
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for start in range(0, data.size(0) - 1, bptt):
            steps = min(bptt, data.size(0) - 1 - start)
            logits, state = model(data[start:start + steps], state)
            target = data[start + 1:start + 1 + steps]
            total += nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), target.reshape(-1), reduction="sum").item()
            count += target.numel()
    model.train()
    return total / count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--text", required=True)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--validate-every", type=int, default=123)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    text = open(args.text, encoding="utf-8").read()
    cut = int(len(text) * 0.9)
    train_text, valid_text = text[:cut], text[cut:]
    alphabet = sorted(set(train_text))
    index = {c: i for i, c in enumerate(alphabet)}
    train = streams([index[c] for c in train_text], 32)
    valid = streams([index.get(c, 0) for c in valid_text], 16)
    model = Model(len(alphabet), 128, 512, 2, 0.25)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    bptt, step, elapsed, best = 128, 0, 0.0, math.inf
    tokens = 0
    deadline = args.minutes * 60
    print(json.dumps({"parameters": sum(p.numel() for p in model.parameters()), "chunks_per_epoch": (train.size(0) - 2) // bptt + 1}), flush=True)
    while elapsed < deadline:
        state = None
        for start in range(0, train.size(0) - 1, bptt):
            began = time.perf_counter()
            steps = min(bptt, train.size(0) - 1 - start)
            logits, state = model(train[start:start + steps], state)
            state = tuple(s.detach() for s in state)
            loss = nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), train[start + 1:start + 1 + steps].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            step += 1
            tokens += steps * train.size(1)
            elapsed += time.perf_counter() - began
            if step % args.validate_every == 0:
                began = time.perf_counter()
                valid_loss = evaluate(model, valid, bptt)
                elapsed += time.perf_counter() - began
                best = min(best, valid_loss)
                print(json.dumps({"step": step, "elapsed_seconds": round(elapsed, 1), "valid_loss": round(valid_loss, 4),
                                  "best": round(best, 4), "train_tokens_per_second": round(tokens / elapsed)}), flush=True)
            if elapsed >= deadline:
                break
    # generation: one character at a time from "\n", sampling at temperature 1
    model.eval()
    generated, state = [index["\n"]], None
    began = time.perf_counter()
    with torch.no_grad():
        for _ in range(2000):
            logits, state = model(torch.tensor([[generated[-1]]]), state)
            generated.append(torch.multinomial(torch.softmax(logits[-1, 0], -1), 1).item())
    seconds = time.perf_counter() - began
    print(json.dumps({"generate_tokens_per_second": round(2000 / seconds), "sample": "".join(alphabet[i] for i in generated[:300])}), flush=True)


if __name__ == "__main__":
    main()
