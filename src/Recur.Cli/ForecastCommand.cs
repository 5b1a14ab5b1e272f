using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using CsvHelper;
using Recur.Cli.Data;
using Recur.Cli.Training;
using Recur.Figures;
using Recur.Forecasting;
using Recur.Kernels;
using Recur.Nn.Recurrent;
using Recur.Serialization;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur forecast train|predict</c>: one series from a CSV file, a chronological split, a neural forecaster against
/// the classical baselines on the same test period, a table of every metric and a plot.
/// </summary>
static partial class ForecastCommand
{
    static GapFill? ParseFill(string? text) => text switch
    {
        null => null,
        "interpolate" => GapFill.Interpolate,
        "previous" => GapFill.Previous,
        "drop" => GapFill.Drop,
        _ => throw new UsageException($"--fill '{text}' is not interpolate, previous or drop."),
    };

    static Option<string?> FillOption()
    {
        var fill = new Option<string?>("--fill")
        {
            Description = "How to treat gaps (empty or NA cells): interpolate (a straight line), previous (carry the "
                + "last value forward) or drop (remove the row). Without it a gap is an error naming its line."
        };
        fill.AcceptOnlyFromAmong("interpolate", "previous", "drop");
        return fill;
    }

    static Option<string?> CategoricalOption() => new("--categorical")
    {
        Description = "Comma-separated categorical columns (e.g. a weekday or a regime) the model also sees over the "
            + "window, one-hot: one 0/1 input per category; the categories are saved with the run (categorical.json) "
            + "for predict.",
    };

    /// <summary>The file beside a single-series run that keeps its categorical covariates' categories.</summary>
    const string CategoricalFile = "categorical.json";

    /// <summary>
    /// The one-hot columns of the categorical covariates, with the categories of <paramref name="levels"/> (from a
    /// trained run) or, when null, the sorted categories found in the file (returned for saving).
    /// </summary>
    static (double[][] Columns, Dictionary<string, string[]> Levels) OneHotColumns(string path, string[] names,
        string[][] cells, string[] dates, IReadOnlyDictionary<string, string[]>? levels)
    {
        var used = new Dictionary<string, string[]>();
        var columns = new List<double[]>();
        for (int k = 0; k < names.Length; k++)
        {
            string[] known = levels is null ? cells[k].Distinct().Order(StringComparer.Ordinal).ToArray()
                : levels.TryGetValue(names[k], out var saved) ? saved
                : throw new UsageException($"the model was not trained with the categorical column '{names[k]}' "
                    + $"(it knows {string.Join(", ", levels.Keys)}).");
            used[names[k]] = known;
            columns.AddRange(SeriesFiles.OneHot(path, names[k], cells[k], known, dates));
        }
        return ([.. columns], used);
    }

