using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Language;

/// <summary>Settings of a <see cref="LanguageModel"/>.</summary>
/// <param name="VocabularySize">Token ids (the tokenizer's vocabulary size).</param>
/// <param name="EmbeddingSize">Embedding width.</param>
/// <param name="HiddenSize">Recurrent units per layer.</param>
/// <param name="NumLayers">Stacked recurrent layers.</param>
/// <param name="Cell">The recurrent cell: any of <see cref="RecurrentCells.Stepwise"/>.</param>
/// <param name="Dropout">Dropout on the embeddings, between layers and on the top layer's outputs (Zaremba et al.
/// 2014); <see cref="InputDropout"/> and <see cref="OutputDropout"/> set the first and the last apart.</param>
/// <param name="TieWeights">
/// Share the embedding table with the output layer (Press &amp; Wolf 2017; Inan et al. 2017). Needs the top layer's
/// output to be as wide as the embedding: an LSTM wider than the embedding projects its output (<c>proj_size</c>) to
/// it.
/// </param>
public sealed record LanguageModelConfig(int VocabularySize, int EmbeddingSize, int HiddenSize, int NumLayers = 2,
    CellKind Cell = CellKind.Lstm, float Dropout = 0f, bool TieWeights = false)
{
    /// <summary>Dropout on the embedding vectors (<c>dropouti</c>); null: <see cref="Dropout"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float? InputDropout { get; init; }

    /// <summary>Dropout on the top layer's outputs before the output layer (<c>dropout</c>); null: <see
    /// cref="Dropout"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float? OutputDropout { get; init; }

    /// <summary>Drops whole words: each embedding row is zeroed with this probability per batch
    /// (<see cref="Functional.EmbeddingDropout"/>, <c>dropoute</c>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float EmbeddingDropout { get; init; }

    /// <summary>DropConnect on the recurrent matrices (<see cref="RecurrentConfig.WeightDrop"/>,
    /// <c>wdrop</c>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float WeightDrop { get; init; }

    /// <summary>Every dropout on sequences draws one mask per sequence and unit, shared over the time steps (locked
    /// dropout; <see cref="Functional.VariationalDropout"/>), instead of a new one at every step.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool VariationalDropout { get; init; }

    /// <summary>Activation regularisation α (AR): the training loss adds α·mean(m ⊙ h_t)², h the top layer's
    /// outputs, m its output dropout.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float ActivationRegularization { get; init; }

    /// <summary>Temporal activation regularisation β (TAR): the training loss adds β·mean(h_t − h_{t−1})² over the
    /// top layer's outputs before dropout, which favours slowly changing states.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float TemporalActivationRegularization { get; init; }

    /// <summary>
    /// The AWD-LSTM of Merity, Keskar &amp; Socher (2018): an LSTM stack with weight-dropped recurrent matrices (0.5)
    /// and locked dropout on the embeddings (0.4), between layers (0.3) and on the outputs (0.4), embedding dropout
    /// (0.1), AR α = 2 and TAR β = 1 — the paper's values for the Penn Treebank, where its model is 3 layers of 1,150
    /// units over embeddings of 400 with the output layer tied to the embedding. Tied here with hidden ≠ embedding,
    /// every layer projects its output to the embedding width (<c>proj_size</c>, as <c>torch.nn.LSTM</c>) where Merity
    /// et al. make the last layer 400 wide.
    /// </summary>
    public static LanguageModelConfig AwdLstm(int vocabularySize, int embeddingSize = 400, int hiddenSize = 1150,
        int numLayers = 3, bool tieWeights = true) =>
        new(vocabularySize, embeddingSize, hiddenSize, numLayers, CellKind.Lstm, 0.3f, tieWeights)
        {
            InputDropout = 0.4f,
            OutputDropout = 0.4f,
            EmbeddingDropout = 0.1f,
            WeightDrop = 0.5f,
            VariationalDropout = true,
            ActivationRegularization = 2f,
            TemporalActivationRegularization = 1f,
        };

    /// <summary>The recurrent stack's configuration.</summary>
    [JsonIgnore]
    public RecurrentConfig Recurrent
    {
        get
        {
            var mode = RecurrentCells.Mode(Cell);
            if (!RecurrentCells.Stepwise.Contains(Cell))
                throw new ArgumentException($"LanguageModel: cell '{Cell.Name()}' cannot run in the pieces a language "
                    + "model trains on (truncated BPTT) and generates in (one step at a time); its statistics belong "
                    + "to the time steps of whole sequences. Cells: "
                    + $"{string.Join(", ", RecurrentCells.Stepwise.Select(RecurrentCells.Name))}.");
            int projection = 0;
            if (TieWeights && HiddenSize != EmbeddingSize)
            {
                if (mode != RecurrentMode.Lstm || EmbeddingSize > HiddenSize)
                    throw new ArgumentException($"LanguageModel: tied weights need hidden = embedding ({HiddenSize} "
                        + $"≠ {EmbeddingSize}); only an LSTM wider than its embedding can project down to it.");
                projection = EmbeddingSize;
            }
            if (projection > 0 && Cell != CellKind.Lstm)
                throw new ArgumentException($"LanguageModel: tied weights with hidden ≠ embedding need a plain lstm (a "
                    + $"projection), not {Cell.Name()}.");
            return RecurrentCells.Configure(Cell,
                new RecurrentConfig(mode, EmbeddingSize, HiddenSize, NumLayers, Dropout: NumLayers > 1 ? Dropout : 0f,
                    ProjSize: projection, WeightDrop: WeightDrop, VariationalDropout: VariationalDropout));
        }
    }

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, LanguageJson.Default.LanguageModelConfig, "language_model");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static LanguageModelConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, LanguageJson.Default.LanguageModelConfig, "language_model");
}

