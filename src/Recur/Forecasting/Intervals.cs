namespace Recur.Forecasting;

/// <summary>A prediction interval per forecast step, and the probability it is meant to cover.</summary>
/// <param name="Lower">Lower bound per step.</param>
/// <param name="Upper">Upper bound per step.</param>
/// <param name="Coverage">Nominal coverage, e.g. 0.95.</param>
public sealed record ForecastInterval(double[] Lower, double[] Upper, double Coverage)
{
    /// <summary>The central <paramref name="coverage"/> of simulated values per step (linear interpolation between
    /// order statistics; non-finite samples, from paths that left the admissible region, are dropped).</summary>
    public static ForecastInterval FromSamples(double[][] samples, double coverage)
    {
        var lower = new double[samples.Length];
        var upper = new double[samples.Length];
        for (int h = 0; h < samples.Length; h++)
        {
            var sorted = samples[h].Where(double.IsFinite).Order().ToArray();
            if (sorted.Length == 0) throw new ArgumentException($"ForecastInterval: no finite sample at step {h + 1}.");
            lower[h] = Quantile(sorted, (1 - coverage) / 2);
            upper[h] = Quantile(sorted, (1 + coverage) / 2);
        }
        return new ForecastInterval(lower, upper, coverage);
    }

    /// <summary>The <paramref name="p"/>-quantile of sorted values, interpolating linearly.</summary>
    internal static double Quantile(double[] sorted, double p)
    {
        double position = p * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }

    /// <summary>
    /// The standard normal quantile Φ⁻¹(<paramref name="p"/>), by Acklam's rational approximation (relative error below
    /// 1.2e-9, ample for interval bounds).
    /// </summary>
    public static double NormalQuantile(double p)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentException($"NormalQuantile: {p} is not in (0, 1).");
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
            -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
            -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
            4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        double x;
        if (p < 0.02425)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        else if (p > 1 - 0.02425)
            return -NormalQuantile(1 - p);
        else
        {
            double q = p - 0.5, r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
        return x;
    }
}

/// <summary>How good a prediction interval was on the actual values.</summary>
/// <param name="Coverage">Share of actual values inside the interval.</param>
/// <param name="Msis">Mean scaled interval score (M4 competition): the interval's width plus 2/a times each miss,
/// averaged over the steps and divided by the in-sample MAE of the seasonal naive forecast (a = 1 − nominal
/// coverage).</param>
public sealed record IntervalScore(double Coverage, double Msis)
{
    /// <summary>Scores <paramref name="interval"/> on <paramref name="actual"/>; <paramref name="training"/> and
    /// <paramref name="season"/> give the scale as in MASE.</summary>
    public static IntervalScore Compute(ReadOnlySpan<double> actual, ForecastInterval interval,
        ReadOnlySpan<double> training, int season = 1)
    {
        if (actual.Length != interval.Lower.Length || actual.IsEmpty)
            throw new ArgumentException(
                $"IntervalScore: {actual.Length} actual values, {interval.Lower.Length} steps.");
        if (season < 1 || training.Length <= season)
            throw new ArgumentException($"IntervalScore: season {season} needs more than {season} training values.");
        double a = 1 - interval.Coverage, score = 0;
        int inside = 0;
        for (int h = 0; h < actual.Length; h++)
        {
            double low = interval.Lower[h], high = interval.Upper[h], y = actual[h];
            score += high - low + (y < low ? 2 / a * (low - y) : 0) + (y > high ? 2 / a * (y - high) : 0);
            if (y >= low && y <= high) inside++;
        }
        double naive = ForecastMetrics.SeasonalNaiveScale(training, season);
        double msis = naive > 0 ? score / actual.Length / naive : double.NaN;
        return new IntervalScore((double)inside / actual.Length, msis);
    }
}
