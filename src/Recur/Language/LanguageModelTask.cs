using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Training;

namespace Recur.Language;

/// <summary>
/// A token stream cut into <see cref="Streams"/> parallel streams of equal length, stored time-major
/// (<c>Ids[t·Streams + s]</c> is token <c>s·Length + t</c> of the original stream; the remainder that does not fill
/// every stream is dropped). Chunk k of length ≤ bptt feeds steps [k·bptt, …) and predicts the steps one later.
/// </summary>
public sealed class TokenStreams
{
    /// <summary>Time-major ids [Length, Streams].</summary>
    public int[] Ids { get; }

    /// <summary>Number of parallel streams (the batch).</summary>
    public int Streams { get; }

    /// <summary>Tokens per stream.</summary>
    public int Length { get; }

    /// <summary>Cuts <paramref name="ids"/> into <paramref name="streams"/> streams; each needs at least two
    /// tokens.</summary>
    public TokenStreams(IReadOnlyList<int> ids, int streams)
    {
        if (streams < 1) throw new ArgumentException($"TokenStreams: need at least one stream, got {streams}.");
        Length = ids.Count / streams;
        if (Length < 2)
            throw new ArgumentException($"TokenStreams: {ids.Count} tokens cannot fill {streams} streams of at least "
                + $"2 tokens; use a smaller batch or more text.");
        Streams = streams;
        Ids = new int[Length * streams];
        for (int s = 0; s < streams; s++)
            for (int t = 0; t < Length; t++) Ids[t * streams + s] = ids[s * Length + t];
    }

    /// <summary>Chunks of at most <paramref name="bptt"/> predicted steps.</summary>
    public int Chunks(int bptt) => (Length - 1 + bptt - 1) / bptt;

    /// <summary>Inputs and targets of chunk <paramref name="chunk"/>, each [steps, Streams] time-major.</summary>
    public (int[] Inputs, int[] Targets, int Steps) Chunk(int chunk, int bptt)
    {
        int start = chunk * bptt, steps = Math.Min(bptt, Length - 1 - start);
        if (chunk < 0 || steps < 1) throw new ArgumentOutOfRangeException(nameof(chunk), chunk,
            $"there are {Chunks(bptt)} chunks.");
        return (Ids.AsSpan(start * Streams, steps * Streams).ToArray(), Ids.AsSpan((start + 1) * Streams,
            steps * Streams).ToArray(), steps);
    }
}

/// <summary>Loss of a language model over a text: nats per token, perplexity, bits per token and per
/// character.</summary>
/// <param name="Loss">Mean cross-entropy in nats per predicted token.</param>
/// <param name="Tokens">Tokens predicted.</param>
/// <param name="CharactersPerToken">Characters (Unicode scalar values) per token of the text, for
/// <see cref="BitsPerCharacter"/>.</param>
public sealed record LanguageModelScore(double Loss, long Tokens, double CharactersPerToken)
{
    /// <summary>exp(loss).</summary>
    public double Perplexity => Math.Exp(Loss);

    /// <summary>Loss in bits per token.</summary>
    public double BitsPerToken => Loss / Math.Log(2);

    /// <summary>Loss in bits per character: character, word and sub-word models compare on this scale.</summary>
    public double BitsPerCharacter => BitsPerToken / CharactersPerToken;

    /// <summary>The metrics by name, as validation reports them.</summary>
    public IReadOnlyDictionary<string, double> ToMetrics() => new Dictionary<string, double>
    {
        ["loss"] = Loss, ["perplexity"] = Perplexity, ["bits_per_token"] = BitsPerToken,
        ["bits_per_char"] = BitsPerCharacter,
    };

    /// <summary>
    /// Scores <paramref name="model"/> on <paramref name="ids"/> (whose text has <paramref name="characters"/>
    /// characters) in evaluation mode without gradients: <paramref name="streams"/> parallel streams, state carried
    /// across chunks of
    /// <paramref name="bptt"/> steps.
    /// </summary>
    public static LanguageModelScore Evaluate(LanguageModel model, IReadOnlyList<int> ids, long characters,
        int streams = 16, int bptt = 128)
    {
        streams = Math.Max(1, Math.Min(streams, ids.Count / 2));
        var data = new TokenStreams(ids, streams);
        using var _ = model.Evaluating();
        LanguageModelState? state = null;
        double total = 0;
        long count = 0;
        for (int chunk = 0; chunk < data.Chunks(bptt); chunk++)
        {
            var (inputs, targets, steps) = data.Chunk(chunk, bptt);
            var (loss, next) = model.Loss(inputs, steps, streams, targets, state);
            state = next;
            total += loss.Item() * (double)targets.Length;
            count += targets.Length;
        }
        return new LanguageModelScore(total / count, count, ids.Count == 0 ? 1 : (double)characters / ids.Count);
    }
}