/// <summary>The recurrent state a language model carries from one chunk (or generated token) to the next.</summary>
/// <param name="Hidden">h [numLayers, B, width].</param>
/// <param name="Cell">c [numLayers, B, hidden] for an LSTM, otherwise null.</param>
public sealed record LanguageModelState(Tensor Hidden, Tensor? Cell)
{
    /// <summary>The same values cut from the tape (truncated BPTT: no gradient flows into an earlier chunk).</summary>
    public LanguageModelState Detach() => new(Hidden.Detach(), Cell?.Detach());

    /// <summary>The state of the streams <paramref name="rows"/> (a beam reordered after a step).</summary>
    public LanguageModelState SelectStreams(ReadOnlySpan<int> rows) => new(Hidden.IndexSelect(1, rows),
        Cell?.IndexSelect(1, rows));
}

/// <summary>
/// A causal recurrent language model: token embedding → dropout → recurrent stack → dropout → linear layer over the
/// vocabulary (optionally sharing the embedding table). Parameters: <c>embedding.weight</c>, <c>rnn.*</c> (PyTorch's
/// recurrent names), <c>decoder.weight</c> (absent when tied) and <c>decoder.bias</c>.
/// </summary>
public sealed class LanguageModel : Module
{
    /// <summary>
    /// Loads a trained model and its tokenizer from a run folder of <c>recur lm train</c> (its <c>best/</c> checkpoint,
    /// else <c>last/</c>; a checkpoint folder works too, with the tokenizer beside it), checking that they agree.
    /// </summary>
    public static (LanguageModel Model, Text.ITokenizer Tokenizer) Load(string runFolder)
    {
        if (!Directory.Exists(runFolder)) throw new DirectoryNotFoundException($"{runFolder}: no such model folder.");
        var tokenizer = Text.Tokenizers.Load(runFolder);
        var model = Recur.Training.Checkpoint.Open(runFolder, config
            => new LanguageModel(LanguageModelConfig.FromJson(config), new RandomGenerator(0)));
        if (model.Config.VocabularySize != tokenizer.VocabularySize)
            throw new InvalidDataException($"{runFolder}: the tokenizer has {tokenizer.VocabularySize} ids, the model "
                + $"{model.Config.VocabularySize}.");
        return (model, tokenizer);
    }

    readonly Embedding embedding;
    readonly RecurrentLayer rnn;
    readonly Linear? decoder;
    readonly Tensor? tiedBias;
    readonly RandomGenerator dropoutRandom;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public LanguageModelConfig Config { get; }

    /// <summary>Builds the model: embeddings and the output layer uniform in ±0.1 with a zero output bias, the
    /// recurrent stack as PyTorch initialises it.</summary>
    public LanguageModel(LanguageModelConfig config, RandomGenerator random)
    {
        if (config.VocabularySize < 2 || config.EmbeddingSize < 1 || config.HiddenSize < 1 || config.NumLayers < 1
            || new[] { config.Dropout, config.InputDropout ?? 0f, config.OutputDropout ?? 0f, config.EmbeddingDropout,
                config.WeightDrop }.Any(p => p is not (>= 0 and < 1))
            || !(config.ActivationRegularization >= 0) || !(config.TemporalActivationRegularization >= 0))
            throw new ArgumentException($"LanguageModel: invalid settings {config} (dropouts in [0, 1), AR and TAR "
                + "≥ 0).");
        Config = config;
        var recurrent = config.Recurrent;
        embedding = RegisterModule("embedding", new Embedding(config.VocabularySize, config.EmbeddingSize, random));
        Tensor.RandomUniform(random, [config.VocabularySize, config.EmbeddingSize], -0.1f,
            0.1f).Span.CopyTo(embedding.Weight.Span);
        rnn = RegisterModule("rnn", new RecurrentLayer(recurrent, random));
        if (config.TieWeights) tiedBias = RegisterModule("decoder", new TiedBias(config.VocabularySize)).Bias;
        else
        {
            decoder = RegisterModule("decoder", new Linear(recurrent.OutputWidth, config.VocabularySize, random));
            Tensor.RandomUniform(random, [config.VocabularySize, recurrent.OutputWidth], -0.1f,
                0.1f).Span.CopyTo(decoder.Weight.Span);
            decoder.Bias!.Span.Clear();
        }
        dropoutRandom = RegisterRandom("dropout", random.Fork());
    }

