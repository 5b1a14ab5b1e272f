namespace Recur.Forecasting;

/// <summary>Forecast accuracy, one row of the comparison table (in the series' original units).</summary>
/// <param name="Rmse">Root mean squared error.</param>
/// <param name="Mae">Mean absolute error.</param>
/// <param name="Mape">Mean absolute percentage error, in percent (actual values of zero are skipped).</param>
/// <param name="Smape">Symmetric MAPE, 200·|F − A| / (|A| + |F|) averaged, in percent.</param>
/// <param name="Mase">MAE divided by the in-sample MAE of the seasonal naive forecast on the training part (Hyndman
/// &amp; Koehler 2006).</param>
public sealed record ForecastMetrics(double Rmse, double Mae, double Mape, double Smape, double Mase)
{
    /// <summary>Scores <paramref name="forecast"/> against <paramref name="actual"/>; <paramref name="training"/> and
    /// <paramref name="season"/> scale MASE.</summary>
    public static ForecastMetrics Compute(ReadOnlySpan<double> actual, ReadOnlySpan<double> forecast,
        ReadOnlySpan<double> training, int season = 1)
    {
        if (actual.Length != forecast.Length || actual.IsEmpty)
            throw new ArgumentException(
                $"ForecastMetrics: {actual.Length} actual and {forecast.Length} forecast values.");
        if (season < 1 || training.Length <= season) throw new ArgumentException($"ForecastMetrics: MASE at "
            + $"season {season} needs more than {season} training values, got {training.Length}.");
        double squares = 0, absolute = 0, percentage = 0, symmetric = 0;
        int percentageCount = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double error = forecast[i] - actual[i];
            squares += error * error;
            absolute += Math.Abs(error);
            if (actual[i] != 0) { percentage += Math.Abs(error / actual[i]); percentageCount++; }
            double denominator = Math.Abs(actual[i]) + Math.Abs(forecast[i]);
            symmetric += denominator == 0 ? 0 : 2 * Math.Abs(error) / denominator;
        }
        double naive = SeasonalNaiveScale(training, season);
        int n = actual.Length;
        return new(Math.Sqrt(squares / n), absolute / n,
            percentageCount == 0 ? double.NaN : 100 * percentage / percentageCount, 100 * symmetric / n,
            naive > 0 ? absolute / n / naive : double.NaN);
    }

    /// <summary>
    /// The scale of MASE and MSIS: the in-sample mean absolute error of the seasonal naive forecast,
    /// mean |y_t − y_{t−s}| over the training part.
    /// </summary>
    internal static double SeasonalNaiveScale(ReadOnlySpan<double> training, int season)
    {
        double naive = 0;
        for (int t = season; t < training.Length; t++) naive += Math.Abs(training[t] - training[t - season]);
        return naive / (training.Length - season);
    }
}

/// <summary>The classical forecasters an RNN is compared with, each fitted on the history it is given.</summary>
public static class Baselines
{
    /// <summary>Naive: every future value equals the last observed one.</summary>
    public static double[] Naive(ReadOnlySpan<double> history, int horizon)
    {
        if (history.IsEmpty) throw new ArgumentException("Naive: empty history.");
        return Enumerable.Repeat(history[^1], horizon).ToArray();
    }

    /// <summary>Seasonal naive: the value one season earlier, ŷ_{T+h} = y_{T+h−s·⌈h/s⌉}.</summary>
    public static double[] SeasonalNaive(ReadOnlySpan<double> history, int horizon, int season)
    {
        if (season < 1
            || history.Length < season) throw new ArgumentException(
            $"SeasonalNaive: season {season} needs at least that much history, got {history.Length}.");
        var forecast = new double[horizon];
        for (int h = 1; h <= horizon; h++) forecast[h - 1] = history[history.Length - season + (h - 1) % season];
        return forecast;
    }

    /// <summary>
    /// Linear autoregression AR(p) with intercept, fitted by least squares on <paramref name="history"/>:
    /// y_t = c + Σ_{k=1..p} φ_k y_{t−k}. Returns (c, φ_1 … φ_p).
    /// </summary>
    public static double[] FitAutoregression(ReadOnlySpan<double> history, int order) =>
        FitOnTargets(history, order, order);

