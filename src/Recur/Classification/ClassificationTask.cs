using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Training;

namespace Recur.Classification;

/// <summary>Texts as token ids with one class each.</summary>
/// <param name="Texts">Token ids per text (each non-empty).</param>
/// <param name="Labels">Class index per text.</param>
public sealed record LabelledTexts(int[][] Texts, int[] Labels)
{
    /// <summary>Number of texts.</summary>
    public int Count => Texts.Length;
}

/// <summary>Accuracy, per-class precision/recall/F1 and the confusion matrix (rows: true class, columns:
/// predicted).</summary>
public sealed record ClassificationReport(double Loss, double Accuracy, double[] Precision, double[] Recall,
    double[] F1, long[,] Confusion)
{
    /// <summary>Unweighted mean of the per-class F1 scores.</summary>
    public double MacroF1 => F1.Average();

    /// <summary>
    /// Builds the report from true classes and predicted probabilities [N][classes]: the loss is the mean
    /// cross-entropy, the prediction the most probable class.
    /// </summary>
    public static ClassificationReport FromProbabilities(int classes, IReadOnlyList<int> truth,
        IReadOnlyList<double[]> probabilities)
    {
        if (truth.Count != probabilities.Count)
            throw new ArgumentException($"{truth.Count} labels but {probabilities.Count} rows of probabilities.");
        double loss = 0;
        var predicted = new int[truth.Count];
        for (int i = 0; i < truth.Count; i++)
        {
            loss -= Math.Log(Math.Max(probabilities[i][truth[i]], 1e-30));
            predicted[i] = Array.IndexOf(probabilities[i], probabilities[i].Max());
        }
        return From(classes, truth, predicted, truth.Count == 0 ? 0 : loss / truth.Count);
    }

    /// <summary>Builds the report from true and predicted classes.</summary>
    public static ClassificationReport From(int classes, IReadOnlyList<int> truth, IReadOnlyList<int> predicted,
        double loss)
    {
        var confusion = new long[classes, classes];
        for (int i = 0; i < truth.Count; i++) confusion[truth[i], predicted[i]]++;
        var precision = new double[classes];
        var recall = new double[classes];
        var f1 = new double[classes];
        long right = 0;
        for (int c = 0; c < classes; c++)
        {
            long tp = confusion[c, c], predictedC = 0, actualC = 0;
            for (int k = 0; k < classes; k++) { predictedC += confusion[k, c]; actualC += confusion[c, k]; }
            right += tp;
            precision[c] = predictedC == 0 ? 0 : (double)tp / predictedC;
            recall[c] = actualC == 0 ? 0 : (double)tp / actualC;
            f1[c] = precision[c] + recall[c] == 0 ? 0 : 2 * precision[c] * recall[c] / (precision[c] + recall[c]);
        }
        return new(loss, truth.Count == 0 ? 0 : (double)right / truth.Count, precision, recall, f1, confusion);
    }
}

