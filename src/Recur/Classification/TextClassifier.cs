using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Classification;

/// <summary>How a <see cref="TextClassifier"/> turns the encoder's outputs over a text into one vector.</summary>
[JsonConverter(typeof(LowerCaseEnumConverter<Pooling>))]
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
    /// <summary>
    /// Concat pooling (Howard &amp; Ruder 2018): the final states, the maximum and the mean over the real tokens side
    /// by
    /// side, three times the encoder's width. Not with <see cref="Segmentation.Sentences"/>.
    /// </summary>
    Concat,
}

/// <summary>Which tokens of a text longer than <see cref="TextClassifierConfig.MaxTokens"/> are read.</summary>
[JsonConverter(typeof(LowerCaseEnumConverter<Truncation>))]
public enum Truncation
{
    /// <summary>The first tokens.</summary>
    Head,
    /// <summary>The last tokens (reviews often end with their verdict).</summary>
    Tail,
    /// <summary>
    /// The first quarter of the budget from the start and the rest from the end, the split Sun et al. (2019) found
    /// best for long reviews.
    /// </summary>
    HeadAndTail,
}

/// <summary>How a <see cref="TextClassifier"/> cuts a text into segments read separately.</summary>
[JsonConverter(typeof(LowerCaseEnumConverter<Segmentation>))]
public enum Segmentation
{
    /// <summary>The whole text is one sequence.</summary>
    None,
    /// <summary>
    /// Chunked reading: fixed-size chunks of <see cref="TextClassifierConfig.SegmentLength"/> tokens, each encoded and
    /// pooled on its own (all chunks of a batch in parallel), the chunk vectors max-pooled into one.
    /// </summary>
    Chunks,
    /// <summary>
    /// A hierarchical attention network (Yang et al. 2016): sentences (ending at <see
    /// cref="TextClassifierConfig.SentenceEnds"/>, at most <see cref="TextClassifierConfig.SegmentLength"/> tokens)
    /// are encoded and attention-pooled into sentence vectors, which a sentence-level encoder reads and attention
    /// pools into the text's vector.
    /// </summary>
    Sentences,
}

