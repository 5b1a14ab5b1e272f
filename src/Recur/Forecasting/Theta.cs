namespace Recur.Forecasting;

/// <summary>
/// Classical decomposition (Makridakis, Wheelwright &amp; Hyndman 1998, ch. 3): a centred moving average over one
/// season (2×m when m is even) estimates the trend; the mean ratio (or difference) of the series to it at each position
/// of the season, normalised to average 1 (or 0), gives the seasonal indices. The same estimate as statsmodels'
/// <c>seasonal_decompose</c>.
/// </summary>
public static class ClassicalDecomposition
{
    /// <summary>
    /// The seasonal indices of <paramref name="y"/> for season length <paramref name="m"/>: element j belongs to values
    /// j, j + m, j + 2m, … of the series. Needs at least two full seasons.
    /// </summary>
    public static double[] Indices(ReadOnlySpan<double> y, int m, bool multiplicative)
    {
        if (m < 2) throw new ArgumentException($"Classical decomposition: season length {m} is below 2.");
        if (y.Length < 2 * m)
            throw new ArgumentException(
                $"Classical decomposition: needs two full seasons ({2 * m} values), got {y.Length}.");
        int half = m / 2;
        var sums = new double[m];
        var counts = new int[m];
        for (int t = half; t < y.Length - half; t++)
        {
            double trend = 0;
            if (m % 2 == 0)
            {
                // 2×m moving average: the two end values carry half weight
                trend = 0.5 * (y[t - half] + y[t + half]);
                for (int k = t - half + 1; k < t + half; k++) trend += y[k];
            }
            else
                for (int k = t - half; k <= t + half; k++) trend += y[k];
            trend /= m;
            if (multiplicative && trend == 0) continue;
            sums[t % m] += multiplicative ? y[t] / trend : y[t] - trend;
            counts[t % m]++;
        }
        var indices = new double[m];
        for (int j = 0; j < m; j++) indices[j] = sums[j] / counts[j];
        double mean = indices.Average();
        for (int j = 0; j < m; j++) indices[j] = multiplicative ? indices[j] / mean : indices[j] - mean;
        return indices;
    }

    /// <summary>
    /// The 90% test for seasonality the Theta method of the M3 competition applies before decomposing: the
    /// autocorrelation at lag m exceeds 1.645 times its standard error under Bartlett's formula, |r_m| &gt; 1.645·√((1
    /// + 2 Σ_{k&lt;m} r_k²)/n). Series with no more than two seasons are treated as non-seasonal.
    /// </summary>
    public static bool IsSeasonal(ReadOnlySpan<double> y, int m)
    {
        if (m < 2 || y.Length <= 2 * m) return false;
        var r = Autocorrelations(y, m);
        if (r is null) return false;
        double sum = 0;
        for (int k = 1; k < m; k++) sum += r[k] * r[k];
        return Math.Abs(r[m]) > 1.6448536269514722 * Math.Sqrt((1 + 2 * sum) / y.Length);
    }

    /// <summary>Sample autocorrelations r_0 … r_<paramref name="lags"/>; null for a constant series.</summary>
    public static double[]? Autocorrelations(ReadOnlySpan<double> y, int lags)
    {
        double mean = 0;
        foreach (double v in y) mean += v;
        mean /= y.Length;
        double denominator = 0;
        foreach (double v in y) denominator += (v - mean) * (v - mean);
        if (denominator == 0) return null;
        var r = new double[lags + 1];
        for (int k = 0; k <= lags; k++)
        {
            double sum = 0;
            for (int t = 0; t + k < y.Length; t++) sum += (y[t] - mean) * (y[t + k] - mean);
            r[k] = sum / denominator;
        }
        return r;
    }
}

/// <summary>
/// The Theta method of Assimakopoulos &amp; Nikolopoulos (2000), the best method of the M3 competition, in the form
/// Hyndman &amp; Billah (2003) showed it to be: simple exponential smoothing with drift equal to half the slope of a
/// least-squares line. A series that passes <see cref="ClassicalDecomposition.IsSeasonal"/> is first divided by its
/// multiplicative seasonal indices (added back in the forecasts). SES starts from the first value and α minimises the
/// squared one-step errors, as in statsmodels' <c>ThetaModel</c>.
/// </summary>
public sealed class ThetaMethod
{
    readonly int length;

    /// <summary>The seasonal indices divided out (empty when the series was not found seasonal).</summary>
    public double[] SeasonalIndices { get; }

    /// <summary>The SES smoothing parameter.</summary>
    public double Alpha { get; }

    /// <summary>Slope b₀ of the least-squares line through the (deseasonalised) series.</summary>
    public double Slope { get; }

    /// <summary>The final SES level (the SES forecast for every horizon).</summary>
    public double Level { get; }

    /// <summary>Theta of the short-term line (2 in the original method).</summary>
    public double Theta { get; }

    /// <summary>Variance of SES's one-step errors on the (deseasonalised) series.</summary>
    public double Sigma2 { get; }

