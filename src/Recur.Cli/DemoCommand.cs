using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Recur.Cli.Training;
using Recur.Figures;
using Recur.Kernels;
using Recur.Nn;
using Recur.Optim;
using Recur.Tasks;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur demo</c>: the tanh RNN against the LSTM and the GRU on the adding problem (Hochreiter &amp; Schmidhuber 1997)
/// at several sequence lengths, each trained for the same wall-clock budget with the shared trainer. Predicting the
/// mean gives MSE 1/6 ≈ 0.167; a model that carries the two marked values across T steps gets far below it.
/// </summary>
static class DemoCommand
{
    public static Command Create()
    {
        var seed = new Option<ulong>("--seed") { Description = "Seed for initialisation, data and shuffling.", DefaultValueFactory = _ => 1 };
        var lengths = new Option<string>("--lengths") { Description = "Comma-separated sequence lengths T.", DefaultValueFactory = _ => "10,50,100,200" };
        var cells = new Option<string>("--cells") { Description = "Comma-separated cells (rnn, irnn, lstm, gru).", DefaultValueFactory = _ => "rnn,lstm,gru" };
        var budget = new Option<double>("--budget") { Description = "Training seconds per cell and length.", DefaultValueFactory = _ => 13 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden units.", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch") { Description = "Sequences per mini-batch.", DefaultValueFactory = _ => 32 };
        var lr = new Option<float>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => 3e-3f };
        var threads = new Option<int>("--threads") { Description = "Threads for large kernels (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var output = new Option<string>("--out") { Description = "Folder for each run's metrics.jsonl and checkpoints.", DefaultValueFactory = _ => "recur-demo" };
        var demo = new Command("demo", "Tanh RNN vs LSTM vs GRU on the adding problem at growing lengths: where plain RNNs stop learning.")
        {
            seed, lengths, cells, budget, hidden, batch, lr, threads, output,
        };
        demo.SetAction(r => CommandErrors.Guard(() =>
        {
            int[] ts = Parse(r.GetValue(lengths)!, "--lengths").Select(s => int.TryParse(s, CultureInfo.InvariantCulture, out int t) && t >= 2 ? t
                : throw new UsageException($"--lengths: '{s}' is not a length ≥ 2.")).ToArray();
            string[] names = ParseCells(r.GetValue(cells)!);
            if (!(r.GetValue(budget) > 0) || r.GetValue(hidden) < 1 || r.GetValue(batch) < 1 || r.GetValue(threads) < 1 || !(r.GetValue(lr) > 0))
                throw new UsageException("--budget, --hidden, --batch, --threads and --lr must be positive.");
            Parallelism.MaxThreads = r.GetValue(threads);
            return Run(r.GetValue(seed), ts, names, r.GetValue(budget), r.GetValue(hidden), r.GetValue(batch), r.GetValue(lr), r.GetValue(output)!);
        }));
        return demo;
    }

    /// <summary>Reads a comma-separated list of cell names, as <c>--cells</c> takes.</summary>
    internal static string[] ParseCells(string list) => Parse(list, "--cells").Select(c => SequenceModelConfig.Cells.Contains(c) ? c
        : throw new UsageException($"--cells: '{c}' is not one of {string.Join(", ", SequenceModelConfig.Cells)}.")).ToArray();

    static string[] Parse(string list, string option)
    {
        var items = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return items.Length > 0 ? items : throw new UsageException($"{option} is empty.");
    }