/// <summary>Settings of a <see cref="TextClassifier"/>.</summary>
/// <param name="VocabularySize">Token ids, padding (id 0) included.</param>
/// <param name="EmbeddingSize">Embedding width.</param>
/// <param name="HiddenSize">Encoder units per direction.</param>
/// <param name="Classes">Output classes (2 for binary).</param>
/// <param name="Cell">The recurrent cell of the encoders.</param>
/// <param name="NumLayers">Stacked encoder layers.</param>
/// <param name="Bidirectional">Read the text both ways.</param>
/// <param name="Dropout">Dropout on the embeddings, between layers and before the head.</param>
/// <param name="Pooling">How the encoder's outputs become one vector.</param>
public sealed record TextClassifierConfig(int VocabularySize, int EmbeddingSize, int HiddenSize, int Classes,
    CellKind Cell = CellKind.Lstm, int NumLayers = 1,
    bool Bidirectional = true, float Dropout = 0.5f, Pooling Pooling = Pooling.Max)
{
    /// <summary>Read at most this many tokens of a text, chosen by <see cref="Truncation"/> (0: every token).</summary>
    public int MaxTokens { get; init; }

    /// <summary>Which tokens a text longer than <see cref="MaxTokens"/> keeps.</summary>
    public Truncation Truncation { get; init; } = Truncation.Head;

    /// <summary>Whether the text is read whole, in chunks, or sentence by sentence (a hierarchical network).</summary>
    public Segmentation Segmentation { get; init; } = Segmentation.None;

    /// <summary>Tokens per chunk, or the most per sentence (longer sentences are cut); used when segmenting.</summary>
    public int SegmentLength { get; init; }

    /// <summary>Token ids that end a sentence (the vocabulary's ids of '.', '!', '?'), for <see
    /// cref="Segmentation.Sentences"/>.</summary>
    public IReadOnlyList<int> SentenceEnds { get; init; } = [];

    /// <summary>DropConnect on the encoder's recurrent matrices in training (<see cref="RecurrentConfig.WeightDrop"/>),
    /// as the AWD-LSTM a classifier may start from was trained.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float WeightDrop { get; init; }

    /// <summary>The sentence-level encoder of a hierarchical network: it reads the word level's pooled
    /// vectors.</summary>
    [JsonIgnore]
    public RecurrentConfig SentenceEncoder => RecurrentCells.Configure(Cell, new(RecurrentCells.Mode(Cell),
        HiddenSize * (Bidirectional ? 2 : 1), HiddenSize, 1, Bidirectional: Bidirectional,
        ForgetGateBias: RecurrentCells.Mode(Cell) == RecurrentMode.Lstm ? 1f : null));

    /// <summary>The encoder's configuration.</summary>
    [JsonIgnore]
    public RecurrentConfig Encoder => RecurrentCells.Configure(Cell, new(RecurrentCells.Mode(Cell), EmbeddingSize,
        HiddenSize, NumLayers, Dropout: NumLayers > 1 ? Dropout : 0f, Bidirectional: Bidirectional,
        ForgetGateBias: RecurrentCells.Mode(Cell) == RecurrentMode.Lstm ? 1f : null, WeightDrop: WeightDrop));

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() =>
        ConfigJson.Write(this, ClassificationJson.Default.TextClassifierConfig, "text_classifier");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static TextClassifierConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, ClassificationJson.Default.TextClassifierConfig, "text_classifier");
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
    readonly RecurrentLayer? sentenceEncoder;
    readonly Linear? sentenceAttention, sentenceAttentionVector;
    readonly HashSet<int> sentenceEnds;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public TextClassifierConfig Config { get; }

    /// <summary>The embedding table [V, E] (for loading pretrained vectors).</summary>
    public Tensor EmbeddingWeight => embedding.Weight;

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public TextClassifier(TextClassifierConfig config, RandomGenerator random)
    {
        if (config.VocabularySize < 2 || config.EmbeddingSize < 1 || config.HiddenSize < 1 || config.Classes < 2
            || config.Dropout is < 0 or >= 1 || config.MaxTokens < 0
            || (config.Segmentation != Segmentation.None && config.SegmentLength < 1))
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
        if (config.Pooling == Pooling.Concat && config.Segmentation == Segmentation.Sentences)
            throw new ArgumentException("TextClassifier: concat pooling feeds a head, not a sentence encoder; a "
                + "hierarchical network pools words by last, max, mean or attention.");
        head = RegisterModule("head", new Linear(config.Pooling == Pooling.Concat ? 3 * width : width,
            config.Classes, random));
        dropoutRandom = RegisterRandom("dropout", random.Fork());
        // drawn last, so a model that reads whole texts starts from the same weights as before segments existed
        if (config.Segmentation == Segmentation.Sentences)
        {
            sentenceEncoder = RegisterModule("sentence_encoder", new RecurrentLayer(config.SentenceEncoder, random));
            sentenceAttention = RegisterModule("sentence_attention", new Linear(width, width, random));
            sentenceAttentionVector = RegisterModule("sentence_attention_vector",
                new Linear(width, 1, random, bias: false));
        }
        sentenceEnds = [.. config.SentenceEnds];
    }

    /// <summary>
    /// Class logits [B, classes] for a batch of token-id sequences (each at least one token long), each cut to <see
    /// cref="TextClassifierConfig.MaxTokens"/> and read whole, in chunks or by sentences as the config says.
    /// </summary>
    public Tensor Forward(IReadOnlyList<int[]> texts) =>
        head.Forward(Functional.Dropout(Read(texts).Pooled, Config.Dropout, Training, dropoutRandom));

    /// <summary>What the model reads of a batch: the text vectors and, for inspection, the attention weights.</summary>
    sealed record Reading(Tensor Pooled, int[][] Tokens, Tensor? WordWeights, int[] WordLengths,
        Tensor? SegmentWeights, int[] SegmentCounts);

    Reading Read(IReadOnlyList<int[]> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var read = texts.Select(Truncate).ToArray();
        if (Config.Segmentation == Segmentation.None)
        {
            var (pooled, weights, lengths) = EncodeWords(read);
            return new(pooled, read, weights, lengths, null, [.. Enumerable.Repeat(1, read.Length)]);
        }
        var (segments, counts, index, most) = Cut(read);
        var words = EncodeWords(segments);
        int batch = read.Length, width = words.Pooled.Size(1);
        // segment vectors into a time-major [most, B, width] batch; a zero row stands for "no segment"
        var padded = Tensor.Concat([words.Pooled, Tensor.Zeros(1, width)], 0).IndexSelect(0, index)
            .Reshape(most, batch, width);
        if (Config.Segmentation == Segmentation.Chunks)
            return new((padded + PaddingPenalty(counts, most, batch)).Max(0), segments, words.Weights, words.Lengths,
                null, counts);
        var input = Functional.Dropout(padded, Config.Dropout, Training, dropoutRandom);
        var output = sentenceEncoder!.Forward(input, lengths: counts).Output;
        var sentenceWeights = AttentionWeights(sentenceAttention!, sentenceAttentionVector!, output, counts, most,
            batch);
        return new((output * sentenceWeights).Sum(0), segments, words.Weights, words.Lengths, sentenceWeights, counts);
    }

    /// <summary>Embedding → encoder → pooling of a batch of sequences: [N, width], and the attention weights;
    /// <paramref name="embedded"/>, when given, stands for the sequences' embeddings (saliency differentiates with
    /// respect to it).</summary>
    (Tensor Pooled, Tensor? Weights, int[] Lengths) EncodeWords(IReadOnlyList<int[]> sequences,
        Tensor? embedded = null)
    {
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(sequences, Config.VocabularySize, "TextClassifier");
        int batch = sequences.Count;
        Tensor vectors;
        using (GradMode.Scope? frozen = frozenLayers > 0 ? GradMode.NoGrad() : null)
            vectors = embedded ?? embedding.Forward(ids, steps, batch);
        encoder.FrozenLayers = Math.Max(0, frozenLayers - 1);
        var encoded = encoder.Forward(Functional.Dropout(vectors, Config.Dropout, Training, dropoutRandom),
            lengths: lengths);
        var output = encoded.Output; // [T, B, D·H], zero past each length
        Tensor Last()
        {
            int directions = Config.Bidirectional ? 2 : 1, top = (Config.NumLayers - 1) * directions;
            var finals = Enumerable.Range(0, directions)
                .Select(d => encoded.HiddenState.Select(0, top + d)).ToArray();
            return directions == 1 ? finals[0] : Tensor.Concat(finals, 1);
        }
        Tensor Mean() => output.Sum(0) * Tensor.FromArray(lengths.Select(l => 1f / l).ToArray(), batch, 1);
        Tensor Max() => (output + PaddingPenalty(lengths, steps, batch)).Max(0);
        switch (Config.Pooling)
        {
            case Pooling.Last: return (Last(), null, lengths);
            case Pooling.Mean: return (Mean(), null, lengths);
            case Pooling.Max: return (Max(), null, lengths);
            case Pooling.Concat: return (Tensor.Concat([Last(), Max(), Mean()], 1), null, lengths);
            default:
            {
                var weights = AttentionWeights(attention!, attentionVector!, output, lengths, steps, batch);
                return ((output * weights).Sum(0), weights, lengths);
            }
        }
    }

    /// <summary>
    /// When set, the embedding and the encoder run without gradients, so training changes only the pooling and the
    /// head: the first stage of gradual unfreezing (Howard &amp; Ruder 2018) for an encoder taken from a language
    /// model. The same as <see cref="FrozenLayers"/> = <see cref="TextClassifierConfig.NumLayers"/> + 1.
    /// </summary>
    public bool FreezeEncoder
    {
        get => frozenLayers > Config.NumLayers;
        set => frozenLayers = value ? Config.NumLayers + 1 : 0;
    }

    /// <summary>
    /// How many layers, counted from the input, run without gradients, so that an optimizer leaves them as they are:
    /// 0 (the default) none, 1 the embedding, 1 + k the embedding and the encoder's first k layers, up to
    /// <see cref="TextClassifierConfig.NumLayers"/> + 1, the whole word encoder. Gradual unfreezing (Howard &amp; Ruder
    /// 2018) lowers it by one an epoch (<see cref="ClassificationTask"/>); outputs do not depend on it.
    /// </summary>
    public int FrozenLayers
    {
        get => frozenLayers;
        set => frozenLayers = value >= 0 && value <= Config.NumLayers + 1 ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value,
                $"FrozenLayers: 0 to {Config.NumLayers + 1} (the embedding and {Config.NumLayers} encoder layers).");
    }

    int frozenLayers;

    /// <summary>softmax over the real steps of vᵀ tanh(W h_t + b): [T, B, 1] (Yang et al. 2016).</summary>
    static Tensor AttentionWeights(Linear projection, Linear vector, Tensor output, int[] lengths, int steps,
        int batch) =>
        (vector.Forward(projection.Forward(output).Tanh()) + PaddingPenalty(lengths, steps, batch)).Softmax(0);

    /// <summary>The tokens of a text the model reads: all, or <see cref="TextClassifierConfig.MaxTokens"/> of
    /// them.</summary>
    int[] Truncate(int[] text)
    {
        int budget = Config.MaxTokens;
        if (budget == 0 || text.Length <= budget) return text;
        return Config.Truncation switch
        {
            Truncation.Head => text[..budget],
            Truncation.Tail => text[^budget..],
            _ => [.. text[..(budget / 4)], .. text[^(budget - budget / 4)..]],
        };
    }

    /// <summary>
    /// How this model cuts a batch of texts (after <see cref="TextClassifierConfig.MaxTokens"/>) into the segments it
    /// reads — chunks or sentences; each whole text one segment when it reads whole texts — in the form the inputs of
    /// its ONNX file take (<c>OnnxExport.Save(TextClassifier, …)</c>).
    /// </summary>
    public SegmentedTexts Segmented(IReadOnlyList<int[]> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var read = texts.Select(Truncate).ToArray();
        if (Config.Segmentation == Segmentation.None)
            return new(read, [.. Enumerable.Repeat(1, read.Length)], [.. Enumerable.Range(0, read.Length)], 1);
        var (segments, counts, index, most) = Cut(read);
        return new(segments, counts, index, most);
    }

    (int[][] Segments, int[] Counts, int[] Index, int Most) Cut(int[][] read)
    {
        var segmentsOf = read.Select(Segment).ToArray();
        var counts = segmentsOf.Select(s => s.Count).ToArray();
        var segments = segmentsOf.SelectMany(s => s).ToArray();
        int batch = read.Length, most = counts.Max();
        var index = new int[most * batch];
        Array.Fill(index, segments.Length);
        for (int b = 0, next = 0; b < batch; b++)
            for (int k = 0; k < counts[b]; k++) index[k * batch + b] = next++;
        return (segments, counts, index, most);
    }

    /// <summary>A text's segments: fixed-size chunks, or sentences cut at a sentence end or the length limit.</summary>
    List<int[]> Segment(int[] text)
    {
        var segments = new List<int[]>();
        int start = 0;
        for (int t = 0; t < text.Length; t++)
        {
            bool end = t - start + 1 == Config.SegmentLength
                || (Config.Segmentation == Segmentation.Sentences && sentenceEnds.Contains(text[t]));
            if (!end) continue;
            segments.Add(text[start..(t + 1)]);
            start = t + 1;
        }
        if (start < text.Length) segments.Add(text[start..]);
        return segments;
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

    /// <summary>
    /// Gradient saliency of each token of one text for class <paramref name="classIndex"/> (eval mode): the norm of
    /// the gradient of log p(class | text) with respect to the token's embedding, ‖∂ log p / ∂e_t‖ (Simonyan et al.
    /// 2014; Li et al. 2016 for text) — which words the prediction is most sensitive to, for a model that pools
    /// without attention. Returns the tokens read (after truncation) and one value per token. Whole-text reading
    /// only (a segmented model: <see cref="Attention"/>).
    /// </summary>
    public (int[] Tokens, double[] Values) Saliency(int[] text, int classIndex)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Config.Segmentation != Segmentation.None) throw new InvalidOperationException(
            $"Saliency: the model reads by {Config.Segmentation}; its attention says what it read closely.");
        if ((uint)classIndex >= (uint)Config.Classes)
            throw new ArgumentOutOfRangeException(nameof(classIndex), $"Saliency: no class {classIndex}.");
        using var evaluating = this.Evaluating(gradients: true);
        var read = Truncate(text);
        var (ids, _, steps) = RaggedBatch.TimeMajor([read], Config.VocabularySize, "TextClassifier");
        Tensor input;
        using (GradMode.NoGrad()) input = embedding.Forward(ids, steps, 1);
        var values = Diagnostics.Inspection.Saliency(x => head.Forward(EncodeWords([read], x).Pooled)
            .LogSoftmax(-1).Select(1, classIndex), input)[0];
        return (read, values);
    }

    /// <summary>
    /// What the model looked at in each text (eval mode, no gradient): the tokens it read (after truncation) and a
    /// weight per token — the word attention, times the sentence attention in a hierarchical network — and, when it
    /// reads by sentences, each sentence's length and attention. Needs attention pooling.
    /// </summary>
    public IReadOnlyList<TextAttention> Attention(IReadOnlyList<int[]> texts)
    {
        if (Config.Pooling != Pooling.Attention)
            throw new InvalidOperationException(
                $"Attention: the model pools words by {Config.Pooling}, not attention.");
        using var _ = GradMode.NoGrad();
        using var evaluating = this.Evaluating();
        var reading = Read(texts);
        var words = reading.WordWeights!.ToArray(); // [T, S, 1] over all segments of the batch
        int sequences = reading.WordLengths.Length, batch = texts.Count;
        var sentence = reading.SegmentWeights?.ToArray();
        var result = new List<TextAttention>();
        for (int b = 0, segment = 0; b < batch; b++)
        {
            var tokens = new List<int>();
            var weights = new List<double>();
            var sentenceLengths = new List<int>();
            var sentenceWeights = new List<double>();
            for (int k = 0; k < reading.SegmentCounts[b]; k++, segment++)
            {
                double outer = sentence is null ? 1 : sentence[k * batch + b];
                tokens.AddRange(reading.Tokens[segment]);
                for (int t = 0; t < reading.WordLengths[segment]; t++)
                    weights.Add(outer * words[t * sequences + segment]);
                sentenceLengths.Add(reading.WordLengths[segment]);
                sentenceWeights.Add(outer);
            }
            result.Add(new TextAttention([.. tokens], [.. weights], sentence is null ? [] : [.. sentenceLengths],
                sentence is null ? [] : [.. sentenceWeights]));
        }
        return result;
    }
}

