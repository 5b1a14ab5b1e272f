using Recur.Autograd;
using Recur.Nn;

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
