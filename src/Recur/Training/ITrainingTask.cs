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
