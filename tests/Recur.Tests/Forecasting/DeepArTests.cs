using System.Globalization;
using System.Text.Json;
using Recur.Cli;
using Recur.Forecasting;

namespace Recur.Tests.Forecasting;

/// <summary>The DeepAR-style forecaster: learning across series, its sampled intervals, counts, and the CLI.</summary>
[Collection("cli")]
public sealed class DeepArTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-deepar-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>Seasonal series (period 4) of different levels with Gaussian noise of 5% of the level.</summary>
    static List<double[]> Seasonal(int count, int length, ulong seed)
    {
        var random = new RandomGenerator(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double level = 10 + 90 * random.NextDouble(), phase = random.NextInt(4);
            return Enumerable.Range(0, length).Select(t => level * (1 + 0.3 * Math.Sin(Math.PI / 2 * (t + phase))
                + 0.05 * random.NextNormal())).ToArray();
        }).ToList();
    }

    static double Number(string cell) => double.Parse(cell, CultureInfo.InvariantCulture);

    static double Mae(double[] actual, double[] forecast) =>
        actual.Select((a, i) => Math.Abs(forecast[i] - a)).Average();

    [Fact]
    public void LearnsTheSeasonAcrossSeriesWithCalibratedIntervalsAndIsDeterministic()
    {
        var panel = Seasonal(60, 40, 1);
        var train = panel.Select(s => s[..^4]).ToList();
        var options = new DeepArOptions(Horizon: 4, Context: 8, HiddenSize: 16, NumLayers: 1, Epochs: 8,
            Samples: 100);
        var model = new DeepArForecaster(options);
        model.Fit(train);
        var (points, intervals) = model.ForecastWithIntervals(train);
        // relative to each level: the network's median against the naive forecast (which misses the season)
        double network = panel.Select((s, i) => Mae(s[^4..], points[i]) / s.Average()).Average();
        double naive = panel.Select((s, i) => Mae(s[^4..], Baselines.Naive(train[i], 4)) / s.Average()).Average();
        Assert.True(network < 0.5 * naive, $"relative MAE: DeepAR {network:F3}, naive {naive:F3}");
        // the noise is 5% of the level: a 95% interval should hold most of the actual values, without being wide
        double covered = panel.Select((s, i) => IntervalScore.Compute(s[^4..], intervals[i], train[i], 4).Coverage)
            .Average();
        Assert.InRange(covered, 0.8, 1.0);
        double width = panel.Select((s, i) => (intervals[i].Upper[0] - intervals[i].Lower[0]) / s.Average()).Average();
        Assert.InRange(width, 0.05, 0.6);
        for (int i = 0; i < panel.Count; i++)
            for (int k = 0; k < 4; k++)
                Assert.InRange(points[i][k], intervals[i].Lower[k], intervals[i].Upper[k]);
        var again = new DeepArForecaster(options);
        again.Fit(train);
        Assert.Equal(points, again.ForecastWithIntervals(train).Points);
        // rebuilt from its configuration with its weights, it samples the same paths
        var copy = DeepArForecaster.FromConfig(model.Config);
        Assert.Equal(options, copy.Options);
        copy.Network.LoadStateDict(model.Network.StateDict());
        Assert.Equal(points, copy.ForecastWithIntervals(train).Points);
    }

    [Fact]
    public void StudentTAndNegativeBinomialHeadsTrainAndSample()
    {
        var random = new RandomGenerator(5);
        // counts: a Poisson rate per series between 2 and 20
        var counts = Enumerable.Range(0, 30).Select(_ =>
        {
            double rate = 2 + 18 * random.NextDouble();
            return Enumerable.Range(0, 30).Select(_ => (double)random.NextPoisson(rate)).ToArray();
        }).ToList();
        var model = new DeepArForecaster(new DeepArOptions(Horizon: 3, Context: 6, SeasonLength: 1,
            Likelihood: Likelihood.NegativeBinomial, HiddenSize: 12, NumLayers: 1, Epochs: 10, Samples: 200));
        model.Fit(counts);
        var paths = model.SamplePaths(counts);
        for (int s = 0; s < counts.Count; s++)
        {
            var draws = paths[s].SelectMany(p => p).ToArray();
            Assert.All(draws, d => Assert.True(d >= 0 && d == Math.Floor(d), $"draw {d} is not a count"));
            // the sampled mean follows the series' own rate (its training mean), not one rate for all
            double mean = counts[s].Average();
            Assert.InRange(draws.Average(), 0.6 * mean - 1, 1.4 * mean + 1);
        }
        var panel = Seasonal(20, 30, 6);
        var t = new DeepArForecaster(new DeepArOptions(Horizon: 4, Context: 8, Likelihood: Likelihood.StudentT,
            HiddenSize: 8, NumLayers: 2, Epochs: 2, Samples: 50));
        var result = t.Fit(panel);
        Assert.Equal(Recur.Training.TrainingOutcome.Completed, result.Outcome);
        Assert.True(double.IsFinite(result.LastEvaluation!["loss"]));
        Assert.Equal("student-t", t.Config["likelihood"]!.GetValue<string>());
        Assert.All(t.Forecast(panel).SelectMany(p => p), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        var model = new DeepArForecaster(new DeepArOptions(Horizon: 2, Context: 4,
            Likelihood: Likelihood.NegativeBinomial, Epochs: 1));
        var e = Assert.Throws<ArgumentException>(() => model.Fit([[1, 2, 3, 4, 5, 6, 7], [1, 2, -3, 4, 5, 6, 7]]));
        Assert.Contains("series 1 has value -3 at position 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Fit([[1, 2, 3]]));
        Assert.Contains("no series is long enough", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Fit([[1, 2, 3, 4, 5, 6, 7]], [0]));
        Assert.Contains("category 0, outside", e.Message);
        Assert.Throws<ArgumentException>(() => new DeepArOptions(Samples: 0).Validate());
        Assert.Throws<InvalidDataException>(() => DeepArForecaster.FromConfig(new GlobalForecaster(new()).Config));
        var config = model.Config;
        config["samples"] = 0;
        var e2 = Assert.Throws<InvalidDataException>(() => DeepArForecaster.FromConfig(config));
        Assert.Contains("samples", e2.Message);
        Assert.Throws<ArgumentException>(() => new DeepArOptions(IntervalCoverage: 1).Validate());
    }

    [Fact]
    public void ForecastTrainWithALikelihoodComparesDeepArWithTheClassicalMethods()
    {
        var panel = Seasonal(10, 24, 7);
        string csv = Path.Combine(folder, "panel.csv");
        File.WriteAllLines(csv, ["id,value", .. panel.SelectMany((s, i) => s.Select(v =>
            FormattableString.Invariant($"S{i},{v}")))]);
        var output = new StringWriter();
        var console = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
                "value", "--likelihood", "student-t", "--samples", "40", "--combine", "--test-size", "4", "--season",
                "4", "--epochs", "2", "--hidden", "6", "--window", "8", "--json", "--threads", "1", "--out",
                Path.Combine(folder, "run")));
        }
        finally { Console.SetOut(console); }
        var json = output.ToString();
        var rows = JsonDocument.Parse(json[json.IndexOf('[')..(json.LastIndexOf(']') + 1)]).RootElement;
        Assert.Equal(["global lstm on Theta", "DeepAR lstm, student-t", "mean of the 2 networks"],
            rows.EnumerateArray().Take(3).Select(r => r.GetProperty("model").GetString()!));
        Assert.InRange(rows[1].GetProperty("coverage_95").GetDouble(), 0, 1);
        // the row's MSIS is that of 95% intervals (a = 0.05) recomputed from the bounds written to forecast.csv
        var table = Recur.Cli.Data.TableFile.Read(Path.Combine(folder, "run", "forecast.csv"), trim: true);
        var lines = (string[][])[table.Header, .. table.Rows.Select(r => r.Fields)];
        int lower = Array.IndexOf(lines[0], "DeepAR lstm, student-t lower 95%");
        double msis = panel.Select((s, i) =>
        {
            var cells = lines.Skip(1 + 4 * i).Take(4).Select(c => (Lo: Number(c[lower]), Hi: Number(c[lower + 1])))
                .ToArray();
            var interval = new ForecastInterval([.. cells.Select(c => c.Lo)], [.. cells.Select(c => c.Hi)], 0.95);
            return IntervalScore.Compute(s[^4..], interval, s[..^4], 4).Msis;
        }).Average();
        Assert.Equal(msis, rows[1].GetProperty("msis_95").GetDouble(), 6);
        // the mean row averages the two networks' point forecasts
        int first = Array.IndexOf(lines[0], "global lstm on Theta");
        foreach (var c in lines.Skip(1))
            Assert.Equal((Number(c[first]) + Number(c[first + 1])) / 2, Number(c[first + 2]), 9);
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
            "value", "--samples", "40", "--test-size", "4", "--out", Path.Combine(folder, "bad")));
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
            "value", "--likelihood", "gaussian", "--intervals", "--test-size", "4", "--out",
            Path.Combine(folder, "bad2")));
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
            "value", "--combine", "--test-size", "4", "--out", Path.Combine(folder, "bad3")));
        Assert.False(Directory.Exists(Path.Combine(folder, "bad")));
        Assert.False(Directory.Exists(Path.Combine(folder, "bad3")));
    }
}
