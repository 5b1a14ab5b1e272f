using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Training;

namespace Recur.WaveNet;

/// <summary>A recording as μ-law codes, with its global label (−1 when the model has no global conditioning).</summary>
public sealed record CodedAudio(int[] Codes, int Label = -1);

/// <summary>A training batch: crops of equal length and their labels (null without global conditioning).</summary>
public sealed record WaveNetBatch(int[][] Codes, int[]? Labels);

/// <summary>
/// Trains a <see cref="WaveNetModel"/> (or its recurrent baseline, <see cref="SampleLstm"/>) with teacher forcing on
/// the shared trainer: each batch takes random crops of
/// <c>cropLength</c> + 1 codes (shorter recordings are padded with silence in front), drawn from the trainer's seeded
/// shuffle so that a resumed run sees the same crops; validation is the negative log-likelihood of whole held-out
/// recordings in nats and bits per sample.
/// </summary>
public sealed class WaveNetTask(IAudioCodeModel model, IReadOnlyList<CodedAudio> train,
    IReadOnlyList<CodedAudio>? valid,
    int batchSize, int cropLength, JsonObject? extraConfig = null) : ITrainingTask<WaveNetBatch>
{
    /// <inheritdoc/>
    public Module Model => model.Module;

    /// <inheritdoc/>
    public JsonObject Config => model.ToJson().With(extraConfig);

    /// <inheritdoc/>
    public int BatchesPerEpoch => (train.Count + batchSize - 1) / batchSize;

    /// <inheritdoc/>
    public IEnumerable<WaveNetBatch> Batches(int epoch, RandomGenerator shuffle)
    {
        if (train.Count == 0) throw new InvalidDataException("WaveNetTask: no training recordings.");
        if (cropLength < 1) throw new ArgumentException(
            $"WaveNetTask: crop length must be positive, got {cropLength}.");
        var order = Enumerable.Range(0, train.Count).ToArray();
        shuffle.Shuffle<int>(order);
        int silence = MuLaw.Encode(0f, model.Levels);
        for (int start = 0; start < order.Length; start += batchSize)
        {
            var rows = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            var crops = new int[rows.Length][];
            for (int i = 0; i < rows.Length; i++)
            {
                var codes = train[rows[i]].Codes;
                int length = cropLength + 1;
                if (codes.Length >= length)
                    crops[i] = codes.AsSpan(shuffle.NextInt(codes.Length - length + 1), length).ToArray();
                else
                {
                    crops[i] = new int[length];
                    crops[i].AsSpan(0, length - codes.Length).Fill(silence);
                    codes.CopyTo(crops[i].AsSpan(length - codes.Length));
                }
            }
            yield return new(crops, model.GlobalConditions > 0 ? rows.Select(r => train[r].Label).ToArray()
                : null);
        }
    }

    /// <inheritdoc/>
    public int Count(WaveNetBatch batch) => batch.Codes.Length * cropLength;

    /// <inheritdoc/>
    public Tensor Loss(WaveNetBatch batch, TrainingContext context) => model.Loss(batch.Codes, batch.Labels);

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (valid is null) return null;
        double nats = NegativeLogLikelihood(model, valid);
        return new Dictionary<string, double> { ["loss"] = nats, ["bits_per_sample"] = nats / Math.Log(2) };
    }

    /// <summary>
    /// Mean negative log-likelihood in nats per predicted sample of whole recordings (each predicted from the codes
    /// before it), in evaluation mode.
    /// </summary>
    public static double NegativeLogLikelihood(IAudioCodeModel model, IReadOnlyList<CodedAudio> recordings)
    {
        using var _ = model.Module.Evaluating();
        double total = 0;
        long count = 0;
        foreach (var recording in recordings)
        {
            if (recording.Codes.Length < 2) continue;
            int predicted = recording.Codes.Length - 1;
            var loss = model.Loss([recording.Codes], model.GlobalConditions > 0 ? [recording.Label] : null);
            total += loss.Item() * predicted;
            count += predicted;
        }
        if (count == 0) throw new ArgumentException("WaveNet: no recording is long enough to score.");
        return total / count;
    }

    /// <summary>
    /// The no-context baseline: the cross-entropy in nats of <paramref name="recordings"/>' codes under the code
    /// histogram of <paramref name="reference"/> (add-one smoothed) — what a model that ignores the past achieves.
    /// </summary>
    public static double HistogramCrossEntropy(IReadOnlyList<CodedAudio> reference,
        IReadOnlyList<CodedAudio> recordings, int levels)
    {
        var counts = Enumerable.Repeat(1.0, levels).ToArray();
        foreach (var r in reference)
            foreach (int c in r.Codes) counts[c]++;
        double total = counts.Sum(), nats = 0;
        long n = 0;
        foreach (var r in recordings)
            foreach (int c in r.Codes.AsSpan(1))
            {
                nats -= Math.Log(counts[c] / total);
                n++;
            }
        return n == 0 ? 0 : nats / n;
    }
}
