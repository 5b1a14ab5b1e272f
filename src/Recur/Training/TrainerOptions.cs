using Recur.Optim;

namespace Recur.Training;

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