    sealed class TiedBias : Module
    {
        public Tensor Bias { get; }
        public TiedBias(int size) => Bias = RegisterParameter("bias", Tensor.Zeros(size));
    }

    /// <summary>
    /// Next-token logits [T, B, V] for time-major token ids (<paramref name="ids"/>[t·B + b], <paramref name="steps"/>
    /// × <paramref name="batch"/>), starting from <paramref name="state"/> (zeros when null); also returns the state
    /// after the last step.
    /// </summary>
    public (Tensor Logits, LanguageModelState State) Forward(ReadOnlySpan<int> ids, int steps, int batch,
        LanguageModelState? state = null)
    {
        var output = Encode(ids, steps, batch, state);
        return Head(output);
    }

    /// <summary>
    /// For generation in evaluation mode: the first recurrent layer's input projection of every token's embedding,
    /// [V, G·H], computed as that layer's inference computes it (float or int8), so that <see cref="Step"/> reads one
    /// row of it where <see cref="Forward"/> reads all of W_ih at every token. Null in training, where a vocabulary is
    /// larger than the embedding (the table would be larger than W_ih) or where the first layer cannot take it (see
    /// <see cref="RecurrentLayer.ProjectFirstLayer"/>). The table holds the weights of the moment it was made.
    /// </summary>
    internal float[]? NextTokenTable() => Training || Config.VocabularySize > Config.EmbeddingSize ? null
        : rnn.ProjectFirstLayer(embedding.Weight.Span, Config.VocabularySize);

    /// <summary>
    /// <see cref="Forward"/> of one token for each of up to <see cref="StepStreams"/> streams from <paramref
    /// name="state"/>, the first layer's input projections read from <paramref name="table"/> (<see
    /// cref="NextTokenTable"/>): the same logits and state, bit for bit, without reading W_ih.
    /// </summary>
    internal (Tensor Logits, LanguageModelState State) Step(ReadOnlySpan<int> tokens, LanguageModelState state,
        float[] table)
    {
        if (tokens.Length > StepStreams)
            throw new ArgumentException($"LanguageModel: a table step takes at most {StepStreams} streams, got "
                + $"{tokens.Length}.");
        int width = table.Length / Config.VocabularySize;
        var embedded = Embed(tokens, 1, tokens.Length); // the shape the stack checks; the table gives its projection
        // one stream reads its row of the table where it lies; several, their rows side by side
        ReadOnlyMemory<float> projected;
        if (tokens.Length == 1) projected = table.AsMemory(tokens[0] * width, width);
        else
        {
            var rows = new float[tokens.Length * width];
            for (int b = 0; b < tokens.Length; b++)
                table.AsSpan(tokens[b] * width, width).CopyTo(rows.AsSpan(b * width));
            projected = rows;
        }
        return Head(rnn.ForwardWithProjection(embedded, state.Hidden, state.Cell, null, projected));
    }

    /// <summary>The most streams <see cref="Step"/> takes: those the recurrent layers' small-batch inference
    /// runs.</summary>
    internal const int StepStreams = 4;

    /// <summary>The embedding vectors [T, B, E] of time-major <paramref name="ids"/> (no dropout): the input
    /// <see cref="ForwardEmbedded"/> takes.</summary>
    public Tensor Embed(ReadOnlySpan<int> ids, int steps, int batch)
    {
        CheckIds(ids, steps, batch);
        return embedding.Forward(ids, steps, batch);
    }

    /// <summary>
    /// Next-token logits [T, B, V] from embedding vectors [T, B, E] (as <see cref="Embed"/> returns), so that gradients
    /// can be taken with respect to the inputs (connectivity, saliency); otherwise as <see cref="Forward"/>.
    /// </summary>
    public (Tensor Logits, LanguageModelState State) ForwardEmbedded(Tensor embedded, LanguageModelState? state = null)
    {
        if (embedded.Rank != 3 || embedded.Size(2) != Config.EmbeddingSize)
            throw new ArgumentException($"LanguageModel: embedded input {Shapes.Format(embedded.Shape)} is not [T, "
                + $"B, {Config.EmbeddingSize}].");
        if (state != null && state.Hidden.Size(1) != embedded.Size(1))
            throw new ArgumentException(
                $"LanguageModel: the state has {state.Hidden.Size(1)} streams, the input {embedded.Size(1)}.");
        var x = Drop(embedded, InputDropout);
        return Head(rnn.Forward(x, state?.Hidden, state?.Cell));
    }

