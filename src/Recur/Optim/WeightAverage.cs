using System.Numerics.Tensors;

namespace Recur.Optim;

/// <summary>How a <see cref="WeightAverage"/> combines the weights of successive optimizer steps.</summary>
public enum AveragingKind
{
    /// <summary>Exponential moving average: avg ← decay·avg + (1 − decay)·w after every step (Polyak
    /// averaging).</summary>
    Exponential,
    /// <summary>
    /// The plain mean of the weights after every step from a start epoch on (stochastic weight averaging, Izmailov et
    /// al. 2018); before that epoch the average follows the weights.
    /// </summary>
    Uniform,
    /// <summary>
    /// The uniform mean from the validation at which training stops improving on its own (NT-ASGD, the
    /// non-monotonically triggered averaged SGD of Merity et al. 2018): once a validation result is worse than the best
    /// of those more than <see cref="AveragingOptions.Patience"/> validations before it, every later step is averaged;
    /// until then the average follows the weights. <see cref="WeightAverage.Observe"/> takes the results.
    /// </summary>
    NonMonotonic,
}

/// <summary>
/// Which weight average a run keeps (<c>TrainerOptions.Averaging</c>): the trainer then validates and
/// saves the averaged weights, and keeps the weights the optimizer moves beside them for resuming.
/// </summary>
/// <param name="Kind">Exponential or uniform.</param>
/// <param name="Decay">The exponential average's decay per step, in (0, 1).</param>
/// <param name="StartEpoch">The zero-based epoch from whose first step the uniform average counts.</param>
/// <param name="Patience">For <see cref="AveragingKind.NonMonotonic"/>: how many of the latest validations the trigger
/// leaves out of the best it compares with (Merity et al. use 5).</param>
public sealed record AveragingOptions(AveragingKind Kind, double Decay = 0, int StartEpoch = 0, int Patience = 0)
{
    /// <summary>An exponential moving average with <paramref name="decay"/> per optimizer step (e.g. 0.999).</summary>
    public static AveragingOptions Exponential(double decay) =>
        decay is > 0 and < 1 ? new(AveragingKind.Exponential,
            decay) : throw new ArgumentOutOfRangeException(nameof(decay), decay, "the decay must be in (0, 1).");

    /// <summary>The mean of the weights after every step from zero-based epoch <paramref name="startEpoch"/>
    /// on.</summary>
    public static AveragingOptions Uniform(int startEpoch) =>
        startEpoch >= 0 ? new(AveragingKind.Uniform, 0,
            startEpoch) : throw new ArgumentOutOfRangeException(nameof(startEpoch), startEpoch,
            "the start epoch must be non-negative.");

    /// <summary>The uniform mean of the weights from the first validation that is worse than the best of those more
    /// than <paramref name="patience"/> validations before it (NT-ASGD).</summary>
    public static AveragingOptions NonMonotonic(int patience) =>
        patience >= 1 ? new(AveragingKind.NonMonotonic, Patience: patience)
            : throw new ArgumentOutOfRangeException(nameof(patience), patience, "the patience must be at least 1.");

    /// <summary>A short description, as stored in a checkpoint's trainer state.</summary>
    public override string ToString() => Kind switch
    {
        AveragingKind.Exponential => FormattableString.Invariant($"ema {Decay}"),
        AveragingKind.Uniform => FormattableString.Invariant($"uniform from epoch {StartEpoch + 1}"),
        _ => FormattableString.Invariant($"non-monotonic, patience {Patience}"),
    };
}

/// <summary>
/// A running average of a model's parameters over optimizer steps, the way PyTorch's <c>AveragedModel</c> keeps one:
/// the first update copies the weights; later ones move the average towards them (exponentially, or as a running mean).
/// <see cref="Swap"/> exchanges the averaged and the current weights in place, so a model can be evaluated or saved
/// with its average and then carry on training from exactly the weights it had.
/// </summary>
public sealed class WeightAverage
{
    readonly IReadOnlyList<Tensor> parameters;
    readonly float[][] averages;
    readonly float[] scratch;
    readonly List<double> observed = [];

    /// <summary>The kind, decay and start of the average.</summary>
    public AveragingOptions Options { get; }

    /// <summary>How many weight vectors the average holds (0 until the first counted update).</summary>
    public long Count { get; private set; }

    /// <summary>Whether <see cref="Swap"/> has put the averaged weights into the parameters.</summary>
    public bool Swapped { get; private set; }

    /// <summary>For <see cref="AveragingKind.NonMonotonic"/>: whether the trigger has fired, so that every update
    /// counts.</summary>
    public bool Triggered { get; private set; }

    /// <summary>The validation results <see cref="Observe"/> has taken, in order.</summary>
    public IReadOnlyList<double> Observed => observed;

