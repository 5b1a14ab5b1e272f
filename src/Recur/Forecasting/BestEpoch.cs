using Recur.Autograd;
using Recur.Nn;
using Recur.Optim;
using Recur.Training;

namespace Recur.Forecasting;

/// <summary>
/// The epoch choice the forecasters share: after each epoch a held-out loss is computed in evaluation mode without
/// gradients, and a copy of the weights is kept whenever it is the best so far.
/// </summary>
sealed class BestEpoch(Module network)
{
    double best = double.PositiveInfinity;

    /// <summary>The weights of the best epoch so far (null before the first score).</summary>
    public Dictionary<string, Tensor>? Weights { get; private set; }

    /// <summary>Scores the network by <paramref name="heldOutLoss"/>, keeps its weights if best, and returns the
    /// metric the trainer logs.</summary>
    public IReadOnlyDictionary<string, double> Score(Func<double> heldOutLoss)
    {
        double loss;
        network.Eval();
        using (GradMode.NoGrad()) loss = heldOutLoss();
        network.Train();
        if (loss < best)
        {
            best = loss;
            Weights = network.StateDict().ToDictionary(p => p.Key, p => p.Value.Detach().Clone());
        }
        return new Dictionary<string, double> { ["loss"] = loss };
    }

    /// <summary>
    /// How the many-series forecasters train: Adam on every parameter of <paramref name="network"/> over
    /// <paramref name="task"/>'s batches (gradients clipped at 1 unless the options say otherwise), then the weights of
    /// the best scored epoch (<paramref name="best"/>, null when none was scored) loaded back.
    /// </summary>
    public static TrainingResult Train<TBatch>(ITrainingTask<TBatch> task, Func<Dictionary<string, Tensor>?> best,
        Module network, float learningRate, int epochs, ulong seed, TrainerOptions? given,
        ITrainingObserver? observer, CancellationToken cancellation)
    {
        var options = Forecaster.TrainingOptions(given, epochs, seed);
        var trainer = new Trainer<TBatch>(task, new Adam(network.Parameters(), learningRate), options,
            observer: observer);
        var result = trainer.Fit(cancellation);
        if (best() is { } weights) network.LoadStateDict(weights);
        return result;
    }
}

/// <summary>The quantile heads of the many-series networks: the point forecast and, for intervals, a lower and an
/// upper quantile, each <c>horizon</c> columns of one output.</summary>
static class QuantileHeads
{
    /// <summary>Heads for this interval coverage: 3 when positive, else 1.</summary>
    public static int Count(double coverage) => coverage > 0 ? 3 : 1;

    /// <summary>The quantile of each output column: [point ×H, lower ×H, upper ×H].</summary>
    public static float[] Columns(int horizon, float quantile, double coverage)
    {
        int heads = Count(coverage);
        var quantiles = new float[horizon * heads];
        for (int k = 0; k < horizon; k++)
        {
            quantiles[k] = quantile;
            if (heads == 1) continue;
            quantiles[horizon + k] = (float)((1 - coverage) / 2);
            quantiles[2 * horizon + k] = (float)((1 + coverage) / 2);
        }
        return quantiles;
    }

    /// <summary>The intervals of the lower and upper heads, put back in order around the point where they
    /// cross.</summary>
    public static ForecastInterval[] Intervals(double[][] points, double[][] lower, double[][] upper, double coverage)
    {
        var intervals = new ForecastInterval[points.Length];
        for (int s = 0; s < points.Length; s++)
        {
            int horizon = points[s].Length;
            var low = new double[horizon];
            var high = new double[horizon];
            for (int k = 0; k < horizon; k++)
            {
                low[k] = Math.Min(Math.Min(lower[s][k], upper[s][k]), points[s][k]);
                high[k] = Math.Max(Math.Max(lower[s][k], upper[s][k]), points[s][k]);
            }
            intervals[s] = new ForecastInterval(low, high, coverage);
        }
        return intervals;
    }
}

/// <summary>The check of the categories given to a many-series forecaster.</summary>
static class SeriesCategories
{
    /// <summary>
    /// Throws an <see cref="ArgumentException"/> (naming <paramref name="model"/>) unless <paramref name="categories"/>
    /// is null or gives each of <paramref name="count"/> series a category in [0, <paramref name="known"/>).
    /// </summary>
    public static void Check(string model, IReadOnlyList<int>? categories, int count, int known)
    {
        if (categories is null) return;
        if (categories.Count != count)
            throw new ArgumentException($"{model}: {categories.Count} categories for {count} series.");
        for (int s = 0; s < count; s++)
            if (categories[s] < 0 || categories[s] >= known)
                throw new ArgumentException($"{model}: series {s} has category {categories[s]}, outside 0 … "
                    + $"{known - 1}.");
    }
}
