using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using CsvHelper;
using Recur.Cli.Data;
using Recur.Cli.Training;
using Recur.Forecasting;
using Recur.Kernels;
using Recur.Nn.Recurrent;
using Recur.Serialization;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur forecast train --series-column ID</c>: many series from one long-format CSV, the last values of each held
/// out; a global recurrent forecaster trained across all of them beside the classical methods fitted per series, scored
/// by the M3/M4 conventions (sMAPE, MASE averaged over series) overall and per category.
/// </summary>
static partial class ForecastCommand
{

    /// <summary>
    /// A classical method fitted on one series' history: forecasts of the given horizon and, where the method has
    /// them, 95% prediction intervals.
    /// </summary>
    sealed record Method(string Name, Func<double[], int, (double[] Forecast, ForecastInterval? Interval)> Fit);

    static Method Point(string name, Func<double[], int, double[]> forecast) =>
        new(name, (y, h) => (forecast(y, h), null));

    static Method[] ClassicalMethods(int season) =>
    [
        new("Theta", (y, h) =>
        {
            var theta = ThetaMethod.Fit(y, season);
            return (theta.Forecast(h), theta.Interval(h, 0.95));
        }),
        new("ETS (AICc)", (y, h) =>
        {
            var ets = ExponentialSmoothing.Auto(y, season);
            return (ets.Forecast(h), ets.Interval(h, 0.95));
        }),
        Point("damped trend (ETS(A,Ad,N))", (y, h) => ExponentialSmoothing.Fit(y,
            new EtsModel(ErrorKind.Additive, TrendKind.Damped, SeasonKind.None)).Forecast(h)),
        Point("simple exponential smoothing", (y, h) => ExponentialSmoothing.Fit(y,
            new EtsModel(ErrorKind.Additive, TrendKind.None, SeasonKind.None)).Forecast(h)),
        Point("naive", (y, h) => Baselines.Naive(y, h)),
        Point($"seasonal naive (s = {season})", (y, h) => Baselines.SeasonalNaive(y, h, season)),
    ];

