using System.Text.Json.Serialization;
namespace Recur.Forecasting;

/// <summary>How a <see cref="Scaler"/> maps values.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ScalingKind>))]
public enum ScalingKind
{
    /// <summary>(x − min) / (max − min), fitted on the training part: [0, 1] there.</summary>
    MinMax,
    /// <summary>(x − mean) / standard deviation, fitted on the training part.</summary>
    Standard,
    /// <summary>Unchanged.</summary>
    None,
}

/// <summary>An affine scaling fitted on the training part of a series only, inverted exactly for reporting.</summary>
public sealed class Scaler
{
    /// <summary>The kind of scaling.</summary>
    public ScalingKind Kind { get; }

    /// <summary>Subtracted first.</summary>
    public double Offset { get; }

    /// <summary>Divided by after the offset.</summary>
    public double Scale { get; }

    Scaler(ScalingKind kind, double offset, double scale) => (Kind, Offset, Scale) = (kind, offset, scale);

    /// <summary>Fits on <paramref name="training"/> (never on validation or test values).</summary>
    public static Scaler Fit(ReadOnlySpan<double> training, ScalingKind kind)
    {
        if (training.IsEmpty) throw new ArgumentException("Scaler: no training values to fit.");
        switch (kind)
        {
            case ScalingKind.MinMax:
            {
                double min = double.MaxValue, max = double.MinValue;
                foreach (double v in training) { min = Math.Min(min, v); max = Math.Max(max, v); }
                return new(kind, min, max > min ? max - min : 1);
            }
            case ScalingKind.Standard:
            {
                double mean = 0;
                foreach (double v in training) mean += v;
                mean /= training.Length;
                double variance = 0;
                foreach (double v in training) variance += (v - mean) * (v - mean);
                double std = Math.Sqrt(variance / training.Length);
                return new(kind, mean, std > 0 ? std : 1);
            }
            default:
                return new(kind, 0, 1);
        }
    }

    /// <summary>Restores a scaler from its saved parameters.</summary>
    public static Scaler From(ScalingKind kind, double offset, double scale) =>
        scale == 0 || !double.IsFinite(scale)
            || !double.IsFinite(offset)
            ? throw new ArgumentException($"Scaler: invalid parameters offset {offset}, scale {scale}.") : new(kind,
            offset, scale);

    /// <summary>Scales one value.</summary>
    public double Transform(double value) => (value - Offset) / Scale;

    /// <summary>Undoes <see cref="Transform"/>.</summary>
    public double Inverse(double value) => value * Scale + Offset;
}

/// <summary>
/// Differencing of order one at a lag (1 for the ordinary difference, the season length for seasonal differencing):
/// d_t = x_t − x_{t−lag}, defined from t = lag on. The inverse rebuilds the series from its first <c>lag</c> values.
/// </summary>
public static class Differencing
{
    /// <summary>d_t = x_t − x_{t−lag} for t = lag … n−1 (n − lag values).</summary>
    public static double[] Apply(ReadOnlySpan<double> series, int lag)
    {
        if (lag < 1
            || lag >= series.Length) throw new ArgumentException(
            $"Differencing: lag {lag} needs a series longer than it, got {series.Length} values.");
        var d = new double[series.Length - lag];
        for (int t = lag; t < series.Length; t++) d[t - lag] = series[t] - series[t - lag];
        return d;
    }

    /// <summary>
    /// Continues <paramref name="history"/> (at least <paramref name="lag"/> original values) with the differences
    /// <paramref name="differences"/>: x_t = d_t + x_{t−lag}. Returns only the new values.
    /// </summary>
    public static double[] Integrate(ReadOnlySpan<double> history, ReadOnlySpan<double> differences, int lag)
    {
        if (history.Length < lag) throw new ArgumentException(
            $"Differencing: integrating at lag {lag} needs {lag} values of history, got {history.Length}.");
        var all = new double[history.Length + differences.Length];
        history.CopyTo(all);
        for (int k = 0; k < differences.Length; k++) all[history.Length + k] = differences[k] + all[history.Length
            + k - lag];
        return all[history.Length..];
    }
}

/// <summary>Sliding windows over a series: inputs of <c>window</c> values, targets of the next <c>horizon</c>
/// values.</summary>
public static class Windows
{
    /// <summary>
    /// Every window that fits in <paramref name="series"/>: for each start s, inputs x[s .. s+window) and targets
    /// x[s+window .. s+window+horizon). Returns (inputs [N, window], targets [N, horizon], N).
    /// </summary>
    public static (float[] Inputs, float[] Targets, int Count) Make(ReadOnlySpan<double> series, int window,
        int horizon)
    {
        if (window < 1
            || horizon < 1) throw new ArgumentException(
            $"Windows: window and horizon must be positive, got {window} and {horizon}.");
        int count = series.Length - window - horizon + 1;
        if (count < 1) throw new ArgumentException(
            $"Windows: a series of {series.Length} values has no window of {window} followed by {horizon}.");
        var inputs = new float[count * window];
        var targets = new float[count * horizon];
        for (int s = 0; s < count; s++)
        {
            for (int k = 0; k < window; k++) inputs[s * window + k] = (float)series[s + k];
            for (int k = 0; k < horizon; k++) targets[s * horizon + k] = (float)series[s + window + k];
        }
        return (inputs, targets, count);
    }
}

/// <summary>How the gaps of a series (missing values, NaN here) are filled; there is no silent default.</summary>
public enum GapFill
{
    /// <summary>A straight line between the observed neighbours; gaps at either end take the nearest value.</summary>
    Interpolate,

    /// <summary>The last observed value carried forward; a gap at the start cannot be filled this way.</summary>
    Previous,

    /// <summary>The rows with a gap are removed (the series then skips those time steps).</summary>
    Drop,
}

/// <summary>Filling the gaps of a series.</summary>
public static class Gaps
{
    /// <summary>
    /// <paramref name="values"/> with its NaN entries filled by <paramref name="fill"/> (<see cref="GapFill.Drop"/>
    /// removes them). Throws an <see cref="ArgumentException"/> naming the position when a gap cannot be filled (a
    /// leading gap with <see cref="GapFill.Previous"/>, or no observed value at all).
    /// </summary>
    public static double[] Fill(ReadOnlySpan<double> values, GapFill fill)
    {
        if (fill == GapFill.Drop)
        {
            var kept = new List<double>(values.Length);
            foreach (double v in values) if (!double.IsNaN(v)) kept.Add(v);
            return kept.ToArray();
        }
        var filled = values.ToArray();
        int first = Array.FindIndex(filled, v => !double.IsNaN(v));
        if (first < 0) throw new ArgumentException("Gaps: the series has no observed value.");
        if (fill == GapFill.Previous && first > 0)
            throw new ArgumentException("Gaps: the series starts with a gap (value 0), which has no previous value "
                + "to carry forward.");
        int last = -1;
        for (int t = 0; t < filled.Length; t++)
        {
            if (!double.IsNaN(filled[t]))
            {
                // a run of gaps between last and t: a straight line, or the value before it carried forward
                for (int g = last + 1; g < t; g++)
                    filled[g] = last < 0 ? filled[t]
                        : fill == GapFill.Previous ? filled[last]
                        : filled[last] + (filled[t] - filled[last]) * (g - last) / (t - last);
                last = t;
            }
        }
        for (int g = last + 1; g < filled.Length; g++) filled[g] = filled[last];
        return filled;
    }
}