/// <summary>
/// Trains a <see cref="TextClassifier"/> with the shared trainer: mini-batches of similar lengths (less padding),
/// cross-entropy, validation by loss, accuracy and macro-F1. For the first <paramref name="frozenEpochs"/> epochs the
/// embedding and encoder stay fixed (<see cref="TextClassifier.FreezeEncoder"/>), as when they come from a language
/// model; with <paramref name="gradualUnfreezing"/> each later epoch then trains one more layer, from the top encoder
/// layer down to the embedding (ULMFiT's gradual unfreezing, Howard &amp; Ruder 2018), otherwise all of them at once.
/// </summary>
public sealed class ClassificationTask(TextClassifier model, LabelledTexts train, LabelledTexts? valid,
    int batchSize, JsonObject? extraConfig = null, int frozenEpochs = 0, bool gradualUnfreezing = false)
    : ITrainingTask<int[]>
{
    /// <summary>The layers of the classifier's word encoder (<see cref="TextClassifier.FrozenLayers"/>) that stay
    /// fixed in zero-based <paramref name="epoch"/>.</summary>
    public int FrozenLayersAt(int epoch)
    {
        int all = model.Config.NumLayers + 1;
        if (epoch < frozenEpochs) return all;
        return gradualUnfreezing ? Math.Max(0, all - (epoch - frozenEpochs + 1)) : 0;
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <inheritdoc/>
    public JsonObject Config => model.Config.ToJson().With(extraConfig);

    /// <inheritdoc/>
    public int BatchesPerEpoch => (train.Count + batchSize - 1) / batchSize;

    /// <inheritdoc/>
    public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) =>
        Batching.BucketedByLength(train.Texts.Select(t => t.Length).ToArray(), batchSize, shuffle);

    /// <inheritdoc/>
    public int Count(int[] batch) => batch.Length;

    /// <inheritdoc/>
    public Tensor Loss(int[] batch, TrainingContext context)
    {
        model.FrozenLayers = FrozenLayersAt(context.Epoch);
        return Losses.CrossEntropy(model.Forward(batch.Select(i => train.Texts[i]).ToArray()),
            batch.Select(i => train.Labels[i]).ToArray());
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (valid is null) return null;
        var report = Report(model, valid);
        return new Dictionary<string, double>
        {
            ["loss"] = report.Loss, ["accuracy"] = report.Accuracy,
            ["macro_f1"] = report.MacroF1
        };
    }

    /// <summary>
    /// The mean of several models' class probabilities (an ensemble), for texts; one model's are <see
    /// cref="TextClassifier.PredictProbabilities"/>.
    /// </summary>
    public static double[][] Probabilities(IReadOnlyList<TextClassifier> models, IReadOnlyList<int[]> texts)
    {
        if (models.Count == 0) throw new ArgumentException("Probabilities: no models.");
        var sum = models[0].PredictProbabilities(texts);
        foreach (var model in models.Skip(1))
        {
            var p = model.PredictProbabilities(texts);
            for (int i = 0; i < sum.Length; i++)
                for (int c = 0; c < sum[i].Length; c++) sum[i][c] += p[i][c];
        }
        foreach (var row in sum)
            for (int c = 0; c < row.Length; c++) row[c] /= models.Count;
        return sum;
    }

    /// <summary>Scores <paramref name="data"/>: mean cross-entropy, accuracy, per-class precision/recall/F1, confusion
    /// matrix.</summary>
    public static ClassificationReport Report(TextClassifier model, LabelledTexts data) => Report([model], data);

    /// <summary>Scores an ensemble (mean of the models' probabilities) on <paramref name="data"/>.</summary>
    public static ClassificationReport Report(IReadOnlyList<TextClassifier> models, LabelledTexts data) =>
        ClassificationReport.FromProbabilities(models[0].Config.Classes, data.Labels, Probabilities(models,
            data.Texts));
}

/// <summary>Splits labelled data for validation.</summary>
public static class StratifiedSplit
{
    /// <summary>
    /// Holds out about <paramref name="fraction"/> of the examples of each class (at least one of every class with two
    /// or more), chosen by a shuffle seeded with <paramref name="seed"/>; both index lists are ascending.
    /// </summary>
    public static (int[] Train, int[] Valid) HoldOut(IReadOnlyList<int> labels, double fraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (fraction is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "in (0, 1)");
        var random = new RandomGenerator(seed);
        var valid = new List<int>();
        foreach (var group in labels.Select((label, i) => (label, i)).GroupBy(p => p.label).OrderBy(g => g.Key))
        {
            var members = group.Select(p => p.i).ToArray();
            random.Shuffle(members.AsSpan());
            int take = members.Length < 2 ? 0 : Math.Clamp((int)Math.Round(fraction * members.Length), 1,
                members.Length - 1);
            valid.AddRange(members.Take(take));
        }
        var held = valid.ToHashSet();
        return (Enumerable.Range(0, labels.Count).Where(i => !held.Contains(i)).ToArray(), valid.Order().ToArray());
    }
}