/// <summary>
/// Trains a <see cref="LanguageModel"/> on one long token stream with the shared trainer: the stream is cut into
/// <c>batch</c> parallel streams, each epoch walks their chunks of <c>bptt</c> steps in order, and the recurrent state
/// is carried from chunk to chunk, detached (stateful truncated BPTT; teacher forcing, since every input is the true
/// previous token). The state restarts at the first chunk of each epoch and is saved in checkpoints, so a resumed run
/// continues exactly. Validation reports loss, perplexity and bits per token and per character.
/// </summary>
public sealed class LanguageModelTask : ITrainingTask<int>, IStatefulTrainingTask
{
    readonly LanguageModel model;
    readonly TokenStreams train;
    readonly int[]? valid;
    readonly long validCharacters;
    readonly int bptt, evalStreams;
    readonly JsonObject? extraConfig;
    LanguageModelState? state;

    /// <summary>
    /// Sets up training on <paramref name="trainIds"/>; <paramref name="validIds"/> (whose text has
    /// <paramref name="validCharacters"/> characters) is scored after each epoch with <paramref name="evalStreams"/>
    /// streams.
    /// <paramref name="extraConfig"/> entries (such as the tokenizer kind) are added to <c>config.json</c>.
    /// </summary>
    public LanguageModelTask(LanguageModel model, IReadOnlyList<int> trainIds, int batch, int bptt,
        IReadOnlyList<int>? validIds = null,
        long validCharacters = 0, int evalStreams = 16, JsonObject? extraConfig = null)
    {
        if (bptt < 1) throw new ArgumentException($"LanguageModelTask: bptt must be positive, got {bptt}.");
        this.model = model;
        train = new TokenStreams(trainIds, batch);
        valid = validIds?.ToArray();
        (this.validCharacters, this.bptt, this.evalStreams, this.extraConfig) = (validCharacters, bptt, evalStreams,
            extraConfig);
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <inheritdoc/>
    public JsonObject Config
    {
        get
        {
            var config = model.Config.ToJson();
            config["bptt"] = bptt;
            config["batch"] = train.Streams;
            return config.With(extraConfig);
        }
    }

    /// <inheritdoc/>
    public int BatchesPerEpoch => train.Chunks(bptt);

    /// <inheritdoc/>
    public IEnumerable<int> Batches(int epoch, RandomGenerator shuffle) => Enumerable.Range(0, BatchesPerEpoch);

    /// <inheritdoc/>
    public int Count(int chunk) => train.Chunk(chunk, bptt).Steps * train.Streams;

    /// <inheritdoc/>
    public Tensor Loss(int chunk, TrainingContext context)
    {
        if (chunk == 0) state = null; // each epoch starts the streams afresh
        var (inputs, targets, steps) = train.Chunk(chunk, bptt);
        var (loss, next) = model.Loss(inputs, steps, train.Streams, targets, state);
        state = next.Detach();
        return loss;
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate() =>
        valid is null ? null : LanguageModelScore.Evaluate(model, valid, validCharacters, evalStreams,
            bptt).ToMetrics();

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Tensor> CarriedState()
    {
        var saved = new Dictionary<string, Tensor>();
        if (state is null) return saved;
        saved["hidden"] = state.Hidden;
        if (state.Cell is { } cell) saved["cell"] = cell;
        return saved;
    }

    /// <inheritdoc/>
    public void RestoreCarriedState(IReadOnlyDictionary<string, Tensor> saved)
    {
        if (!saved.TryGetValue("hidden", out var hidden)) { state = null; return; }
        if (hidden.Rank != 3 || hidden.Size(1) != train.Streams)
            throw new InvalidDataException(
                $"the carried state has shape {Shapes.Format(hidden.Shape)}, not [layers, {train.Streams}, width].");
        state = new LanguageModelState(hidden, saved.GetValueOrDefault("cell"));
    }
}
