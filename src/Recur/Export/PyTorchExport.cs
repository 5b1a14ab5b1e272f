using System.Globalization;
using Recur.Captioning;
using Recur.Classification;
using Recur.Forecasting;
using Recur.Language;
using Recur.Memory;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;
using Recur.Speech;
using Recur.Tagging;
using Recur.Text;
using Recur.Translation;
using Recur.WaveNet;

namespace Recur.Export;

/// <summary>
/// Writes a trained Recur model as a PyTorch project in a folder: <c>model.py</c> (a <c>torch.nn.Module</c> that
/// mirrors the model with torch's own <c>nn.LSTM</c>/<c>nn.GRU</c>/<c>nn.RNN</c>, <c>nn.Embedding</c> and
/// <c>nn.Linear</c>), <c>model.safetensors</c> (the weights under torch's state-dict names, which are Recur's) and
/// <c>load.py</c> (reads them with torch alone, no safetensors package needed). This is the way to a GPU: continue
/// training there (e.g. with <c>torch.distributed</c>) and bring the weights back with <see
/// cref="Module.LoadStateDict"/>. Cells torch lacks (peepholes, layer-normalised, leaky, Jordan, Cho's GRU) and
/// residual stacks get a <see cref="NotSupportedException"/> before anything is written.
/// </summary>
public static class PyTorchExport
{
    /// <summary>The model kinds (<c>architecture</c> in <c>config.json</c>) <see cref="SaveRun"/> exports.</summary>
    public static IReadOnlyList<string> Kinds { get; } =
        ["sequence_model", "text_classifier", "language_model", "forecaster", "sequence_tagger", "seq2seq",
            "wavenet", "memn2n", "speech_recognizer", "captioner", "story_lstm", "ntm"];