    /// <summary>An average of <paramref name="parameters"/>, starting as a copy of their current values.</summary>
    public WeightAverage(IReadOnlyList<Tensor> parameters, AveragingOptions options)
    {
        if (parameters.Count == 0) throw new ArgumentException("WeightAverage: no parameters given.");
        if (options.Kind == AveragingKind.Exponential && options.Decay is not (> 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.Decay,
                "WeightAverage: the exponential decay must be in (0, 1).");
        if (options.StartEpoch < 0) throw new ArgumentOutOfRangeException(nameof(options), options.StartEpoch,
            "WeightAverage: the start epoch must be non-negative.");
        if (options.Kind == AveragingKind.NonMonotonic && options.Patience < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Patience,
                "WeightAverage: the non-monotonic trigger needs a patience of at least 1.");
        (this.parameters, Options) = (parameters, options);
        averages = parameters.Select(p => p.ToArray()).ToArray();
        scratch = new float[parameters.Max(p => p.Length)];
    }

    /// <summary>Folds the parameters' current values into the average after an optimizer step taken in zero-based
    /// <paramref name="epoch"/>.</summary>
    public void Update(int epoch)
    {
        if (Swapped) throw new InvalidOperationException(
            "WeightAverage: Update while the averaged weights are swapped in.");
        bool counting = Options.Kind switch
        {
            AveragingKind.Exponential => true,
            AveragingKind.Uniform => epoch >= Options.StartEpoch,
            _ => Triggered,
        };
        if (!counting)
        {
            Copy(); // before the uniform average starts it follows the weights
            return;
        }
        if (Count == 0) Copy();
        else
        {
            // PyTorch: ema.lerp_(w, 1 − decay); mean += (w − mean) / (n + 1)
            float weight = Options.Kind == AveragingKind.Exponential ? (float)(1 - Options.Decay)
                : (float)(1.0 / (Count + 1));
            for (int i = 0; i < averages.Length; i++)
            {
                var average = averages[i].AsSpan();
                var difference = scratch.AsSpan(0, average.Length);
                TensorPrimitives.Subtract(parameters[i].Span, average, difference);
                TensorPrimitives.MultiplyAdd(difference, weight, average, average);
            }
        }
        Count++;
    }

    /// <summary>
    /// Takes a validation result (lower is better when <paramref name="lowerIsBetter"/>); for <see
    /// cref="AveragingKind.NonMonotonic"/> fires the trigger, and returns true, when it is worse than the best of the
    /// results before the latest <see cref="AveragingOptions.Patience"/> ones (a non-finite result counts as worse).
    /// Other kinds have no trigger and ignore it.
    /// </summary>
    public bool Observe(double metric, bool lowerIsBetter)
    {
        if (Options.Kind != AveragingKind.NonMonotonic) return false;
        int older = observed.Count - Options.Patience;
        bool fire = !Triggered && older > 0
            && !(lowerIsBetter ? metric <= observed.Take(older).Min() : metric >= observed.Take(older).Max());
        observed.Add(metric);
        if (fire) Triggered = true;
        return fire;
    }

    void Copy()
    {
        for (int i = 0; i < averages.Length; i++) parameters[i].Span.CopyTo(averages[i]);
    }

    /// <summary>
    /// Exchanges the parameters' values with the averaged ones; a second call exchanges them back. While swapped, the
    /// parameters hold the average and <see cref="Stored"/> the weights training continues from.
    /// </summary>
    public void Swap()
    {
        for (int i = 0; i < averages.Length; i++)
        {
            var p = parameters[i].Span;
            var a = averages[i].AsSpan();
            for (int j = 0; j < p.Length; j++) (p[j], a[j]) = (a[j], p[j]);
        }
        Swapped = !Swapped;
    }

    /// <summary>The values held beside the parameters (the average, or while <see cref="Swapped"/> the training
    /// weights), as tensors in parameter order.</summary>
    public IReadOnlyList<Tensor> Stored() => averages.Select((a, i) => Tensor.FromArray(a,
        parameters[i].Shape.ToArray())).ToArray();

    /// <summary>Restores a saved average: <paramref name="stored"/> in parameter order, holding
    /// <paramref name="count"/> weight vectors; for the non-monotonic trigger, the results it had
    /// <paramref name="observed"/> and whether it had fired.</summary>
    public void Restore(IReadOnlyList<Tensor> stored, long count, IEnumerable<double>? observed = null,
        bool triggered = false)
    {
        if (Swapped) throw new InvalidOperationException(
            "WeightAverage: Restore while the averaged weights are swapped in.");
        if (stored.Count != averages.Length
            || count < 0) throw new ArgumentException(
            $"WeightAverage: {stored.Count} tensors for {averages.Length} parameters.");
        for (int i = 0; i < averages.Length; i++)
        {
            if (stored[i].Length != averages[i].Length)
                throw new ArgumentException($"WeightAverage: stored tensor {i} has "
                    + $"shape {Shapes.Format(stored[i].Shape)}, the "
                        + $"parameter {Shapes.Format(parameters[i].Shape)}.");
            stored[i].Span.CopyTo(averages[i]);
        }
        Count = count;
        this.observed.Clear();
        this.observed.AddRange(observed ?? []);
        Triggered = triggered;
    }
}
