using System.Globalization;
using System.Text.Json;
using Recur.Cli;
using Recur.Cli.Data;
using Recur.Forecasting;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Forecasting;

/// <summary>The global (many-series) forecaster and <c>forecast train --series-column</c>.</summary>
[Collection("cli")]
public sealed class GlobalForecastingTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-global-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>Positive quarterly series of different scales, growth rates and seasonal shapes, with noise.</summary>
    static List<double[]> Panel(int count, int length, ulong seed)
    {
        var random = new RandomGenerator(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double scale = Math.Pow(10, 1 + 3 * random.NextDouble()), growth = 0.01 + 0.04 * random.NextDouble();
            double amplitude = 0.2 * random.NextDouble();
            return Enumerable.Range(0, length).Select(t => scale * Math.Exp(growth * t)
                * (1 + amplitude * Math.Sin(Math.PI / 2 * t)) * (1 + 0.01 * (random.NextDouble() - 0.5))).ToArray();
        }).ToList();
    }

    static double Smape(double[] actual, double[] forecast) =>
        actual.Select((a, i) => 200 * Math.Abs(forecast[i] - a) / (Math.Abs(a) + Math.Abs(forecast[i]))).Average();

    [Fact]
    public void OneNetworkLearnsGrowthAcrossSeriesOfEveryScaleAndIsDeterministic()
    {
        var panel = Panel(40, 36, 3);
        var train = panel.Select(s => s[..^6]).ToList();
        var options = new GlobalForecasterOptions(Horizon: 6, Window: 12, HiddenSize: 12, Epochs: 12, ThetaBase: false);
        var first = new GlobalForecaster(options);
        first.Fit(train);
        var forecasts = first.Forecast(train);
        // the series grow 1–5% a quarter: the naive forecast lags, the network extrapolates the growth it learned
        double network = panel.Select((s, i) => Smape(s[^6..], forecasts[i])).Average();
        double naive = panel.Select((s, i) => Smape(s[^6..], Baselines.Naive(train[i], 6))).Average();
        Assert.True(network < 0.6 * naive, $"network sMAPE {network:F2}, naive {naive:F2}");
        var second = new GlobalForecaster(options);
        second.Fit(train);
        Assert.Equal(forecasts, second.Forecast(train));
        // rebuilt from its configuration with its weights, it forecasts the same
        var copy = GlobalForecaster.FromConfig(first.Config);
        Assert.Equal(options, copy.Options);
        copy.Network.LoadStateDict(first.Network.StateDict());
        Assert.Equal(forecasts, copy.Forecast(train));
        Assert.Throws<InvalidDataException>(() => GlobalForecaster.FromConfig(new DeepArForecaster(new()).Config));
    }

    [Fact]
    public void TheThetaHybridSeesThetasForecastAndTheCategory()
    {
        var panel = Panel(24, 30, 4);
        var train = panel.Select(s => s[..^4]).ToList();
        var categories = Enumerable.Range(0, panel.Count).Select(i => i % 3).ToList();
        var hybrid = new GlobalForecaster(new GlobalForecasterOptions(Horizon: 4, Window: 8, HiddenSize: 8, Epochs: 3,
            Categories: 3));
        hybrid.Fit(train, categories);
        var forecasts = hybrid.Forecast(train, categories);
        Assert.All(forecasts, f => Assert.All(f, v => Assert.True(v > 0 && double.IsFinite(v))));
        // per step: the log ratio, the observed flag, the category one-hot and Theta's forecast path (4 values)
        Assert.Equal(2 + 3 + 4, ((Recur.Nn.SequenceModel)hybrid.Network).Config.InputSize);
        var plain = new GlobalForecaster(new GlobalForecasterOptions(Horizon: 4, Window: 8, HiddenSize: 8, Epochs: 1,
            ThetaBase: false));
        Assert.Equal(2, ((Recur.Nn.SequenceModel)plain.Network).Config.InputSize);
    }

    [Fact]
    public void QuantileHeadsGiveIntervalsAroundThePoint()
    {
        var panel = Panel(40, 36, 6);
        var train = panel.Select(s => s[..^6]).ToList();
        var forecaster = new GlobalForecaster(new GlobalForecasterOptions(Horizon: 6, Window: 12, HiddenSize: 12,
            Epochs: 12, ThetaBase: false, IntervalCoverage: 0.8));
        forecaster.Fit(train);
        var (points, intervals) = forecaster.ForecastWithIntervals(train);
        Assert.Equal(forecaster.Forecast(train), points);
        int inside = 0;
        for (int s = 0; s < panel.Count; s++)
            for (int k = 0; k < 6; k++)
            {
                Assert.True(intervals[s].Lower[k] <= points[s][k] && points[s][k] <= intervals[s].Upper[k]);
                if (panel[s][30 + k] >= intervals[s].Lower[k] && panel[s][30 + k] <= intervals[s].Upper[k]) inside++;
            }
        // nominal 80%: a 12-epoch network on 40 series is not calibrated, but it must cover a good share, not none
        Assert.InRange(inside / 240.0, 0.4, 1.0);
        Assert.Throws<InvalidOperationException>(() => new GlobalForecaster(new GlobalForecasterOptions(Horizon: 6,
            Window: 12, HiddenSize: 4, Epochs: 1)).ForecastWithIntervals(train));
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        var options = new GlobalForecasterOptions(Horizon: 4, Window: 8, HiddenSize: 4, Epochs: 1);
        var forecaster = new GlobalForecaster(options);
        var error = Assert.Throws<ArgumentException>(() => forecaster.Fit([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
            0, 4]]));
        Assert.Contains("series 0 has value 0 at position 12", error.Message);
        Assert.Throws<ArgumentException>(() => forecaster.Fit([Enumerable.Range(1, 20).Select(v =>
            (double)v).ToArray()],
            categories: [1]));
        Assert.Contains("long enough", Assert.Throws<ArgumentException>(() => forecaster.Fit([[1, 2, 3, 4,
            5]])).Message);
    }

    [Fact]
    public void ForecastTrainWithSeriesColumnComparesTheGlobalModelWithClassicalMethods()
    {
        var panel = Panel(12, 28, 5);
        string csv = Path.Combine(folder, "panel.csv");
        File.WriteAllLines(csv, ["id,category,period,value", .. panel.SelectMany((s, i) => s.Select((v, t) =>
            FormattableString.Invariant($"S{i},{(i % 2 == 0 ? "A" : "B")},{t},{v}")))]);
        string run = Path.Combine(folder, "run");
        var output = new StringWriter();
        var console = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
                "value",
                "--category-column", "category", "--category-input", "--intervals", "--test-size", "4", "--season", "4",
                    "--epochs", "2", "--hidden", "6",
                "--window", "8", "--json", "--threads", "1", "--out", run));
        }
        finally { Console.SetOut(console); }
        var json = output.ToString();
        var rows = JsonDocument.Parse(json[json.IndexOf('[')..(json.LastIndexOf(']') + 1)]).RootElement;
        var names = rows.EnumerateArray().Select(r => r.GetProperty("model").GetString()!).ToArray();
        Assert.Equal(["global lstm on Theta", "Theta", "ETS (AICc)", "damped trend (ETS(A,Ad,N))",
            "simple exponential smoothing", "naive", "seasonal naive (s = 4)"], names);
        foreach (var row in rows.EnumerateArray())
        {
            Assert.True(double.IsFinite(row.GetProperty("smape").GetDouble())
                && row.GetProperty("smape").GetDouble() >= 0);
            Assert.Equal(["A", "B"], row.GetProperty("smape_by_category").EnumerateObject().Select(p => p.Name));
        }
        // Theta and ETS carry 95% intervals scored by coverage and MSIS; the naive methods do not
        Assert.InRange(rows[1].GetProperty("coverage_95").GetDouble(), 0, 1);
        Assert.True(rows[2].GetProperty("msis_95").GetDouble() > 0);
        Assert.False(rows[5].TryGetProperty("coverage_95", out _));
        Assert.InRange(rows[0].GetProperty("coverage_95").GetDouble(), 0, 1); // the network's quantile heads
        // the naive row is exactly the mean over series of the naive forecast's sMAPE
        double naive = panel.Select(s => Smape(s[^4..], Baselines.Naive(s[..^4], 4))).Average();
        Assert.Equal(naive, rows[5].GetProperty("smape").GetDouble(), 9);
        var lines = File.ReadAllLines(Path.Combine(run, "forecast.csv"));
        Assert.Equal(1 + 12 * 4, lines.Length);
        Assert.StartsWith("series,step,actual,global lstm on Theta,Theta", lines[0]);
        Assert.EndsWith("global lstm on Theta upper 95%,Theta lower 95%,Theta upper 95%,ETS (AICc) lower 95%,"
            + "ETS (AICc) upper 95%", lines[0]);
    }

    [Fact]
    public void WideFilesByColumnOrByRowGiveTheSameComparisonAsTheLongFile()
    {
        // series of different lengths: the shorter ones start later (columns) or end sooner (rows)
        var panel = Panel(6, 26, 9).Select((s, i) => s[(i % 3)..]).ToArray();
        string Cell(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        string longCsv = Path.Combine(folder, "long.csv"), byColumn = Path.Combine(folder, "columns.csv"),
            byRow = Path.Combine(folder, "rows.csv");
        File.WriteAllLines(longCsv, ["id,value", .. panel.SelectMany((s, i) => s.Select(v => $"S{i},{Cell(v)}"))]);
        File.WriteAllLines(byColumn, ["month," + string.Join(",", panel.Select((_, i) => $"S{i}")),
            .. Enumerable.Range(0, 26).Select(t => $"2000-{t}," + string.Join(",", panel.Select(s =>
                t >= 26 - s.Length ? Cell(s[t - (26 - s.Length)]) : "")))]);
        File.WriteAllLines(byRow, ["name," + string.Join(",", Enumerable.Range(1, 26).Select(t => $"V{t}")),
            .. panel.Select((s, i) => $"S{i}," + string.Join(",", s.Select(Cell)) + new string(',', 26 - s.Length))]);
        string Comparison(params string[] how)
        {
            string run = Path.Combine(folder, "wide-" + how[^1]);
            Assert.Equal(0, RecurCommand.Run(["forecast", "train", .. how, "--test-size", "4", "--season", "4",
                "--epochs", "1", "--hidden", "4", "--window", "8", "--threads", "1", "--out", run]));
            // everything but the timings
            return System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(Path.Combine(run,
                "comparison.json")), "\"seconds\":[^,}]*", "");
        }
        string expected = Comparison("--csv", longCsv, "--series-column", "id", "--target", "value");
        Assert.Equal(expected, Comparison("--csv", byColumn, "--wide", "columns"));
        Assert.Equal(expected, Comparison("--csv", byRow, "--wide", "rows", "--series-column", "name"));
        Assert.Equal(expected, Comparison("--csv", byRow, "--wide", "rows")); // the first column names them
        var read = SeriesFiles.ReadWide(byColumn, byRows: false, null, null, null);
        Assert.Equal(panel.Select(s => s.Length), read.Select(s => s.Values.Length));
        Assert.Equal(["S0", "S1", "S2", "S3", "S4", "S5"], read.Select(s => s.Id));

        // a gap inside a series names its line and column; --fill treats it; a target is refused
        File.WriteAllText(byColumn, "A,B\n1,5\n,6\n3,7\n");
        var error = Assert.Throws<InvalidDataException>(() => SeriesFiles.ReadWide(byColumn, false, null, null, null));
        Assert.Contains("line 3", error.Message);
        Assert.Contains("'A'", error.Message);
        Assert.Equal([1, 2, 3], SeriesFiles.ReadWide(byColumn, false, null, null, null, GapFill.Interpolate)[0].Values);
        File.WriteAllText(byRow, "id,v1,v2\nA,1,2\nA,3,4\n");
        Assert.Contains("line 3", Assert.Throws<InvalidDataException>(() =>
            SeriesFiles.ReadWide(byRow, true, null, null, null)).Message);
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", byColumn, "--wide", "columns", "--target", "A",
            "--out", Path.Combine(folder, "both")));
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", byColumn, "--out",
            Path.Combine(folder, "none")));
    }

    [Fact]
    public void PanelReaderNamesTheLineOfBadInput()
    {
        string csv = Path.Combine(folder, "bad.csv");
        File.WriteAllText(csv, "id,value\nA,1\nA,2\nB,\n");
        Assert.Contains("line 4", Assert.Throws<InvalidDataException>(() =>
            SeriesFiles.ReadPanel(csv, "id", "value", null)).Message);
        File.WriteAllText(csv, "id,cat,value\nA,x,1\nA,y,2\n");
        Assert.Contains("line 3", Assert.Throws<InvalidDataException>(() =>
            SeriesFiles.ReadPanel(csv, "id", "value", "cat")).Message);
        File.WriteAllText(csv, "id,value\nA,1\nA,2\nA,3\n");
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "id", "--target",
            "value",
            "--test-size", "2", "--out", Path.Combine(folder, "short")));
        Assert.False(File.Exists(Path.Combine(folder, "short", "forecast.csv")));
    }

    [Fact]
    public void GapsAreFilledOnlyWhenAskedAndAsAsked()
    {
        double nan = double.NaN;
        Assert.Equal([1, 1, 2, 3, 4, 4], Gaps.Fill([nan, 1, nan, nan, 4, nan], GapFill.Interpolate));
        Assert.Equal([1, 1, 3, 3], Gaps.Fill([1, nan, 3, nan], GapFill.Previous));
        Assert.Equal([1, 4], Gaps.Fill([nan, 1, nan, 4], GapFill.Drop));
        Assert.Contains("starts with a gap", Assert.Throws<ArgumentException>(() =>
            Gaps.Fill([nan, 1], GapFill.Previous)).Message);
        Assert.Throws<ArgumentException>(() => Gaps.Fill([nan, nan], GapFill.Interpolate));

        string csv = Path.Combine(folder, "gaps.csv");
        File.WriteAllText(csv, "month,value\nm0,1\nm1,NA\nm2,3\nm3,\nm4,5\n");
        var error = Assert.Throws<InvalidDataException>(() => SeriesFiles.ReadSeries(csv, "value", null));
        Assert.Contains("line 3", error.Message);
        Assert.Contains("--fill", error.Message);
        Assert.Equal([1, 2, 3, 4, 5], SeriesFiles.ReadSeries(csv, "value", null, GapFill.Interpolate).Values);
        var (dates, values) = SeriesFiles.ReadSeries(csv, "value", null, GapFill.Drop);
        Assert.Equal(["m0", "m2", "m4"], dates);
        Assert.Equal([1, 3, 5], values);

        string panel = Path.Combine(folder, "panel-gaps.csv");
        File.WriteAllText(panel, "id,value\nA,1\nA,n/a\nA,2\nB,7\nB,8\n");
        Assert.Contains("line 3", Assert.Throws<InvalidDataException>(() =>
            SeriesFiles.ReadPanel(panel, "id", "value", null)).Message);
        Assert.Equal([1, 1, 2], SeriesFiles.ReadPanel(panel, "id", "value", null, GapFill.Previous)[0].Values);
    }
}