/// <summary>What a <see cref="TextClassifier"/> attended to in one text.</summary>
/// <param name="Tokens">The token ids it read, in order (after truncation).</param>
/// <param name="Weights">A weight per token; they sum to 1 over a text (chunked reading: over each chunk).</param>
/// <param name="SentenceLengths">Tokens per sentence (hierarchical network only, else empty).</param>
/// <param name="SentenceWeights">The sentence-level attention (hierarchical network only, else empty).</param>
public sealed record TextAttention(int[] Tokens, double[] Weights, int[] SentenceLengths, double[] SentenceWeights);

/// <summary>The settings records of <c>Recur.Classification</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(TextClassifierConfig))]
[JsonSerializable(typeof(LinearClassifierFile))]
[JsonSerializable(typeof(BagOfWordsFile))]
sealed partial class ClassificationJson : JsonSerializerContext;

/// <summary>
/// A batch of texts cut into the segments a <see cref="TextClassifier"/> reads
/// (<see cref="TextClassifier.Segmented"/>).
/// </summary>
/// <param name="Segments">Every segment of every text, text by text, in order (token ids).</param>
/// <param name="Counts">Segments per text [B].</param>
/// <param name="Index">Time-major [<paramref name="Most"/>, B]: the place in <paramref name="Segments"/> of text b's
/// k-th segment at k·B + b, or <c>Segments.Length</c> where text b has fewer than k + 1 segments.</param>
/// <param name="Most">The most segments of any text.</param>
public sealed record SegmentedTexts(int[][] Segments, int[] Counts, int[] Index, int Most);
