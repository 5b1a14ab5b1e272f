using System.Globalization;

namespace Recur.Optim;

/// <summary>What one <see cref="LearningRateSchedule.Advance"/> of a schedule stands for.</summary>
public enum ScheduleUnit
{
    /// <summary>One optimizer step.</summary>
    Step,
    /// <summary>One epoch.</summary>
    Epoch,
}

/// <summary>
/// A learning rate that changes over training. The trainer calls <see cref="Advance"/> after every optimizer step or
/// every epoch (as <see cref="Unit"/> says), <see cref="ReportMetric"/> after every validation, and copies
/// <see cref="LearningRate"/> into the optimizer. The values follow PyTorch's schedulers of the same names.
/// </summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate the schedule starts from.</summary>
    public float BaseLearningRate { get; }

    /// <summary>Whether <see cref="Advance"/> counts optimizer steps or epochs.</summary>
    public ScheduleUnit Unit { get; }

    /// <summary>How many times <see cref="Advance"/> has been called.</summary>
    public long Count { get; private set; }

    /// <summary>The current learning rate.</summary>
    public float LearningRate { get; protected set; }

    /// <summary>Creates a schedule starting at <paramref name="baseLearningRate"/>.</summary>
    protected LearningRateSchedule(float baseLearningRate, ScheduleUnit unit)
    {
        if (!(baseLearningRate >= 0f) || float.IsInfinity(baseLearningRate))
            throw new ArgumentOutOfRangeException(nameof(baseLearningRate), baseLearningRate,
                "learning rate must be finite and non-negative");
        (BaseLearningRate, Unit) = (baseLearningRate, unit);
        LearningRate = baseLearningRate; // schedules that start elsewhere set it once their fields are in place
    }

    /// <summary>The learning rate after <paramref name="count"/> advances (closed form).</summary>
    protected abstract double At(long count);

    /// <summary>Moves the schedule one unit on.</summary>
    public void Advance()
    {
        Count++;
        LearningRate = (float)At(Count);
    }

    /// <summary>Tells the schedule a validation metric (only metric-driven schedules use it).</summary>
    public virtual void ReportMetric(double value) { }

    /// <summary>The schedule's state as name → value pairs, for checkpoints.</summary>
    public virtual Dictionary<string, double> GetState() =>
        new() { ["count"] = Count, ["learning_rate"] = LearningRate };

    /// <summary>
    /// Restores a state from <see cref="GetState"/>. A closed-form schedule then recomputes its rate from the count and
    /// this instance's base rate, so resuming with another base rate (a learning-rate drop: <c>--resume DIR --lr
    /// 1e-4</c>)
    /// takes effect from the first resumed step; with the same base rate the rate is the saved one. Metric-driven
    /// schedules
    /// keep the saved rate.
    /// </summary>
    public virtual void SetState(IReadOnlyDictionary<string, double> state)
    {
        Count = (long)Read(state, "count");
        LearningRate = (float)Read(state, "learning_rate"); // a metric-driven schedule's At returns this saved rate
        LearningRate = (float)At(Count);
    }

    /// <summary>Reads one state entry or throws naming it.</summary>
    protected static double Read(IReadOnlyDictionary<string, double> state, string key) =>
        state.TryGetValue(key, out var v) && double.IsFinite(v) ? v
            : throw new InvalidDataException($"learning-rate schedule state lacks a finite '{key}'.");

    /// <summary>Checks a positive setting.</summary>
    protected static void RequirePositive(string name, double value)
    {
        if (!(value > 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value,
            "must be positive and finite");
    }

    /// <summary>Short description for logs.</summary>
    public override string ToString() =>
        $"{GetType().Name}(lr={BaseLearningRate.ToString(CultureInfo.InvariantCulture)})";
}

/// <summary>A fixed learning rate.</summary>
public sealed class ConstantSchedule(float learningRate) : LearningRateSchedule(learningRate, ScheduleUnit.Step)
{
    /// <inheritdoc/>
    protected override double At(long count) => BaseLearningRate;
}

/// <summary>Multiplies the rate by <c>gamma</c> every <c>stepSize</c> units (<c>StepLR</c>).</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    readonly int stepSize;
    readonly double gamma;

    /// <summary>Creates the schedule (counting epochs unless told otherwise).</summary>
    public StepSchedule(float baseLearningRate, int stepSize, double gamma = 0.1,
        ScheduleUnit unit = ScheduleUnit.Epoch)
        : base(baseLearningRate, unit)
    {
        RequirePositive(nameof(stepSize), stepSize);
        RequirePositive(nameof(gamma), gamma);
        (this.stepSize, this.gamma) = (stepSize, gamma);
    }

    /// <inheritdoc/>
    protected override double At(long count) => BaseLearningRate * Math.Pow(gamma, count / stepSize);
}

