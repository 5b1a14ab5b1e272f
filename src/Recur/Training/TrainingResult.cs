using Recur.Nn;

namespace Recur.Training;

/// <summary>How a run ended.</summary>
public enum TrainingOutcome
{
    /// <summary>All epochs ran.</summary>
    Completed,
    /// <summary>Early stopping: the metric stopped improving.</summary>
    EarlyStopped,
    /// <summary>Cancelled (Ctrl+C); a checkpoint was saved first.</summary>
    Interrupted,
}

/// <summary>The end of a run.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="Epochs">Epochs completed.</param>
/// <param name="BestMetric">Best value of the chosen validation metric, if validated.</param>
/// <param name="LastEvaluation">The last validation's metrics.</param>
/// <param name="SkippedSteps">Steps skipped for non-finite values.</param>
/// <param name="BestWeights">
/// Without an output folder, a copy of the weights of the best validation (load them with
/// <see cref="Module.LoadStateDict"/>); null with one (they are in its <c>best/</c>) or without validation.
/// </param>
public sealed record TrainingResult(TrainingOutcome Outcome, long Steps, int Epochs, double? BestMetric,
    IReadOnlyDictionary<string, double>? LastEvaluation, int SkippedSteps,
    IReadOnlyDictionary<string, Tensor>? BestWeights = null);
