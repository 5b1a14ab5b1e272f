using System.Text.Json.Nodes;
using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;

namespace Recur.Classification;

/// <summary>How a <see cref="TextClassifier"/> turns the encoder's outputs over a text into one vector.</summary>
public enum Pooling
{
    /// <summary>The final states (each direction's state after its last real token).</summary>
    Last,
    /// <summary>Element-wise maximum over the real tokens.</summary>
    Max,
    /// <summary>Mean over the real tokens.</summary>
    Mean,
    /// <summary>Learned attention: softmax over the real tokens of vᵀ tanh(W h_t), then the weighted sum (Yang et al.
    /// 2016).</summary>
    Attention,
}

/// <summary>Settings of a <see cref="TextClassifier"/>.</summary>
/// <param name="VocabularySize">Token ids, padding (id 0) included.</param>
/// <param name="EmbeddingSize">Embedding width.</param>
/// <param name="HiddenSize">Encoder units per direction.</param>
/// <param name="Classes">Output classes (2 for binary).</param>
/// <param name="Cell"><c>lstm</c>, <c>gru</c> or <c>rnn</c>.</param>
/// <param name="NumLayers">Stacked encoder layers.</param>
/// <param name="Bidirectional">Read the text both ways.</param>
/// <param name="Dropout">Dropout on the embeddings, between layers and before the head.</param>
/// <param name="Pooling">How the encoder's outputs become one vector.</param>
public sealed record TextClassifierConfig(int VocabularySize, int EmbeddingSize, int HiddenSize, int Classes,
    string Cell = "lstm", int NumLayers = 1,
    bool Bidirectional = true, float Dropout = 0.5f, Pooling Pooling = Pooling.Max)
{
    /// <summary>The encoder's configuration.</summary>
    public RecurrentConfig Encoder => RecurrentCells.Configure(Cell, new(RecurrentCells.Mode(Cell), EmbeddingSize,
        HiddenSize, NumLayers,
        Dropout: NumLayers > 1 ? Dropout : 0f, Bidirectional: Bidirectional,
        ForgetGateBias: RecurrentCells.Mode(Cell) == RecurrentMode.Lstm ? 1f : null));

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => new()
    {
        ["architecture"] = "text_classifier", ["vocabulary_size"] = VocabularySize,
        ["embedding_size"] = EmbeddingSize, ["hidden_size"] = HiddenSize,
        ["classes"] = Classes, ["cell"] = Cell, ["num_layers"] = NumLayers, ["bidirectional"] = Bidirectional,
        ["dropout"] = Dropout,
        ["pooling"] = Pooling.ToString().ToLowerInvariant(),
    };

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    public static TextClassifierConfig FromJson(JsonObject json)
    {
        try
        {
            if ((string?)json["architecture"] != "text_classifier")
                throw new InvalidDataException($"architecture is '{json["architecture"]}', not 'text_classifier'.");
            return new((int)json["vocabulary_size"]!, (int)json["embedding_size"]!, (int)json["hidden_size"]!,
                (int)json["classes"]!, (string)json["cell"]!,
                (int)json["num_layers"]!, (bool)json["bidirectional"]!, (float)json["dropout"]!,
                    Enum.Parse<Pooling>((string)json["pooling"]!, ignoreCase: true));
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException
            or ArgumentException)
        {
            throw new InvalidDataException($"config.json does not describe a text classifier ({e.Message}).", e);
        }
    }
}

/// <summary>
/// Many-to-one text classification: embedding (padding id 0) → (bi)directional recurrent encoder over variable-length,
/// masked batches → pooling (last state, max, mean or attention) → dropout → linear head. Padding never changes a
/// prediction: the encoder stops at each text's length, and pooling only sees real tokens.
/// </summary>
public sealed class TextClassifier : Module
{
    readonly Embedding embedding;
    readonly RecurrentLayer encoder;
    readonly Linear? attention, attentionVector;
    readonly Linear head;
    readonly RandomGenerator dropoutRandom;

    /// <summary>The settings.</summary>
    public TextClassifierConfig Config { get; }

    /// <summary>The embedding table [V, E] (for loading pretrained vectors).</summary>
    public Tensor EmbeddingWeight => embedding.Weight;

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public TextClassifier(TextClassifierConfig config, RandomGenerator random)
    {
        if (config.VocabularySize < 2 || config.EmbeddingSize < 1 || config.HiddenSize < 1 || config.Classes < 2
            || config.Dropout is < 0 or >= 1)
            throw new ArgumentException($"TextClassifier: invalid settings {config}.");
        Config = config;
        embedding = RegisterModule("embedding", new Embedding(config.VocabularySize, config.EmbeddingSize, random,
            paddingIndex: 0));
        encoder = RegisterModule("encoder", new RecurrentLayer(config.Encoder, random));
        int width = config.HiddenSize * (config.Bidirectional ? 2 : 1);
        if (config.Pooling == Pooling.Attention)
        {
            attention = RegisterModule("attention", new Linear(width, width, random));
            attentionVector = RegisterModule("attention_vector", new Linear(width, 1, random, bias: false));
        }
        head = RegisterModule("head", new Linear(width, config.Classes, random));
        dropoutRandom = RegisterRandom("dropout", random.Fork());
    }

