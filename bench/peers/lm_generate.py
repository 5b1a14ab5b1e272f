"""PyTorch peer for `recur bench generate`: token-by-token sampling from a character language model (embedding,
stacked torch.nn.LSTM, linear head), in float and after torch.ao.quantization.quantize_dynamic (int8 LSTM and
Linear weights).

Reads a JSON request {"vocab", "embed", "hidden", "layers", "tokens", "min_seconds", "repeat", "threads"} and prints
{"float": [median, min, max], "int8": [median, min, max]}: seconds to generate `tokens` tokens one at a time.
"""
import json

import torch

from peer_timing import best_time, read_request


class CharModel(torch.nn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embed)
        self.rnn = torch.nn.LSTM(embed, hidden, layers)
        self.decoder = torch.nn.Linear(hidden, vocab)


def generate(model, tokens):
    generator = torch.Generator().manual_seed(1)
    token = torch.tensor([[1]])
    state = None
    with torch.no_grad():
        for _ in range(tokens):
            output, state = model.rnn(model.embedding(token), state)
            probabilities = torch.softmax(model.decoder(output[-1]), -1)
            token = torch.multinomial(probabilities, 1, generator=generator).view(1, 1)


def main():
    request = read_request()
    torch.set_num_threads(request["threads"])
    torch.manual_seed(0)
    model = CharModel(request["vocab"], request["embed"], request["hidden"], request["layers"]).eval()
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.LSTM, torch.nn.Linear}, dtype=torch.qint8)
    answer = {}
    for name, m in (("float", model), ("int8", quantized)):
        answer[name] = list(best_time(lambda: generate(m, request["tokens"]), request["min_seconds"],
                                      request.get("repeat", 5)))
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