/// <summary>
/// Multiplies the rate by <c>gamma</c> at each of the given milestones (<c>MultiStepLR</c>): with milestones 100 and
/// 150 the rate is lr before unit 100, lr·γ from 100 and lr·γ² from 150. Counts epochs unless told otherwise.
/// </summary>
public sealed class MultiStepSchedule : LearningRateSchedule
{
    readonly long[] milestones;
    readonly double gamma;

    /// <summary>Creates the schedule; <paramref name="milestones"/> must be positive and strictly increasing.</summary>
    public MultiStepSchedule(float baseLearningRate, IReadOnlyList<long> milestones, double gamma = 0.1,
        ScheduleUnit unit = ScheduleUnit.Epoch)
        : base(baseLearningRate, unit)
    {
        if (milestones.Count == 0) throw new ArgumentException("MultiStepSchedule: give at least one milestone.",
            nameof(milestones));
        for (int i = 0; i < milestones.Count; i++)
            if (milestones[i] < 1 || i > 0 && milestones[i] <= milestones[i - 1])
                throw new ArgumentException($"MultiStepSchedule: milestones must be positive and strictly "
                    + $"increasing, got {string.Join(", ", milestones)}.", nameof(milestones));
        RequirePositive(nameof(gamma), gamma);
        (this.milestones, this.gamma) = (milestones.ToArray(), gamma);
    }

    /// <inheritdoc/>
    protected override double At(long count)
    {
        int passed = 0;
        while (passed < milestones.Length && milestones[passed] <= count) passed++;
        return BaseLearningRate * Math.Pow(gamma, passed);
    }
}

/// <summary>Multiplies the rate by <c>gamma</c> every unit (<c>ExponentialLR</c>).</summary>
public sealed class ExponentialSchedule : LearningRateSchedule
{
    readonly double gamma;

    /// <summary>Creates the schedule (counting epochs unless told otherwise).</summary>
    public ExponentialSchedule(float baseLearningRate, double gamma,
        ScheduleUnit unit = ScheduleUnit.Epoch) : base(baseLearningRate, unit)
    {
        RequirePositive(nameof(gamma), gamma);
        this.gamma = gamma;
    }

    /// <inheritdoc/>
    protected override double At(long count) => BaseLearningRate * Math.Pow(gamma, count);
}

/// <summary>
/// Linear warm-up from <c>startFactor·lr</c> to <c>lr</c> over <c>warmup</c> units, then cosine annealing to
/// <c>minLearningRate</c> at <c>total</c> units, constant after (PyTorch's <c>LinearLR</c> followed by
/// <c>CosineAnnealingLR</c> in a <c>SequentialLR</c>). Counts optimizer steps unless told otherwise.
/// </summary>
public sealed class CosineWarmupSchedule : LearningRateSchedule
{
    readonly long warmup, total;
    readonly double minLearningRate, startFactor;

    /// <summary>Creates the schedule.</summary>
    public CosineWarmupSchedule(float baseLearningRate, long warmup, long total, double minLearningRate = 0,
        double startFactor = 0.1, ScheduleUnit unit = ScheduleUnit.Step) : base(baseLearningRate, unit)
    {
        if (warmup < 0 || total <= warmup) throw new ArgumentException($"CosineWarmupSchedule: need 0 ≤ warmup < "
            + $"total, got warmup={warmup}, total={total}.");
        if (!(minLearningRate >= 0 && minLearningRate <= baseLearningRate))
            throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate,
                "must be in [0, base learning rate]");
        if (!(startFactor > 0 && startFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(startFactor),
            startFactor, "must be in (0, 1]");
        (this.warmup, this.total, this.minLearningRate, this.startFactor) = (warmup, total, minLearningRate,
            startFactor);
        LearningRate = (float)At(0);
    }

    /// <inheritdoc/>
    protected override double At(long count)
    {
        if (count < warmup) return BaseLearningRate * (startFactor + (1 - startFactor) * count / warmup);
        if (count >= total) return minLearningRate;
        double progress = (double)(count - warmup) / (total - warmup);
        return minLearningRate + (BaseLearningRate - minLearningRate) * (1 + Math.Cos(Math.PI * progress)) / 2;
    }
}

/// <summary>Whether a smaller or a larger metric is better.</summary>
public enum MetricMode
{
    /// <summary>Smaller is better (losses).</summary>
    Min,
    /// <summary>Larger is better (accuracy, F1, BLEU).</summary>
    Max,
}