    static string[] CovariateNames(string? list) =>
        list is null ? [] : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static Command Create()
    {
        var command = new Command("forecast", "Time-series forecasting: an LSTM/GRU (or MLP) against naive, seasonal "
            + "naive and AR(p) on the same test period.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Predict());
        return command;
    }

    static Command Train()
    {
        var csv = new Option<string>("--csv") { Description = "CSV file with a header.", Required = true };
        var target = new Option<string?>("--target") { Description = "Column to forecast (not with --wide)." };
        var covariateList = new Option<string?>("--covariates")
        {
            Description = "Comma-separated columns the model also sees over the window (forecasts then reach at most "
                + "--horizon steps).",
        };
        var date = new Option<string?>("--date-column") { Description = "Date column (default: the first column)." };
        var categorical = CategoricalOption();
        var window = new Option<int>("--window")
        {
            Description = "Past values the model sees.",
            DefaultValueFactory = _ => 12,
        };
        var horizon = new Option<int>("--horizon")
        {
            Description = "Values predicted at once (longer forecasts continue recursively).",
            DefaultValueFactory = _ => 12,
        };
        var testSize = new Option<int>("--test-size")
        {
            Description = "Last values held out as the test period.",
            DefaultValueFactory = _ => 12,
        };
        var season = new Option<int>("--season")
        {
            Description = "Season length (seasonal naive, MASE; 12 for monthly data).",
            DefaultValueFactory = _ => 12,
        };
        var arOrder = new Option<int>("--ar-order")
        {
            Description = "Order p of the AR(p) baseline (default: the season length, and beside it the order by AIC).",
            DefaultValueFactory = _ => 0,
        };
        var model = new Option<string>("--model")
        {
            Description = $"A recurrent cell ({string.Join(", ", RecurrentCells.Names)}) or mlp.",
            DefaultValueFactory = _ => "lstm",
            HelpName = RecurrentCells.Choices + "|mlp",
        };
        model.AcceptOnlyFromAmong([.. RecurrentCells.Names, "mlp"]);
        var hidden = new Option<int>("--hidden") { Description = "Hidden units.", DefaultValueFactory = _ => 32 };
        var epochs = new Option<int>("--epochs")
        {
            Description = "Passes over the training windows.",
            DefaultValueFactory = _ => 300,
        };
        var lr = new Option<float>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => 5e-3f };
        var batch = new Option<int>("--batch")
        {
            Description = "Windows per mini-batch.",
            DefaultValueFactory = _ => 16,
        };
        var scaling = new Option<string>("--scaling")
        {
            Description = "minmax, standard or none (fitted on the training part).",
            DefaultValueFactory = _ => "minmax",
        };
        scaling.AcceptOnlyFromAmong("minmax", "standard", "none");
        var log = new Option<bool>("--log") { Description = "Model the logarithm of the series." };
        var difference = new Option<int>("--difference")
        {
            Description = "Difference at this lag (1, or the season for seasonal differencing; 0: none).",
            DefaultValueFactory = _ => 0,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1 };
        var walkForward = new Option<bool>("--walk-forward")
        {
            Description = "Score one-step-ahead forecasts made from the actual history at each test point, instead of "
                + "one forecast from the end of training.",
        };
        var ensemble = new Option<int>("--ensemble")
        {
            Description = "Train this many networks (seeds seed, seed + 1, …) and average their forecasts.",
            DefaultValueFactory = _ => 1,
        };
        var validation = new Option<int>("--validation-size")
        {
            Description = "Last training values held out to "
            + "choose the network's epoch and, scoring every model there, the model to trust (default: the test size "
            + "when the series is long enough; 0: none, keep the last epoch).", DefaultValueFactory = _ => 0
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for large kernels.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var output = new Option<string>("--out")
        {
            Description = "Run folder: checkpoint, metrics.jsonl, forecast.csv and the plot.",
            Required = true,
        };
        var overwrite = new Option<bool>(
            "--overwrite")
        { Description = "Replace an earlier run in --out (without it such a folder is refused)." };
        var json = new Option<bool>("--json") { Description = "Print the table as JSON." };
        var fill = FillOption();
        var seriesColumn = new Option<string?>("--series-column")
        {
            Description = "Many series in one long-format CSV (one observation a row), told apart by this column: one "
                + "global network is trained across all of them and compared with Theta, ETS and the naive methods "
                + "fitted per series (--test-size is then the horizon; unset network options take the global defaults)."
        };
        var categoryColumn = new Option<string?>("--category-column")
        {
            Description = "With --series-column: a column naming each series' category, for a per-category table."
        };
        var categoryInput = new Option<bool>("--category-input")
        {
            Description = "With --category-column: also feed the category to the network as a one-hot input."
        };
        var noTheta = new Option<bool>("--no-theta-base")
        {
            Description = "With --series-column: the network forecasts from scratch instead of correcting the Theta "
                + "method's forecast."
        };
        var wide = new Option<string?>("--wide")
        {
            Description = "Many series in a wide CSV: columns (one column a series, named by its header; a first "
                + "column of dates or --date-column aside) or rows (one row a series: its id in --series-column or the "
                + "first column, its values in the other columns). Series may have different lengths (empty cells "
                + "before and after); then as --series-column."
        };
        wide.AcceptOnlyFromAmong("columns", "rows");
        var likelihood = new Option<string?>("--likelihood")
        {
            Description = "With --series-column: train a DeepAR-style autoregressive network with this likelihood "
                + "(sampled paths give its median and 95% interval) instead of the network correcting Theta.",
            HelpName = "gaussian|student-t|negative-binomial",
        };
        likelihood.AcceptOnlyFromAmong("gaussian", "student-t", "negative-binomial");
        var esRnn = new Option<bool>("--es-rnn")
        {
            Description = "With --series-column: train the ES-RNN hybrid (Smyl 2020: each series' Holt-Winters level "
                + "and seasonality learned jointly with one LSTM shared by all) instead of the network correcting "
                + "Theta.",
        };
        var specialists = new Option<int>("--specialists")
        {
            Description = "With --es-rnn: train Smyl's ensemble of specialists, this many networks, each series in the "
                + "--specialists-per-series that forecast its training windows best (1: one network).",
            DefaultValueFactory = _ => 1,
        };
        var specialistsPerSeries = new Option<int>("--specialists-per-series")
        {
            Description = "With --specialists: networks each series belongs to (its forecast is their mean).",
            DefaultValueFactory = _ => 2,
        };
        var combine = new Option<bool>("--combine")
        {
            Description = "With --likelihood and/or --es-rnn: also train the network correcting Theta and add a row "
                + "with the mean of the networks' forecasts (a combination of recurrent models).",
        };
        var samples = new Option<int>("--samples")
        {
            Description = "With --likelihood: paths sampled per series.",
            DefaultValueFactory = _ => 200,
        };
        var intervalsOption = new Option<bool>("--intervals")
        {
            Description = "With --series-column: the network also forecasts the 2.5% and 97.5% quantiles, for 95% "
                + "prediction intervals scored by coverage and MSIS beside those of Theta and ETS."
        };
        var command = new Command("train",
            "Train a forecaster on the part before the test period and compare it with the baselines.")
        {
            csv, target, covariateList, categorical, date, window, horizon, testSize, season, arOrder, model, hidden,
                epochs, lr,
                batch, scaling, log, difference, seed, validation, walkForward, ensemble, threads, output, overwrite,
                    json, seriesColumn, wide, categoryColumn, categoryInput, noTheta, intervalsOption, fill, likelihood,
                        samples, esRnn, combine, specialists, specialistsPerSeries,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (r.GetValue(threads) < 1) throw new UsageException("--threads must be positive.");
            using var threadLimit = Parallelism.Limit(r.GetValue(threads));
            RunFolder.CheckNew(r.GetValue(output)!, r.GetValue(overwrite));
            string? layout = r.GetValue(wide);
            if (layout is not null && r.GetValue(target) is not null)
                throw new UsageException("--wide reads every series of the file: --target names the one column of a "
                    + "single series (or the value column of a long file).");
            if (layout is null && r.GetValue(target) is null)
                throw new UsageException("--target is required: the column to forecast (or --wide columns|rows for a "
                    + "file of many series).");
            if (r.GetValue(seriesColumn) is string || layout is not null)
            {
                if (r.GetValue(categorical) is not null)
                    throw new UsageException("--categorical is for a single series; with many series the category of "
                        + "each is --category-column (and --category-input feeds it to the network).");
                // the many-series path: options the user left unset take the global model's defaults
                var defaults = new GlobalForecasterOptions();
                T Given<T>(Option<T> option, T fallback) =>
                    r.GetResult(option) is { Implicit: false } ? r.GetValue(option)! : fallback;
                if (r.GetValue(model) == "mlp")
                    throw new UsageException(
                        "--series-column trains a recurrent network: --model names a cell, not mlp.");
                var global = defaults with
                {
                    Window = Given(window, defaults.Window),
                    Cell = RecurrentCells.Parse(Given(model, defaults.Cell.Name())!),
                    HiddenSize = Given(hidden, defaults.HiddenSize),
                    Epochs = Given(epochs, defaults.Epochs),
                    LearningRate = Given(lr, defaults.LearningRate),
                    Batch = Given(batch, defaults.Batch),
                    Seed = r.GetValue(seed),
                    ThetaBase = !r.GetValue(noTheta),
                    IntervalCoverage = r.GetValue(intervalsOption) ? 0.95 : 0,
                };
                DeepArOptions? deepAr = null;
                if (r.GetValue(likelihood) is string likelihoodName)
                {
                    if ((r.GetValue(noTheta) || r.GetValue(intervalsOption)) && !r.GetValue(combine))
                        throw new UsageException("--likelihood trains DeepAR, which has no Theta base and always "
                            + "gives intervals: leave out --no-theta-base and --intervals (unless --combine).");
                    var deepArDefaults = new DeepArOptions();
                    deepAr = deepArDefaults with
                    {
                        Context = Given(window, deepArDefaults.Context),
                        Likelihood = likelihoodName switch
                        {
                            "gaussian" => Likelihood.Gaussian,
                            "student-t" => Likelihood.StudentT,
                            _ => Likelihood.NegativeBinomial,
                        },
                        Cell = global.Cell,
                        HiddenSize = Given(hidden, deepArDefaults.HiddenSize),
                        Epochs = Given(epochs, deepArDefaults.Epochs),
                        LearningRate = Given(lr, deepArDefaults.LearningRate),
                        Batch = Given(batch, deepArDefaults.Batch),
                        Seed = r.GetValue(seed),
                        Samples = r.GetValue(samples),
                    };
                }
                else if (r.GetResult(samples) is { Implicit: false })
                    throw new UsageException("--samples needs --likelihood (the DeepAR model samples paths).");
                EsRnnOptions? esRnnOptions = null;
                if (r.GetValue(esRnn))
                {
                    if (r.GetValue(noTheta) && !r.GetValue(combine))
                        throw new UsageException("--es-rnn trains the ES-RNN hybrid, which has no Theta base: leave "
                            + "out --no-theta-base (unless --combine).");
                    var esDefaults = new EsRnnOptions();
                    esRnnOptions = esDefaults with
                    {
                        Window = Given(window, esDefaults.Window),
                        Cell = global.Cell,
                        HiddenSize = Given(hidden, esDefaults.HiddenSize),
                        Epochs = Given(epochs, esDefaults.Epochs),
                        LearningRate = Given(lr, esDefaults.LearningRate),
                        Batch = Given(batch, esDefaults.Batch),
                        Seed = r.GetValue(seed),
                        IntervalCoverage = r.GetValue(intervalsOption) ? 0.95 : 0,
                        Specialists = r.GetValue(specialists),
                        SpecialistsPerSeries = r.GetValue(specialistsPerSeries),
                    };
                }
                else if (r.GetResult(specialists) is { Implicit: false }
                    || r.GetResult(specialistsPerSeries) is { Implicit: false })
                    throw new UsageException("--specialists and --specialists-per-series need --es-rnn.");
                if (r.GetValue(testSize) < 1 || r.GetValue(season) < 1)
                    throw new UsageException("--test-size and --season must be positive.");
                if (r.GetValue(ensemble) < 1) throw new UsageException("--ensemble must be positive.");
                if (r.GetValue(categoryInput) && r.GetValue(categoryColumn) is null)
                    throw new UsageException("--category-input needs --category-column.");
                string path = r.GetValue(csv)!;
                var fillMode = ParseFill(r.GetValue(fill));
                var panel = layout is null
                    ? SeriesFiles.ReadPanel(path, r.GetValue(seriesColumn)!, r.GetValue(target)!,
                        r.GetValue(categoryColumn), fillMode)
                    : SeriesFiles.ReadWide(path, layout == "rows", r.GetValue(seriesColumn), r.GetValue(date),
                        r.GetValue(categoryColumn), fillMode);
                return TrainMany(path, panel, r.GetValue(categoryInput), r.GetValue(testSize), r.GetValue(season),
                    global, deepAr, esRnnOptions, r.GetValue(combine), r.GetValue(ensemble), r.GetValue(output)!,
                    r.GetValue(overwrite), r.GetValue(json));
            }
            if (r.GetValue(categoryColumn) != null || r.GetValue(noTheta) || r.GetValue(intervalsOption)
                || r.GetValue(likelihood) != null || r.GetValue(esRnn) || r.GetValue(combine))
                throw new UsageException("--category-column, --no-theta-base, --intervals, --likelihood, --es-rnn and "
                    + "--combine need --series-column.");
            var covariateNames = CovariateNames(r.GetValue(covariateList));
            var categoricalNames = CovariateNames(r.GetValue(categorical));
            var (dates, columns, categoryCells) = SeriesFiles.ReadColumns(r.GetValue(csv)!,
                [r.GetValue(target)!, .. covariateNames], categoricalNames, r.GetValue(date),
                ParseFill(r.GetValue(fill)));
            var values = columns[0];
            var (oneHot, categoryLevels) = OneHotColumns(r.GetValue(csv)!, categoricalNames, categoryCells, dates,
                null);
            var covariates = (double[][])[.. columns[1..], .. oneHot];
            int test = r.GetValue(testSize), s = r.GetValue(season);
            int order = r.GetValue(arOrder) > 0 ? r.GetValue(arOrder) : s;
            if (test < 1 || s < 1) throw new UsageException("--test-size and --season must be positive.");
            int needed = r.GetValue(window) + r.GetValue(horizon) + r.GetValue(difference) + 1;
            if (test >= values.Length)
                throw new UsageException(
                    $"--test-size {test} is not less than the series' {values.Length} values: nothing is left for "
                    + $"training (it needs at least {needed}).");
            if (values.Length - test < needed)
                throw new UsageException(
                    $"{values.Length} values leave {values.Length - test} for training: too few for a window of "
                    + $"{r.GetValue(window)} and a horizon of {r.GetValue(horizon)} (at least {needed}).");
            var train = values[..^test];
            var actual = values[^test..];
            // unless told otherwise, the last test-size training values are a validation tail: the network picks its
            // epoch there and every model is scored there, so that the table can say which one to trust
            int validationSize = r.GetResult(validation) is { Implicit: false } ? r.GetValue(validation)
                : train.Length - test >= needed + test ? test : 0;
            var options = new ForecasterOptions(r.GetValue(window), r.GetValue(horizon), r.GetValue(model)!,
                r.GetValue(hidden),
                r.GetValue(scaling) switch
                {
                    "standard" => ScalingKind.Standard,
                    "none" => ScalingKind.None,
                    _ => ScalingKind.MinMax
                },
                r.GetValue(log), r.GetValue(difference), r.GetValue(epochs), r.GetValue(lr), r.GetValue(batch),
                    r.GetValue(seed),
                validationSize, covariates.Length);
            double[][] CovariatesUpTo(int t) => covariates.Select(c => c[..t]).ToArray();
            string folder = r.GetValue(output)!;
            int members = r.GetValue(ensemble);
            if (members < 1) throw new UsageException("--ensemble must be positive.");
            string file = Path.GetFileName(r.GetValue(csv))!;
            AnsiConsole.MarkupInterpolated($"[bold]{file}[/], column {r.GetValue(target)}: {train.Length} training ");
            AnsiConsole.MarkupLineInterpolated(
                $"values ({dates[0]} … {dates[train.Length - 1]}), test {dates[train.Length]} … {dates[^1]}.");
            // neither --log nor --difference given: the transformation is chosen on the validation tail too
            bool chooseTransform = r.GetResult(log) is not { Implicit: false }
                && r.GetResult(difference) is not { Implicit: false } && validationSize > 0
                && train.Length - validationSize > s && train.Length - validationSize >= needed + 1;
            if (chooseTransform)
            {
                var trials = Forecaster.TryTransforms(train, options, s, CovariatesUpTo(train.Length));
                var best = trials.Where(t => double.IsFinite(t.ValidationMase)).DefaultIfEmpty(trials[0])
                    .MinBy(t => t.ValidationMase)!;
                options = options with { Log = best.Log, DifferenceLag = best.DifferenceLag };
                string tried = string.Join("; ", trials.Select(t => $"{t} {t.ValidationMase:F3}"));
                AnsiConsole.MarkupLine($"Transformation chosen on the validation tail: [bold]{best}[/] "
                    + $"(validation MASE {Markup.Escape(tried)}).");
            }
            // an ensemble trains one forecaster per seed (seed, seed + 1, …), each in its own folder, and averages
            // their forecasts
            var trained = new List<Forecaster>();
            for (int k = 0; k < members; k++)
            {
                var member = new Forecaster(options with { Seed = options.Seed + (ulong)k });
                string memberFolder = members == 1 ? folder : Path.Combine(folder, $"member-{k + 1}");
                var result = TrainingOptions.Run((observer, token) => member.Fit(train,
                    new TrainerOptions
                    {
                        OutputDirectory = memberFolder, LogEvery = 50,
                        Overwrite = r.GetValue(overwrite)
                    }, observer, token, CovariatesUpTo(train.Length)));
                if (result.Outcome == TrainingOutcome.Interrupted) return 130;
                trained.Add(member);
            }
            var forecaster = new TrainedModels.EnsembleForecast(trained);
            if (categoricalNames.Length > 0)
                AtomicFile.WriteAllText(Path.Combine(folder, CategoricalFile), new JsonObject(categoryLevels.Select(p =>
                    KeyValuePair.Create(p.Key, (JsonNode?)new JsonArray([.. p.Value.Select(v =>
                        (JsonNode?)JsonValue.Create(v))])))).ToJsonString());

            // the test period forecast from the end of the training part, or (walk-forward) one step at a time from the
            // actual history
            bool walk = r.GetValue(walkForward);
            double[] Predict(Func<double[], int, double[]> model) =>
                walk ? Enumerable.Range(train.Length, test).Select(t => model(values[..t],
                    1)[0]).ToArray() : model(train, test);
            // each model: its forecast of the test period, and of the validation tail from the history before it
            var models = new List<(string Name, Func<double[], int, double[]> Forecast, Func<double[], int,
                double[]> Validation)>
            {
                (members == 1 ? $"{options.Model} (this run)" : $"{options.Model} (ensemble of {members})",
                    (h, n) => forecaster.Forecast(h, n, CovariatesUpTo(h.Length)),
                    (h, n) => forecaster.Forecast(h, n, CovariatesUpTo(h.Length))),
            };
            if (options.Model != "mlp")
            {
                var mlp = new Forecaster(options with { Model = "mlp" });
                mlp.Fit(train, covariates: CovariatesUpTo(train.Length));
                Func<double[], int, double[]> mlpForecast = (h, n) => mlp.Forecast(h, n, CovariatesUpTo(h.Length));
                models.Add(("mlp on the window", mlpForecast, mlpForecast));
            }
            models.Add(("naive", (h, n) => Baselines.Naive(h, n), (h, n) => Baselines.Naive(h, n)));
            models.Add(($"seasonal naive (s = {s})", (h, n) => Baselines.SeasonalNaive(h, n, s),
                (h, n) => Baselines.SeasonalNaive(h, n, s)));
            // a series that an AR fits exactly (a constant, a pure cycle) has no least-squares solution to report: the
            // row is left out (a refit on the validation history that meets one is not scored, below)
            double[]? coefficients = null;
            try { coefficients = Baselines.FitAutoregression(train, order); }
            catch (InvalidOperationException e) { Console.Error.WriteLine($"note: AR({order}) left out: {e.Message}"); }
            if (coefficients is not null)
                models.Add(($"AR({order})", (h, n) => Baselines.Autoregression(h, coefficients, n),
                    (h, n) => Baselines.Autoregression(h, Baselines.FitAutoregression(h, order), n)));
            // without --ar-order, also the order Akaike's criterion picks (refitted and re-chosen on any history)
            if (r.GetValue(arOrder) <= 0 && train.Length >= 6)
            {
                int aicOrder = 0;
                double[]? chosenCoefficients = null;
                try
                {
                    aicOrder = Baselines.AutoregressionOrder(train);
                    chosenCoefficients = Baselines.FitAutoregression(train, aicOrder);
                }
                catch (InvalidOperationException e)
                {
                    Console.Error.WriteLine($"note: AR by AIC left out: {e.Message}");
                }
                if (chosenCoefficients is not null && aicOrder != order)
                    models.Add(($"AR({aicOrder}) by AIC", (h, n) => Baselines.Autoregression(h, chosenCoefficients, n),
                        (h, n) => Baselines.Autoregression(h,
                            Baselines.FitAutoregression(h, Baselines.AutoregressionOrder(h)), n)));
            }
            // exponential smoothing chosen by AICc on the training part (walking forward, its parameters run on over
            // the longer history) and the Theta method, refitted on whatever history it is given
            var ets = ExponentialSmoothing.Auto(train, s);
            string etsName = $"ETS (AICc: {ets.Model.Name})";
            models.Add((etsName,
                (h, n) => ExponentialSmoothing.Create(h, ets.Model, ets.Parameters).Forecast(n),
                (h, n) => ExponentialSmoothing.Auto(h, s).Forecast(n)));
            Func<double[], int, double[]> theta = (h, n) => ThetaMethod.Fit(h, s).Forecast(n);
            models.Add(("Theta", theta, theta));
            var forecasts = models.Select(m => (m.Name, Values: Predict(m.Forecast))).ToList();
            // scores on the validation tail (not in walk-forward mode, whose protocol differs)
            var validationMase = new double[models.Count];
            int chosen = -1;
            if (validationSize > 0 && !walk && train.Length - validationSize > s)
            {
                var before = train[..^validationSize];
                var tail = train[^validationSize..];
                // a model that cannot be refitted on the shorter history (too few values for its order, or one it fits
                // exactly) is not scored there and so never chosen
                for (int k = 0; k < models.Count; k++)
                    try
                    {
                        validationMase[k] = ForecastMetrics.Compute(tail, models[k].Validation(before, validationSize),
                            before, s).Mase;
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                    {
                        validationMase[k] = double.NaN;
                        Console.Error.WriteLine(
                            $"note: {models[k].Name} not scored on the validation tail: {e.Message}");
                    }
                chosen = Enumerable.Range(0, models.Count).Where(k => double.IsFinite(validationMase[k]))
                    .DefaultIfEmpty(-1).MinBy(k => k < 0 ? 0 : validationMase[k]);
            }
            // in-sample one-step fit of the network over the training part
            int first = options.Window + options.DifferenceLag;
            var fit = Enumerable.Range(first, train.Length - first).Select(t => forecaster.Forecast(values[..t], 1,
                CovariatesUpTo(t))[0]).ToArray();

            var table = new Table().Title($"Test period: last {test} values, original "
                + $"units{(walk ? ", one step ahead from the actual history" : "")}").AddColumn("model");
            foreach (var name in new[] { "RMSE", "MAE", "MAPE %", "sMAPE %",
                "MASE" }) table.AddColumn(new TableColumn(name).RightAligned());
            var rows = new System.Text.Json.Nodes.JsonArray();
            if (chosen >= 0) table.AddColumn(new TableColumn("validation MASE").RightAligned());
            // 95% intervals of the methods that give them, for the forecast from the end of the training part
            var intervals = new Dictionary<string, ForecastInterval>();
            if (!walk)
            {
                intervals[etsName] = ets.Interval(test, 0.95);
                intervals["Theta"] = ThetaMethod.Fit(train, s).Interval(test, 0.95);
                // the network's: its paths with its own validation errors added block by block
                intervals[models[0].Name] = forecaster.Interval(train, test, 0.95, CovariatesUpTo(train.Length));
                table.AddColumn(new TableColumn("95% PI cover").RightAligned());
                table.AddColumn(new TableColumn("MSIS").RightAligned());
            }
            for (int k = 0; k < forecasts.Count; k++)
            {
                var (name, forecast) = forecasts[k];
                var m = ForecastMetrics.Compute(actual, forecast, train, s);
                string label = k == chosen ? $"{name} (chosen)" : name;
                var score = intervals.TryGetValue(name, out var interval)
                    ? IntervalScore.Compute(actual, interval, train, s) : null;
                table.AddRow([Markup.Escape(label), F(m.Rmse), F(m.Mae), F(m.Mape), F(m.Smape), F(m.Mase),
                    .. chosen >= 0 ? [F(validationMase[k])] : Array.Empty<string>(),
                    .. walk ? Array.Empty<string>()
                        : [F(100 * (score?.Coverage ?? double.NaN)), F(score?.Msis ?? double.NaN)]]);
                var row = new System.Text.Json.Nodes.JsonObject
                {
                    ["model"] = name, ["rmse"] = m.Rmse, ["mae"] = m.Mae, ["mape"] = m.Mape, ["smape"] = m.Smape,
                    ["mase"] = m.Mase,
                };
                if (chosen >= 0)
                {
                    row["validation_mase"] = validationMase[k];
                    row["chosen"] = k == chosen;
                }
                if (k == 0)
                {
                    // the network's transformation, and whether the validation tail chose it
                    row["transform"] = new TransformTrial(options.Log, options.DifferenceLag, 0).ToString();
                    row["transform_chosen"] = chooseTransform;
                }
                if (score != null)
                {
                    row["coverage_95"] = score.Coverage;
                    row["msis_95"] = score.Msis;
                }
                rows.Add(row);
            }
            if (r.GetValue(json)) Console.WriteLine(rows.ToJsonString());
            else
            {
                AnsiConsole.Write(table);
                if (chosen >= 0)
                {
                    Console.WriteLine($"Chosen on the validation tail (the last {validationSize} training values, each "
                        + $"model fitted before it): {models[chosen].Name}.");
                    if (chosen != 0 && validationMase[chosen] < validationMase[0])
                    {
                        string better = $"{models[chosen].Name} ({F(validationMase[chosen])})";
                        Console.WriteLine($"The network scored MASE {F(validationMase[0])} there, worse than {better}: "
                            + "on this series, trust the latter.");
                    }
                }
            }

            WriteForecastCsv(Path.Combine(folder, "forecast.csv"), dates[^test..], actual, forecasts);
            var axis = Enumerable.Range(0, values.Length).Select(i => (double)i).ToArray();
            var testAxis = axis[^test..];
            var series = new List<Series> { new("history", axis, values),
                new($"{options.Model} fit (one step, training part)", axis[first..train.Length], fit) };
            series.AddRange(forecasts.Select(f => new Series(f.Name, testAxis, f.Values)));
            var files = Charts.Lines(Path.Combine(folder, "forecast"), $"{r.GetValue(target)}: test-period forecasts",
                $"time step ({dates[0]} = 0)", r.GetValue(target)!, series,
                legend: LegendCorner.UpperLeft);
            CliOutput.PrintFiles(files, r.GetValue(json));
            // a figure of its own for the fan: the history, Theta's forecast and its 95% interval, and what happened
            if (intervals.TryGetValue("Theta", out var fan))
            {
                var fanFiles = Charts.Lines(Path.Combine(folder, "forecast-interval"),
                    $"{r.GetValue(target)}: Theta's forecast and 95% prediction interval",
                    $"time step ({dates[0]} = 0)", r.GetValue(target)!,
                    [
                        new("history", axis[..train.Length], train), new("actual (test period)", testAxis, actual),
                        new("Theta forecast", testAxis, forecasts[^1].Values),
                        new("95% interval, lower", testAxis, fan.Lower),
                        new("95% interval, upper", testAxis, fan.Upper),
                    ], legend: LegendCorner.UpperLeft);
                CliOutput.PrintFiles(fanFiles, r.GetValue(json));
            }
            return 0;
        }));
        return command;
    }

