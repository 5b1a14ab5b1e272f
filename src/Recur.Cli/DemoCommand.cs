using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Recur.Cli.Training;
using Recur.Figures;
using Recur.Kernels;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Tasks;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur demo</c>: the tanh RNN against the LSTM and the GRU on the adding problem (Hochreiter &amp; Schmidhuber
/// 1997) at several sequence lengths, each trained for the same number of optimizer steps with the shared trainer, so
/// that a seed gives the same table on every machine. Predicting the mean gives MSE 1/6 ≈ 0.167; a model that carries
/// the two marked values across T steps gets far below it.
/// </summary>
static class DemoCommand
{
    /// <summary>Optimizer steps per cell and length unless <c>--steps</c> says otherwise.</summary>
    internal const int DefaultSteps = 1500;

    public static Command Create()
    {
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed for initialisation, data and shuffling.",
            DefaultValueFactory = _ => 1,
        };
        var lengths = new Option<string>("--lengths")
        {
            Description = "Comma-separated sequence lengths T.",
            DefaultValueFactory = _ => "10,50,100,200",
        };
        var cells = new Option<string>("--cells")
        {
            Description = $"Comma-separated cells ({string.Join(", ",
            RecurrentCells.Names)}).", DefaultValueFactory = _ => "rnn,lstm,gru"
        };
        var steps = new Option<int>("--steps")
        {
            Description = "Optimizer steps per cell and length (the same on every machine; the time is only printed).",
            DefaultValueFactory = _ => DefaultSteps,
        };
        var chrono = new Option<bool>("--chrono")
        {
            Description = "Chrono-initialise the LSTMs' gate biases for each length T (Tallec & Ollivier 2018); "
                + "false: the usual forget-gate bias 1.",
            DefaultValueFactory = _ => true,
        };
        var hidden = new Option<int>("--hidden") { Description = "Hidden units.", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch")
        {
            Description = "Sequences per mini-batch.",
            DefaultValueFactory = _ => 32,
        };
        var lr = new Option<float>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => 3e-3f };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for large kernels (default: all cores).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var output = new Option<string>("--out")
        {
            Description = "Folder for each run's metrics.jsonl and checkpoints.",
            DefaultValueFactory = _ => "recur-demo",
        };
        var demo = new Command("demo",
            "Tanh RNN vs LSTM vs GRU on the adding problem at growing lengths: where plain RNNs stop learning.")
        {
            seed, lengths, cells, steps, chrono, hidden, batch, lr, threads, output,
        };
        demo.SetAction(r => CommandErrors.Guard(() =>
        {
            int[] ts = Parse(r.GetValue(lengths)!, "--lengths").Select(s => int.TryParse(s,
                CultureInfo.InvariantCulture, out int t) && t >= 2 ? t
                : throw new UsageException($"--lengths: '{s}' is not a length ≥ 2.")).ToArray();
            string[] names = [.. CellOption.ParseList(r.GetValue(cells)!).Select(RecurrentCells.Name)];
            if (r.GetValue(steps) < 1 || r.GetValue(hidden) < 1 || r.GetValue(batch) < 1 || r.GetValue(threads) < 1
                || !(r.GetValue(lr) > 0))
                throw new UsageException("--steps, --hidden, --batch, --threads and --lr must be positive.");
            using var threadLimit = Parallelism.Limit(r.GetValue(threads));
            return Run(r.GetValue(seed), ts, names, r.GetValue(steps), r.GetValue(hidden), r.GetValue(batch),
                r.GetValue(lr),
                r.GetValue(chrono), r.GetValue(output)!);
        }));
        return demo;
    }

    /// <summary>Reads a comma-separated list of cell names, as <c>--cells</c> takes.</summary>

    static string[] Parse(string list, string option)
    {
        var items = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return items.Length > 0 ? items : throw new UsageException($"{option} is empty.");
    }

    static int Run(ulong seed, int[] lengths, string[] cells, int steps, int hidden, int batch, float lr, bool chrono,
        string output)
    {
        AnsiConsole.MarkupLine("[bold]Recur demo[/] — the adding problem: each step carries (value, marker); "
            + "the target is the sum of the two marked values.");
        AnsiConsole.MarkupLine($"Cells {string.Join(", ", cells)} with {hidden} units, Adam lr {lr}, batch {batch}, "
            + $"gradient norm clipped at 1, {steps} optimizer steps each, seed {seed}"
            + (chrono && cells.Any(IsLstm) ? "; LSTM gate biases chrono-initialised for T." : "."));
        AnsiConsole.MarkupLine($"Baseline (always answer 1): MSE [yellow]{SyntheticTasks.AddingBaseline:F3}[/]. "
            + $"Solved: MSE < {Solved}.");
        var results = new Dictionary<(string, int), double>();
        // gradient flow is drawn at T = 100 (the textbook picture) when the demo runs it, else at the longest length
        int flowLength = lengths.Contains(100) ? 100 : lengths.Max();
        var flow = new List<(string Label, double[] Norms)>();
        var clock = Stopwatch.StartNew();
        foreach (int length in lengths)
        {
            var data = new RandomGenerator(seed + (ulong)length);
            var train = SyntheticTasks.Adding(data, length, 20000);
            var valid = SyntheticTasks.Adding(data, length, 500);
            foreach (string cell in cells)
            {
                var run = Stopwatch.StartNew();
                var config = new SequenceModelConfig(RecurrentCells.Parse(cell), 2, hidden, 1,
                    ChronoMaxSteps: chrono && IsLstm(cell) ? Math.Max(3, length) : 0, BatchNormSteps: length);
                var model = new SequenceModel(config, new RandomGenerator(seed));
                var flowData = SyntheticTasks.Adding(new RandomGenerator(seed + 99), length, 32);
                if (length == flowLength) flow.Add(($"{cell} initial", FirstNorms(model, flowData)));
                var task = new SequenceTask(model, train, valid, batch, new()
                {
                    ["task"] = "adding",
                    ["length"] = length
                });
                string folder = Path.Combine(output, $"{cell}-T{length}");
                var options = new TrainerOptions
                {
                    Epochs = int.MaxValue, MaxSteps = steps, Seed = seed, ClipNorm = 1f, ValidateEvery = 100,
                    LogEvery = 50,
                    OutputDirectory = folder, Overwrite = true, // the demo's own folders: each run replaces the last
                };
                var trainer = new Trainer<int[]>(task, new Adam(model.Parameters(), lr), options);
                var result = trainer.Fit();
                double mse = result.LastEvaluation!["loss"]; // the final weights: a step budget ends with a validation
                results[(cell, length)] = mse;
                if (length == flowLength) flow.Add(($"{cell} trained", FirstNorms(model, flowData)));
                AnsiConsole.MarkupLine(
                    $"  T = {length,3}  {cell,-4}  validation MSE {mse,7:F4}  after {result.Steps,5} "
                    + $"steps  {Verdict(mse)}  ({run.Elapsed.TotalSeconds:F0} s)");
            }
        }
        var table = new Table().Title(
            $"Validation MSE on the adding problem (baseline {SyntheticTasks.AddingBaseline:F3})")
            .AddColumn("T");
        foreach (var cell in cells) table.AddColumn(new TableColumn(cell).RightAligned());
        foreach (int length in lengths)
            table.AddRow([length.ToString(CultureInfo.InvariantCulture), .. cells.Select(c => Format(results[(c,
                length)]))]);
        AnsiConsole.Write(table);

        var ratios = cells.ToDictionary(c => c, c => (Initial: Ratio(flow, $"{c} initial"), Trained: Ratio(flow,
            $"{c} trained")));
        var flowTable = new Table()
            .Title($"Gradient reaching step 0 from the loss at step {flowLength - 1}: "
                + $"‖∂L/∂h_0‖ / ‖∂L/∂h_{flowLength - 1}‖")
            .AddColumn("cell").AddColumn(new TableColumn("initial").RightAligned())
            .AddColumn(new TableColumn("trained").RightAligned());
        foreach (var cell in cells) flowTable.AddRow(cell, FormatRatio(ratios[cell].Initial),
            FormatRatio(ratios[cell].Trained));
        AnsiConsole.Write(flowTable);
        foreach (string finding in Findings(cells, lengths, results, ratios, flowLength))
            AnsiConsole.MarkupLine(Markup.Escape(finding));

        var figures = new List<FigureFiles>();
        foreach (int length in lengths)
        {
            // each run's validations, the last one at the final step
            var series = cells.Select(cell =>
            {
                var evals = MetricsLog.Read(Path.Combine(output, $"{cell}-T{length}", "metrics.jsonl"))
                    .Where(e => e.Type == "eval").ToList();
                return new Series(cell, evals.Select(e => (double)e.Step).ToArray(), evals.Select(e
                    => e.Values["loss"]).ToArray());
            }).ToList();
            figures.Add(Charts.Lines(Path.Combine(output, $"curves-T{length}"),
                $"Adding problem, T = {length}: validation MSE",
                "optimizer step", "validation MSE", series, logY: true,
                references: [(SyntheticTasks.AddingBaseline, "baseline 0.167")], legend: LegendCorner.LowerLeft));
        }
        figures.Add(Charts.Lines(Path.Combine(output, "gradient-flow"),
            $"Gradient flow through time, adding problem T = {flowLength}",
            "time step t", "‖∂L/∂h_t‖ (batch mean)",
            flow.Select(f => new Series(f.Label, Enumerable.Range(0, f.Norms.Length).Select(t => (double)t).ToArray(),
                f.Norms)),
            logY: true, legend: LegendCorner.LowerRight));
        string root = Path.GetFullPath(output);
        AnsiConsole.MarkupLine($"Done in {clock.Elapsed.TotalSeconds:F0} s.");
        AnsiConsole.MarkupLine($"Figures (PNG and SVG): learning curves [blue]{root}/curves-T<length>.png[/], "
            + $"gradient flow [blue]{root}/gradient-flow.png[/]; each run's metrics.jsonl and checkpoints in "
            + $"[blue]{root}/<cell>-T<length>/[/].");
        AnsiConsole.MarkupLine("[bold]Go further[/]:");
        string Run(string cell) => Markup.Escape(Path.Combine(output, $"{cell}-T{flowLength}", "last"));
        AnsiConsole.MarkupLine($"  recur inspect gradients --model {string.Join(' ', cells.Select(Run))}   "
            + "[grey]# where each trained model's gradient fades[/]");
        AnsiConsole.MarkupLine(
            "  recur demo --chrono false   [grey]# the LSTM with the usual forget-gate bias 1: it sits on the "
            + "baseline plateau far longer[/]");
        AnsiConsole.MarkupLine("  recur task adding --cell lstm --length 50 --epochs 12 --train-size 5000 --out run && "
            + "recur inspect saliency --model run/best --show 4   [grey]# which input steps the answer depends on[/]");
        return 0;
    }

    static bool IsLstm(string cell) => RecurrentCells.HasCellState(RecurrentCells.Parse(cell));

    /// <summary>MSE below which a run counts as having solved the adding problem.</summary>
    const double Solved = 0.01;

    static string Verdict(double mse) => mse < Solved ? "[green]solved[/]"
        : mse > 0.8 * SyntheticTasks.AddingBaseline ? "[red]at baseline[/]" : "[yellow]learning[/]";

    static double[] FirstNorms(SequenceModel model, SequenceDataset data) =>
        SequenceTask.GradientFlow(model, data).Records[0].GradientNorms;

    /// <summary>‖∂L/∂h_0‖ / ‖∂L/∂h_{T−1}‖; 0 when the gradient underflowed before step 0, NaN when there was
    /// none.</summary>
    static double Ratio(List<(string Label, double[] Norms)> flow, string label)
    {
        var norms = flow.Single(f => f.Label == label).Norms;
        return norms[^1] > 0 ? norms[0] / norms[^1] : double.NaN;
    }

    static string FormatRatio(double ratio) => double.IsNaN(ratio) ? "–"
        : ratio > 0 ? ratio.ToString("G2", CultureInfo.InvariantCulture) : "< 1E-38"; // exactly 0: float underflow

    /// <summary>One sentence per cell: which lengths it solved, and the gradient ratio that explains it.</summary>
    internal static IEnumerable<string> Findings(string[] cells, int[] lengths, IReadOnlyDictionary<(string, int),
        double> mse,
        IReadOnlyDictionary<string, (double Initial, double Trained)> ratios, int flowLength)
    {
        static string List(IEnumerable<int> ts) => string.Join(", ", ts.Select(t
            => t.ToString(CultureInfo.InvariantCulture)));
        foreach (string cell in cells)
        {
            var solved = lengths.Where(t => mse[(cell, t)] < Solved).ToList();
            var baseline = lengths.Where(t => mse[(cell, t)] > 0.8 * SyntheticTasks.AddingBaseline).ToList();
            var between = lengths.Except(solved).Except(baseline).ToList();
            var parts = new List<string>();
            parts.Add(solved.Count > 0 ? $"solved T = {List(solved)}" : "solved no length");
            if (between.Count > 0) parts.Add($"was still learning at T = {List(between)}");
            if (baseline.Count > 0) parts.Add($"stayed at the baseline at T = {List(baseline)}");
            var (initial, trained) = ratios[cell];
            string gradient = trained > 0
                ? $"after training {trained.ToString("G2",
                    CultureInfo.InvariantCulture)} of the gradient at step {flowLength - 1} "
                    + "reaches step 0"
                : $"after training no gradient reaches step 0 from step {flowLength - 1} (it underflows float32)";
            if (initial > 0) gradient += $" (at initialisation {initial.ToString("G2", CultureInfo.InvariantCulture)})";
            yield return $"{cell}: {string.Join("; ", parts)}; {gradient}.";
        }
    }

    static string Format(double mse)
    {
        string text = mse.ToString("F4", CultureInfo.InvariantCulture);
        return mse < Solved ? $"[green]{text}[/]" : mse > 0.8 * SyntheticTasks.AddingBaseline ? $"[red]{text}[/]"
            : $"[yellow]{text}[/]";
    }
}
