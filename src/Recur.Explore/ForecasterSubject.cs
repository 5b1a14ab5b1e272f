using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Recur.Explore;

/// <summary>
/// A forecaster in the explorer: <c>POST /predict</c> continues a series by some steps and, when the history is long
/// enough, gives an empirical prediction interval around the forecast — the quantiles of the forecaster's own errors
/// at each step ahead over rolling origins at the end of the history (Hyndman &amp; Athanasopoulos, FPP3 §5.5's
/// intervals from forecast errors); the page draws the series, the forecast and the band.
/// </summary>
public sealed class ForecasterSubject : ExploreSubject
{
    /// <summary>The longest history accepted, in values.</summary>
    public const int MaxHistory = 100_000;

    /// <summary>The most steps one forecast may run ahead.</summary>
    public const int MaxSteps = 1000;

    /// <summary>The nominal coverage of the interval.</summary>
    public const double Coverage = 0.8;

    /// <summary>The fewest rolling origins an interval is made from (fewer: no interval).</summary>
    public const int MinOrigins = 8;

    /// <summary>The most rolling origins an interval is made from (the latest).</summary>
    public const int MaxOrigins = 40;

    readonly Func<double[], int, double[]> forecast;
    readonly int window;

    /// <summary>Serves <paramref name="forecast"/> (history, steps → values), which needs at least
    /// <paramref name="window"/> values of history.</summary>
    public ForecasterSubject(Func<double[], int, double[]> forecast, int window, string name = "forecaster")
        : base("forecaster", name)
    {
        ArgumentNullException.ThrowIfNull(forecast);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        (this.forecast, this.window) = (forecast, window);
    }

    /// <inheritdoc/>
    public override JsonObject Describe() => new()
    {
        ["window"] = window, ["coverage"] = Coverage, ["minOrigins"] = MinOrigins,
    };

    internal override void Map(IEndpointRouteBuilder endpoints, ExploreContext context)
    {
        endpoints.MapPost("/predict", async (ForecastRequest request, CancellationToken cancellation) =>
        {
            var history = request.History ?? throw new RequestException("'history' is missing.");
            if (history.Length < window) throw new RequestException(
                $"'history' has {history.Length} values; the model reads windows of {window}.");
            if (history.Length > MaxHistory)
                throw new RequestException($"'history' has {history.Length:N0} values; the limit is {MaxHistory:N0}.");
            for (int i = 0; i < history.Length; i++)
                if (!double.IsFinite(history[i])) throw new RequestException($"'history[{i}]' is {history[i]}.");
            int steps = Range(request.Steps, "steps", 1, MaxSteps);
            return TypedResults.Ok(await context.Gate.RunAsync(() => Predict(history, steps), cancellation)
                .ConfigureAwait(false));
        }).WithSummary("The forecast after the history, with an 80% interval from the model's own recent errors.");
    }

    ForecastResponse Predict(double[] history, int steps)
    {
        var values = forecast(history, steps);
        var interval = Interval(forecast, history, values, window);
        return new ForecastResponse(values, interval?.Lower, interval?.Upper, interval is null ? null : Coverage);
    }

    /// <summary>
    /// The interval around <paramref name="values"/> from the errors of forecasts made at the latest rolling origins
    /// of <paramref name="history"/>: at step k ahead, the (1 ∓ coverage)/2 quantiles of the k-step errors are added
    /// to the forecast. Null when fewer than <see cref="MinOrigins"/> origins leave k steps to compare against.
    /// </summary>
    internal static (double[] Lower, double[] Upper)? Interval(Func<double[], int, double[]> forecast,
        double[] history, double[] values, int window)
    {
        int steps = values.Length, n = history.Length;
        // origin o: the model reads history[..o] and is compared with history[o..o + steps]
        int last = n - steps, first = Math.Max(window, last - MaxOrigins + 1);
        if (last - first + 1 < MinOrigins) return null;
        var errors = Enumerable.Range(0, steps).Select(_ => new List<double>()).ToArray();
        for (int o = first; o <= last; o++)
        {
            var f = forecast(history[..o], steps);
            for (int k = 0; k < steps; k++) errors[k].Add(history[o + k] - f[k]);
        }
        var lower = new double[steps];
        var upper = new double[steps];
        for (int k = 0; k < steps; k++)
        {
            var sorted = errors[k].Order().ToArray();
            lower[k] = values[k] + Quantile(sorted, (1 - Coverage) / 2);
            upper[k] = values[k] + Quantile(sorted, (1 + Coverage) / 2);
        }
        return (lower, upper);
    }

    /// <summary>The p-quantile of sorted values by linear interpolation (NumPy's default).</summary>
    internal static double Quantile(double[] sorted, double p)
    {
        double position = p * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