    /// <summary>
    /// A <see cref="SequenceModel"/> as class <c>SequenceModel</c>: <c>forward(input)</c> with input [steps, batch,
    /// inputSize] returns [batch, outputSize] (many-to-one) or [steps, batch, outputSize] (per step).
    /// </summary>
    public static void Save(SequenceModel model, string folder)
    {
        var config = model.Config;
        var recurrent = config.Recurrent;
        int half = recurrent.OutputWidth;
        string summary = config.PerStep ? "return self.head(self.dropout(output))" : config.Bidirectional
            ? $"""
              # the backward direction has read the whole sequence at step 0
                      last = torch.cat([output[-1, :, :{half}], output[0, :, {half}:]], dim=1)
                      return self.head(self.dropout(last))
              """
            : "return self.head(self.dropout(output[-1]))";
        string code = $$""""
            class SequenceModel(nn.Module):
                """Recur's SequenceModel: {{Describe(config.Cell, recurrent)}} with a linear head."""

                def __init__(self):
                    super().__init__()
                    self.rnn = {{Recurrent(recurrent, "rnn")}}
                    self.head = nn.Linear({{half * recurrent.Directions}}, {{config.OutputSize}})
                    self.dropout = nn.Dropout({{Literal(config.Dropout)}})

                def forward(self, input):
                    """input [steps, batch, {{config.InputSize}}] -> {{(config.PerStep ? "[steps, batch, " : "[batch, ")
                        + config.OutputSize}}]"""
                    output, _ = self.rnn(input)
                    {{summary}}
            """";
        Write(folder, "SequenceModel", code, model);
    }

    /// <summary>
    /// A <see cref="TextClassifier"/> as class <c>TextClassifier</c>: <c>forward(ids, lengths)</c> with ids (long
    /// [steps, batch], time-major, 0 past each text) and lengths (long [batch]) returns logits [batch, classes],
    /// running the encoder on packed sequences as Recur does. A model that reads by sentences (a hierarchical
    /// attention network) or in chunks takes every text's segments as ids [steps, segments] and lengths [segments],
    /// and <c>segment_index</c> (long [most, batch]) and <c>segment_counts</c> (long [batch]) as
    /// <see cref="TextClassifier.Segmented"/> gives them, as its ONNX file does.
    /// </summary>
    public static void Save(TextClassifier model, string folder)
    {
        var config = model.Config;
        var encoder = config.Encoder;
        int directions = encoder.Directions, width = config.HiddenSize * directions;
        string finals = encoder.Mode == RecurrentMode.Lstm ? "finals[0]" : "finals";
        string last = $"torch.cat(list({finals}[-{directions}:]), dim=1)";
        string pooling = config.Pooling switch
        {
            Pooling.Last => $"pooled = {last}",
            Pooling.Mean => "pooled = output.sum(0) / lengths[:, None].to(output.dtype)",
            Pooling.Max => "pooled = (output + penalty).max(0).values",
            Pooling.Concat => $"pooled = torch.cat([{last}, (output + penalty).max(0).values, "
                + "output.sum(0) / lengths[:, None].to(output.dtype)], dim=1)",
            _ => "pooled = self.attend(self.attention, self.attention_vector, output, penalty)",
        };
        int pooledWidth = config.Pooling == Pooling.Concat ? 3 * width : width;
        bool sentences = config.Segmentation == Segmentation.Sentences;
        string layers = (config.Pooling == Pooling.Attention ? $"""

                    self.attention = nn.Linear({width}, {width})
                    self.attention_vector = nn.Linear({width}, 1, bias=False)
            """ : "") + (sentences ? $"""

                    self.sentence_encoder = {Recurrent(config.SentenceEncoder, "sentence_encoder")}
                    self.sentence_attention = nn.Linear({width}, {width})
                    self.sentence_attention_vector = nn.Linear({width}, 1, bias=False)
            """ : "");
        string segments = config.Segmentation switch
        {
            Segmentation.None => "",
            Segmentation.Chunks => """

                        padded, penalty = self.gather(pooled, segment_index, segment_counts)
                        pooled = (padded + penalty).max(0).values
                """,
            _ => """

                        padded, penalty = self.gather(pooled, segment_index, segment_counts)
                        output, _ = self.encode(self.sentence_encoder, self.dropout(padded), segment_counts)
                        pooled = self.attend(self.sentence_attention, self.sentence_attention_vector, output, penalty)
                """,
        };
        string reads = config.Segmentation switch
        {
            Segmentation.None => "",
            Segmentation.Chunks => " in chunks (max-pooled)",
            _ => " by sentences (a sentence encoder with attention over the sentence vectors)",
        };
        string code = $$""""
            class TextClassifier(nn.Module):
                """Recur's TextClassifier: embedding -> {{Describe(config.Cell, encoder)}} over packed sequences ->
                {{config.Pooling.ToString().ToLowerInvariant()}} pooling{{reads}} -> linear head."""

                def __init__(self):
                    super().__init__()
                    self.embedding = nn.Embedding({{config.VocabularySize}}, {{config.EmbeddingSize}}, padding_idx=0)
                    self.encoder = {{Recurrent(encoder, "encoder")}}{{layers}}
                    self.head = nn.Linear({{pooledWidth}}, {{config.Classes}})
                    self.dropout = nn.Dropout({{Literal(config.Dropout)}})

                @staticmethod
                def penalty(lengths, steps, like):
                    """[steps, batch, 1]: 0 at real steps, -1e9 past each length"""
                    inside = torch.arange(steps, device=lengths.device)[:, None] < lengths[None, :]
                    return (~inside)[:, :, None].to(like.dtype) * -1e9

                @staticmethod
                def encode(rnn, x, lengths):
                    packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
                    output, finals = rnn(packed)
                    output, _ = nn.utils.rnn.pad_packed_sequence(output, total_length=x.shape[0])
                    return output, finals

                @staticmethod
                def attend(projection, vector, output, penalty):
                    scores = vector(torch.tanh(projection(output))) + penalty
                    return (output * torch.softmax(scores, dim=0)).sum(0)

                def gather(self, pooled, segment_index, segment_counts):
                    """segment vectors [most, batch, width] (zero where a text has no more), and their penalty"""
                    padded = torch.cat([pooled, pooled.new_zeros(1, pooled.shape[1])])[segment_index]
                    return padded, self.penalty(segment_counts, segment_index.shape[0], padded)

                def forward(self, ids, lengths, segment_index=None, segment_counts=None):
                    """ids [steps, sequences] (0 past each), lengths [sequences] -> logits [batch, classes]"""
                    output, finals = self.encode(self.encoder, self.dropout(self.embedding(ids)), lengths)
                    penalty = self.penalty(lengths, ids.shape[0], output)
                    {{pooling}}{{segments}}
                    return self.head(self.dropout(pooled))
            """";
        Write(folder, "TextClassifier", code, model);
    }

    /// <summary>
    /// A <see cref="LanguageModel"/> as class <c>LanguageModel</c>: <c>forward(ids, state=None)</c> with ids (long
    /// [steps, batch]) returns next-token logits [steps, batch, vocabulary] and the state to pass with the next
    /// chunk (torch's (h, c) for an LSTM, h otherwise; zeros when None).
    /// </summary>
    public static void Save(LanguageModel model, string folder)
    {
        var config = model.Config;
        var recurrent = config.Recurrent;
        string decoder = config.TieWeights
            ? "self.decoder = nn.Module()\n        self.decoder.bias = nn.Parameter(torch.zeros("
                + $"{config.VocabularySize}))  # the weight is the embedding table's (tied)"
            : $"self.decoder = nn.Linear({recurrent.OutputWidth}, {config.VocabularySize})";
        string logits = config.TieWeights
            ? "nn.functional.linear(output, self.embedding.weight, self.decoder.bias)" : "self.decoder(output)";
        string code = $$""""
            class LanguageModel(nn.Module):
                """Recur's LanguageModel: embedding -> {{Describe(config.Cell, recurrent)}} -> linear layer over the
                vocabulary{{(config.TieWeights ? " (tied to the embedding)" : "")}}."""

                def __init__(self):
                    super().__init__()
                    self.embedding = nn.Embedding({{config.VocabularySize}}, {{config.EmbeddingSize}})
                    self.rnn = {{Recurrent(recurrent, "rnn")}}
                    {{decoder}}
                    self.dropout = nn.Dropout({{Literal(config.Dropout)}})

                def forward(self, ids, state=None):
                    """ids [steps, batch] -> logits [steps, batch, {{config.VocabularySize}}], state"""
                    output, state = self.rnn(self.dropout(self.embedding(ids)), state)
                    output = self.dropout(output)
                    return {{logits}}, state
            """";
        Write(folder, "LanguageModel", code, model);
    }

    /// <summary>
    /// A <see cref="Forecaster"/> as class <c>Forecaster</c>, with its preprocessing: <c>forward(history,
    /// covariates=None)</c> with history [batch, window + lag] in the series' units (and covariates [batch, window +
    /// lag, k]) returns the forecast [batch, horizon] in the series' units — the logarithm, differencing and scaling
    /// fitted on the training part, the network, and their inverses, as <see cref="Forecaster.Forecast"/> does for
    /// one block of the horizon.
    /// </summary>
    public static void Save(Forecaster forecaster, string folder)
    {
        ArgumentNullException.ThrowIfNull(forecaster);
        var options = forecaster.Options;
        int window = options.Window, lag = options.DifferenceLag, horizon = options.Horizon;
        int features = 1 + options.Covariates;
        string Pair(Scaler s) => $"({Literal(s.Offset)}, {Literal(s.Scale)})";
        string layers, network;
        if (options.Model == "mlp")
        {
            layers = $"self.hidden = nn.Linear({window * features}, {options.HiddenSize})\n"
                + $"        self.head = nn.Linear({options.HiddenSize}, {horizon})";
            network = "predicted = self.head(torch.tanh(self.hidden(x.flatten(1))))";
        }
        else
        {
            var recurrent = ((SequenceModel)forecaster.Network).Config.Recurrent;
            layers = $"self.rnn = {Recurrent(recurrent, "rnn")}\n"
                + $"        self.head = nn.Linear({options.HiddenSize}, {horizon})";
            network = "output, _ = self.rnn(x.transpose(0, 1))\n        predicted = self.head(output[-1])";
        }
        string code = $$""""
            class Forecaster(nn.Module):
                """Recur's Forecaster ({{options.Model}}, window {{window}}, horizon {{horizon}}) with its
                preprocessing, in the series' own units."""

                window, lag, horizon, log = {{window}}, {{lag}}, {{horizon}}, {{Literal(options.Log)}}
                scaling = {{Pair(forecaster.Scaler)}}  # (offset, scale) of the transformed series
                covariate_scaling = [{{string.Join(", ", forecaster.CovariateScalers.Select(Pair))}}]

                def __init__(self):
                    super().__init__()
                    {{layers}}

                def forward(self, history, covariates=None):
                    """history [batch, {{window + lag}}] (and covariates [batch, {{window + lag}}, k]) ->
                    forecast [batch, {{horizon}}]"""
                    levels = torch.log(history) if self.log else history
                    changes = levels[:, self.lag:] - levels[:, :self.window] if self.lag else levels
                    offset, scale = self.scaling
                    parts = [((changes - offset) / scale).unsqueeze(2)]
                    for c, (o, s) in enumerate(self.covariate_scaling):
                        parts.append(((covariates[:, self.lag:, c] - o) / s).unsqueeze(2))
                    x = torch.cat(parts, dim=2)  # [batch, window, features]
                    {{network}}
                    values = predicted * scale + offset
                    if self.lag:
                        # a level is its change plus the level lag steps earlier, from the history or the forecast
                        steps = []
                        for h in range(self.horizon):
                            earlier = levels[:, self.window + h] if h < self.lag else steps[h - self.lag]
                            steps.append(values[:, h] + earlier)
                        values = torch.stack(steps, dim=1)
                    return torch.exp(values) if self.log else values
            """";
        Write(folder, "Forecaster", code, forecaster.Network);
    }

    /// <summary>
    /// A <see cref="SequenceTagger"/> as class <c>SequenceTagger</c>: <c>forward(words, lengths, chars=None,
    /// char_lengths=None, casing=None)</c> (words long [steps, batch], 0 past each sentence; chars long [steps,
    /// batch, characters] and char_lengths [steps, batch] with character features; casing [steps, batch] with a
    /// casing embedding) returns the emission scores [steps, batch, tags]; <c>decode(emissions, lengths)</c> gives
    /// each sentence's tag ids (Viterbi with the CRF and its scheme's forbidden moves, else the best tag per word).
    /// <c>TAGS</c> names them.
    /// </summary>
    public static void Save(SequenceTagger model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = model.Config;
        int tags = config.Tags.Length;
        var state = model.StateDict();
        var encoder = new RecurrentConfig(RecurrentMode.Lstm, state["encoder.weight_ih_l0"].Size(1), config.HiddenSize,
            config.NumLayers, Dropout: config.NumLayers > 1 ? config.Dropout : 0f, Bidirectional: true);
        var parts = new List<string>
        {
            $"self.word_embedding = nn.Embedding({config.WordCount}, {config.WordEmbeddingSize}, padding_idx=0)",
        };
        if (config.CharFeatures)
        {
            parts.Add(
                $"self.char_embedding = nn.Embedding({config.CharCount}, {config.CharEmbeddingSize}, padding_idx=0)");
            parts.Add("self.char_encoder = " + Recurrent(new RecurrentConfig(RecurrentMode.Lstm,
                config.CharEmbeddingSize,
                config.CharHiddenSize, Bidirectional: true), "char_encoder"));
        }
        if (config.CasingEmbeddingSize > 0)
            parts.Add(
                $"self.casing_embedding = nn.Embedding({Casing.Count}, {config.CasingEmbeddingSize}, padding_idx=0)");
        parts.Add("self.encoder = " + Recurrent(encoder, "encoder"));
        parts.Add($"self.emission = nn.Linear({2 * config.HiddenSize}, {tags})");
        parts.Add($"self.dropout = nn.Dropout({Literal(config.Dropout)})");
        string crf = "self.crf = None";
        if (model.Crf is { } chain)
        {
            var (transitions, start, end) = chain.DecodingScores();
            string Penalties(float[] scores, Tensor learnt) => "[" + string.Join(", ", scores.Select((s, i) =>
                s - learnt.Span[i] < -1f ? "-1e4" : "0.0")) + "]";
            crf = $$"""
                self.crf = nn.Module()
                        self.crf.transitions = nn.Parameter(torch.zeros({{tags}}, {{tags}}))
                        self.crf.start_transitions = nn.Parameter(torch.zeros({{tags}}))
                        self.crf.end_transitions = nn.Parameter(torch.zeros({{tags}}))
                        # the moves the tag scheme forbids (not learnt, not in the state dict)
                        self.register_buffer("penalty", torch.tensor({{Penalties(transitions, chain.Transitions)}})
                            .reshape({{tags}}, {{tags}}), persistent=False)
                        self.register_buffer("start_penalty",
                                             torch.tensor({{Penalties(start, chain.StartTransitions)}}),
                                             persistent=False)
                        self.register_buffer("end_penalty", torch.tensor({{Penalties(end, chain.EndTransitions)}}),
                            persistent=False)
                """;
        }
        string names = string.Join(", ", config.Tags.Select(t => System.Text.Json.JsonSerializer.Serialize(t)));
        string reads = (config.CharFeatures ? ", character-BiLSTM" : "")
            + (config.CasingEmbeddingSize > 0 ? " and casing" : "");
        string layers = string.Join(Environment.NewLine + "        ", parts);
        string code = $$""""
            TAGS = [{{names}}]


            class SequenceTagger(nn.Module):
                """Recur's SequenceTagger: word{{reads}} features -> BiLSTM -> emission scores{{(config.Crf
                    ? " -> CRF" : "")}}."""

                def __init__(self):
                    super().__init__()
                    {{layers}}
                    {{crf}}

                def forward(self, words, lengths, chars=None, char_lengths=None, casing=None):
                    """-> emission scores [steps, batch, {{tags}}]"""
                    steps, batch = words.shape
                    features = [self.word_embedding(words)]
                    if chars is not None:
                        # every position's word through the character BiLSTM at once (padding runs one character)
                        flat = chars.reshape(steps * batch, -1).t()
                        packed = nn.utils.rnn.pack_padded_sequence(self.char_embedding(flat),
                                                                   char_lengths.reshape(-1).clamp(min=1).cpu(),
                                                                   enforce_sorted=False)
                        _, (final, _) = self.char_encoder(packed)
                        features.append(torch.cat([final[0], final[1]], dim=1).reshape(steps, batch, -1))
                    if casing is not None:
                        features.append(self.casing_embedding(casing))
                    x = self.dropout(torch.cat(features, dim=2))
                    packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
                    output, _ = self.encoder(packed)
                    output, _ = nn.utils.rnn.pad_packed_sequence(output, total_length=steps)
                    return self.emission(self.dropout(output))

                def decode(self, emissions, lengths):
                    """The tag ids of each sentence: Viterbi with the CRF, else the best tag of each word."""
                    result = []
                    for b, length in enumerate(lengths.tolist()):
                        scores = emissions[:length, b]
                        if self.crf is None:
                            result.append(scores.argmax(dim=1).tolist())
                            continue
                        moves = self.crf.transitions + self.penalty
                        delta = self.crf.start_transitions + self.start_penalty + scores[0]
                        pointers = []
                        for t in range(1, length):
                            best, index = (delta[:, None] + moves).max(dim=0)
                            pointers.append(index)
                            delta = best + scores[t]
                        tag = int((delta + self.crf.end_transitions + self.end_penalty).argmax())
                        path = [tag]
                        for index in reversed(pointers):
                            tag = int(index[tag])
                            path.append(tag)
                        result.append(path[::-1])
                    return result
            """";
        Write(folder, "SequenceTagger", code, model);
    }

    /// <summary>
    /// A <see cref="Seq2Seq"/> translation model as class <c>Seq2Seq</c>: <c>encode(source, lengths)</c> (source long
    /// [source_steps, batch], 0 past each sentence) gives what the decoder reads, <c>step(previous, state,
    /// encoded)</c> one decoder step (next-token logits [batch, target vocabulary], the next state, the attention
    /// weights), and <c>greedy(source, lengths, max_length)</c> the token ids of each translation, as Recur decodes.
    /// </summary>
    public static void Save(Seq2Seq model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = model.Config;
        bool lstm = config.Mode == RecurrentMode.Lstm;
        int width = config.Width;
        var encoder = new RecurrentConfig(config.Mode, config.EmbeddingSize, config.HiddenSize, config.NumLayers,
            Dropout: config.NumLayers > 1 ? config.Dropout : 0f, Bidirectional: config.Bidirectional);
        string cell = lstm ? "nn.LSTMCell" : "nn.GRUCell";
        string input0 = config.Attention == AttentionKind.None ? $"{config.EmbeddingSize}"
            : $"{config.EmbeddingSize + width}";
        string attention = config.Attention switch
        {
            AttentionKind.General => $"self.attention_keys = nn.Linear({width}, {width}, bias=False)",
            AttentionKind.Additive => $"self.attention_keys = nn.Linear({width}, {width})" + Environment.NewLine
                + $"        self.attention_query = nn.Linear({width}, {width}, bias=False)" + Environment.NewLine
                + $"        self.attention_energy = nn.Linear({width}, 1, bias=False)",
            _ => "",
        };
        if (config.Attention != AttentionKind.None)
            attention += Environment.NewLine + $"        self.attention_combine = nn.Linear({2 * width}, {width}, "
                + "bias=False)";
        string code = $$""""
            BOS, EOS = {{Tokenizers.Bos}}, {{Tokenizers.Eos}}


            class Seq2Seq(nn.Module):
                """Recur's Seq2Seq: {{Describe(config.Cell, encoder)}} encoder, {{config.NumLayers}}-layer
                {{config.Cell.Name()}} decoder, {{config.Attention.ToString().ToLowerInvariant()}} attention."""

                attention = "{{config.Attention.ToString().ToLowerInvariant()}}"
                layers, lstm = {{config.NumLayers}}, {{Literal(lstm)}}

                def __init__(self):
                    super().__init__()
                    self.source_embedding = nn.Embedding({{config.SourceVocabulary}}, {{config.EmbeddingSize}},
                                                         padding_idx=0)
                    self.target_embedding = nn.Embedding({{config.TargetVocabulary}}, {{config.EmbeddingSize}},
                                                         padding_idx=0)
                    self.encoder = {{Recurrent(encoder, "encoder")}}
                    self.bridge_hidden = nn.Linear({{width}}, {{width}})
                    {{(lstm ? $"self.bridge_cell = nn.Linear({width}, {width})" : "")}}
                    for layer in range(self.layers):
                        setattr(self, f"decoder_l{layer}", {{cell}}({{input0}} if layer == 0 else {{width}}, {{width}}))
                    {{attention}}
                    self.output = nn.Linear({{width}}, {{config.TargetVocabulary}})

                def encode(self, source, lengths):
                    steps, batch = source.shape
                    packed = nn.utils.rnn.pack_padded_sequence(self.source_embedding(source), lengths.cpu(),
                                                               enforce_sorted=False)
                    memory, finals = self.encoder(packed)
                    memory, _ = nn.utils.rnn.pad_packed_sequence(memory, total_length=steps)

                    def bridge(states, linear):
                        # each layer's final states, both directions side by side
                        states = states.reshape(self.layers, -1, batch, states.shape[-1]).transpose(1, 2)
                        return [torch.tanh(linear(s)) for s in states.reshape(self.layers, batch, -1)]

                    hidden = bridge(finals[0] if self.lstm else finals, self.bridge_hidden)
                    cells = bridge(finals[1], self.bridge_cell) if self.lstm else None
                    keys = self.attention_keys(memory) if self.attention in ("general", "additive") else memory
                    inside = torch.arange(steps)[:, None] < lengths[None, :]
                    penalty = (~inside).to(memory.dtype) * -1e9
                    feed = torch.zeros(batch, memory.shape[2]) if self.attention != "none" else None
                    return (hidden, cells, feed), (memory, keys, penalty)

                def step(self, previous, state, encoded):
                    hidden, cells, feed = state
                    memory, keys, penalty = encoded
                    x = self.target_embedding(previous)
                    if feed is not None:
                        x = torch.cat([x, feed], dim=1)
                    new_hidden, new_cells = [], []
                    for layer in range(self.layers):
                        cell = getattr(self, f"decoder_l{layer}")
                        if self.lstm:
                            h, c = cell(x, (hidden[layer], cells[layer]))
                            new_cells.append(c)
                        else:
                            h = cell(x, hidden[layer])
                        new_hidden.append(h)
                        x = h
                    weights = None
                    if self.attention != "none":
                        if self.attention == "additive":
                            scores = self.attention_energy(torch.tanh(keys + self.attention_query(x)[None]))[..., 0]
                        else:
                            scores = (keys * x[None]).sum(dim=2)
                        weights = torch.softmax(scores + penalty, dim=0)
                        context = (memory * weights[..., None]).sum(dim=0)
                        x = torch.tanh(self.attention_combine(torch.cat([context, x], dim=1)))
                    state = (new_hidden, new_cells if self.lstm else None, x if feed is not None else None)
                    return self.output(x), state, weights

                def greedy(self, source, lengths, max_length=50):
                    state, encoded = self.encode(source, lengths)
                    batch = source.shape[1]
                    previous = torch.full((batch,), BOS, dtype=torch.long)
                    {{GreedyLoop("max_length", "")}}
            """";
        Write(folder, "Seq2Seq", code, model);
    }

    /// <summary>
    /// A <see cref="SpeechRecognizer"/>'s acoustic model as class <c>SpeechRecognizer</c>: <c>forward(features,
    /// lengths)</c> with features [batch, 1, mels, frames] (the normalised log-mel frames, zero past each utterance)
    /// and lengths (long [batch], frames) returns the log-probabilities [steps, batch, classes] (blank 0, then the
    /// characters) and the frames after the convolutions — what <c>torch.nn.functional.ctc_loss</c> reads, so
    /// training can continue in torch. The frames past each utterance are zeroed after every convolution and the
    /// encoder runs on packed sequences, as in Recur; the feature extraction stays outside.
    /// </summary>
    public static void Save(SpeechRecognizer model, string folder)
    {
        var c = model.Config;
        var (kh, kw) = SpeechRecognizerConfig.Kernel;
        var encoder = c.Encoder;
        string convolutions = string.Join(", ", Enumerable.Range(0, c.ConvLayers).Select(l =>
        {
            var (sh, sw) = SpeechRecognizerConfig.Stride(l);
            return $"nn.Conv2d({(l == 0 ? 1 : c.ConvChannels)}, {c.ConvChannels}, ({kh}, {kw}), stride=({sh}, {sw}), "
                + $"padding=({kh / 2}, {kw / 2}))";
        }));
        string code = $$""""
            class SpeechRecognizer(nn.Module):
                """Recur's SpeechRecognizer: {{c.ConvLayers}} convolutions over (frequency x time) ->
                {{Describe(c.Cell, encoder)}} over packed sequences -> linear layer over {{model.Alphabet.Classes}}
                classes (blank first) -> log-softmax."""

                def __init__(self):
                    super().__init__()
                    for index, conv in enumerate([{{convolutions}}]):
                        setattr(self, f"conv{index}", conv)
                    self.layers = {{c.ConvLayers}}
                    self.encoder = {{Recurrent(encoder, "encoder")}}
                    self.head = nn.Linear({{encoder.OutputWidth * encoder.Directions}}, {{model.Alphabet.Classes}})
                    self.dropout = nn.Dropout({{Literal(c.Dropout)}})

                def forward(self, features, lengths):
                    """features [batch, 1, {{c.Features.NMels}}, frames], lengths [batch] ->
                    log-probabilities [steps, batch, {{model.Alphabet.Classes}}], output lengths [batch]"""
                    x = features
                    for index in range(self.layers):
                        conv = getattr(self, f"conv{index}")
                        x = torch.relu(conv(x))
                        width, stride, pad = conv.kernel_size[1], conv.stride[1], conv.padding[1]
                        lengths = torch.div(lengths + 2 * pad - width, stride, rounding_mode="floor") + 1
                        inside = torch.arange(x.shape[3], device=x.device)[None, :] < lengths[:, None]
                        x = x * inside[:, None, None, :].to(x.dtype)
                    batch, channels, rows, steps = x.shape
                    sequence = x.permute(3, 0, 1, 2).reshape(steps, batch, channels * rows)
                    packed = nn.utils.rnn.pack_padded_sequence(sequence, lengths.cpu(), enforce_sorted=False)
                    output, _ = self.encoder(packed)
                    output, _ = nn.utils.rnn.pad_packed_sequence(output, total_length=steps)
                    return torch.log_softmax(self.head(self.dropout(output)), dim=2), lengths
            """";
        Write(folder, "SpeechRecognizer", code, model);
    }

    /// <summary>
    /// A <see cref="MemoryNetwork"/> as class <c>MemoryNetwork</c>: <c>forward(story, ages, mask, question)</c> on the
    /// padded batch of <see cref="MemoryNetwork.Pad"/> (story long [batch, slots, words], ages long [batch, slots],
    /// mask [batch, slots] of 0 or −inf, question long [batch, words]) returns the answer logits [batch, vocabulary]
    /// and the attention [hops, batch, slots]; <c>linear_start</c> leaves the memory softmax out, as Recur's
    /// <see cref="MemoryNetwork.LinearStart"/> (set from the model at export).
    /// </summary>
    public static void Save(MemoryNetwork model, string folder)
    {
        var c = model.Config;
        bool positions = c.Encoding == SentenceEncoding.Position;
        string code = $$""""
            class MemoryNetwork(nn.Module):
                """Recur's MemoryNetwork (MemN2N): {{c.Hops}} hops of width {{c.EmbeddingSize}} with adjacent weight
                tying, {{(positions ? "position-encoded" : "bag-of-words")}} sentences{{(c.TemporalEncoding
                    ? ", temporal encoding" : "")}}."""

                def __init__(self):
                    super().__init__()
                    self.embeddings = nn.ModuleList(
                        [nn.Embedding({{c.VocabularySize}}, {{c.EmbeddingSize}}) for _ in range({{c.Hops + 1}})])
                    if {{Literal(c.TemporalEncoding)}}:
                        self.temporal = nn.ModuleList(
                            [nn.Embedding({{c.MemorySize + 1}}, {{c.EmbeddingSize}}) for _ in range({{c.Hops + 1}})])
                    self.positions = None
                    if {{Literal(positions)}}:
                        # l_kj = 1 + 4 (k - (d + 1)/2)(j - (J + 1)/2) / (d J), counted from 1
                        j = torch.arange(1, {{c.SentenceLength + 1}}, dtype=torch.float64).unsqueeze(1)
                        k = torch.arange(1, {{c.EmbeddingSize + 1}}, dtype=torch.float64).unsqueeze(0)
                        d, length = {{c.EmbeddingSize}}.0, {{c.SentenceLength}}.0
                        self.positions = (1 + 4 * (k - (d + 1) / 2) * (j - (length + 1) / 2) / (d * length)).float()
                    self.linear_start = {{Literal(model.LinearStart)}}

                def bag(self, table, ids):
                    """The sum of each sentence's word rows (position-weighted), the padding id 0 adding nothing."""
                    rows = table(ids) * (ids != 0).unsqueeze(-1)
                    if self.positions is not None:
                        rows = rows * self.positions
                    return rows.sum(-2)

                def forward(self, story, ages, mask, question):
                    """story [batch, slots, words], ages, mask [batch, slots], question [batch, words] ->
                    logits [batch, {{c.VocabularySize}}], attention [hops, batch, slots]"""
                    memories = []
                    for k, table in enumerate(self.embeddings):
                        m = self.bag(table, story)
                        if hasattr(self, "temporal"):
                            m = m + self.temporal[k](ages)
                        memories.append(m)
                    u = self.bag(self.embeddings[0], question)
                    attention = []
                    for k in range(1, len(memories)):
                        scores = torch.bmm(memories[k - 1], u.unsqueeze(2)).squeeze(2)
                        if self.linear_start:
                            p = scores * (mask == 0)
                        else:
                            p = torch.softmax(scores + mask, dim=1)
                        attention.append(p)
                        u = u + torch.bmm(p.unsqueeze(1), memories[k]).squeeze(1)
                    return u @ self.embeddings[-1].weight.t(), torch.stack(attention)
            """";
        Write(folder, "MemoryNetwork", code, model);
    }

    /// <summary>
    /// A <see cref="WaveNetModel"/> as class <c>WaveNet</c>: <c>forward(codes, condition=None, local=None)</c> with
    /// codes (long [batch, steps], μ-law codes), a label per sequence (long [batch]) when the model is conditioned on
    /// one and a local sequence [batch, channels, steps] when it has local conditioning, returns the logits [batch,
    /// levels, steps] of each next code: torch's <c>Conv1d</c>s after a causal left padding, the gated units and the
    /// residual, skip and head convolutions under Recur's state-dict names (the label embedding of a layer is
    /// <c>global</c>, a Python keyword, so it is reached with <c>getattr</c>).
    /// </summary>
    public static void Save(WaveNetModel model, string folder)
    {
        var c = model.Config;
        int r = c.ResidualChannels, d = c.DilationChannels;
        string code = $$""""
            class WaveNet(nn.Module):
                """Recur's WaveNet: {{c.Stacks}} stacks of {{c.LayersPerStack}} dilated causal layers (receptive field
                {{c.ReceptiveField}} samples), gated units, residual and skip connections, {{c.Levels}} levels."""

                def __init__(self):
                    super().__init__()
                    self.input = nn.Embedding({{c.Levels}}, {{r}})
                    self.layers = nn.ModuleList()
                    for layer in range({{c.Stacks * c.LayersPerStack}}):
                        block = nn.Module()
                        block.gate = nn.Conv1d({{r}}, {{2 * d}}, 2, dilation=2 ** (layer % {{c.LayersPerStack}}))
                        block.residual = nn.Conv1d({{d}}, {{r}}, 1)
                        block.skip = nn.Conv1d({{d}}, {{c.SkipChannels}}, 1)
                        if {{c.GlobalConditions}} > 0:
                            setattr(block, "global", nn.Embedding({{c.GlobalConditions}}, {{2 * d}}))
                        if {{c.LocalChannels}} > 0:
                            block.local = nn.Conv1d({{c.LocalChannels}}, {{2 * d}}, 1, bias=False)
                        self.layers.append(block)
                    self.head = nn.ModuleList([nn.Conv1d({{c.SkipChannels}}, {{c.SkipChannels}}, 1),
                                               nn.Conv1d({{c.SkipChannels}}, {{c.Levels}}, 1)])

                def forward(self, codes, condition=None, local=None):
                    """codes [batch, steps] -> logits [batch, {{c.Levels}}, steps] of the code after each"""
                    x = self.input(codes).transpose(1, 2)
                    skip = 0
                    for index, block in enumerate(self.layers):
                        a = block.gate(nn.functional.pad(x, (block.gate.dilation[0], 0)))
                        if condition is not None:
                            a = a + getattr(block, "global")(condition).unsqueeze(2)
                        if local is not None:
                            a = a + block.local(local)
                        filter_half, gate_half = a.chunk(2, dim=1)
                        z = torch.tanh(filter_half) * torch.sigmoid(gate_half)
                        skip = skip + block.skip(z)
                        if index < len(self.layers) - 1:
                            x = x + block.residual(z)
                    return self.head[1](torch.relu(self.head[0](torch.relu(skip))))
            """";
        Write(folder, "WaveNet", code, model);
    }

    /// <summary>
    /// A <see cref="Captioner"/> as class <c>Captioner</c>: <c>encode(images)</c> (images [batch, 1, height, width])
    /// gives the initial state and what the decoder reads, <c>step(previous, state, encoded)</c> one word (next-word
    /// logits [batch, vocabulary], the next state, the attention weights [cells, batch] or None), and <c>greedy(images,
    /// max_length)</c> the word ids of each description, as Recur's greedy
    /// <see cref="Captioner.Describe(Tensor, int, int, double)"/>: the CNN of <c>nn.Conv2d</c>s with ReLU and 2×2 max
    /// pooling after the first three, torch's
    /// <c>nn.LSTMCell</c>/<c>nn.GRUCell</c>, and the decoder's Show and Tell, m-RNN or attention layers under Recur's
    /// names.
    /// </summary>
    public static void Save(Captioner model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        bool lstm = c.Mode == RecurrentMode.Lstm;
        var (rows, columns) = c.FeatureMap;
        int d = c.FeatureSize, flat = d * rows * columns, e = c.EmbeddingSize, hidden = c.HiddenSize;
        string cell = lstm ? "nn.LSTMCell" : "nn.GRUCell";
        string kind = c.Decoder switch
        {
            CaptionDecoder.ShowTell => "show_tell",
            CaptionDecoder.MRnn => "mrnn",
            _ => "attention",
        };
        string code = $$""""
            BOS, EOS, PAD = {{Tokenizers.Bos}}, {{Tokenizers.Eos}}, {{Tokenizers.Pad}}


            class Captioner(nn.Module):
                """Recur's Captioner: a CNN of {{3 + c.ExtraConvolutions}} convolutions over {{c.Height}}x{{c.Width}}
                grey images, a {{c.Cell.Name()}} decoder of {{hidden}} units joined to the image by {{kind}}."""

                kind, lstm = "{{kind}}", {{Literal(lstm)}}

                def __init__(self):
                    super().__init__()
                    self.encoder = nn.ModuleList([nn.Conv2d(1, {{c.Channels}}, 3, padding=1),
                                                  nn.Conv2d({{c.Channels}}, {{2 * c.Channels}}, 3, padding=1),
                                                  nn.Conv2d({{2 * c.Channels}}, {{d}}, 3, padding=1)]
                                                 + [nn.Conv2d({{d}}, {{d}}, 3, padding=1)
                                                    for _ in range({{c.ExtraConvolutions}})])
                    self.embedding = nn.Embedding({{c.VocabularySize}}, {{e}}, padding_idx=PAD)
                    if self.kind == "mrnn":
                        self.image = nn.Linear({{flat}}, {{c.JointSize}})
                        self.decoder = {{cell}}({{e}}, {{hidden}})
                        self.multimodal_word = nn.Linear({{e}}, {{c.JointSize}}, bias=False)
                        self.multimodal_state = nn.Linear({{hidden}}, {{c.JointSize}}, bias=False)
                        self.head = nn.Linear({{c.JointSize}}, {{c.VocabularySize}})
                        return
                    self.bridge = nn.Linear({{flat}}, {{hidden}})
                    if self.lstm:
                        self.bridge_cell = nn.Linear({{flat}}, {{hidden}})
                    if self.kind == "show_tell":
                        self.decoder = {{cell}}({{e}}, {{hidden}})
                        self.head = nn.Linear({{hidden}}, {{c.VocabularySize}})
                        return
                    self.places = nn.Parameter(torch.zeros({{rows * columns}}, 1, {{d}}))
                    self.attention_keys = nn.Linear({{d}}, {{c.JointSize}})
                    self.attention_query = nn.Linear({{hidden}}, {{c.JointSize}}, bias=False)
                    self.attention_energy = nn.Linear({{c.JointSize}}, 1, bias=False)
                    self.attention_gate = nn.Linear({{hidden}}, 1)
                    self.decoder = {{cell}}({{e + d}}, {{hidden}})
                    self.output_state = nn.Linear({{hidden}}, {{e}})
                    self.output_context = nn.Linear({{d}}, {{e}}, bias=False)
                    self.head = nn.Linear({{e}}, {{c.VocabularySize}})

                def encode(self, images):
                    """images [batch, 1, {{c.Height}}, {{c.Width}}] -> (initial state, what the decoder reads)"""
                    x = images
                    for index, conv in enumerate(self.encoder):
                        x = torch.relu(conv(x))
                        if index < 3:  # the extra convolutions after the third keep the map's size
                            x = nn.functional.max_pool2d(x, 2)
                    batch = x.shape[0]
                    whole = x.reshape(batch, -1)
                    if self.kind == "mrnn":
                        zeros = torch.zeros(batch, {{hidden}})
                        return (zeros, zeros if self.lstm else None), (self.image(whole), None, None)
                    state = (torch.tanh(self.bridge(whole)),
                             torch.tanh(self.bridge_cell(whole)) if self.lstm else None)
                    if self.kind == "show_tell":
                        return state, (whole, None, None)
                    annotations = x.reshape(batch, {{d}}, -1).permute(2, 0, 1) + self.places
                    return state, (None, annotations, self.attention_keys(annotations))

                def cell(self, x, state):
                    if self.lstm:
                        return self.decoder(x, state)
                    return self.decoder(x, state[0]), None

                def step(self, previous, state, encoded):
                    """previous word ids [batch] -> logits [batch, {{c.VocabularySize}}], next state, attention"""
                    image, annotations, keys = encoded
                    word = self.embedding(previous)
                    if self.kind == "show_tell":
                        state = self.cell(word, state)
                        return self.head(state[0]), state, None
                    if self.kind == "mrnn":
                        state = self.cell(word, state)
                        joint = (self.multimodal_word(word) + self.multimodal_state(state[0]) + image) * (2.0 / 3.0)
                        return self.head(1.7159 * torch.tanh(joint)), state, None
                    scores = self.attention_energy(torch.tanh(keys + self.attention_query(state[0])[None]))[..., 0]
                    weights = torch.softmax(scores, dim=0)
                    gate = torch.sigmoid(self.attention_gate(state[0]))
                    context = (annotations * weights[..., None]).sum(dim=0) * gate
                    state = self.cell(torch.cat([word, context], dim=1), state)
                    deep = word + self.output_state(state[0]) + self.output_context(context)
                    return self.head(deep), state, weights

                def greedy(self, images, max_length=20):
                    state, encoded = self.encode(images)
                    batch = images.shape[0]
                    previous = torch.full((batch,), BOS, dtype=torch.long)
                    {{GreedyLoop("max_length + 1", " or len(tokens[b]) == max_length")}}
            """";
        Write(folder, "Captioner", code, model);
    }

    /// <summary>
    /// A <see cref="StoryLstm"/> as class <c>StoryLstm</c>: <c>forward(ids, lengths)</c> with the word sequences of
    /// <see cref="StoryLstm.Sequence"/> (long [steps, batch], 0 past each, the separator id
    /// <c>SEPARATOR</c>) and their lengths returns the answer logits [batch, vocabulary], the LSTM on packed
    /// sequences so that each answer comes from its sequence's last word.
    /// </summary>
    public static void Save(StoryLstm model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        string code = $$""""
            SEPARATOR = {{c.VocabularySize}}


            class StoryLstm(nn.Module):
                """Recur's StoryLstm, the LSTM baseline of bAbI: the last {{c.MemorySize}} sentences and the question
                as one word sequence, an LSTM of {{c.HiddenSize}} units, the answer from its final state."""

                def __init__(self):
                    super().__init__()
                    self.embedding = nn.Embedding({{c.VocabularySize + 1}}, {{c.EmbeddingSize}}, padding_idx=0)
                    self.lstm = nn.LSTM({{c.EmbeddingSize}}, {{c.HiddenSize}})
                    self.head = nn.Linear({{c.HiddenSize}}, {{c.VocabularySize}})

                def forward(self, ids, lengths):
                    """ids [steps, batch], lengths [batch] -> answer logits [batch, {{c.VocabularySize}}]"""
                    packed = nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths.cpu(),
                                                               enforce_sorted=False)
                    _, (hidden, _) = self.lstm(packed)
                    return self.head(hidden[-1])
            """";
        Write(folder, "StoryLstm", code, model);
    }

    /// <summary>
    /// A <see cref="NeuralTuringMachine"/> as class <c>NeuralTuringMachine</c>: <c>forward(inputs)</c> with inputs
    /// [steps, batch, inputs] returns the output logits [steps, batch, outputs] and the read and write weightings
    /// [steps, batch, slots], from the same empty memory and the same addressing (content, interpolation, rotation,
    /// sharpening) as Recur, the controller torch's <c>nn.LSTMCell</c> or one tanh <c>nn.Linear</c>.
    /// </summary>
    public static void Save(NeuralTuringMachine model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        int w = c.SlotSize, h = c.ControllerSize;
        string controller = c.LstmController ? $"nn.LSTMCell({c.InputSize + w}, {h})"
            : $"nn.Linear({c.InputSize + w}, {h})";
        string code = $$""""
            EPSILON = 1e-8


