using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Training;

/// <summary>
/// What a task gives the <see cref="Trainer{TBatch}"/>: the model, the batches of an epoch, the loss of a batch and the
/// validation metrics. The trainer owns the loop, clipping, schedules, checkpoints, logging and the NaN guard.
/// </summary>
public interface ITrainingTask<TBatch>
{
    /// <summary>The model being trained (its parameters are the optimizer's).</summary>
    Module Model { get; }

    /// <summary>
    /// The architecture and settings that rebuild the model, written as the checkpoint's <c>config.json</c>; by default
    /// only the model's type name, enough for a run that is not reloaded by kind.
    /// </summary>
    JsonObject Config => new() { ["architecture"] = Model.GetType().Name };

    /// <summary>How many batches one epoch has (for progress and ETA).</summary>
    int BatchesPerEpoch { get; }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/> in order. Shuffle with <paramref name="shuffle"/> only (it is
    /// seeded from the run's seed and the epoch number), so that a resumed run sees the same batches.
    /// </summary>
    IEnumerable<TBatch> Batches(int epoch, RandomGenerator shuffle);

    /// <summary>The scalar training loss of <paramref name="batch"/>, recorded on the tape.</summary>
    Tensor Loss(TBatch batch, TrainingContext context);

    /// <summary>How many samples (or tokens) a batch counts for throughput; 1 unless a task says (batches are
    /// counted).</summary>
    int Count(TBatch batch) => 1;

    /// <summary>
    /// Validation metrics (the model is in evaluation mode and gradients are off), or null without a validation set
    /// (the default).
    /// </summary>
    IReadOnlyDictionary<string, double>? Evaluate() => null;
}

/// <summary>
/// A task whose batches give Gauss–Newton curvature products, so that <see cref="HessianFree"/> can train it:
/// the trainer asks for each batch's curvature before the optimizer's step.
/// </summary>
public interface ICurvatureTask<TBatch> : ITrainingTask<TBatch>
{
    /// <summary>
    /// The curvature of <paramref name="batch"/>'s objective, measured on its first ⌈<paramref name="fraction"/>·n⌉
    /// samples (the batches are shuffled, so that is a random subset).
    /// </summary>
    ICurvature Curvature(TBatch batch, double fraction);
}

/// <summary>
/// A task that carries state from one batch to the next, such as the recurrent state of stateful truncated BPTT over
/// a long stream. The trainer saves that state in every checkpoint and restores it on resume, so that a resumed run
/// continues exactly where the interrupted one stopped.
/// </summary>
public interface IStatefulTrainingTask
{
    /// <summary>The state to carry into the next batch (empty when there is none yet).</summary>
    IReadOnlyDictionary<string, Tensor> CarriedState();

    /// <summary>Continues from <paramref name="state"/> (a dictionary written from <see cref="CarriedState"/>; empty
    /// for none).</summary>
    void RestoreCarriedState(IReadOnlyDictionary<string, Tensor> state);
}

/// <summary>What the loss function of a task may need to know about the moment in training.</summary>
public sealed class TrainingContext
{
    /// <summary>Zero-based epoch.</summary>
    public int Epoch { get; internal set; }

    /// <summary>Optimizer steps taken so far.</summary>
    public long Step { get; internal set; }

    /// <summary>
    /// Probability of feeding the ground truth (rather than the model's own prediction) to a decoder at this step,
    /// from <see cref="TrainerOptions.TeacherForcing"/> (1 when none is set).
    /// </summary>
    public double TeacherForcingRatio { get; internal set; } = 1;

    /// <summary>A generator for random choices inside the loss (scheduled sampling); saved in checkpoints.</summary>
    public RandomGenerator Random { get; internal set; } = new(0);
}

/// <summary>What to do when a loss or gradient is NaN or infinite.</summary>
public enum NonFiniteAction
{
    /// <summary>Stop with a <see cref="NonFiniteException"/> naming epoch and step; the weights stay as before the
    /// step.</summary>
    Stop,
    /// <summary>Drop the batch's gradients, log it and go on (stops after 100 consecutive skips).</summary>
    Skip,
}

/// <summary>Settings of a training run.</summary>
public sealed record TrainerOptions
{
    /// <summary>Number of epochs.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>
    /// Stop after this many optimizer steps in all (counted across resumptions), even in the middle of an epoch; the
    /// run is then validated once more unless it just was. 0: no limit beyond <see cref="Epochs"/>. A budget in steps
    /// gives the same result on every machine, which a wall-clock budget does not.
    /// </summary>
    public long MaxSteps { get; init; }