/// <summary>
/// The slanted triangular schedule of ULMFiT (Howard &amp; Ruder 2018, eq. 3): the rate climbs linearly from
/// η/ratio to η over the first <c>cutFraction</c> of <c>total</c> counts, then falls linearly back to η/ratio at
/// <c>total</c> — a short increase to find a good region quickly, a long decay to settle in it.
/// </summary>
public sealed class SlantedTriangularSchedule : LearningRateSchedule
{
    readonly long total, cut;
    readonly double cutFraction, ratio;

    /// <summary>Creates the schedule over <paramref name="total"/> counts (steps, unless <paramref name="unit"/>
    /// says epochs).</summary>
    public SlantedTriangularSchedule(float baseLearningRate, long total, double cutFraction = 0.1, double ratio = 32,
        ScheduleUnit unit = ScheduleUnit.Step) : base(baseLearningRate, unit)
    {
        if (!(cutFraction > 0 && cutFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(cutFraction), cutFraction, "must be in (0, 1)");
        if (!(ratio >= 1)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "must be at least 1");
        long cut = (long)Math.Floor(total * cutFraction);
        if (cut < 1 || total <= cut)
            throw new ArgumentException($"SlantedTriangularSchedule: {total} counts leave no room to climb and fall.");
        (this.total, this.cut, this.cutFraction, this.ratio) = (total, cut, cutFraction, ratio);
        LearningRate = (float)At(0);
    }

    /// <inheritdoc/>
    protected override double At(long count)
    {
        long t = Math.Min(count, total);
        double p = t < cut ? (double)t / cut : 1 - (double)(t - cut) / (cut * (1 / cutFraction - 1));
        return BaseLearningRate * (1 + Math.Max(p, 0) * (ratio - 1)) / ratio;
    }
}

/// <summary>
/// Multiplies the rate by <c>factor</c> when the validation metric has not improved (by a relative
/// <c>threshold</c>) for more than <c>patience</c> reports, then waits <c>cooldown</c> reports; never below
/// <c>minLearningRate</c> (<c>ReduceLROnPlateau</c>, relative threshold mode).
/// </summary>
public sealed class ReduceOnPlateauSchedule : LearningRateSchedule
{
    readonly MetricMode mode;
    readonly double factor, threshold, minLearningRate;
    readonly int patience, cooldown;
    double best;
    int badReports, cooldownLeft;

    /// <summary>Creates the schedule with PyTorch's defaults.</summary>
    public ReduceOnPlateauSchedule(float baseLearningRate, MetricMode mode = MetricMode.Min, double factor = 0.1,
        int patience = 10, double threshold = 1e-4, int cooldown = 0,
        double minLearningRate = 0) : base(baseLearningRate, ScheduleUnit.Epoch)
    {
        if (!(factor > 0 && factor < 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor,
            "must be in (0, 1)");
        if (patience < 0 || cooldown < 0) throw new ArgumentException("ReduceOnPlateauSchedule: patience and "
            + "cooldown must be non-negative.");
        (this.mode, this.factor, this.patience, this.threshold, this.cooldown, this.minLearningRate) = (mode,
            factor, patience, threshold, cooldown, minLearningRate);
        best = mode == MetricMode.Min ? double.PositiveInfinity : double.NegativeInfinity;
    }

    /// <inheritdoc/>
    protected override double At(long count) => LearningRate;

    bool Improves(double value) =>
        mode == MetricMode.Min ? value < best * (1 - threshold) : value > best * (1 + threshold);

    /// <inheritdoc/>
    public override void ReportMetric(double value)
    {
        if (double.IsNaN(value)) throw new ArgumentException("ReduceOnPlateauSchedule: the metric is NaN.");
        if (Improves(value)) (best, badReports) = (value, 0);
        else badReports++;
        if (cooldownLeft > 0) { cooldownLeft--; badReports = 0; }
        if (badReports > patience)
        {
            double reduced = Math.Max(LearningRate * factor, minLearningRate);
            if (LearningRate - reduced > 1e-8) LearningRate = (float)reduced;
            (cooldownLeft, badReports) = (cooldown, 0);
        }
    }

    /// <inheritdoc/>
    public override Dictionary<string, double> GetState()
    {
        var state = base.GetState();
        state["best"] = double.IsInfinity(best) ? (best > 0 ? double.MaxValue : double.MinValue) : best;
        state["bad_reports"] = badReports;
        state["cooldown_left"] = cooldownLeft;
        return state;
    }

    /// <inheritdoc/>
    public override void SetState(IReadOnlyDictionary<string, double> state)
    {
        base.SetState(state);
        best = Read(state, "best");
        if (best == double.MaxValue) best = double.PositiveInfinity;
        if (best == double.MinValue) best = double.NegativeInfinity;
        badReports = (int)Read(state, "bad_reports");
        cooldownLeft = (int)Read(state, "cooldown_left");
    }
}
