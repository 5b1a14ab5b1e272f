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
}

/// <summary>
/// Which weight average a run keeps (<c>TrainerOptions.Averaging</c>): the trainer then validates and
/// saves the averaged weights, and keeps the weights the optimizer moves beside them for resuming.
/// </summary>
/// <param name="Kind">Exponential or uniform.</param>
/// <param name="Decay">The exponential average's decay per step, in (0, 1).</param>
/// <param name="StartEpoch">The zero-based epoch from whose first step the uniform average counts.</param>
public sealed record AveragingOptions(AveragingKind Kind, double Decay = 0, int StartEpoch = 0)
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

    /// <summary>A short description, as stored in a checkpoint's trainer state.</summary>
    public override string ToString() => Kind == AveragingKind.Exponential
        ? FormattableString.Invariant($"ema {Decay}")
            : FormattableString.Invariant($"uniform from epoch {StartEpoch + 1}");
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

    /// <summary>The kind, decay and start of the average.</summary>
    public AveragingOptions Options { get; }

    /// <summary>How many weight vectors the average holds (0 until the first counted update).</summary>
    public long Count { get; private set; }

    /// <summary>Whether <see cref="Swap"/> has put the averaged weights into the parameters.</summary>
    public bool Swapped { get; private set; }

    /// <summary>An average of <paramref name="parameters"/>, starting as a copy of their current values.</summary>
    public WeightAverage(IReadOnlyList<Tensor> parameters, AveragingOptions options)
    {
        if (parameters.Count == 0) throw new ArgumentException("WeightAverage: no parameters given.");
        if (options.Kind == AveragingKind.Exponential && options.Decay is not (> 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.Decay,
                "WeightAverage: the exponential decay must be in (0, 1).");
        if (options.StartEpoch < 0) throw new ArgumentOutOfRangeException(nameof(options), options.StartEpoch,
            "WeightAverage: the start epoch must be non-negative.");
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
        bool counting = Options.Kind == AveragingKind.Exponential || epoch >= Options.StartEpoch;
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
    /// <paramref name="count"/> weight vectors.</summary>
    public void Restore(IReadOnlyList<Tensor> stored, long count)
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
    }
}