    static void WriteForecastCsv(string path, string[] dates, double[]? actual, List<(string Name,
        double[] Values)> forecasts)
    {
        var text = new StringWriter();
        using (var csv = CsvWriter.Create(text, new CsvWriterOptions(), true))
        {
            var header = new List<string> { "date" };
            if (actual != null) header.Add("actual");
            header.AddRange(forecasts.Select(f => f.Name));
            csv.WriteRecord(header.ToArray());
            for (int i = 0; i < dates.Length; i++)
            {
                var row = new List<string> { dates[i] };
                if (actual != null) row.Add(actual[i].ToString("R", CultureInfo.InvariantCulture));
                row.AddRange(forecasts.Select(f => f.Values[i].ToString("R", CultureInfo.InvariantCulture)));
                csv.WriteRecord(row.ToArray());
            }
            csv.Flush();
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }

    static Command Predict()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur forecast train` (or a checkpoint in it).",
            Required = true,
        };
        var csv = new Option<string>("--csv") { Description = "CSV with the history to continue.", Required = true };
        var target = new Option<string?>("--target")
        {
            Description = "Column to continue (the value column of a long file of many series).",
        };
        var covariateList = new Option<string?>("--covariates")
        {
            Description = "The covariate columns the model was trained with, in the same order.",
        };
        var seriesColumn = new Option<string?>("--series-column")
        {
            Description = "For a run trained on many series: the column naming each series of a long-format CSV; "
                + "every network of the run forecasts its horizon after each series' last value.",
        };
        var categoryColumn = new Option<string?>("--category-column")
        {
            Description = "For a run trained on many series with --category-input: each series' category column.",
        };
        var wide = new Option<string?>("--wide")
        {
            Description = "For a run trained on many series: a wide CSV, one series a column or a row (as for "
                + "train).",
        };
        wide.AcceptOnlyFromAmong("columns", "rows");
        var date = new Option<string?>("--date-column") { Description = "Date column (default: the first column)." };
        var categorical = CategoricalOption();
        var steps = new Option<int>("--steps")
        {
            Description = "Values to forecast after the last row.",
            DefaultValueFactory = _ => 12,
        };
        var output = new Option<string>("--out")
        {
            Description = "CSV of forecasts to write.",
            DefaultValueFactory = _ => "forecast.csv",
        };
        var fill = FillOption();
        var command = new Command("predict",
            "Forecast the values after the end of a series with a trained forecaster; writes a CSV.")
        {
            model, csv, target, covariateList, categorical, date, steps, output, fill, seriesColumn, categoryColumn,
                wide,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string folder = r.GetValue(model)!;
            string? layout = r.GetValue(wide);
            bool many = r.GetValue(seriesColumn) is not null || layout is not null;
            if (many != File.Exists(Path.Combine(folder, PanelFile)))
                throw new UsageException(many
                    ? $"{folder} was trained on one series: leave out --series-column and --wide."
                    : $"{folder} was trained on many series: give them with --series-column (or --wide).");
            if (many)
            {
                if (r.GetResult(steps) is { Implicit: false } || r.GetValue(covariateList) is not null
                    || r.GetValue(categorical) is not null)
                    throw new UsageException("a many-series run forecasts the horizon it was trained for, without "
                        + "covariates: leave out --steps, --covariates and --categorical.");
                if (layout is null && r.GetValue(target) is null)
                    throw new UsageException("--target is required: the value column of the long-format file.");
                var panel = layout is null
                    ? SeriesFiles.ReadPanel(r.GetValue(csv)!, r.GetValue(seriesColumn)!, r.GetValue(target)!,
                        r.GetValue(categoryColumn), ParseFill(r.GetValue(fill)))
                    : SeriesFiles.ReadWide(r.GetValue(csv)!, layout == "rows", r.GetValue(seriesColumn),
                        r.GetValue(date), r.GetValue(categoryColumn), ParseFill(r.GetValue(fill)));
                return PredictMany(folder, r.GetValue(csv)!, panel, r.GetValue(output)!);
            }
            if (r.GetValue(target) is null) throw new UsageException("--target is required: the column to continue.");
            // the epoch chosen on validation when there was one, else the last
            var forecaster = new TrainedModels.EnsembleForecast(TrainedModels.Members(folder)
                .Select(TrainedModels.ForecasterMember).ToList());
            var categoricalNames = CovariateNames(r.GetValue(categorical));
            var (dates, columns, categoryCells) = SeriesFiles.ReadColumns(r.GetValue(csv)!,
                [r.GetValue(target)!, .. CovariateNames(r.GetValue(covariateList))], categoricalNames,
                r.GetValue(date), ParseFill(r.GetValue(fill)));
            // the categories the model was trained with, in the same order, from the run folder
            string levelsFile = Path.Combine(folder, CategoricalFile);
            if (categoricalNames.Length > 0 != File.Exists(levelsFile))
                throw new UsageException(categoricalNames.Length > 0
                    ? $"{folder} was trained without categorical covariates: leave out --categorical."
                    : $"{folder} was trained with categorical covariates ({levelsFile}): name them with "
                        + "--categorical.");
            var levels = categoricalNames.Length == 0 ? null : JsonNode.Parse(File.ReadAllText(levelsFile))!.AsObject()
                .ToDictionary(p => p.Key, p => p.Value!.AsArray().Select(v => v!.GetValue<string>()).ToArray());
            var (oneHot, _) = OneHotColumns(r.GetValue(csv)!, categoricalNames, categoryCells, dates, levels);
            int count = r.GetValue(steps);
            if (count < 1) throw new UsageException("--steps must be positive.");
            var forecast = forecaster.Forecast(columns[0], count, [.. columns[1..], .. oneHot]);
            var labels = Enumerable.Range(1, count).Select(k => $"+{k}").ToArray();
            WriteForecastCsv(r.GetValue(output)!, labels, null, [("forecast", forecast)]);
            var table
                = new Table().Title($"Forecast after {dates[^1]}").AddColumn("step").AddColumn(new TableColumn(
                "forecast").RightAligned());
            for (int k = 0; k < count; k++) table.AddRow(labels[k], F(forecast[k]));
            AnsiConsole.Write(table);
            Console.WriteLine($"wrote {Path.GetFullPath(r.GetValue(output)!)}");
            return 0;
        }));
        return command;
    }

    static string F(double v) => double.IsNaN(v) ? "–" : v.ToString("F2", CultureInfo.InvariantCulture);
}