    /// <summary>Everything after the options are read: the many-series comparison.</summary>
    internal static int TrainMany(string csvPath, IReadOnlyList<SeriesFiles.PanelSeries> panel, bool categoryInput,
        int test, int season, GlobalForecasterOptions options, DeepArOptions? deepAr, EsRnnOptions? esRnn, bool combine,
        int members, string folder, bool overwrite, bool json)
    {
        int shortest = panel.Min(s => s.Values.Length);
        var tooShort = panel.First(s => s.Values.Length == shortest);
        if (shortest < test + Math.Max(2 * season, 3) + 1)
            throw new UsageException($"{csvPath}: series '{tooShort.Id}' (from line {tooShort.FirstLine}) has "
                + $"{shortest} values: too few for a test period of {test} and two seasons of {season} before it.");
        var categories = panel.Select(s => s.Category).Distinct().Order(StringComparer.Ordinal).ToArray();
        bool useCategories = categoryInput && categories.Length > 1;
        options = options with
        {
            Horizon = test,
            SeasonLength = season,
            Categories = useCategories ? categories.Length : 0
        };
        options.Validate();
        deepAr = deepAr is null ? null : deepAr with
        {
            Horizon = test,
            SeasonLength = season,
            Categories = options.Categories
        };
        deepAr?.Validate();
        esRnn = esRnn is null ? null : esRnn with
        {
            Horizon = test,
            SeasonLength = season,
            Categories = options.Categories
        };
        esRnn?.Validate();
        // the network correcting Theta and ES-RNN work on logarithms: say which value of which series stops them
        bool hybridTrained = deepAr is null && esRnn is null || combine;
        if (hybridTrained || esRnn is not null)
            foreach (var series in panel)
                for (int k = 0; k < series.Values.Length; k++)
                    if (!(series.Values[k] > 0))
                        throw new UsageException($"{csvPath}: series '{series.Id}' (from line {series.FirstLine}) has "
                            + $"{series.Values[k].ToString(CultureInfo.InvariantCulture)} as its value {k + 1}; "
                            + (hybridTrained ? "the network correcting Theta" : "ES-RNN") + " works on logarithms "
                            + "and needs positive values (--likelihood alone trains DeepAR, which does not).");
        var train = panel.Select(s => s.Values[..^test]).ToList();
        var actual = panel.Select(s => s.Values[^test..]).ToList();
        var categoryIndex = useCategories
            ? panel.Select(s => Array.IndexOf(categories, s.Category)).ToList() : null;
        bool categorised = categories is not [""];
        string categoryNote = categorised ? $", {categories.Length} categories" : "";
        int longest = panel.Max(s => s.Values.Length);
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(Path.GetFileName(csvPath))}[/]: {panel.Count} series "
            + $"({shortest} to {longest} values{Markup.Escape(categoryNote)}), the last {test} of each held out.");

        var results = new List<(string Name, double[][] Forecasts, ForecastInterval?[] Intervals, double Seconds)>();
        var clock = Stopwatch.StartNew();
        string ensembleNote = members > 1 ? $" (ensemble of {members})" : "";
        if (combine && deepAr is null && esRnn is null)
            throw new UsageException("--combine needs --likelihood or --es-rnn: it averages DeepAR or ES-RNN with the "
                + "network correcting Theta.");
        // a global network: members trained with seeds seed, seed + 1, … and averaged (their interval bounds too:
        // quantile averaging); null when interrupted
        var networkFolders = new JsonArray();
        (string Name, double[][] Forecasts, ForecastInterval?[] Intervals, double Seconds)? TrainGlobal(string name,
            Func<int, IPanelForecaster> build, double coverage, string memberRoot)
        {
            clock.Restart();
            networkFolders.Add(new JsonObject
            {
                ["name"] = name, ["folder"] = Path.GetRelativePath(folder, memberRoot).Replace('\\', '/')
            });
            var sum = panel.Select(_ => new double[test]).ToArray();
            var lowerSum = panel.Select(_ => new double[test]).ToArray();
            var upperSum = panel.Select(_ => new double[test]).ToArray();
            for (int k = 0; k < members; k++)
            {
                var member = build(k);
                string memberFolder = members == 1 ? memberRoot : Path.Combine(memberRoot, $"member-{k + 1}");
                var result = TrainingOptions.Run((observer, token) => member.Fit(train, categoryIndex, validate: true,
                    new Recur.Training.TrainerOptions
                    {
                        OutputDirectory = memberFolder, LogEvery = 1000, Overwrite = overwrite
                    },
                    observer, token));
                if (result.Outcome == Recur.Training.TrainingOutcome.Interrupted) return null;
                var (forecasts, memberIntervals) = coverage > 0 ? member.ForecastWithIntervals(train, categoryIndex)
                    : (member.Forecast(train, categoryIndex), null);
                AddShare(sum, forecasts, members);
                if (memberIntervals is null) continue;
                AddShare(lowerSum, memberIntervals.Select(i => i.Lower).ToArray(), members);
                AddShare(upperSum, memberIntervals.Select(i => i.Upper).ToArray(), members);
            }
            var intervals = panel.Select((_, s) => coverage > 0
                ? new ForecastInterval(lowerSum[s], upperSum[s], coverage) : null).ToArray();
            return (name + ensembleNote, sum, intervals, clock.Elapsed.TotalSeconds);
        }
        // the networks asked for, each with its name, its members and, under --combine, its own folder
        var networks = new List<(string Name, Func<int, IPanelForecaster> Build, double Coverage, string Folder)>();
        if (hybridTrained)
            networks.Add(($"global {options.Cell.Name()}{(options.ThetaBase ? " on Theta" : "")}",
                k => new GlobalForecaster(options with { Seed = options.Seed + (ulong)k }), options.IntervalCoverage,
                "hybrid"));
        if (deepAr is not null)
            networks.Add(($"DeepAR {deepAr.Cell.Name()}, {LikelihoodName(deepAr.Likelihood)}",
                k => new DeepArForecaster(deepAr with { Seed = deepAr.Seed + (ulong)k }), deepAr.IntervalCoverage,
                "deepar"));
        if (esRnn is not null)
            networks.Add(($"ES-RNN {esRnn.Cell.Name()}"
                + (esRnn.Specialists > 1 ? $" ({esRnn.Specialists} specialists)" : ""),
                k => new EsRnnForecaster(esRnn with { Seed = esRnn.Seed + (ulong)k }), esRnn.IntervalCoverage,
                "es-rnn"));
        foreach (var (name, build, coverage, subfolder) in networks)
        {
            var trained = TrainGlobal(name, build, coverage, combine ? Path.Combine(folder, subfolder) : folder);
            if (trained is null) return 130;
            results.Add(trained.Value);
        }
        if (combine)
        {
            // the equal-weight mean of the networks' forecasts (and of their bounds when all have intervals)
            var trained = results.ToArray();
            var bounds = panel.Select((_, s) => trained.All(n => n.Intervals[s] != null)
                ? new ForecastInterval(MeanOf([.. trained.Select(n => n.Intervals[s]!.Lower)]),
                    MeanOf([.. trained.Select(n => n.Intervals[s]!.Upper)]), trained[0].Intervals[s]!.Coverage)
                : null).ToArray();
            results.Add(($"mean of the {trained.Length} networks{ensembleNote}",
                MeanForecasts([.. trained.Select(n => n.Forecasts)]), bounds, trained.Sum(n => n.Seconds)));
        }
        foreach (var method in ClassicalMethods(season))
        {
            clock.Restart();
            // series are independent: fitted in parallel, each deterministic, results in series order
            var fits = train.AsParallel().AsOrdered().WithDegreeOfParallelism(Parallelism.MaxThreads)
                .Select(y => method.Fit(y, test)).ToArray();
            results.Add((method.Name, fits.Select(f => f.Forecast).ToArray(), fits.Select(f => f.Interval).ToArray(),
                clock.Elapsed.TotalSeconds));
        }

        var table = new Table().Title($"{panel.Count} series, last {test} values: mean over series").AddColumn("model");
        table.AddColumn(new TableColumn("sMAPE %").RightAligned()).AddColumn(new TableColumn("MASE").RightAligned());
        table.AddColumn(new TableColumn("95% PI cover").RightAligned());
        // (the global network's intervals, with --intervals, are also at 95%)
        table.AddColumn(new TableColumn("MSIS").RightAligned());
        var shown = categorised ? categories : [];
        foreach (var category in shown) table.AddColumn(new TableColumn($"{category} sMAPE").RightAligned());
        table.AddColumn(new TableColumn("seconds").RightAligned());
        var rows = new JsonArray();
        foreach (var (name, forecasts, intervals, seconds) in results)
        {
            // interval scores (M4's MSIS at 95%) where every series has an interval
            var scores = intervals.All(i => i != null)
                ? intervals.Select((interval, i) => IntervalScore.Compute(actual[i], interval!, train[i], season))
                    .ToArray()
                : null;
            double cover = scores?.Average(x => x.Coverage) ?? double.NaN;
            double msis = scores?.Where(x => double.IsFinite(x.Msis)).Average(x => x.Msis) ?? double.NaN;
            var metrics = panel.Select((s, i) => ForecastMetrics.Compute(actual[i], forecasts[i], train[i],
                season)).ToArray();
            double smape = metrics.Average(m => m.Smape), mase = metrics.Where(m =>
                double.IsFinite(m.Mase)).Average(m => m.Mase);
            var perCategory = shown.Select(c => metrics.Where((_, i) => panel[i].Category == c).Average(m => m.Smape))
                .ToArray();
            table.AddRow([Markup.Escape(name), F(smape), F(mase), F(100 * cover), F(msis), .. perCategory.Select(F),
                F(seconds)]);
            var row = new JsonObject { ["model"] = name, ["smape"] = smape, ["mase"] = mase, ["seconds"] = seconds };
            if (scores != null)
            {
                row["coverage_95"] = cover;
                row["msis_95"] = msis;
            }
            if (shown.Length > 0)
                row["smape_by_category"] = new JsonObject(shown.Select((c, k) =>
                    KeyValuePair.Create(c, (JsonNode?)perCategory[k])));
            rows.Add(row);
        }
        if (json) Console.WriteLine(rows.ToJsonString());
        else AnsiConsole.Write(table);
        WritePanelForecasts(Path.Combine(folder, "forecast.csv"), panel, actual, results);
        // what `forecast predict` needs to continue these series with the networks: their ids (an ES-RNN's
        // parameters are per series, in this order), the categories fed to the networks, where each network is
        var record = new JsonObject
        {
            ["horizon"] = test, ["season"] = season,
            ["series"] = new JsonArray([.. panel.Select(p => (JsonNode?)p.Id)]),
            ["categories"] = useCategories ? new JsonArray([.. categories.Select(c => (JsonNode?)c)]) : null,
            ["networks"] = networkFolders, ["combine"] = combine,
        };
        AtomicFile.WriteAllText(Path.Combine(folder, PanelFile), record.ToJsonString());
        AtomicFile.WriteAllText(Path.Combine(folder, "comparison.json"), rows.ToJsonString());
        if (!json) Console.WriteLine($"wrote {Path.GetFullPath(Path.Combine(folder, "forecast.csv"))}");
        return 0;
    }

    /// <summary>sum[s][h] += forecasts[s][h] / members: one member's share of an ensemble's mean.</summary>
    static void AddShare(double[][] sum, double[][] forecasts, int members)
    {
        for (int s = 0; s < sum.Length; s++)
            for (int h = 0; h < sum[s].Length; h++) sum[s][h] += forecasts[s][h] / members;
    }

    /// <summary>The equal-weight mean of several models' forecasts [series][step].</summary>
    static double[][] MeanForecasts(double[][][] models) =>
        [.. models[0].Select((_, s) => MeanOf([.. models.Select(m => m[s])]))];

    /// <summary>The elementwise mean of equally long vectors.</summary>
    static double[] MeanOf(double[][] vectors) =>
        [.. vectors[0].Select((_, h) => vectors.Average(v => v[h]))];

    /// <summary>The file of a many-series run that says which series and networks it has.</summary>
    internal const string PanelFile = "panel.json";

    /// <summary>
    /// <c>forecast predict</c> for a run of many series: every network of the run (each an ensemble's members
    /// averaged) forecasts the next horizon of every series from all its values, and with <c>--combine</c> their
    /// mean; written one row per series and step.
    /// </summary>
    internal static int PredictMany(string folder, string csvPath, IReadOnlyList<SeriesFiles.PanelSeries> panel,
        string output)
    {
        string recordPath = Path.Combine(folder, PanelFile);
        var record = ConfigJson.ReadObject(recordPath);
        string[] Strings(string field) => record[field] is JsonArray array
            ? [.. array.Select(v => v?.GetValue<string>() ?? throw new InvalidDataException(
                $"{recordPath}: '{field}' holds a null."))]
            : throw new InvalidDataException($"{recordPath}: '{field}' is missing.");
        var trainedIds = Strings("series");
        var categories = record["categories"] is null ? null : Strings("categories");
        int horizon = record["horizon"]?.GetValue<int>() ?? throw new InvalidDataException(
            $"{recordPath}: 'horizon' is missing.");
        var networks = record["networks"] as JsonArray ?? throw new InvalidDataException(
            $"{recordPath}: 'networks' is missing.");
        var categoryIndex = categories is null ? null : panel.Select(s =>
        {
            int index = Array.IndexOf(categories, s.Category);
            return index >= 0 ? index : throw new UsageException($"{csvPath}: series '{s.Id}' (from line "
                + $"{s.FirstLine}) has category '{s.Category}', which the networks were not trained with "
                + $"({string.Join(", ", categories)}).");
        }).ToList();
        var histories = panel.Select(s => s.Values).ToList();
        var results = new List<(string Name, double[][] Forecasts, ForecastInterval?[] Intervals, double Seconds)>();
        foreach (var network in networks)
        {
            string name = network?["name"]?.GetValue<string>() ?? "network";
            string root = Path.Combine(folder, network?["folder"]?.GetValue<string>() ?? ".");
            var members = TrainedModels.Members(root);
            var sum = panel.Select(_ => new double[horizon]).ToArray();
            foreach (string member in members)
                AddShare(sum, PanelMember(member, panel, trainedIds, csvPath).Forecast(histories, categoryIndex),
                    members.Length);
            results.Add((name, sum, new ForecastInterval?[panel.Count], 0));
        }
        if (record["combine"]?.GetValue<bool>() == true && results.Count > 1)
            results.Add(($"mean of the {results.Count} networks", MeanForecasts([.. results.Select(n => n.Forecasts)]),
                new ForecastInterval?[panel.Count], 0));
        var text = new StringWriter();
        using (var csv = CsvWriter.Create(text, new CsvWriterOptions(), true))
        {
            csv.WriteRecord(["series", "step", .. results.Select(r => r.Name)]);
            for (int s = 0; s < panel.Count; s++)
                for (int h = 0; h < horizon; h++)
                    csv.WriteRecord([panel[s].Id, $"+{h + 1}",
                        .. results.Select(r => r.Forecasts[s][h].ToString("R", CultureInfo.InvariantCulture))]);
            csv.Flush();
        }
        AtomicFile.WriteAllText(output, text.ToString());
        AnsiConsole.MarkupLine($"{panel.Count} series, {horizon} steps after the last value of each, from "
            + $"{Markup.Escape(string.Join(", ", results.Select(r => r.Name)))}.");
        Console.WriteLine($"wrote {Path.GetFullPath(output)}");
        return 0;
    }

    /// <summary>
    /// One trained network of a many-series run, rebuilt from its checkpoint's configuration. An ES-RNN's parameters
    /// belong to the series it was trained on, so the file must hold exactly those, in the order trained.
    /// </summary>
    static IPanelForecaster PanelMember(string member, IReadOnlyList<SeriesFiles.PanelSeries> panel,
        string[] trainedIds, string csvPath)
    {
        IPanelForecaster? forecaster = null;
        // Open checks the files against the manifest once, then loads the weights into the network built here
        Checkpoint.Open(member, config =>
        {
            forecaster = config["architecture"]?.GetValue<string>() switch
            {
                "global_forecaster" => GlobalForecaster.FromConfig(config),
                "deepar" => DeepArForecaster.FromConfig(config),
                "es_rnn" => EsRnnForecaster.FromConfig(config),
                var other => throw new InvalidDataException($"architecture '{other}' is not a many-series forecaster."),
            };
            if (forecaster is EsRnnForecaster)
                for (int s = 0; s < Math.Max(panel.Count, trainedIds.Length); s++)
                    if (s >= panel.Count || s >= trainedIds.Length || panel[s].Id != trainedIds[s])
                        throw new UsageException($"{csvPath}: the ES-RNN of {member} learned smoothing parameters for "
                            + $"the {trainedIds.Length} series it was trained on, in their order; "
                            + (s >= panel.Count ? $"series '{trainedIds[s]}' is missing"
                                : s >= trainedIds.Length ? $"series '{panel[s].Id}' (line {panel[s].FirstLine}) is new"
                                : $"series '{panel[s].Id}' (line {panel[s].FirstLine}) stands where '{trainedIds[s]}' "
                                    + "did")
                            + ".");
            return forecaster.Network;
        });
        return forecaster!;
    }

    /// <summary>The CLI's name of a likelihood.</summary>
    internal static string LikelihoodName(Likelihood likelihood) => likelihood switch
    {
        Likelihood.Gaussian => "gaussian",
        Likelihood.StudentT => "student-t",
        _ => "negative-binomial",
    };

    /// <summary>One row per series and step: the actual value and every model's forecast.</summary>
    static void WritePanelForecasts(string path, IReadOnlyList<SeriesFiles.PanelSeries> panel, List<double[]> actual,
        List<(string Name, double[][] Forecasts, ForecastInterval?[] Intervals, double Seconds)> results)
    {
        var text = new StringWriter();
        using (var csv = CsvWriter.Create(text, new CsvWriterOptions(), true))
        {
            // every model's forecast, then the 95% interval bounds of the models that give them
            var bounded = results.Where(r => r.Intervals.All(i => i != null)).ToList();
            csv.WriteRecord(["series", "step", "actual", .. results.Select(r => r.Name),
                .. bounded.SelectMany(r => new[] { $"{r.Name} lower 95%", $"{r.Name} upper 95%" })]);
            static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);
            for (int s = 0; s < panel.Count; s++)
                for (int h = 0; h < actual[s].Length; h++)
                    csv.WriteRecord([panel[s].Id, (h + 1).ToString(CultureInfo.InvariantCulture), Text(actual[s][h]),
                        .. results.Select(r => Text(r.Forecasts[s][h])),
                        .. bounded.SelectMany(r => new[]
                        {
                            Text(r.Intervals[s]!.Lower[h]), Text(r.Intervals[s]!.Upper[h])
                        })]);
            csv.Flush();
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }
}