    /// <summary>Class logits [B, classes] for a batch of token-id sequences (each at least one token long).</summary>
    public Tensor Forward(IReadOnlyList<int[]> texts)
    {
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(texts, Config.VocabularySize, "TextClassifier");
        int batch = texts.Count;
        var x = Functional.Dropout(embedding.Forward(ids, steps, batch), Config.Dropout, Training, dropoutRandom);
        var encoded = encoder.Forward(x, lengths: lengths);
        var pooled = Pool(encoded, lengths, steps, batch);
        return head.Forward(Functional.Dropout(pooled, Config.Dropout, Training, dropoutRandom));
    }

    /// <summary>
    /// Class probabilities [N][classes] for texts of token ids (each at least one token, no padding id 0), in
    /// evaluation mode without gradients, in batches of <paramref name="batchSize"/> texts of similar length.
    /// </summary>
    public double[][] PredictProbabilities(IReadOnlyList<int[]> texts, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be positive");
        var result = new double[texts.Count][];
        var order = Enumerable.Range(0, texts.Count).OrderBy(i => texts[i].Length).ToArray();
        int classes = Config.Classes;
        using (this.Evaluating())
            for (int start = 0; start < order.Length; start += batchSize)
            {
                var rows = order.Skip(start).Take(batchSize).ToArray();
                var probabilities = Forward(rows.Select(i => texts[i]).ToArray()).Softmax(1).ToArray();
                for (int r = 0; r < rows.Length; r++)
                    result[rows[r]] = probabilities.AsSpan(r * classes, classes).ToArray().Select(p => (double)p)
                        .ToArray();
            }
        return result;
    }

    /// <summary>The most probable class of each text (as <see cref="PredictProbabilities"/>).</summary>
    public int[] Predict(IReadOnlyList<int[]> texts, int batchSize = 256) =>
        PredictProbabilities(texts, batchSize).Select(p => Array.IndexOf(p, p.Max())).ToArray();

    Tensor Pool(RecurrentOutput encoded, int[] lengths, int steps, int batch)
    {
        var output = encoded.Output; // [T, B, D·H], zero past each length
        switch (Config.Pooling)
        {
            case Pooling.Last:
            {
                int directions = Config.Bidirectional ? 2 : 1, top = (Config.NumLayers - 1) * directions;
                var finals = Enumerable.Range(0, directions)
                    .Select(d => encoded.HiddenState.Select(0, top + d)).ToArray();
                return directions == 1 ? finals[0] : Tensor.Concat(finals, 1);
            }
            case Pooling.Mean:
            {
                var inverse = Tensor.FromArray(lengths.Select(l => 1f / l).ToArray(), batch, 1);
                return output.Sum(0) * inverse;
            }
            case Pooling.Max:
                return (output + PaddingPenalty(lengths, steps, batch)).Max(0);
            default:
            {
                var scores = attentionVector!.Forward(attention!.Forward(output).Tanh()) + PaddingPenalty(lengths,
                    steps, batch); // [T, B, 1]
                var weights = scores.Softmax(0);
                return (output * weights).Sum(0);
            }
        }
    }

    /// <summary>[T, B, 1]: 0 at real tokens, −1e9 at padding, so a max or softmax over time never picks
    /// padding.</summary>
    static Tensor PaddingPenalty(int[] lengths, int steps, int batch)
    {
        var penalty = new float[steps * batch];
        for (int t = 0; t < steps; t++)
            for (int b = 0; b < batch; b++)
                if (t >= lengths[b]) penalty[t * batch + b] = -1e9f;
        return Tensor.FromArray(penalty, steps, batch, 1);
    }

    /// <summary>Attention weights over the tokens of each text [B][length] (eval mode, no gradient), for
    /// inspection.</summary>
    public double[][] AttentionWeights(IReadOnlyList<int[]> texts)
    {
        if (Config.Pooling != Pooling.Attention) throw new InvalidOperationException("AttentionWeights: the model "
            + "pools by " + Config.Pooling + ".");
        using var _ = GradMode.NoGrad();
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(texts, Config.VocabularySize, "TextClassifier");
        int batch = texts.Count;
        var output = encoder.Forward(embedding.Forward(ids, steps, batch), lengths: lengths).Output;
        var weights = (attentionVector!.Forward(attention!.Forward(output).Tanh()) + PaddingPenalty(lengths, steps,
            batch)).Softmax(0).ToArray();
        return Enumerable.Range(0, batch).Select(b => Enumerable.Range(0, lengths[b]).Select(t =>
            (double)weights[t * batch + b]).ToArray()).ToArray();
    }
}
