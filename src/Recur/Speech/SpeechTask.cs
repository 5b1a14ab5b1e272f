using System.Text.Json.Nodes;
using Recur.Decoding;
using Recur.Nn;
using Recur.Training;

namespace Recur.Speech;

/// <summary>An utterance ready for the model: its features [frames, bands] and its transcript.</summary>
public sealed record SpeechExample(float[,] Features, string Transcript)
{
    /// <summary>Feature frames.</summary>
    public int Frames => Features.GetLength(0);
}

/// <summary>
/// SpecAugment-style masking (Park et al. 2019) of training features: <paramref name="FrequencyMasks"/> bands of up to
/// <paramref name="FrequencyWidth"/> mel channels and <paramref name="TimeMasks"/> spans of up to
/// <paramref name="TimeWidth"/> frames (never more than a fifth of the utterance) are set to zero, the mean of the
/// normalised features.
/// </summary>
public sealed record SpecAugment(int FrequencyMasks = 2, int FrequencyWidth = 6, int TimeMasks = 2, int TimeWidth = 8)
{
    /// <summary>A masked copy of <paramref name="features"/>.</summary>
    public float[,] Apply(float[,] features, RandomGenerator random)
    {
        var masked = (float[,])features.Clone();
        int frames = masked.GetLength(0), bands = masked.GetLength(1);
        for (int m = 0; m < FrequencyMasks; m++)
        {
            int width = random.NextInt(Math.Min(FrequencyWidth, bands) + 1), start = random.NextInt(bands - width + 1);
            for (int t = 0; t < frames; t++)
                for (int f = start; f < start + width; f++) masked[t, f] = 0;
        }
        int longest = Math.Min(TimeWidth, frames / 5);
        for (int m = 0; m < TimeMasks; m++)
        {
            int width = random.NextInt(longest + 1), start = random.NextInt(frames - width + 1);
            for (int t = start; t < start + width; t++)
                for (int f = 0; f < bands; f++) masked[t, f] = 0;
        }
        return masked;
    }
}

/// <summary>What a speech recogniser scores on a set of utterances.</summary>
/// <param name="Loss">Mean CTC loss per target character.</param>
/// <param name="CharacterErrorRate">Character edits / reference characters.</param>
/// <param name="WordErrorRate">Word edits / reference words.</param>
/// <param name="Accuracy">Fraction of utterances transcribed exactly.</param>
/// <param name="Hypotheses">The transcripts, in the order of the utterances.</param>
public sealed record SpeechReport(double Loss, double CharacterErrorRate, double WordErrorRate, double Accuracy,
    string[] Hypotheses);

/// <summary>
/// Trains a <see cref="SpeechRecognizer"/> with CTC on the shared trainer: batches of similar length, SpecAugment
/// masks drawn from the trainer's saved generator (so a resumed run repeats an uninterrupted one), and validation by
/// loss, CER, WER and exact-utterance accuracy. The training utterances may be new every epoch (connected digits made
/// on the fly): <c>train</c> maps an epoch to its utterances.
/// </summary>
public sealed class SpeechTask : ITrainingTask<SpeechExample[]>
{
    readonly SpeechRecognizer model;
    readonly Func<int, IReadOnlyList<SpeechExample>> train;
    readonly IReadOnlyList<SpeechExample>? valid;
    readonly int batchSize;
    readonly SpecAugment? augment;
    readonly JsonObject? extraConfig;
    (int Epoch, IReadOnlyList<SpeechExample> Data)? current;

    /// <summary>A task over a fixed training set.</summary>
    public SpeechTask(SpeechRecognizer model, IReadOnlyList<SpeechExample> train, IReadOnlyList<SpeechExample>? valid,
        int batchSize, SpecAugment? augment = null, JsonObject? extraConfig = null)
        : this(model, _ => train, valid, batchSize, augment, extraConfig) { }