            class NeuralTuringMachine(nn.Module):
                """Recur's NeuralTuringMachine (Graves et al. 2014): a {{(c.LstmController ? "LSTM" : "feed-forward")}}
                controller of {{h}} units, one write and one read head over {{c.MemorySlots}} slots of width {{w}}."""

                slots, width, lstm = {{c.MemorySlots}}, {{w}}, {{Literal(c.LstmController)}}

                def __init__(self):
                    super().__init__()
                    self.controller = {{controller}}
                    self.read_head = nn.Linear({{h}}, {{w + 6}})
                    self.write_head = nn.Linear({{h}}, {{3 * w + 6}})
                    self.output = nn.Linear({{h + w}}, {{c.OutputSize}})

                def address(self, parameters, memory, previous):
                    """A head's weighting [batch, slots]: key, strength, gate, three shift logits, sharpening."""
                    w = self.width
                    key = parameters[:, :w]
                    strength = nn.functional.softplus(parameters[:, w:w + 1])
                    gate = torch.sigmoid(parameters[:, w + 1:w + 2])
                    shift = torch.softmax(parameters[:, w + 2:w + 5], dim=1)
                    sharpen = nn.functional.softplus(parameters[:, w + 5:w + 6]) + 1
                    dot = torch.bmm(memory, key.unsqueeze(2)).squeeze(2)
                    row_norms = ((memory * memory).sum(2) + EPSILON).sqrt()
                    key_norm = ((key * key).sum(1, keepdim=True) + EPSILON).sqrt()
                    content = torch.softmax(strength * (dot / (row_norms * key_norm + EPSILON)), dim=1)
                    gated = gate * content + (1 - gate) * previous
                    # slot i takes gated[i - s] with weight shift[s + 1], s = -1, 0, +1
                    shifted = sum(torch.roll(gated, s, dims=1) * shift[:, s + 1:s + 2] for s in (-1, 0, 1))
                    sharpened = torch.exp(sharpen * torch.log(shifted + EPSILON))
                    return sharpened / sharpened.sum(1, keepdim=True)

