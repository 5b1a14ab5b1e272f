"""PyTorch peer for the SST-2 sentiment benchmark: the same model and settings as `recur classify train`'s defaults.

Run with Debian's own python3 (python3-torch, libopenblas0-pthread), 2 threads:
    /usr/bin/python3 bench/peers/classify_sst2.py ../shared/data/sst2 --epochs 2 [--pooling attention]
Model: embedding 128 (padding 0) -> dropout 0.5 -> bidirectional LSTM 128 (forget-gate bias 1) over packed sequences ->
max over the real tokens, or attention (softmax over the real tokens of v.tanh(W h_t)) -> dropout 0.5 -> linear;
Adam 2e-3, batch 64 of similar lengths, gradient norm clipped at 1.
Tokens: lower-cased words and single punctuation marks, as Recur's WordTokenizer; vocabulary from the training file.
Prints one JSON line per epoch: seconds of training, dev and test accuracy.
"""
import argparse
import json
import random
import re
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOKEN = re.compile(r"[\w'’]+|[^\w\s]", re.UNICODE)


def read(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        label_index, text_index = header.index("label"), 1 - header.index("label")
        for line in f:
            parts = line.rstrip("\n").split("\t")
            rows.append((TOKEN.findall(parts[text_index].lower()), int(parts[label_index])))
    return rows


class Classifier(torch.nn.Module):
    def __init__(self, vocabulary, embed=128, hidden=128, classes=2, dropout=0.5, pooling="max"):
        super().__init__()
        self.pooling = pooling
        if pooling == "attention":
            self.attention = torch.nn.Linear(2 * hidden, 2 * hidden)
            self.attention_vector = torch.nn.Linear(2 * hidden, 1, bias=False)
        self.embedding = torch.nn.Embedding(vocabulary, embed, padding_idx=0)
        self.encoder = torch.nn.LSTM(embed, hidden, bidirectional=True)
        with torch.no_grad():
            for name, value in self.encoder.named_parameters():
                if name.startswith("bias_ih"):
                    value[hidden:2 * hidden] = 1.0
                elif name.startswith("bias_hh"):
                    value[hidden:2 * hidden] = 0.0
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(2 * hidden, classes)

    def forward(self, ids, lengths):
        x = self.dropout(self.embedding(ids))
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        output, _ = self.encoder(packed)
        if self.pooling == "max":
            output, _ = pad_packed_sequence(output, padding_value=-1e9)
            return self.head(self.dropout(output.max(0).values))
        output, _ = pad_packed_sequence(output)
        mask = torch.arange(output.shape[0]).unsqueeze(1) >= lengths.unsqueeze(0)
        scores = self.attention_vector(torch.tanh(self.attention(output))).squeeze(2).masked_fill(mask, -1e9)
        weights = torch.softmax(scores, 0).unsqueeze(2)
        return self.head(self.dropout((output * weights).sum(0)))


def batches(rows, ids_of, batch, shuffle_seed=None):
    order = list(range(len(rows)))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(order)
        # buckets of 50 batches sorted by length, as Recur's Batching.BucketedByLength
        pool = batch * 50
        order = [i for s in range(0, len(order), pool) for i in sorted(order[s:s + pool], key=lambda i: len(rows[i][0]))]
        chunks = [order[s:s + batch] for s in range(0, len(order), batch)]
        random.Random(shuffle_seed + 1).shuffle(chunks)
    else:
        order.sort(key=lambda i: len(rows[i][0]))
        chunks = [order[s:s + batch] for s in range(0, len(order), batch)]
    for chunk in chunks:
        seqs = [ids_of(rows[i][0]) for i in chunk]
        lengths = torch.tensor([len(s) for s in seqs])
        ids = torch.zeros(int(lengths.max()), len(seqs), dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[:len(s), b] = torch.tensor(s)
        yield ids, lengths, torch.tensor([rows[i][1] for i in chunk])


def accuracy(model, rows, ids_of):
    model.eval()
    right = 0
    with torch.no_grad():
        for ids, lengths, labels in batches(rows, ids_of, 256):
            right += int((model(ids, lengths).argmax(1) == labels).sum())
    model.train()
    return right / len(rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pooling", choices=["max", "attention"], default="max")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    train, dev, test = (read(f"{args.folder}/{name}.tsv") for name in ("train", "dev", "test"))
    vocabulary = {"<pad>": 0, "<unk>": 1}
    for tokens, _ in train:
        for t in tokens:
            vocabulary.setdefault(t, len(vocabulary))

    def ids_of(tokens):
        return [vocabulary.get(t, 1) for t in tokens] or [1]

    model = Classifier(len(vocabulary), pooling=args.pooling)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_function = torch.nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        start = time.perf_counter()
        for ids, lengths, labels in batches(train, ids_of, 64, shuffle_seed=epoch):
            optimizer.zero_grad()
            loss = loss_function(model(ids, lengths), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        seconds = time.perf_counter() - start
        print(json.dumps({"epoch": epoch + 1, "train_seconds": seconds, "dev_accuracy": accuracy(model, dev, ids_of),
                          "test_accuracy": accuracy(model, test, ids_of)}), flush=True)


if __name__ == "__main__":
    main()
