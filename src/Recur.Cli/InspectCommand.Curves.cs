using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Recur.Figures;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

static partial class InspectCommand
{
    static Command Curves()
    {
        var runs = new Argument<string[]>("runs")
        {
            Description = "Run folders (with metrics.jsonl) or metrics.jsonl files.",
            Arity = ArgumentArity.OneOrMore,
        };
        var metric = new Option<string>("--metric")
        {
            Description = "Validation metric to draw beside the training loss.",
            DefaultValueFactory = _ => "loss",
        };
        var linear = new Option<bool>("--linear")
        {
            Description = "Linear vertical axis (default: log scale when every value is positive).",
        };
        var output = OutOption("curves");
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var command = new Command("curves",
            "Training curves from runs' metrics.jsonl: training loss and a validation metric against optimizer steps.")
        {
            runs, metric, linear, output, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var paths = r.GetValue(runs)!;
            string name = r.GetValue(metric)!;
            var (series, summary) = CurveSeries(paths, name);
            bool log = !r.GetValue(linear) && series.All(s => s.Y.All(v => v > 0));
            var files = Charts.Lines(r.GetValue(output)!, "Training curves", "optimizer step", name, series, logY: log);
            if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary));
            else
            {
                var table
                    = new Table().Title("Runs").AddColumn("run").AddColumn(new TableColumn("steps").RightAligned())
                    .AddColumn(new TableColumn("last train loss").RightAligned()).AddColumn(new TableColumn(
                        $"last valid {name}").RightAligned());
                foreach (var s in summary) table.AddRow(Markup.Escape(s.Run),
                    s.Steps.ToString(CultureInfo.InvariantCulture), Number(s.TrainLoss), Number(s.Valid));
                AnsiConsole.Write(table);
            }
            CliOutput.PrintFiles(files, r.GetValue(json));
            return 0;
        }));
        return command;
    }

    internal sealed record CurveSummary(string Run, long Steps, double TrainLoss, double Valid);

    /// <summary>Training-loss and validation-metric series of each run, and a one-line summary of each.</summary>
    internal static (List<Series> Series, List<CurveSummary> Summary) CurveSeries(IEnumerable<string> runs,
        string metric, bool withTraining = true)
    {
        var series = new List<Series>();
        var summary = new List<CurveSummary>();
        foreach (string run in runs)
        {
            string file = Directory.Exists(run) ? Path.Combine(run, "metrics.jsonl") : run;
            string label = Path.GetFileName(Path.TrimEndingDirectorySeparator(Directory.Exists(run) ? run
                : Path.GetDirectoryName(Path.GetFullPath(run))!));
            var entries = MetricsLog.Read(file);
            var train = entries.Where(e => e.Type == "train" && e.Values.ContainsKey("loss")).ToList();
            var valid = entries.Where(e => e.Type == "eval" && e.Values.ContainsKey(metric)).ToList();
            if (train.Count == 0
                && valid.Count == 0) throw new InvalidDataException(
                $"{file}: no training records and no validation records with '{metric}'.");
            if (withTraining && train.Count > 0) series.Add(new($"{label} train loss",
                train.Select(e => (double)e.Step).ToArray(), train.Select(e => e.Values["loss"]).ToArray()));
            if (valid.Count > 0) series.Add(new($"{label} valid {metric}", valid.Select(e => (double)e.Step).ToArray(),
                valid.Select(e => e.Values[metric]).ToArray()));
            summary.Add(new(label, entries.Max(e => e.Step), train.Count > 0 ? train[^1].Values["loss"] : double.NaN,
                valid.Count > 0 ? valid[^1].Values[metric] : double.NaN));
        }
        return (series, summary);
    }
}
