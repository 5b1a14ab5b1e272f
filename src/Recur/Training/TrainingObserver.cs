namespace Recur.Training;

/// <summary>One reported stretch of training.</summary>
/// <param name="Epoch">Zero-based epoch.</param>
/// <param name="Step">Optimizer steps taken.</param>
/// <param name="TotalSteps">Optimizer steps the whole run will take.</param>
/// <param name="Loss">Mean training loss since the previous record.</param>
/// <param name="LearningRate">Learning rate used by the last step.</param>
/// <param name="GradientNorm">Global gradient norm of the last step, before clipping.</param>
/// <param name="ItemsPerSecond">Samples (or tokens) per second since the previous record.</param>
/// <param name="Elapsed">Training time so far (across resumptions).</param>
public sealed record StepRecord(int Epoch, long Step, long TotalSteps, double Loss, float LearningRate,
    float GradientNorm, double ItemsPerSecond, TimeSpan Elapsed)
{
    /// <summary>Estimated time left at the current speed.</summary>
    public TimeSpan? Remaining => Step > 0 && TotalSteps > Step ? Elapsed * ((double)(TotalSteps - Step) / Step) : null;
}

/// <summary>One validation.</summary>
/// <param name="Epoch">Zero-based epoch.</param>
/// <param name="Step">Optimizer steps taken.</param>
/// <param name="Metrics">The task's metrics.</param>
/// <param name="IsBest">Whether this is the best value of the chosen metric so far.</param>
public sealed record EvaluationRecord(int Epoch, long Step, IReadOnlyDictionary<string, double> Metrics, bool IsBest);

/// <summary>Receives progress (the CLI draws a progress bar from it; <see cref="TextTrainingObserver"/> prints
/// lines).</summary>
public interface ITrainingObserver
{
    /// <summary>Training starts (or resumes) at <paramref name="step"/> of <paramref name="totalSteps"/>.</summary>
    void OnStart(long step, long totalSteps);
    /// <summary>A training record.</summary>
    void OnStep(StepRecord record);
    /// <summary>A validation result.</summary>
    void OnEvaluation(EvaluationRecord record);
    /// <summary>A notable event (checkpoint written, step skipped, early stop).</summary>
    void OnMessage(string message);
}

/// <summary>Prints plain periodic lines (for logs and non-terminal output).</summary>
public sealed class TextTrainingObserver(TextWriter writer) : ITrainingObserver
{
    /// <inheritdoc/>
    public void OnStart(long step,
        long totalSteps)
        => writer.WriteLine(step == 0 ? $"training: {totalSteps} steps" : $"resuming at step {step} of {totalSteps}");

    /// <inheritdoc/>
    public void OnStep(StepRecord r) => writer.WriteLine(FormattableString.Invariant(
        $"epoch {r.Epoch + 1} step {r.Step}/{r.TotalSteps}  loss {r.Loss:F4}  lr {r.LearningRate:G3}  ")
        + FormattableString.Invariant($"|g| {r.GradientNorm:G3}  {r.ItemsPerSecond:F0}/s  eta {Format(r.Remaining)}"));

    /// <inheritdoc/>
    public void OnEvaluation(EvaluationRecord r) => writer.WriteLine(
        $"epoch {r.Epoch + 1} step {r.Step} validation: "
        + string.Join("  ", r.Metrics.Select(m => FormattableString.Invariant($"{m.Key} {m.Value:F4}")))
        + (r.IsBest ? "  (best)" : ""));

    /// <inheritdoc/>
    public void OnMessage(string message) => writer.WriteLine(message);

    static string Format(TimeSpan? t) => t is { } v ? $"{(int)v.TotalMinutes}:{v.Seconds:D2}" : "-";
}
