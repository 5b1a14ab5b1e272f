using System.Text.Json;
using Recur.Forecasting;

namespace Recur.Tests.Forecasting;

/// <summary>
/// Exponential smoothing, the Theta method, classical decomposition and the AR order by AIC against Debian's
/// python3-statsmodels
/// (Fixtures/make_forecasting_fixtures.py) and hand-worked values.
/// </summary>
public sealed class ClassicalForecastingTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory,
        "Fixtures", "forecasting_statsmodels.json"))).RootElement;

    static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    static double[] Series(string name) => Doubles(Root.GetProperty("series").GetProperty(name));

    static void Near(double[] expected, double[] actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * Math.Max(1, Math.Abs(expected[i])),
                $"{what}[{i}]: statsmodels {expected[i]}, Recur {actual[i]}");
    }

    static EtsModel Form(JsonElement e, int m) => new(ErrorKind.Additive,
        e.GetProperty("trend").GetString() == "none" ? TrendKind.None
            : e.GetProperty("damped").GetBoolean() ? TrendKind.Damped : TrendKind.Additive,
        e.GetProperty("seasonal").GetString() switch
        {
            "add" => SeasonKind.Additive,
            "mul" => SeasonKind.Multiplicative,
            _ => SeasonKind.None
        }, e.GetProperty("seasonal").GetString() == "none" ? 1 : m);

    [Fact]
    public void EveryExponentialSmoothingFormMatchesStatsmodelsWithKnownParameters()
    {
        int m = Root.GetProperty("season_length").GetInt32();
        var known = Root.GetProperty("known");
        int checkedForms = 0;
        foreach (var e in Root.GetProperty("ets").EnumerateArray())
        {
            var model = Form(e, m);
            var y = Series(e.GetProperty("series").GetString()!);
            var parameters = new EtsParameters(known.GetProperty("alpha").GetDouble(),
                known.GetProperty("beta").GetDouble(),
                known.GetProperty("gamma").GetDouble(), known.GetProperty("phi").GetDouble(),
                e.GetProperty("level").GetDouble(), e.GetProperty("slope").GetDouble(),
                Doubles(e.GetProperty("season")));
            var fit = ExponentialSmoothing.Create(y, model, parameters);
            Near(Doubles(e.GetProperty("fitted")), fit.Fitted, 1e-10, $"{model} fitted");
            Near(Doubles(e.GetProperty("forecast")), fit.Forecast(8), 1e-10, $"{model} forecast");
            checkedForms++;
        }
        Assert.Equal(15, checkedForms);
    }

    [Fact]
    public void FittingReachesTheSumOfSquaresStatsmodelsFinds()
    {
        int m = Root.GetProperty("season_length").GetInt32();
        foreach (var e in Root.GetProperty("ets").EnumerateArray())
        {
            var model = Form(e, m);
            var y = Series(e.GetProperty("series").GetString()!);
            var fit = ExponentialSmoothing.Fit(y, model);
            double sse = y.Select((v, t) => (v - fit.Fitted[t]) * (v - fit.Fitted[t])).Sum();
            double reference = e.GetProperty("optimised_sse").GetDouble();
            Assert.True(sse <= reference * 1.01,
                $"{model} on '{e.GetProperty("series")}': SSE {sse}, statsmodels {reference}");
            Assert.InRange(fit.Parameters.Alpha, 0, 1);
            Assert.InRange(fit.Parameters.Gamma, 0, 1 - fit.Parameters.Alpha);
        }
    }

    [Fact]
    public void ThetaMatchesStatsmodelsThetaModel()
    {
        int m = Root.GetProperty("season_length").GetInt32();
        foreach (var e in Root.GetProperty("theta").EnumerateArray())
        {
            string name = e.GetProperty("series").GetString()!;
            var y = Series(name);
            Near(Doubles(e.GetProperty("acf")), ClassicalDecomposition.Autocorrelations(y, m)!, 1e-12, $"{name} acf");
            Assert.Equal(e.GetProperty("seasonal").GetBoolean(), ClassicalDecomposition.IsSeasonal(y, m));
            var theta = ThetaMethod.Fit(y, m);
            Assert.Equal(e.GetProperty("seasonal").GetBoolean(), theta.SeasonalIndices.Length > 0);
            Assert.Equal(e.GetProperty("slope").GetDouble(), theta.Slope, 1e-9);
            // both minimise the same one-dimensional sum of squares; optimisers stop at slightly different points
            Assert.Equal(e.GetProperty("alpha").GetDouble(), theta.Alpha, 1e-3);
            Near(Doubles(e.GetProperty("forecast")), theta.Forecast(8), 1e-4, $"{name} Theta forecast");
        }
    }

    [Fact]
    public void ClassicalDecompositionMatchesSeasonalDecompose()
    {
        var y = Series("seasonal");
        var expected = Root.GetProperty("decomposition");
        Near(Doubles(expected.GetProperty("multiplicative")), ClassicalDecomposition.Indices(y, 4, true), 1e-12, "mul");
        Near(Doubles(expected.GetProperty("additive")), ClassicalDecomposition.Indices(y, 4, false), 1e-12, "add");
        Near(Doubles(expected.GetProperty("odd_period_additive")),
            ClassicalDecomposition.Indices(y.AsSpan(0, 35), 5, false),
            1e-12, "odd period");
    }

    [Fact]
    public void SeasonalityTestAndThetaOnHandWorkedSeries()
    {
        // a pure quarterly pattern repeats exactly at lag 4, so the test fires; a straight line has no seasonality
        var pattern = Enumerable.Range(0, 24).Select(t => new[] { 10.0, 14, 12, 8 }[t % 4]).ToArray();
        Assert.True(ClassicalDecomposition.IsSeasonal(pattern, 4));
        var line = Enumerable.Range(0, 24).Select(t => 5.0 + 2 * t).ToArray();
        Assert.False(ClassicalDecomposition.IsSeasonal(line, 4));
        Assert.False(ClassicalDecomposition.IsSeasonal(pattern.AsSpan(0, 8), 4)); // n ≤ 2m: not tested
        // Theta on a straight line: SES follows the line (α → 1), the drift is half the slope, so the forecast
        // continues from the last value 51 by one a step, half the slope (the 1/α − (1 − α)ⁿ/α term → 1 as α → 1)
        var theta = ThetaMethod.Fit(line);
        Assert.Equal(2, theta.Slope, 12);
        Assert.True(theta.Alpha > 0.99, $"alpha {theta.Alpha}");
        var forecast = theta.Forecast(3);
        for (int h = 1; h <= 3; h++) Assert.Equal(line[^1] + h, forecast[h - 1], 1e-2);
        // a seasonal pattern is divided out and put back: the forecast of a flat seasonal series is its pattern
        var seasonalForecast = ThetaMethod.Fit(pattern, 4).Forecast(4);
        Near([10, 14, 12, 8], seasonalForecast, 1e-6, "pattern");
    }

    [Fact]
    public void AutomaticSelectionFindsTheFormThatGeneratedTheData()
    {
        // a noisy multiplicative-seasonal trending series: the chosen model has a trend and a multiplicative season
        var random = new RandomGenerator(5);
        var shape = new[] { 0.8, 1.2, 1.1, 0.9 };
        var y = Enumerable.Range(0, 48).Select(t => (50 + 3.0 * t) * shape[t % 4]
            * (1 + 0.01 * (random.NextDouble() - 0.5)))
            .ToArray();
        var chosen = ExponentialSmoothing.Auto(y, 4);
        Assert.NotEqual(TrendKind.None, chosen.Model.Trend);
        Assert.Equal(SeasonKind.Multiplicative, chosen.Model.Season);
        // and a flat noisy series gets neither trend nor season
        var flat = Enumerable.Range(0, 40).Select(_ => 100 + random.NextDouble()).ToArray();
        var simple = ExponentialSmoothing.Auto(flat, 4);
        Assert.Equal(TrendKind.None, simple.Model.Trend);
        Assert.Equal(SeasonKind.None, simple.Model.Season);
        Assert.Equal("ETS(M,Ad,M)",
            new EtsModel(ErrorKind.Multiplicative, TrendKind.Damped, SeasonKind.Multiplicative, 4).Name);
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        var model = new EtsModel(ErrorKind.Multiplicative, TrendKind.None, SeasonKind.None);
        var error = Assert.Throws<ArgumentException>(() => ExponentialSmoothing.Fit([3, -1, 2, 4], model));
        Assert.Contains("positive", error.Message);
        Assert.Throws<ArgumentException>(() => ExponentialSmoothing.Fit([1, double.NaN, 2],
            new EtsModel(ErrorKind.Additive,
            TrendKind.None, SeasonKind.None)));
        Assert.Throws<ArgumentException>(() => new EtsModel(ErrorKind.Additive, TrendKind.None, SeasonKind.Additive, 1)
            .Validate());
        Assert.Throws<ArgumentException>(() => ExponentialSmoothing.Auto([1, 2], 1));
    }

    [Fact]
    public void IntervalsHaveTheVarianceOfTheirModels()
    {
        Assert.Equal(1.959963984540054, ForecastInterval.NormalQuantile(0.975), 1.2e-9 * 1.96);
        Assert.Equal(-3.090232306167814, ForecastInterval.NormalQuantile(0.001), 1.2e-9 * 3.1);
        Assert.Equal(0, ForecastInterval.NormalQuantile(0.5), 12);
        // simple exponential smoothing: the h-step variance is σ²(1 + (h − 1)α²); 40,000 simulated paths find it
        var random = new RandomGenerator(9);
        var y = Enumerable.Range(0, 60).Select(_ => 50 + 2 * (double)random.NextNormal()).ToArray();
        var ses = ExponentialSmoothing.Create(y, new EtsModel(ErrorKind.Additive, TrendKind.None, SeasonKind.None),
            new EtsParameters(0.4, 0, 0, 1, 50, 0, []));
        var interval = ses.Interval(6, 0.9, paths: 40_000, new RandomGenerator(3));
        var forecast = ses.Forecast(6);
        double z = ForecastInterval.NormalQuantile(0.95);
        for (int h = 1; h <= 6; h++)
        {
            double expected = z * Math.Sqrt(ses.Sigma2 * (1 + (h - 1) * 0.4 * 0.4));
            Assert.Equal(expected, interval.Upper[h - 1] - forecast[h - 1], expected * 0.03);
            Assert.Equal(expected, forecast[h - 1] - interval.Lower[h - 1], expected * 0.03);
        }
        // Theta's interval at one step is the point forecast ± z·σ
        var theta = ThetaMethod.Fit(y);
        var thetaInterval = theta.Interval(3, 0.95);
        Assert.Equal(1.959963984540054 * Math.Sqrt(theta.Sigma2), thetaInterval.Upper[0] - theta.Forecast(1)[0], 1e-6);
        Assert.True(thetaInterval.Upper[2] - thetaInterval.Lower[2] >= thetaInterval.Upper[0] - thetaInterval.Lower[0]);
    }

    [Fact]
    public void IntervalScoreIsTheM4Msis()
    {
        // a = 0.2: step 1 inside (width 4), step 2 misses below by 1 (width 4 + 2/0.2·1 = 14); mean 9, scaled by the
        // in-sample naive MAE of [1, 2, 4], (1 + 2)/2 = 1.5
        var score = IntervalScore.Compute([10, 20], new ForecastInterval([8, 21], [12, 25], 0.8), [1, 2, 4]);
        Assert.Equal(0.5, score.Coverage, 12);
        Assert.Equal(6, score.Msis, 12);
    }

    [Fact]
    public void AutoregressionOrderByAicMatchesStatsmodelsArSelectOrder()
    {
        // AR(2) and AR(5) of known coefficients and the seasonal series (statsmodels picks 2, 5 and 5)
        foreach (var e in Root.GetProperty("ar_order").EnumerateArray())
        {
            string name = e.GetProperty("series").GetString()!;
            var y = Doubles(e.GetProperty("values"));
            int order = e.GetProperty("order").GetInt32();
            Assert.Equal(order, Baselines.AutoregressionOrder(y));
            Assert.Equal(order, Baselines.AutoregressionOrder(y, e.GetProperty("max_order").GetInt32()));
            Near(Doubles(e.GetProperty("coefficients")), Baselines.FitAutoregression(y, order), 1e-8,
                $"{name} AR({order})");
        }
    }

    [Fact]
    public void AutoregressionOrderPassesOverSingularOrdersAndRefusesTooFewValues()
    {
        // a pure cycle is AR(2) exactly: y_t = 2 cos ω y_{t−1} − y_{t−2}; higher orders have no unique fit
        var cycle = Enumerable.Range(0, 40).Select(t => 10 + 3 * Math.Sin(0.7 * t)).ToArray();
        Assert.Equal(2, Baselines.AutoregressionOrder(cycle, 6));
        var error = Assert.Throws<ArgumentException>(() => Baselines.AutoregressionOrder([1.0, 2, 3, 4, 5], 3));
        Assert.Contains("5 values allow orders 1 to 1", error.Message);
        Assert.Throws<ArgumentException>(() => Baselines.AutoregressionOrder([1.0, 2, 3]));
    }
}