                def forward(self, inputs):
                    """inputs [steps, batch, {{c.InputSize}}] -> logits [steps, batch, {{c.OutputSize}}], read and
                    write weightings [steps, batch, {{c.MemorySlots}}]"""
                    steps, batch = inputs.shape[:2]
                    memory = torch.full((batch, self.slots, self.width), 1e-6)
                    read_weights = torch.zeros(batch, self.slots)
                    read_weights[:, 0] = 1
                    write_weights = read_weights
                    read = torch.zeros(batch, self.width)
                    state = None
                    outputs, reads, writes = [], [], []
                    for t in range(steps):
                        x = torch.cat([inputs[t], read], dim=1)
                        if self.lstm:
                            state = self.controller(x, state)
                            hidden = state[0]
                        else:
                            hidden = torch.tanh(self.controller(x))
                        parameters = self.write_head(hidden)
                        write_weights = self.address(parameters, memory, write_weights)
                        w = self.width
                        erase = torch.sigmoid(parameters[:, w + 6:2 * w + 6])
                        add = torch.tanh(parameters[:, 2 * w + 6:])
                        column = write_weights.unsqueeze(2)
                        memory = memory * (1 - column * erase.unsqueeze(1)) + column * add.unsqueeze(1)
                        read_weights = self.address(self.read_head(hidden), memory, read_weights)
                        read = torch.bmm(read_weights.unsqueeze(1), memory).squeeze(1)
                        outputs.append(self.output(torch.cat([hidden, read], dim=1)))
                        reads.append(read_weights)
                        writes.append(write_weights)
                    return torch.stack(outputs), torch.stack(reads), torch.stack(writes)
            """";
        Write(folder, "NeuralTuringMachine", code, model);
    }

    /// <summary>
    /// Exports the model of a run or checkpoint folder (its <c>best/</c> checkpoint, else <c>last/</c>), choosing the
    /// kind from its <c>config.json</c>; returns the kind.
    /// </summary>
    public static string SaveRun(string modelFolder, string folder)
    {
        var (kind, model) = SavedModel.Open(modelFolder, Kinds, "PyTorch");
        switch (model)
        {
            case SequenceModel sequence: Save(sequence, folder); break;
            case TextClassifier classifier: Save(classifier, folder); break;
            case Forecaster forecaster: Save(forecaster, folder); break;
            case SequenceTagger tagger: Save(tagger, folder); break;
            case Seq2Seq translation: Save(translation, folder); break;
            case WaveNetModel wavenet: Save(wavenet, folder); break;
            case MemoryNetwork memory: Save(memory, folder); break;
            case SpeechRecognizer speech: Save(speech, folder); break;
            case Captioner captioner: Save(captioner, folder); break;
            case StoryLstm story: Save(story, folder); break;
            case NeuralTuringMachine machine: Save(machine, folder); break;
            default: Save((LanguageModel)model, folder); break;
        }
        return kind;
    }

    static string Describe(CellKind cell, RecurrentConfig config) => $"{config.NumLayers}-layer "
        + $"{(config.Bidirectional ? "bidirectional " : "")}{cell.Name()}, hidden {config.HiddenSize}";

    /// <summary>
    /// The torch constructor of the stack, or a <see cref="NotSupportedException"/> naming what torch lacks.
    /// </summary>
    static string Recurrent(RecurrentConfig config, string name)
    {
        string? missing = config.Peephole ? "peephole connections" : config.LayerNorm ? "layer-normalised cells"
            : config.BatchNorm ? "batch-normalised cells"
            : config.Leak > 0f ? "leaky-integrator units" : !config.ResetAfter ? "Cho's GRU (reset before the product)"
            : config.ProjSize > 0 && config.Mode != RecurrentMode.Lstm ? "a Jordan network (a projected Elman RNN)"
            : config.Residual ? "residual connections between layers" : null;
        if (missing != null) throw new NotSupportedException($"PyTorch export of {name}: torch's recurrent layers "
            + $"have no {missing}.");
        var arguments = new List<string>
        {
            config.InputSize.ToString(CultureInfo.InvariantCulture),
            config.HiddenSize.ToString(CultureInfo.InvariantCulture),
            $"num_layers={config.NumLayers}", $"bias={Literal(config.Bias)}",
            $"batch_first={Literal(config.BatchFirst)}",
            $"dropout={Literal(config.Dropout)}", $"bidirectional={Literal(config.Bidirectional)}",
        };
        if (config.ProjSize > 0) arguments.Add($"proj_size={config.ProjSize}");
        if (config.Mode == RecurrentMode.RnnRelu) arguments.Add("nonlinearity='relu'");
        string module = config.Mode switch { RecurrentMode.Lstm => "LSTM", RecurrentMode.Gru => "GRU", _ => "RNN" };
        return $"nn.{module}({string.Join(", ", arguments)})";
    }

    /// <summary>
    /// The greedy loop of the encoder-decoder exports (after <c>state, encoded = self.encode(…)</c> and
    /// <c>previous</c> set to BOS): each sequence takes the arg-max of <c>self.step</c> until it chooses EOS or
    /// <paramref name="stop"/> holds, for at most <paramref name="steps"/> steps; returns the chosen ids per sequence.
    /// Indented for the body of a method, its first line at the placeholder's column.
    /// </summary>
    static string GreedyLoop(string steps, string stop) => $$"""
        tokens, done = [[] for _ in range(batch)], [False] * batch
                for _ in range({{steps}}):
                    if all(done):
                        break
                    logits, state, _ = self.step(previous, state, encoded)
                    chosen = logits.argmax(dim=1)
                    for b in range(batch):
                        if done[b]:
                            continue
                        if int(chosen[b]) == EOS{{stop}}:
                            done[b] = True
                        else:
                            tokens[b].append(int(chosen[b]))
                            previous[b] = chosen[b]
                return tokens
        """;

    static string Literal(bool value) => value ? "True" : "False";

    static string Literal(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    static string Literal(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Writes model.py, model.safetensors and load.py, each in one step.</summary>
    static void Write(string folder, string className, string code, Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(folder);
        string version = typeof(PyTorchExport).Assembly.GetName().Version?.ToString(3) ?? "";
        AtomicFile.WriteAllText(Path.Combine(folder, "model.py"), $$""""
            """{{className}} exported from Recur {{version}}: a torch.nn.Module built from torch's own layers, whose
            state-dict names are the Recur model's. load.py reads the weights into it."""
            import torch
            from torch import nn