    /// <summary>AR(p) by least squares on the targets y_t for t ≥ <paramref name="firstTarget"/> (≥ p).</summary>
    static double[] FitOnTargets(ReadOnlySpan<double> history, int order, int firstTarget)
    {
        if (order < 1 || history.Length < 2 * order + 2)
            throw new ArgumentException($"AR({order}): needs at least {2 * order + 2} values, got {history.Length}.");
        int columns = order + 1;
        // normal equations XᵀX β = Xᵀy with X = [1, y_{t−1}, …, y_{t−p}]
        var gram = new double[columns, columns];
        var rhs = new double[columns];
        var row = new double[columns];
        for (int t = firstTarget; t < history.Length; t++)
        {
            row[0] = 1;
            for (int k = 1; k <= order; k++) row[k] = history[t - k];
            for (int i = 0; i < columns; i++)
            {
                rhs[i] += row[i] * history[t];
                for (int j = 0; j < columns; j++) gram[i, j] += row[i] * row[j];
            }
        }
        return Solve(gram, rhs);
    }

    /// <summary>
    /// The order p of AR(p) with the smallest Akaike information criterion N·ln σ̂²_p + 2(p + 1) among 1 …
    /// <paramref name="maxOrder"/> (0: ⌊10·log₁₀ n⌋, R's default for <c>ar</c>, at most (n − 2)/2), every order
    /// fitted by least squares on the same N = n − maxOrder targets, as statsmodels' <c>ar_select_order</c> compares
    /// them. Orders whose least-squares problem is singular (a series some AR fits exactly) are passed over.
    /// </summary>
    public static int AutoregressionOrder(ReadOnlySpan<double> history, int maxOrder = 0)
    {
        int most = (history.Length - 2) / 2;
        if (maxOrder <= 0) maxOrder = Math.Min(most, (int)Math.Floor(10 * Math.Log10(history.Length)));
        if (maxOrder < 1 || maxOrder > most)
            throw new ArgumentException($"AR order by AIC: {history.Length} values allow orders 1 to {most}, "
                + $"asked for up to {maxOrder}.");
        int targets = history.Length - maxOrder, best = 0;
        double bestCriterion = double.PositiveInfinity;
        for (int order = 1; order <= maxOrder; order++)
        {
            double[] coefficients;
            try { coefficients = FitOnTargets(history, order, maxOrder); }
            catch (InvalidOperationException) { continue; }
            double squares = 0;
            for (int t = maxOrder; t < history.Length; t++)
            {
                double error = history[t] - coefficients[0];
                for (int k = 1; k <= order; k++) error -= coefficients[k] * history[t - k];
                squares += error * error;
            }
            double criterion = targets * Math.Log(squares / targets) + 2 * (order + 1);
            if (criterion < bestCriterion) (best, bestCriterion) = (order, criterion);
        }
        return best > 0 ? best
            : throw new InvalidOperationException("AR order by AIC: every order up to "
                + $"{maxOrder} fits the {history.Length} values exactly or not at all.");
    }

    /// <summary>Forecasts <paramref name="horizon"/> steps recursively with AR coefficients from
    /// <see cref="FitAutoregression"/>.</summary>
    public static double[] Autoregression(ReadOnlySpan<double> history, double[] coefficients, int horizon)
    {
        int order = coefficients.Length - 1;
        if (history.Length < order) throw new ArgumentException(
            $"AR({order}): needs {order} values of history, got {history.Length}.");
        var values = history[^order..].ToArray().ToList();
        var forecast = new double[horizon];
        for (int h = 0; h < horizon; h++)
        {
            double y = coefficients[0];
            for (int k = 1; k <= order; k++) y += coefficients[k] * values[^k];
            forecast[h] = y;
            values.Add(y);
        }
        return forecast;
    }

    /// <summary>Gaussian elimination with partial pivoting; a singular system is an error.</summary>
    internal static double[] Solve(double[,] a, double[] b)
    {
        int n = b.Length;
        var m = (double[,])a.Clone();
        var x = (double[])b.Clone();
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col])) pivot = r;
            if (Math.Abs(m[pivot,
                col]) < 1e-12) throw new InvalidOperationException(
                "AR: the least-squares system is singular (a constant series?).");
            if (pivot != col)
            {
                for (int c = 0; c < n; c++) (m[col, c], m[pivot, c]) = (m[pivot, c], m[col, c]);
                (x[col], x[pivot]) = (x[pivot], x[col]);
            }
            for (int r = col + 1; r < n; r++)
            {
                double factor = m[r, col] / m[col, col];
                for (int c = col; c < n; c++) m[r, c] -= factor * m[col, c];
                x[r] -= factor * x[col];
            }
        }
        for (int r = n - 1; r >= 0; r--)
        {
            for (int c = r + 1; c < n; c++) x[r] -= m[r, c] * x[c];
            x[r] /= m[r, r];
        }
        return x;
    }
}