    /// <summary>
    /// The output layer on what <see cref="Encode"/> returned: next-token logits [T, B, V] and the state after the last
    /// step — <see cref="Forward"/> in two halves, for a caller that also wants the hidden units (inspection).
    /// </summary>
    public (Tensor Logits, LanguageModelState State) Decode(RecurrentOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        return Head(output);
    }

    float InputDropout => Config.InputDropout ?? Config.Dropout;

    float OutputDropout => Config.OutputDropout ?? Config.Dropout;

    /// <summary>Dropout on a time-major sequence [T, B, width]: locked or per step, as the config says.</summary>
    Tensor Drop(Tensor x, float p) => Config.VariationalDropout
        ? Functional.VariationalDropout(x, p, Training, dropoutRandom)
        : Functional.Dropout(x, p, Training, dropoutRandom);

    (Tensor Logits, LanguageModelState State) Head(RecurrentOutput output)
    {
        var top = Drop(output.Output, OutputDropout);
        var logits = decoder != null ? decoder.Forward(top) : Functional.Linear(top, embedding.Weight, tiedBias);
        return (logits, new LanguageModelState(output.HiddenState, output.CellState));
    }

    /// <summary>
    /// Mean cross-entropy of next tokens <paramref name="targets"/> (one per input id, time-major) given
    /// <paramref name="ids"/>, as <c>CrossEntropy(Forward(...).Logits, targets)</c> but through
    /// <see cref="Losses.LinearCrossEntropy"/>, which never holds the [T·B, V] logits (word and sub-word vocabularies);
    /// also returns the state after the last step. In training it adds the activation regularisers
    /// (<see cref="LanguageModelConfig.ActivationRegularization"/>, <see
    /// cref="LanguageModelConfig.TemporalActivationRegularization"/>) when they are set.
    /// </summary>
    public (Tensor Loss, LanguageModelState State) Loss(ReadOnlySpan<int> ids, int steps, int batch,
        ReadOnlySpan<int> targets, LanguageModelState? state = null)
    {
        var output = Encode(ids, steps, batch, state);
        var top = Drop(output.Output, OutputDropout);
        var loss = decoder != null ? decoder.CrossEntropy(top, targets)
            : Losses.LinearCrossEntropy(top, embedding.Weight, tiedBias, targets);
        if (Training && Config.ActivationRegularization > 0)
            loss = loss + (top * top).Mean() * Config.ActivationRegularization;
        if (Training && Config.TemporalActivationRegularization > 0 && steps > 1)
        {
            var change = output.Output.Slice(0, 1, steps - 1) - output.Output.Slice(0, 0, steps - 1);
            loss = loss + (change * change).Mean() * Config.TemporalActivationRegularization;
        }
        return (loss, new LanguageModelState(output.HiddenState, output.CellState));
    }

    /// <summary>
    /// The recurrent stack's outputs [T, B, width] and final states for time-major <paramref name="ids"/>, before the
    /// output layer (for inspecting hidden units over a text).
    /// </summary>
    public RecurrentOutput Encode(ReadOnlySpan<int> ids, int steps, int batch, LanguageModelState? state = null)
    {
        CheckIds(ids, steps, batch);
        if (state != null && (state.Hidden.Size(1) != batch))
            throw new ArgumentException(
                $"LanguageModel: the state has {state.Hidden.Size(1)} streams, the input {batch}.");
        var embedded = Functional.EmbeddingDropout(embedding.Forward(ids, steps, batch), ids, Config.VocabularySize,
            Config.EmbeddingDropout, Training, dropoutRandom);
        return rnn.Forward(Drop(embedded, InputDropout), state?.Hidden, state?.Cell);
    }

    void CheckIds(ReadOnlySpan<int> ids, int steps, int batch)
    {
        if (steps < 1 || batch < 1 || ids.Length != steps * batch)
            throw new ArgumentException($"LanguageModel: {ids.Length} ids for {steps} steps × {batch} streams.");
        foreach (int id in ids)
            if ((uint)id >= (uint)Config.VocabularySize)
                throw new ArgumentException(
                    $"LanguageModel: token id {id} is outside the vocabulary of {Config.VocabularySize}.");
    }
}

/// <summary>The settings records of <c>Recur.Language</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(LanguageModelConfig))]
sealed partial class LanguageJson : JsonSerializerContext;