            {{code.Replace("\r\n", "\n")}}

            """".Replace("\r\n", "\n"));
        SafeTensors.Save(Path.Combine(folder, "model.safetensors"), model.StateDict());
        AtomicFile.WriteAllText(Path.Combine(folder, "load.py"), $$""""
            """Loads the exported model with torch alone: `python3 load.py` prints it; from Python,
            `from load import load; model = load()` returns it in evaluation mode. After training it further,
            `save(model, folder)` writes model.safetensors back for Recur's LoadStateDict (SafeTensors.Load)."""
            import json
            import os
            import struct

            import torch

            from model import {{className}}


            def read_safetensors(path):
                """The float32 tensors of a .safetensors file: an 8-byte header length, a JSON header, the data."""
                with open(path, "rb") as file:
                    data = file.read()
                (size,) = struct.unpack("<Q", data[:8])
                header = json.loads(data[8:8 + size])
                start = 8 + size
                tensors = {}
                for name, entry in header.items():
                    if name == "__metadata__":
                        continue
                    if entry["dtype"] != "F32":
                        raise ValueError(f"{path}: {name} is {entry['dtype']}, not F32")
                    begin, end = entry["data_offsets"]
                    values = torch.frombuffer(bytearray(data[start + begin:start + end]), dtype=torch.float32)
                    tensors[name] = values.reshape(entry["shape"])
                return tensors


            def write_safetensors(tensors, path):
                """Writes float32 tensors as a .safetensors file, names in sorted order, data 8-byte aligned."""
                header, blobs, offset = {}, [], 0
                for name in sorted(tensors):
                    blob = tensors[name].detach().to(torch.float32).contiguous().cpu().numpy().tobytes()
                    header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                                    "data_offsets": [offset, offset + len(blob)]}
                    blobs.append(blob)
                    offset += len(blob)
                text = json.dumps(header).encode("utf-8")
                text += b" " * (-len(text) % 8)
                temporary = path + ".tmp"
                with open(temporary, "wb") as file:
                    file.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
                os.replace(temporary, path)


            def save(model, folder):
                """Writes the model's weights to folder/model.safetensors, in the names Recur reads."""
                os.makedirs(folder, exist_ok=True)
                write_safetensors(model.state_dict(), os.path.join(folder, "model.safetensors"))


            def load(folder=os.path.dirname(os.path.abspath(__file__))):
                model = {{className}}()
                model.load_state_dict(read_safetensors(os.path.join(folder, "model.safetensors")))
                return model.eval()


            if __name__ == "__main__":
                print(load())

            """".Replace("\r\n", "\n"));
    }
}