    ThetaMethod(int length, double[] indices, double alpha, double slope, double level, double theta, double sigma2) =>
        (this.length, SeasonalIndices, Alpha, Slope, Level, Theta, Sigma2) =
        (length, indices, alpha, slope, level, theta, sigma2);

    /// <summary>Fits the method to <paramref name="y"/> (season length <paramref name="seasonLength"/>, 1 for
    /// none).</summary>
    public static ThetaMethod Fit(ReadOnlySpan<double> y, int seasonLength = 1, double theta = 2)
    {
        if (y.Length < 3) throw new ArgumentException($"Theta: needs at least 3 values, got {y.Length}.");
        if (!(theta >= 1)) throw new ArgumentException($"Theta: theta {theta} is below 1.");
        foreach (double v in y)
            if (!double.IsFinite(v)) throw new ArgumentException($"Theta: the series has a non-finite value ({v}).");
        var adjusted = y.ToArray();
        var indices = Array.Empty<double>();
        bool positive = adjusted.All(v => v > 0);
        if (positive && ClassicalDecomposition.IsSeasonal(y, seasonLength))
        {
            indices = ClassicalDecomposition.Indices(y, seasonLength, multiplicative: true);
            for (int t = 0; t < adjusted.Length; t++) adjusted[t] /= indices[t % seasonLength];
        }
        int n = adjusted.Length;
        double meanT = (n - 1) / 2.0, meanY = adjusted.Average(), sxy = 0, sxx = 0;
        for (int t = 0; t < n; t++)
        {
            sxy += (t - meanT) * (adjusted[t] - meanY);
            sxx += (t - meanT) * (t - meanT);
        }
        var (alpha, level, sse) = SimpleSmoothing(adjusted);
        return new ThetaMethod(n, indices, alpha, sxy / sxx, level, theta, sse / n);
    }

    /// <summary>SES from l₀ = y₀ with α chosen by least squares: a grid, then Nelder–Mead from the best grid
    /// point.</summary>
    static (double Alpha, double Level, double Sse) SimpleSmoothing(double[] y)
    {
        double Sse(double alpha)
        {
            double level = y[0], sum = 0;
            foreach (double v in y)
            {
                sum += (v - level) * (v - level);
                level += alpha * (v - level);
            }
            return sum;
        }
        double best = 0.5;
        for (double a = 0.05; a < 0.99; a += 0.05) if (Sse(a) < Sse(best)) best = a;
        var (point, _) = NelderMead.Minimise(x => Sse(1 / (1 + Math.Exp(-x[0]))), [Math.Log(best / (1 - best))], [0.5],
            tolerance: 1e-14);
        double alpha = 1 / (1 + Math.Exp(-point[0]));
        double final = y[0];
        foreach (double v in y) final += alpha * (v - final);
        return (alpha, final, Sse(alpha));
    }

    /// <summary>
    /// Forecasts: ŷ_{n+h} = ℓ_n + (1 − 1/θ)·b₀·(h − 1 + 1/α − (1 − α)ⁿ/α), times the seasonal index of step n + h.
    /// </summary>
    public double[] Forecast(int horizon)
    {
        if (horizon < 1) throw new ArgumentException($"Theta: horizon {horizon} is not positive.");
        var forecast = new double[horizon];
        double drift = (1 - 1 / Theta) * Slope;
        double offset = 1 / Alpha - Math.Pow(1 - Alpha, length) / Alpha;
        for (int h = 1; h <= horizon; h++)
        {
            double value = Level + drift * (h - 1 + offset);
            if (SeasonalIndices.Length > 0) value *= SeasonalIndices[(length + h - 1) % SeasonalIndices.Length];
            forecast[h - 1] = value;
        }
        return forecast;
    }

    /// <summary>
    /// Prediction intervals from the method's state-space form, SES with drift (Hyndman &amp; Billah 2003): the h-step
    /// variance σ²(1 + (h − 1)α²) of simple exponential smoothing around the point forecast, Gaussian, scaled by the
    /// seasonal index of each step.
    /// </summary>
    public ForecastInterval Interval(int horizon, double coverage = 0.95)
    {
        if (!(coverage > 0 && coverage < 1))
            throw new ArgumentException($"Theta: coverage {coverage} is not in (0, 1).");
        var forecast = Forecast(horizon);
        double z = ForecastInterval.NormalQuantile((1 + coverage) / 2);
        var lower = new double[horizon];
        var upper = new double[horizon];
        for (int h = 1; h <= horizon; h++)
        {
            double index = SeasonalIndices.Length > 0 ? SeasonalIndices[(length + h - 1) % SeasonalIndices.Length] : 1;
            double spread = z * Math.Sqrt(Sigma2 * (1 + (h - 1) * Alpha * Alpha)) * index;
            lower[h - 1] = forecast[h - 1] - spread;
            upper[h - 1] = forecast[h - 1] + spread;
        }
        return new ForecastInterval(lower, upper, coverage);
    }
}