    /// <summary>The run's seed: shuffling and the context generator derive from it.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Clip the global gradient norm to this (PyTorch <c>clip_grad_norm_</c>).</summary>
    public float? ClipNorm { get; init; }

    /// <summary>Clamp every gradient element to ±this (Keras <c>clipvalue</c>), before norm clipping.</summary>
    public float? ClipValue { get; init; }

    /// <summary>Batches whose gradients are summed (each loss scaled by 1/n) before one optimizer step.</summary>
    public int AccumulationSteps { get; init; } = 1;

    /// <summary>Validate every this many optimizer steps; 0 validates at the end of each epoch.</summary>
    public int ValidateEvery { get; init; }

    /// <summary>Report a training record every this many optimizer steps (and at the end of each epoch).</summary>
    public int LogEvery { get; init; } = 50;

    /// <summary>The validation metric that picks the best checkpoint, drives early stopping and plateau
    /// schedules.</summary>
    public string Metric { get; init; } = "loss";

    /// <summary>
    /// Whether a smaller or larger <see cref="Metric"/> is better. Left null, it follows the metric's name: larger is
    /// better for accuracy, F1, BLEU, precision and recall (any name containing them), smaller for everything else
    /// (loss, perplexity, error rates) — so <c>Metric = "accuracy"</c> alone keeps the most accurate epoch.
    /// </summary>
    public MetricMode? MetricMode { get; init; }

    /// <summary>The direction in force: <see cref="MetricMode"/>, or the one the metric's name implies.</summary>
    public MetricMode EffectiveMetricMode => MetricMode ?? (HigherIsBetter.Any(m => Metric.Contains(m,
        StringComparison.OrdinalIgnoreCase))
        ? Optim.MetricMode.Max : Optim.MetricMode.Min);

    static readonly string[] HigherIsBetter = ["accuracy", "f1", "bleu", "precision", "recall"];


    /// <summary>Stop after this many validations without improvement; 0 never stops early.</summary>
    public int Patience { get; init; }

    /// <summary>What to do with a NaN or infinite loss or gradient.</summary>
    public NonFiniteAction OnNonFinite { get; init; } = NonFiniteAction.Stop;

    /// <summary>
    /// Run folder: <c>last/</c> and <c>best/</c> checkpoints and <c>metrics.jsonl</c>; null keeps nothing on disk. A
    /// new
    /// (not resumed) run refuses a folder that holds an earlier run unless <see cref="Overwrite"/> is set.
    /// </summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Also write <c>last/</c> every this many optimizer steps (0: at validations, interruption and the
    /// end).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Let a new run replace an earlier run in <see cref="OutputDirectory"/> (its log and checkpoints are
    /// deleted).</summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// Keep a running average of the weights (exponential, or uniform from an epoch on): validation, the best and the
    /// last checkpoints and the model after <see cref="Trainer{TBatch}.Fit"/> use the averaged weights; null trains
    /// without.
    /// </summary>
    public AveragingOptions? Averaging { get; init; }

    /// <summary>Teacher-forcing ratio as a function of the optimizer step (see <see cref="TeacherForcing"/>).</summary>
    public Func<long, double>? TeacherForcing { get; init; }
}

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
    float GradientNorm,
    double ItemsPerSecond, TimeSpan Elapsed)
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

/// <summary>Teacher-forcing ratio schedules for <see cref="TrainerOptions.TeacherForcing"/> (scheduled sampling, Bengio
/// et al. 2015).</summary>
public static class TeacherForcing
{
    /// <summary>Always the same ratio.</summary>
    public static Func<long, double> Constant(double ratio) => _ => Math.Clamp(ratio, 0, 1);

    /// <summary>Linear decay from <paramref name="start"/> to <paramref name="end"/> over <paramref name="steps"/>
    /// steps.</summary>
    public static Func<long, double> Linear(double start, double end, long steps) =>
        step => step >= steps ? end : start + (end - start) * step / Math.Max(1, steps);

    /// <summary>Inverse-sigmoid decay k / (k + exp(step / k)) (k ≥ 1; larger k decays later).</summary>
    public static Func<long, double> InverseSigmoid(double k) => step => k / (k + Math.Exp(step / k));
}

/// <summary>Helpers for the <c>config.json</c> a task writes.</summary>
public static class TaskConfig
{
    /// <summary>
    /// <paramref name="config"/> with every entry of <paramref name="extra"/> (settings the model does not own, such as
    /// labels or the task's name) copied in, replacing entries of the same name.
    /// </summary>
    public static JsonObject With(this JsonObject config, JsonObject? extra)
    {
        foreach (var (k, v) in extra ?? []) config[k] = v?.DeepClone();
        return config;
    }
}
