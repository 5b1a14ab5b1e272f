using Recur.Cli;
using Recur.Cli.Data;
using Recur.Forecasting;
using Recur.Training;

namespace Recur.Tests.Forecasting;

[Collection("cli")]
public sealed class ForecastingTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-forecast-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void ScalingAndDifferencingRoundTripOnRandomSeries()
    {
        var random = new RandomGenerator(1);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = 3 + random.NextInt(60);
            var series = Enumerable.Range(0, n).Select(_ => (random.NextDouble() - 0.3) * Math.Pow(10,
                random.NextInt(6) - 2)).ToArray();
            int split = 1 + random.NextInt(n - 1);
            foreach (var kind in new[] { ScalingKind.MinMax, ScalingKind.Standard, ScalingKind.None })
            {
                var scaler = Scaler.Fit(series.AsSpan(0, split), kind);
                foreach (double v in series) Assert.Equal(v, scaler.Inverse(scaler.Transform(v)), 1e-9 * Math.Max(1,
                    Math.Abs(v)));
                if (kind == ScalingKind.MinMax && series[..split].Distinct().Count() > 1)
                {
                    Assert.Equal(0, series[..split].Min(scaler.Transform), 12);
                    Assert.Equal(1, series[..split].Max(scaler.Transform), 12);
                }
            }
            int lag = 1 + random.NextInt(n - 1);
            var d = Differencing.Apply(series, lag);
            var rebuilt = Differencing.Integrate(series.AsSpan(0, lag), d, lag);
            for (int i = 0; i < rebuilt.Length; i++) Assert.Equal(series[lag + i], rebuilt[i], 1e-9 * Math.Max(1,
                Math.Abs(series[lag + i])));
        }
        Assert.Throws<ArgumentException>(() => Differencing.Apply([1.0, 2.0], 2));
    }

    [Fact]
    public void BaselinesMatchHandComputedValues()
    {
        double[] history = [1, 2, 3, 4, 5, 6, 7];
        Assert.Equal([7.0, 7, 7], Baselines.Naive(history, 3));
        Assert.Equal([5.0, 6, 7, 5, 6], Baselines.SeasonalNaive(history, 5, season: 3));
        // y_t = 2 + 0.5 y_{t−1} exactly: least squares recovers the coefficients and the forecast continues the
        // recursion
        var ar = new List<double> { 10 };
        for (int t = 1; t < 30; t++) ar.Add(2 + 0.5 * ar[^1]);
        var noisy = ar.Select((v,
            t) => v + (t % 3 - 1) * 1e-3).ToArray(); // a little excitation keeps the system well posed
        var coefficients = Baselines.FitAutoregression(noisy, 1);
        Assert.Equal(2, coefficients[0], 2);
        Assert.Equal(0.5, coefficients[1], 2);
        var forecast = Baselines.Autoregression(noisy, coefficients, 2);
        Assert.Equal(coefficients[0] + coefficients[1] * noisy[^1], forecast[0], 12);
        Assert.Equal(coefficients[0] + coefficients[1] * forecast[0], forecast[1], 12);
    }

    [Fact]
    public void MetricsMatchAHandWorkedExample()
    {
        double[] actual = [100, 200], forecast = [110, 180], training = [10, 20, 40];
        var m = ForecastMetrics.Compute(actual, forecast, training, season: 1);
        Assert.Equal(Math.Sqrt((100 + 400) / 2.0), m.Rmse, 12);
        Assert.Equal(15, m.Mae, 12);
        Assert.Equal(100 * (0.1 + 0.1) / 2, m.Mape, 12);
        Assert.Equal(100 * (2 * 10 / 210.0 + 2 * 20 / 380.0) / 2, m.Smape, 12);
        Assert.Equal(15 / 15.0, m.Mase, 12); // in-sample naive MAE: (10 + 20) / 2
    }

    static double[] SeasonalSeries(int n) => Enumerable.Range(0,
        n).Select(t => 100 + 0.5 * t + 10 * Math.Sin(2 * Math.PI * t / 12)).ToArray();

    [Theory]
    [InlineData("lstm", 12)]
    [InlineData("mlp", 0)]
    public void ForecasterLearnsASeasonalSeriesAndReloadsExactly(string model, int validation)
    {
        var series = SeasonalSeries(96);
        var (train, test) = (series[..84], series[84..]);
        var forecaster = new Forecaster(new ForecasterOptions(Window: 12, Horizon: 6, Model: model, HiddenSize: 16,
            DifferenceLag: 1, Epochs: 60, LearningRate: 1e-2f,
            ValidationSize: validation));
        forecaster.Fit(train, new TrainerOptions { OutputDirectory = Path.Combine(folder, model) });
        var forecast = forecaster.Forecast(train, 12);
        double rmse = ForecastMetrics.Compute(test, forecast, train, 12).Rmse;
        double naive = ForecastMetrics.Compute(test, Baselines.Naive(train, 12), train, 12).Rmse;
        Assert.True(rmse < 0.5 * naive, $"{model}: RMSE {rmse:F3} against the naive forecast's {naive:F3}");

        // with a validation part the forecaster keeps the best epoch's weights, which the trainer saved in best/
        string kept = Path.Combine(folder, model, validation > 0 ? "best" : "last");
        var reloaded = Forecaster.FromConfig(Checkpoint.ReadConfig(kept));
        Checkpoint.LoadModel(kept, reloaded.Network);
        Assert.Equal(forecast, reloaded.Forecast(train, 12));
    }

    /// <summary>A target that follows a leading indicator one step later is predictable only with that
    /// covariate.</summary>
    [Fact]
    public void CovariatesCarryALeadingIndicator()
    {
        var random = new RandomGenerator(12);
        const int n = 160;
        var indicator = new double[n];
        var target = new double[n];
        for (int t = 1; t < n; t++)
        {
            indicator[t] = 0.3 * indicator[t - 1] + random.NextNormal();
            target[t] = 2 * indicator[t - 1] + 0.05 * random.NextNormal();
        }
        double WalkForwardRmse(bool withCovariate)
        {
            var forecaster = new Forecaster(new ForecasterOptions(Window: 4, Horizon: 1, Model: "gru", HiddenSize: 16,
                Scaling: ScalingKind.Standard, Epochs: 40,
                LearningRate: 1e-2f, Covariates: withCovariate ? 1 : 0));
            double[][]? Upto(int t) => withCovariate ? [indicator[..t]] : null;
            forecaster.Fit(target.AsSpan(0, 140), covariates: Upto(140));
            var predictions = Enumerable.Range(140, 20).Select(t => forecaster.Forecast(target[..t], 1,
                Upto(t))[0]).ToArray();
            return ForecastMetrics.Compute(target[140..], predictions, target[..140]).Rmse;
        }
        double with = WalkForwardRmse(true), without = WalkForwardRmse(false);
        Assert.True(with < 0.4 * without, $"RMSE with the indicator {with:F3}, without {without:F3}");

        var model = new Forecaster(new ForecasterOptions(Window: 4, Horizon: 2, Epochs: 1, Covariates: 1));
        Assert.Throws<ArgumentException>(() => model.Fit(target, covariates: null));
        model.Fit(target, covariates: [indicator]);
        Assert.Contains("at most the horizon", Assert.Throws<ArgumentException>(() => model.Forecast(target, 3,
            [indicator])).Message);
        Assert.Throws<ArgumentException>(() => model.Forecast(target, 1, [indicator[..10]]));
    }

    [Fact]
    public void CommandLineTrainsPredictsAndReportsBadCells()
    {
        string csv = Path.Combine(folder, "series.csv");
        var series = SeasonalSeries(60);
        File.WriteAllLines(csv, ["\"Month\",\"Value\"", .. series.Select((v,
            t) => $"\"m{t}\",{v.ToString(System.Globalization.CultureInfo.InvariantCulture)}")]);
        string run = Path.Combine(folder, "run");
        Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "Value", "--window", "6",
            "--horizon", "3", "--test-size", "6",
            "--epochs", "3", "--hidden", "4", "--out", run, "--threads", "1"));
        var lines = File.ReadAllLines(Path.Combine(run, "forecast.csv"));
        Assert.Equal(7, lines.Length);
        Assert.StartsWith("date,actual,lstm (this run),mlp on the window,naive", lines[0]);
        Assert.Contains("ETS (AICc: ETS(", lines[0]);
        Assert.EndsWith(",Theta", lines[0]);
        // without --ar-order: AR(season) and, when it differs, the order AIC picks on the training part
        int aicOrder = Baselines.AutoregressionOrder(series[..^6]);
        string expectedColumns = aicOrder == 12 ? ",AR(12),\"ETS" : $",AR(12),AR({aicOrder}) by AIC,\"ETS";
        Assert.True(lines[0].Contains(expectedColumns, StringComparison.Ordinal), lines[0]);
        // a constant series has no least-squares AR: both AR rows are left out with a note, the rest runs
        string constant = Path.Combine(folder, "constant.csv");
        File.WriteAllLines(constant, ["m,v", .. Enumerable.Range(0, 40).Select(t => $"m{t},5")]);
        var (code, error) = Recur.Tests.Cli.RunSafetyTests.RunCapturingErrors("forecast", "train", "--csv", constant,
            "--target", "v", "--test-size", "4", "--window", "4", "--epochs", "1", "--hidden", "4", "--threads", "1",
            "--out", Path.Combine(folder, "constant-run"));
        Assert.Equal(0, code);
        Assert.Contains("note: AR(12) left out", error);
        Assert.Contains("note: AR by AIC left out", error);
        // a validation tail that leaves AR(2) three values to refit on: that row is not scored there, the run goes on
        string shortCsv = Path.Combine(folder, "short.csv");
        File.WriteAllLines(shortCsv, ["t,y", .. Enumerable.Range(0, 40).Select(t =>
            $"{t},{(10 + Math.Sin(t) + 0.1 * t).ToString(System.Globalization.CultureInfo.InvariantCulture)}")]);
        (code, error) = Recur.Tests.Cli.RunSafetyTests.RunCapturingErrors("forecast", "train", "--csv", shortCsv,
            "--target", "y", "--test-size", "4", "--season", "2", "--window", "1", "--horizon", "1",
            "--validation-size", "33", "--epochs", "1", "--hidden", "4", "--threads", "1", "--out",
            Path.Combine(folder, "short-run"));
        Assert.Equal(0, code);
        Assert.Contains("note: AR(2) not scored on the validation tail", error);
        Assert.Contains(",AR(2),", File.ReadLines(Path.Combine(folder, "short-run", "forecast.csv")).First());
        Recur.Tests.Figures.FigureFiles.AssertSvg(Path.Combine(run, "forecast.svg"), "history", "AR(12)",
            "seasonal naive (s = 12)");

        // walk-forward: every model forecasts one step from the actual history, so the naive column is the previous
        // actual value
        Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "Value", "--window", "6",
            "--horizon", "1", "--test-size", "6",
            "--epochs", "2", "--hidden", "4", "--walk-forward", "--out", Path.Combine(folder, "walk"), "--threads",
                "1"));
        var walk = File.ReadAllLines(Path.Combine(folder, "walk",
            "forecast.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        for (int i = 0; i < walk.Length; i++)
            Assert.Equal(series[54 + i - 1], double.Parse(walk[i][4],
                System.Globalization.CultureInfo.InvariantCulture), 12);
        // and Theta (the last column) is refitted on the history up to each test point
        for (int i = 0; i < walk.Length; i++)
            Assert.Equal(ThetaMethod.Fit(series[..(54 + i)], 12).Forecast(1)[0],
                double.Parse(walk[i][^1], System.Globalization.CultureInfo.InvariantCulture), 9);

        string output = Path.Combine(folder, "next.csv");
        Assert.Equal(0, RecurCommand.Run("forecast", "predict", "--model", run, "--csv", csv, "--target", "Value",
            "--steps", "5", "--out", output));
        Assert.Equal(6, File.ReadAllLines(output).Length);

        // an ensemble keeps one folder per member and predicts their mean
        string ensemble = Path.Combine(folder, "ensemble");
        Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "Value", "--window", "6",
            "--horizon", "3", "--test-size", "6",
            "--epochs", "2", "--hidden", "4", "--ensemble", "2", "--out", ensemble, "--threads", "1"));
        Assert.Equal(0, RecurCommand.Run("forecast", "predict", "--model", ensemble, "--csv", csv, "--target", "Value",
            "--steps", "4", "--out", output));
        var predicted = File.ReadAllLines(output).Skip(1).Select(l => double.Parse(l.Split(',')[1],
            System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var memberForecasts = new[] { "member-1", "member-2" }.Select(m =>
        {
            var f = Forecaster.FromConfig(Checkpoint.ReadConfig(Path.Combine(ensemble, m, "last")));
            Checkpoint.LoadModel(Path.Combine(ensemble, m, "last"), f.Network);
            return f.Forecast(series, 4);
        }).ToArray();
        Assert.NotEqual(memberForecasts[0], memberForecasts[1]); // different seeds
        for (int i = 0; i < 4; i++) Assert.Equal((memberForecasts[0][i] + memberForecasts[1][i]) / 2, predicted[i], 9);

        // a covariate column by name, in training and prediction
        string withCovariate = Path.Combine(folder, "covariate.csv");
        File.WriteAllLines(withCovariate, ["Month,Value,Lead", .. series.Select((v,
            t) => FormattableString.Invariant($"m{t},{v},{(t + 1 < series.Length ? series[t + 1] : v)}"))]);
        Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", withCovariate, "--target", "Value",
            "--covariates", "Lead", "--window", "6", "--horizon", "6",
            "--test-size", "6", "--epochs", "2", "--hidden", "4", "--out", Path.Combine(folder, "cov"), "--threads",
                "1"));
        Assert.Equal(0, RecurCommand.Run("forecast", "predict", "--model", Path.Combine(folder, "cov"), "--csv",
            withCovariate, "--target", "Value", "--covariates", "Lead",
            "--steps", "3", "--out", output));
        Assert.Equal(1, RecurCommand.Run("forecast", "predict", "--model", Path.Combine(folder, "cov"), "--csv",
            withCovariate, "--target", "Value", "--steps", "3", "--out", output));
        Assert.Contains("column 'Missing'", Assert.Throws<InvalidDataException>(() =>
            SeriesFiles.ReadColumns(withCovariate, ["Value", "Missing"], null)).Message);

        File.WriteAllText(csv, "Month,Value\nm0,1\nm1,oops\n");
        Assert.Equal(1, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "Value", "--out",
            Path.Combine(folder, "bad")));
        var e = Assert.Throws<InvalidDataException>(() => SeriesFiles.ReadSeries(csv, "Value", null));
        Assert.Contains("line 3", e.Message);
        File.WriteAllText(csv, "Month,Value\nm0,1\nm1,\n");
        Assert.Contains("line 3", Assert.Throws<InvalidDataException>(() =>
            SeriesFiles.ReadSeries(csv, "Value", null)).Message);
        Assert.Contains("columns: Month, Value", Assert.Throws<InvalidDataException>(() =>
            SeriesFiles.ReadSeries(csv, "Passengers", null)).Message);
    }

    [Fact]
    public void CategoricalCovariatesAreOneHotAndTheirCategoriesGoWithTheRun()
    {
        // a regime column: the series is higher in "high" months
        var series = SeasonalSeries(60);
        string Regime(int t) => t % 5 < 2 ? "high" : "low";
        string csv = Path.Combine(folder, "regime.csv");
        File.WriteAllLines(csv, ["Month,Value,Regime", .. series.Select((v, t) =>
            FormattableString.Invariant($"m{t},{v + (Regime(t) == "high" ? 20 : 0)},{Regime(t)}"))]);
        string run = Path.Combine(folder, "regime-run");
        Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "Value", "--categorical",
            "Regime", "--window", "6", "--horizon", "6", "--test-size", "6", "--epochs", "2", "--hidden", "4",
            "--log", "--out", run, "--threads", "1"));
        // the categories, sorted, are kept beside the run; the network reads one input per category
        var levels = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "categorical.json")))
            .RootElement.GetProperty("Regime").EnumerateArray().Select(v => v.GetString()!).ToArray();
        Assert.Equal(["high", "low"], levels);
        var trained = Forecaster.FromConfig(Checkpoint.ReadConfig(Path.Combine(run, "last")));
        Assert.Equal(2, trained.Options.Covariates);
        string output = Path.Combine(folder, "regime-next.csv");
        Assert.Equal(0, RecurCommand.Run("forecast", "predict", "--model", run, "--csv", csv, "--target", "Value",
            "--categorical", "Regime", "--steps", "3", "--out", output));
        Assert.All(File.ReadAllLines(output).Skip(1), l => Assert.True(double.IsFinite(double.Parse(l.Split(',')[1],
            System.Globalization.CultureInfo.InvariantCulture))));
        // predict must name the same columns; a category the model never saw is an error naming the row
        Assert.Equal(2, RecurCommand.Run("forecast", "predict", "--model", run, "--csv", csv, "--target", "Value",
            "--steps", "3", "--out", output));
        string unseen = Path.Combine(folder, "unseen.csv");
        File.WriteAllLines(unseen, [.. File.ReadAllLines(csv), "m60,120,medium"]);
        var (dates, _, cells) = SeriesFiles.ReadColumns(unseen, ["Value"], ["Regime"], null, null);
        var e = Assert.Throws<InvalidDataException>(() => SeriesFiles.OneHot(unseen, "Regime", cells[0], ["high",
            "low"], dates));
        Assert.Contains("row dated m60 is 'medium'", e.Message);
        Assert.Equal(1, RecurCommand.Run("forecast", "predict", "--model", run, "--csv", unseen, "--target", "Value",
            "--categorical", "Regime", "--steps", "3", "--out", output));
        // an empty category is an error naming its line, and many series take their category another way
        File.WriteAllLines(unseen, [.. File.ReadAllLines(csv), "m60,120,"]);
        Assert.Contains("line 62", Assert.Throws<InvalidDataException>(() => SeriesFiles.ReadColumns(unseen,
            ["Value"], ["Regime"], null, null)).Message);
        Assert.Equal(2, RecurCommand.Run("forecast", "train", "--csv", csv, "--series-column", "Regime", "--target",
            "Value", "--categorical", "Regime", "--test-size", "4", "--out", Path.Combine(folder, "regime-bad")));
    }

    [Fact]
    public void SimulatedPathsGiveTheNetworkAnIntervalThatCoversItsErrors()
    {
        // a season with Gaussian noise of σ = 3: the 95% interval of a trained network should be about ±6 wide around
        // its forecast and hold most of the held-out values
        var random = new RandomGenerator(4);
        var noisy = SeasonalSeries(156).Select(v => v + 3 * random.NextNormal()).ToArray();
        var train = noisy[..^12];
        var forecaster = new Forecaster(new ForecasterOptions(Window: 12, Horizon: 12, Model: "mlp", HiddenSize: 16,
            Epochs: 150, ValidationSize: 24));
        forecaster.Fit(train);
        var point = forecaster.Forecast(train, 12);
        var interval = forecaster.Interval(train, 12, 0.95, paths: 400, seed: 3);
        for (int k = 0; k < 12; k++)
        {
            Assert.InRange(point[k], interval.Lower[k], interval.Upper[k]);
            Assert.InRange(interval.Upper[k] - interval.Lower[k], 4, 40);
        }
        var score = IntervalScore.Compute(noisy[^12..], interval, train, 12);
        Assert.True(score.Coverage >= 0.75, $"coverage {score.Coverage}");
        // the same seed draws the same paths; paths beyond the horizon continue block by block
        Assert.Equal(interval.Lower, forecaster.Interval(train, 12, 0.95, paths: 400, seed: 3).Lower);
        var longer = forecaster.SamplePaths(train, 30, paths: 50, seed: 1);
        Assert.Equal(30, longer.Length);
        Assert.All(longer, step => Assert.Equal(50, step.Length));
        Assert.Throws<ArgumentException>(() => forecaster.SamplePaths(train, 3, paths: 0));
    }

    [Fact]
    public void TheValidationTailChoosesTheTransformation()
    {
        // exponential growth with a multiplicative season: a min-max scaled network cannot reach values above its
        // training range undifferenced, so a differenced candidate must win; the trials are reported in order
        var random = new RandomGenerator(2);
        var growth = Enumerable.Range(0, 96).Select(t => 100 * Math.Exp(0.03 * t) * (1 + 0.2 * Math.Sin(Math.PI * t
            / 6)) * (1 + 0.01 * random.NextNormal())).ToArray();
        var options = new ForecasterOptions(Window: 12, Horizon: 12, HiddenSize: 8, Epochs: 30, ValidationSize: 12);
        var trials = Forecaster.TryTransforms(growth, options, 12);
        Assert.Equal([(false, 0), (false, 1), (true, 0), (true, 1)], trials.Select(t => (t.Log, t.DifferenceLag)));
        Assert.All(trials, t => Assert.True(double.IsFinite(t.ValidationMase) && t.ValidationMase >= 0));
        var best = trials.MinBy(t => t.ValidationMase)!;
        Assert.Equal(1, best.DifferenceLag);
        Assert.True(best.ValidationMase < trials.Where(t => t.DifferenceLag == 0).Min(t => t.ValidationMase));
        // a series with values ≤ 0 is not offered logarithms
        var shifted = growth.Select(v => v - 150).ToArray();
        Assert.DoesNotContain(Forecaster.TryTransforms(shifted, options with { Epochs = 1 }, 12), t => t.Log);
        Assert.Throws<ArgumentException>(() => Forecaster.TryTransforms(growth, options with { ValidationSize = 0 },
            12));
        Assert.Equal("log, differenced at lag 1", new TransformTrial(true, 1, 0).ToString());
    }

    [Fact]
    public void TheValidationTailChoosesTheModelToTrust()
    {
        // a clean trend plus season: the classical methods fit it almost exactly, a 2-epoch network does not
        string csv = Path.Combine(folder, "clean.csv");
        var series = SeasonalSeries(72);
        File.WriteAllLines(csv, ["t,v", .. series.Select((v, t) => FormattableString.Invariant($"{t},{v}"))]);
        var output = new StringWriter();
        var console = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "v", "--window", "6",
                "--horizon", "3", "--test-size", "6", "--epochs", "2", "--hidden", "4", "--json", "--threads", "1",
                "--out", Path.Combine(folder, "select")));
        }
        finally { Console.SetOut(console); }
        string text = output.ToString();
        var rows = System.Text.Json.JsonDocument.Parse(text[text.IndexOf("[{",
            StringComparison.Ordinal)..(text.LastIndexOf("}]", StringComparison.Ordinal)
            + 2)]).RootElement.EnumerateArray().ToArray();
        // neither --log nor --difference: the transformation was chosen on the validation tail, and reported
        Assert.True(rows[0].GetProperty("transform_chosen").GetBoolean());
        Assert.Contains("differenced", rows[0].GetProperty("transform").GetString());
        var chosen = Assert.Single(rows, r => r.GetProperty("chosen").GetBoolean());
        Assert.Equal(rows.Min(r => r.GetProperty("validation_mase").GetDouble()),
            chosen.GetProperty("validation_mase").GetDouble());
        Assert.DoesNotContain("lstm", chosen.GetProperty("model").GetString());
        // Theta and ETS carry 95% intervals scored by coverage and MSIS, and Theta's is drawn on its own figure
        var theta = Assert.Single(rows, r => r.GetProperty("model").GetString() == "Theta");
        Assert.InRange(theta.GetProperty("coverage_95").GetDouble(), 0, 1);
        Assert.True(Assert.Single(rows, r => r.GetProperty("model").GetString()!.StartsWith("ETS (AICc"))
            .GetProperty("msis_95").GetDouble() > 0);
        Assert.False(Assert.Single(rows, r => r.GetProperty("model").GetString() == "naive")
            .TryGetProperty("coverage_95", out _));
        // the network's interval comes from its simulated paths
        Assert.InRange(rows[0].GetProperty("coverage_95").GetDouble(), 0, 1);
        Assert.True(File.Exists(Path.Combine(folder, "select", "forecast-interval.png")));
        // with --validation-size 0 nothing is held out and nothing chosen
        output.GetStringBuilder().Clear();
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "v", "--window", "6",
                "--horizon", "3", "--test-size", "6", "--epochs", "2", "--hidden", "4", "--json", "--threads", "1",
                "--validation-size", "0", "--out", Path.Combine(folder, "noselect")));
        }
        finally { Console.SetOut(console); }
        Assert.DoesNotContain("\"chosen\"", output.ToString());
        Assert.Contains("\"transform\":\"as is, undifferenced\",\"transform_chosen\":false", output.ToString());
    }
}