    static int Run(ulong seed, int[] lengths, string[] cells, double budget, int hidden, int batch, float lr, string output)
    {
        AnsiConsole.MarkupLine($"[bold]Recur demo[/] — the adding problem: each step carries (value, marker); the target is the sum of the two marked values.");
        AnsiConsole.MarkupLine($"Cells {string.Join(", ", cells)} with {hidden} units, Adam lr {lr}, batch {batch}, gradient norm clipped at 1, {budget:F0} s of training each, seed {seed}.");
        AnsiConsole.MarkupLine($"Baseline (always answer 1): MSE [yellow]{SyntheticTasks.AddingBaseline:F3}[/]. Solved: MSE < 0.01.");
        var results = new Dictionary<(string, int), (double Mse, long Steps)>();
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
                var model = new SequenceModel(new SequenceModelConfig(cell, 2, hidden, 1), new RandomGenerator(seed));
                var flowData = SyntheticTasks.Adding(new RandomGenerator(seed + 99), length, 32);
                if (length == flowLength) flow.Add(($"{cell} initial", InspectCommand.GradientFlow(cell, model, flowData)[0].Norms));
                var task = new SequenceTask(model, train, valid, batch, new() { ["task"] = "adding", ["length"] = length });
                string folder = Path.Combine(output, $"{cell}-T{length}");
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
                var options = new TrainerOptions
                {
                    Epochs = 1000, Seed = seed, ClipNorm = 1f, ValidateEvery = 100, LogEvery = 50, OutputDirectory = folder,
                };
                using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(budget));
                var trainer = new Trainer<int[]>(task, new Adam(model.Parameters(), lr), options);
                var result = trainer.Fit(stop.Token);
                double mse = trainer.Evaluate()!["loss"]; // the final weights, measured after the budget ran out
                results[(cell, length)] = (mse, result.Steps);
                if (length == flowLength) flow.Add(($"{cell} trained", InspectCommand.GradientFlow(cell, model, flowData)[0].Norms));
                string verdict = mse < 0.01 ? "[green]solved[/]" : mse > 0.8 * SyntheticTasks.AddingBaseline ? "[red]at baseline[/]" : "[yellow]learning[/]";
                AnsiConsole.MarkupLine($"  T = {length,3}  {cell,-4}  validation MSE {mse,7:F4}  after {result.Steps,5} steps  {verdict}");
            }
        }
        var table = new Table().Title("Validation MSE on the adding problem (baseline 0.167)").AddColumn("T");
        foreach (var cell in cells) table.AddColumn(new TableColumn(cell).RightAligned());
        foreach (int length in lengths)
            table.AddRow([length.ToString(CultureInfo.InvariantCulture), .. cells.Select(c => Format(results[(c, length)].Mse))]);
        AnsiConsole.Write(table);

        var flowTable = new Table().Title($"Gradient reaching step 0 from the loss at step {flowLength - 1}: ‖∂L/∂h_0‖ / ‖∂L/∂h_{flowLength - 1}‖")
            .AddColumn("cell").AddColumn(new TableColumn("initial").RightAligned()).AddColumn(new TableColumn("trained").RightAligned());
        foreach (var cell in cells)
        {
            string Ratio(string when)
            {
                var norms = flow.Single(f => f.Label == $"{cell} {when}").Norms;
                if (!(norms[^1] > 0)) return "–";
                // below float's smallest value the gradient has underflowed to exactly zero
                return norms[0] > 0 ? (norms[0] / norms[^1]).ToString("G2", CultureInfo.InvariantCulture) : "< 1E-38";
            }
            flowTable.AddRow(cell, Ratio("initial"), Ratio("trained"));
        }
        AnsiConsole.Write(flowTable);

        var figures = new List<FigureFiles>();
        foreach (int length in lengths)
        {
            // each run's validations, ending with the final evaluation after the budget ran out
            var series = cells.Select(cell =>
            {
                var evals = MetricsLog.Read(Path.Combine(output, $"{cell}-T{length}", "metrics.jsonl")).Where(e => e.Type == "eval").ToList();
                var (mse, steps) = results[(cell, length)];
                var x = evals.Select(e => (double)e.Step).ToList();
                var y = evals.Select(e => e.Values["loss"]).ToList();
                if (x.Count == 0 || x[^1] < steps) { x.Add(steps); y.Add(mse); }
                return new Series(cell, x.ToArray(), y.ToArray());
            }).ToList();
            figures.Add(Charts.Lines(Path.Combine(output, $"curves-T{length}"), $"Adding problem, T = {length}: validation MSE", "optimizer step", "validation MSE",
                series, logY: true, references: [(SyntheticTasks.AddingBaseline, "baseline 0.167")], legend: ScottPlot.Alignment.LowerLeft));
        }
        figures.Add(Charts.Lines(Path.Combine(output, "gradient-flow"), $"Gradient flow through time, adding problem T = {flowLength}", "time step t",
            "‖∂L/∂h_t‖ (batch mean)", flow.Select(f => new Series(f.Label, Enumerable.Range(0, f.Norms.Length).Select(t => (double)t).ToArray(), f.Norms)),
            logY: true, legend: ScottPlot.Alignment.LowerRight));
        AnsiConsole.MarkupLine($"Done in {clock.Elapsed.TotalSeconds:F0} s.");
        AnsiConsole.MarkupLine($"Figures (PNG and SVG): learning curves [blue]{Path.GetFullPath(output)}/curves-T<length>.png[/], gradient flow [blue]{Path.GetFullPath(output)}/gradient-flow.png[/].");
        AnsiConsole.MarkupLine($"Each run's metrics.jsonl and checkpoints: [blue]{Path.GetFullPath(output)}/<cell>-T<length>/[/]; look further with [bold]recur inspect[/].");
        return 0;
    }

    static string Format(double mse)
    {
        string text = mse.ToString("F4", CultureInfo.InvariantCulture);
        return mse < 0.01 ? $"[green]{text}[/]" : mse > 0.8 * SyntheticTasks.AddingBaseline ? $"[red]{text}[/]" : $"[yellow]{text}[/]";
    }
}
