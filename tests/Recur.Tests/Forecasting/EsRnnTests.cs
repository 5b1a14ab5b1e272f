using System.Globalization;
using System.Text.Json;
using Recur.Cli;
using Recur.Forecasting;

namespace Recur.Tests.Forecasting;

/// <summary>The ES-RNN hybrid: per-series Holt–Winters parameters learned with the network, its checks, the
/// CLI.</summary>
[Collection("cli")]
public sealed class EsRnnTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-esrnn-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>Series with a multiplicative season of period 4 (amplitude 10–40%), a growth of 0–2% a step and 3%
    /// noise, at levels from 10 to 1,000.</summary>
    static List<double[]> Seasonal(int count, int length, ulong seed)
    {
        var random = new RandomGenerator(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double level = 10 * Math.Pow(100, random.NextDouble()), amplitude = 0.1 + 0.3 * random.NextDouble();
            double growth = 0.02 * random.NextDouble(), phase = random.NextInt(4);
            return Enumerable.Range(0, length).Select(t => level * Math.Pow(1 + growth, t)
                * (1 + amplitude * Math.Sin(Math.PI / 2 * (t + phase))) * (1 + 0.03 * random.NextNormal())).ToArray();
        }).ToList();
    }

    static double Smape(double[] actual, double[] forecast) =>
        actual.Select((a, i) => 200 * Math.Abs(forecast[i] - a) / (Math.Abs(a) + Math.Abs(forecast[i]))).Average();

    [Fact]
    public void LearnsEachSeriesSmoothingWithTheNetworkAndBeatsTheSeasonalNaiveForecast()
    {
        var panel = Seasonal(48, 36, 1);
        var train = panel.Select(s => s[..^4]).ToList();
        var options = new EsRnnOptions(Horizon: 4, Window: 8, HiddenSize: 16, Epochs: 12, Batch: 8,
            LearningRate: 3e-3f, IntervalCoverage: 0.9);
        var model = new EsRnnForecaster(options);
        Assert.Throws<InvalidOperationException>(() => model.Network);
        model.Fit(train);
        Assert.Equal(48, model.SeriesCount);
        var (points, intervals) = model.ForecastWithIntervals(train);
        double esRnn = panel.Select((s, i) => Smape(s[^4..], points[i])).Average();
        double seasonal = panel.Select((s, i) => Smape(s[^4..], Baselines.SeasonalNaive(train[i], 4, 4))).Average();
        Assert.True(esRnn < 0.8 * seasonal, $"sMAPE: ES-RNN {esRnn:F2}, seasonal naive {seasonal:F2}");
        // the smoothing parameters were learned per series (they start at ½): gradient reaches them through the
        // recursions
        var alphas = Enumerable.Range(0, 48).Select(s => model.Smoothing(s).Alpha).ToArray();
        var gammas = Enumerable.Range(0, 48).Select(s => model.Smoothing(s).Gamma).ToArray();
        Assert.All(alphas.Concat(gammas), v => Assert.InRange(v, 0, 1));
        Assert.True(alphas.Max() - alphas.Min() > 0.02, $"α from {alphas.Min():F3} to {alphas.Max():F3}");
        Assert.True(gammas.Count(g => Math.Abs(g - 0.5) > 1e-3) > 40);
        Assert.Equal(4, model.Smoothing(0).InitialSeasons.Length);
        Assert.Contains("es.level_smoothing", model.Network.StateDict().Keys);
        Assert.Equal([48, 4], model.Network.StateDict()["es.initial_seasons"].Shape);
        for (int i = 0; i < panel.Count; i++)
            for (int k = 0; k < 4; k++) Assert.InRange(points[i][k], intervals[i].Lower[k], intervals[i].Upper[k]);
        // same seed, same series: the same forecasts, bit for bit
        var again = new EsRnnForecaster(options);
        again.Fit(train);
        Assert.Equal(points, again.Forecast(train));
        Assert.Equal(48, model.Config["series"]!.GetValue<int>());
        Assert.Equal("es_rnn", model.Config["architecture"]!.GetValue<string>());
        // rebuilt from its configuration (which records the number of series) with its weights: the same forecasts
        var copy = EsRnnForecaster.FromConfig(model.Config);
        Assert.Equal(options, copy.Options);
        copy.Network.LoadStateDict(model.Network.StateDict());
        Assert.Equal(points, copy.Forecast(train));
        var config = model.Config;
        config.Remove("series");
        Assert.Contains("number of series", Assert.Throws<InvalidDataException>(() => EsRnnForecaster.FromConfig(
            config)).Message);
    }

    [Fact]
    public void SpecialistsTrainEachSeriesInItsBestNetworksAndAverageThem()
    {
        var panel = Seasonal(24, 30, 3);
        var train = panel.Select(s => s[..^4]).ToList();
        var options = new EsRnnOptions(Horizon: 4, Window: 8, HiddenSize: 8, Epochs: 4, Batch: 8, LearningRate: 3e-3f,
            Specialists: 3, SpecialistsPerSeries: 2);
        var model = new EsRnnForecaster(options);
        model.Fit(train);
        var start = EsRnnForecaster.FromConfig(model.Config); // the assignment before training: drawn from the seed
        int moved = 0;
        for (int s = 0; s < 24; s++)
        {
            var own = model.SpecialistsOf(s);
            Assert.Equal(2, own.Length);
            Assert.Equal(2, start.SpecialistsOf(s).Length);
            if (!own.SequenceEqual(start.SpecialistsOf(s))) moved++;
        }
        Assert.True(moved > 0, "no series moved to other networks");
        // each series belongs to the two networks that forecast its training windows best
        var losses = Enumerable.Range(0, 3).Select(k => model.TrainingLosses(k, train, null, validate: true))
            .ToArray();
        for (int s = 0; s < 24; s++)
        {
            var own = model.SpecialistsOf(s);
            int other = Enumerable.Range(0, 3).Single(k => !own.Contains(k));
            Assert.All(own, k => Assert.True(losses[k][s] <= losses[other][s], $"series {s}: network {k}"));
        }
        // the forecast is the mean of its networks' forecasts: each network alone, from its weights in the pool
        var points = model.Forecast(train);
        var alone = Enumerable.Range(0, 3).Select(k =>
        {
            var single = EsRnnForecaster.FromConfig(Single(model, options));
            single.Network.LoadStateDict(model.Network.StateDict()
                .Where(p => p.Key.StartsWith($"members.{k}.", StringComparison.Ordinal))
                .ToDictionary(p => p.Key[$"members.{k}.".Length..], p => p.Value));
            return single.Forecast(train);
        }).ToArray();
        for (int s = 0; s < 24; s++)
        {
            var own = model.SpecialistsOf(s);
            var mean = new double[4];
            foreach (int k in own)
                for (int j = 0; j < 4; j++) mean[j] += alone[k][s][j] / own.Length;
            Assert.Equal(mean, points[s]);
        }
        // saved and rebuilt: the assignment travels with the weights
        var copy = EsRnnForecaster.FromConfig(model.Config);
        copy.Network.LoadStateDict(model.Network.StateDict());
        Assert.Equal(points, copy.Forecast(train));
        Assert.Equal([24, 3], model.Network.StateDict()["assignment"].Shape);
        Assert.Throws<ArgumentException>(() => new EsRnnOptions(Specialists: 3, SpecialistsPerSeries: 4).Validate());
        Assert.Throws<ArgumentException>(() => new EsRnnOptions(Specialists: 0).Validate());
    }

    /// <summary>The configuration of one network of <paramref name="model"/>'s pool (its per-series parameters
    /// made for the same series).</summary>
    static System.Text.Json.Nodes.JsonObject Single(EsRnnForecaster model, EsRnnOptions options)
    {
        var config = new EsRnnForecaster(options with { Specialists = 1 }).Config;
        config["series"] = model.SeriesCount;
        return config;
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        var model = new EsRnnForecaster(new EsRnnOptions(Horizon: 2, Window: 4, Epochs: 1));
        var e = Assert.Throws<ArgumentException>(() => model.Fit([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 0, 4, 5, 6, 7, 8]]));
        Assert.Contains("series 1 has value 0 at position 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Fit([[1, 2, 3]]));
        Assert.Contains("no series is long enough", e.Message);
        var panel = Seasonal(4, 20, 2);
        model.Fit(panel);
        e = Assert.Throws<ArgumentException>(() => model.Forecast(panel.Take(3).ToList()));
        Assert.Contains("3 series to forecast, but the model was fitted to 4", e.Message);
        Assert.Throws<InvalidOperationException>(() => model.ForecastWithIntervals(panel));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Smoothing(4));
        Assert.Throws<ArgumentException>(() => new EsRnnOptions(Quantile: 1).Validate());
        Assert.Throws<ArgumentException>(() => new EsRnnOptions(LevelPenalty: -1).Validate());
        Assert.Throws<ArgumentException>(() => new EsRnnOptions(Window: 0).Validate());
    }

    [Fact]
    public void ForecastTrainWithEsRnnAddsItsRowAndTheMeanOfTheNetworks()
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
                "value", "--es-rnn", "--combine", "--test-size", "4", "--season", "4", "--epochs", "2", "--hidden",
                "6", "--window", "8", "--json", "--threads", "1", "--out", Path.Combine(folder, "run")));
        }
        finally { Console.SetOut(console); }
        var json = output.ToString();
        var rows = JsonDocument.Parse(json[json.IndexOf('[')..(json.LastIndexOf(']') + 1)]).RootElement;
        Assert.Equal(["global lstm on Theta", "ES-RNN lstm", "mean of the 2 networks"],
            rows.EnumerateArray().Take(3).Select(r => r.GetProperty("model").GetString()!));
        Assert.All(rows.EnumerateArray().Take(3),
            r => Assert.True(double.IsFinite(r.GetProperty("smape").GetDouble())));
        // its checkpoint holds the per-series parameters, and its configuration the number of series
        Assert.True(File.Exists(Path.Combine(folder, "run", "es-rnn", "best", "model.safetensors")));
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "run", "es-rnn", "best", "config.json")))
            .RootElement;
        Assert.Equal("es_rnn", config.GetProperty("architecture").GetString());
        Assert.Equal(10, config.GetProperty("series").GetInt32());
        // forecast predict continues every series with both networks (members averaged) and their mean
        string predicted = Path.Combine(folder, "predicted.csv");
        Assert.Equal(0, RecurCommand.Run("forecast", "predict", "--model", Path.Combine(folder, "run"), "--csv", csv,
            "--series-column", "id", "--target", "value", "--out", predicted));
        var lines = File.ReadAllLines(predicted);
        Assert.Equal("series,step,global lstm on Theta,ES-RNN lstm,mean of the 2 networks", lines[0]);
        Assert.Equal(1 + 10 * 4, lines.Length);
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            double[] values = [.. cells.Skip(2).Select(c => double.Parse(c, CultureInfo.InvariantCulture))];
            Assert.All(values, v => Assert.True(double.IsFinite(v) && v > 0, line));
            Assert.Equal((values[0] + values[1]) / 2, values[2], 9);
        }
        Assert.Equal(["S0", "+1"], lines[1].Split(',')[..2]);
        // the ES-RNN's parameters are those of the series trained on, in their order; a one-series run is refused
        string shuffled = Path.Combine(folder, "shuffled.csv");
        File.WriteAllLines(shuffled, [File.ReadLines(csv).First(), .. File.ReadLines(csv).Skip(1).Reverse()]);
        Assert.Equal(2, RecurCommand.Run("forecast", "predict", "--model", Path.Combine(folder, "run"), "--csv",
            shuffled, "--series-column", "id", "--target", "value", "--out", Path.Combine(folder, "p2.csv")));
        Assert.False(File.Exists(Path.Combine(folder, "p2.csv")));
        Assert.Equal(2, RecurCommand.Run("forecast", "predict", "--model", Path.Combine(folder, "run"), "--csv", csv,
            "--target", "value", "--out", Path.Combine(folder, "p3.csv")));
        // a value that is not positive is named by its series and line, before any training
        string zero = Path.Combine(folder, "zero.csv");
        File.WriteAllLines(zero, File.ReadLines(csv).Select((line, i) => i == 30 ? "S1,0" : line));
        var (code, error) = Recur.Tests.Cli.RunSafetyTests.RunCapturingErrors("forecast", "train", "--csv", zero,
            "--series-column", "id", "--target", "value", "--es-rnn", "--test-size", "4", "--season", "4", "--out",
            Path.Combine(folder, "zero-run"));
        Assert.Equal(2, code);
        Assert.Contains("series 'S1' (from line 26) has 0 as its value 6; ES-RNN works on logarithms", error);
        Assert.False(Directory.Exists(Path.Combine(folder, "zero-run")));
        // --es-rnn needs many series; without --combine it has no Theta base to leave out
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "value", "--es-rnn",
            "--test-size", "4", "--out", Path.Combine(folder, "bad")));
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
            "value", "--es-rnn", "--no-theta-base", "--test-size", "4", "--out", Path.Combine(folder, "bad2")));
        // Smyl's specialists: trained, saved with their assignment, and continued by forecast predict
        Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
            "value", "--es-rnn", "--specialists", "3", "--test-size", "4", "--season", "4", "--epochs", "2",
            "--hidden", "6", "--window", "8", "--threads", "1", "--out", Path.Combine(folder, "specialists")));
        Assert.Equal(0, RecurCommand.Run("forecast", "predict", "--model", Path.Combine(folder, "specialists"),
            "--csv", csv, "--series-column", "id", "--target", "value", "--out", Path.Combine(folder, "p4.csv")));
        var specialistLines = File.ReadAllLines(Path.Combine(folder, "p4.csv"));
        Assert.Equal("series,step,ES-RNN lstm (3 specialists)", specialistLines[0]);
        Assert.Equal(1 + 10 * 4, specialistLines.Length);
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
            "value", "--specialists", "3", "--test-size", "4", "--out", Path.Combine(folder, "bad3")));
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
            "value", "--es-rnn", "--specialists", "2", "--specialists-per-series", "3", "--test-size", "4", "--out",
            Path.Combine(folder, "bad4")));
    }
}