    /// <summary>A task whose training utterances <paramref name="train"/> makes for each epoch (the same count each
    /// time, deterministic in the epoch).</summary>
    public SpeechTask(SpeechRecognizer model, Func<int, IReadOnlyList<SpeechExample>> train,
        IReadOnlyList<SpeechExample>? valid, int batchSize, SpecAugment? augment = null, JsonObject? extraConfig = null)
    {
        if (batchSize < 1) throw new ArgumentException($"SpeechTask: batch size must be positive, got {batchSize}.");
        (this.model, this.train, this.valid, this.batchSize, this.augment, this.extraConfig) =
            (model, train, valid, batchSize, augment, extraConfig);
    }

    IReadOnlyList<SpeechExample> Epoch(int epoch)
    {
        if (current is not { } c || c.Epoch != epoch)
        {
            var data = train(epoch);
            if (data.Count == 0) throw new InvalidDataException("SpeechTask: no training utterances.");
            current = (epoch, data);
        }
        return current.Value.Data;
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <inheritdoc/>
    public JsonObject Config => model.Config.ToJson().With(extraConfig);

    /// <inheritdoc/>
    public int BatchesPerEpoch => (Epoch(current?.Epoch ?? 0).Count + batchSize - 1) / batchSize;

    /// <inheritdoc/>
    public IEnumerable<SpeechExample[]> Batches(int epoch, RandomGenerator shuffle)
    {
        var data = Epoch(epoch);
        return Batching.BucketedByLength(data.Select(e => e.Frames).ToArray(), batchSize, shuffle)
            .Select(batch => batch.Select(i => data[i]).ToArray());
    }

    /// <inheritdoc/>
    public int Count(SpeechExample[] batch) => batch.Length;

    /// <inheritdoc/>
    public Tensor Loss(SpeechExample[] batch, TrainingContext context) => model.Loss(
        batch.Select(e => augment is null ? e.Features : augment.Apply(e.Features, context.Random)).ToArray(),
        batch.Select(e => e.Transcript).ToArray());

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (valid is null) return null;
        var report = Report(model, valid);
        return new Dictionary<string, double>
        {
            ["loss"] = report.Loss, ["cer"] = report.CharacterErrorRate, ["wer"] = report.WordErrorRate,
            ["accuracy"] = report.Accuracy,
        };
    }

    /// <summary>
    /// Scores <paramref name="model"/> on <paramref name="data"/>: CTC loss, CER, WER and exact accuracy, decoding
    /// greedily or with a prefix beam of <paramref name="beamWidth"/> (and a character language model under
    /// <paramref name="fusion"/>).
    /// </summary>
    public static SpeechReport Report(SpeechRecognizer model, IReadOnlyList<SpeechExample> data, int beamWidth = 1,
        int batchSize = 64, LanguageModelFusion? fusion = null)
    {
        if (data.Count == 0) throw new ArgumentException("SpeechTask.Report: no utterances.");
        double loss = 0;
        var order = Enumerable.Range(0, data.Count).OrderBy(i => data[i].Frames).ToArray();
        var hypotheses = new string[data.Count];
        using (model.Evaluating())
            for (int start = 0; start < order.Length; start += batchSize)
            {
                var rows = order.Skip(start).Take(batchSize).ToArray();
                // one forward pass gives both the loss and the transcripts
                var (logProbs, lengths) = model.Forward(rows.Select(i => data[i].Features).ToArray());
                loss += model.Loss(logProbs, lengths, rows.Select(i => data[i].Transcript).ToArray()).Item()
                    * rows.Length;
                var text = model.Decode(logProbs, lengths, beamWidth, fusion);
                for (int r = 0; r < rows.Length; r++) hypotheses[rows[r]] = text[r];
            }
        var references = data.Select(e => e.Transcript.ToLowerInvariant()).ToArray();
        int exact = references.Where((r, i) => r == hypotheses[i]).Count();
        return new(loss / data.Count, ErrorRates.CharacterErrorRate(references, hypotheses),
            ErrorRates.WordErrorRate(references, hypotheses), (double)exact / data.Count, hypotheses);
    }
}
