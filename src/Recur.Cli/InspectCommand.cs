using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Recur.Autograd;
using Recur.Cli.Data;
using Recur.Cli.Training;
using Recur.Diagnostics;
using Recur.Figures;
using Recur.Kernels;
using Recur.Memory;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Tasks;
using Recur.Text;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur inspect gradients|gates|saliency|curves</c>: looks inside recurrent models — trained ones from a checkpoint
/// (<c>--model DIR</c>, on data regenerated from the task in its <c>config.json</c>) or freshly initialised ones on the
/// adding problem (<c>--cells</c>) — prints the numbers as a table and writes PNG and SVG figures.
/// </summary>
static class InspectCommand
{
    /// <summary>A model and a sample of its task's data.</summary>
    internal sealed record Subject(string Label, SequenceModel Model, SequenceDataset Data, string Task);

    public static Command Create()
    {
        var command = new Command("inspect", "Look inside recurrent networks: gradient flow through time, gate "
            + "activity, input saliency, training curves.");
        command.Subcommands.Add(Gradients());
        command.Subcommands.Add(Gates());
        command.Subcommands.Add(Saliency());
        command.Subcommands.Add(Curves());
        command.Subcommands.Add(Memory());
        return command;
    }

    sealed class SubjectOptions
    {
        public readonly Option<string[]> Models = new("--model")
        {
            Description = "Checkpoint or run folder(s) of `recur task` (repeatable). Without it, fresh models are "
                + "inspected on the adding problem.",
            AllowMultipleArgumentsPerToken = true,
        };
        public readonly Option<string> Cells = new(
            "--cells")
        {
            Description = $"Comma-separated cells for fresh models ({string.Join(", ",
                Recur.Nn.Recurrent.RecurrentCells.Names)}).", DefaultValueFactory = _ => "rnn,lstm,gru"
        };
        public readonly Option<int> Length = new("--length")
        {
            Description
            = "Sequence length T of the adding problem for fresh models.", DefaultValueFactory = _ => 100
        };
        public readonly Option<int> Hidden = new("--hidden")
        {
            Description = "Hidden units of fresh models.",
            DefaultValueFactory = _ => 64
        };
        public readonly Option<int> Count = new("--count")
        {
            Description = "Sequences to run.",
            DefaultValueFactory = _ => 32
        };
        public readonly Option<ulong> Seed = new("--seed")
        {
            Description
            = "Seed for fresh weights and generated data.", DefaultValueFactory = _ => 1
        };
        public readonly Option<string> Data = new("--data")
        {
            Description
            = "MNIST folder, for models trained on smnist.", DefaultValueFactory = _ => Path.Combine("..", "shared",
            "data", "mnist")
        };
        public readonly Option<bool> Json = new("--json")
        {
            Description
            = "Print the numbers as JSON instead of a table."
        };
        public readonly Option<int> Threads = new("--threads")
        {
            Description = "Threads for large kernels.",
            DefaultValueFactory = _ => Environment.ProcessorCount
        };

        public void AddTo(Command command)
        {
            foreach (Option o in new Option[] { Models, Cells, Length, Hidden, Count, Seed, Data, Json,
                Threads }) command.Options.Add(o);
        }

        public List<Subject> Read(ParseResult r)
        {
            int count = r.GetValue(Count), length = r.GetValue(Length), hidden = r.GetValue(Hidden);
            if (count < 1 || length < 2 || hidden < 1 || r.GetValue(Threads) < 1)
                throw new UsageException("--count, --hidden and --threads must be positive and --length at least 2.");
            using var threadLimit = Parallelism.Limit(r.GetValue(Threads));
            ulong seed = r.GetValue(Seed);
            var models = r.GetValue(Models) ?? [];
            if (models.Length > 0) return models.Select(m => Load(m, count, seed, r.GetValue(Data)!)).ToList();
            var data = SyntheticTasks.Adding(new RandomGenerator(seed + 1), length, count);
            return Training.CellOption.ParseList(r.GetValue(Cells)!).Select(cell =>
                new Subject($"{cell.Name()} (initial)", new SequenceModel(new SequenceModelConfig(cell, 2, hidden, 1,
                    BatchNormSteps: length), new RandomGenerator(seed)), data, "adding")).ToList();
        }
    }

    /// <summary>Loads a trained model and regenerates a sample of its task from the saved configuration.</summary>
    static Subject Load(string directory, int count, ulong seed, string mnist)
    {
        var model = Checkpoint.Open(directory, c => new SequenceModel(SequenceModelConfig.FromJson(c),
            new RandomGenerator(0)));
        var config = Checkpoint.ReadConfig(Checkpoint.Locate(directory));
        string task = (string?)config["task"]
            ?? throw new InvalidDataException(
            $"{directory}: config.json names no task; inspect reads models trained by `recur task` or `recur demo`.");
        int steps = (int?)config["length"] ?? 0;
        var random = new RandomGenerator(seed + 1);
        var data = task switch
        {
            "adding" => SyntheticTasks.Adding(random, steps, count),
            "copy" => SyntheticTasks.Copy(random, steps - 20, count),
            "reber" => SyntheticTasks.EmbeddedReber(random, count),
            "smnist" => SmnistSample(mnist, count, (ulong?)config["permutation_seed"]),
            _ => throw new InvalidDataException(
                $"{directory}: task '{task}' is not one inspect can regenerate (adding, copy, reber, smnist)."),
        };
        string label = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        if (label is "last" or "best") label = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(directory)))
            + "/" + label;
        return new Subject(label, model, data, task);
    }

    static SequenceDataset SmnistSample(string folder, int count, ulong? permutation)
    {
        string images = Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), labels = Path.Combine(folder,
            "t10k-labels-idx1-ubyte.gz");
        if (!File.Exists(images)) throw new UsageException($"MNIST files not found in {folder}; pass --data.");
        return SyntheticTasks.SequentialMnist(images, labels, 8000, Math.Min(count, 2000), permutation);
    }

    static Option<string> OutOption(string name)
        => new("--out")
        {
            Description = "Figure path without extension (PNG and SVG are written).",
            DefaultValueFactory = _ => Path.Combine("recur-inspect", name)
        };

    static Command Gradients()
    {
        var subjects = new SubjectOptions();
        var output = OutOption("gradient-flow");
        var command = new Command("gradients", "Gradient flow through time: ‖∂L/∂h_t‖ for every step t — vanishing "
            + "gradients in plain RNNs, not in LSTM/GRU.");
        subjects.AddTo(command);
        command.Options.Add(output);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var series = new List<Series>();
            var rows = new List<(string Label, double[] Norms, double ParameterNorm)>();
            foreach (var s in subjects.Read(r))
                foreach (var (label, norms, parameterNorm) in GradientFlow(s))
                {
                    rows.Add((label, norms, parameterNorm));
                    series.Add(new Series(label, Enumerable.Range(0, norms.Length).Select(t => (double)t).ToArray(),
                        norms));
                }
            var files = Charts.Lines(r.GetValue(output)!, "Gradient flow through time", "time step t",
                "‖∂L/∂h_t‖ (batch mean)", series, logY: true, legend: LegendCorner.LowerRight);
            PrintGradientTable(rows, r.GetValue(subjects.Json));
            CliOutput.PrintFiles(files, r.GetValue(subjects.Json));
            return 0;
        }));
        return command;
    }

    /// <summary>‖∂L/∂h_t‖ for each fused pass of the subject on its data, and the parameter gradient norm before
    /// clipping.</summary>
    internal static List<(string Label, double[] Norms,
        double ParameterNorm)> GradientFlow(Subject s) => GradientFlow(s.Label, s.Model, s.Data);

    internal static List<(string Label, double[] Norms, double ParameterNorm)> GradientFlow(string label,
        SequenceModel model, SequenceDataset data)
    {
        var (records, parameterNorm) = SequenceTask.GradientFlow(model, data);
        return records.Select(rec => (records.Count > 1 ? $"{label} {rec.Label}" : label, rec.GradientNorms,
            parameterNorm)).ToList();
    }

    static void PrintGradientTable(List<(string Label, double[] Norms, double ParameterNorm)> rows, bool json)
    {
        if (json)
        {
            var array = new JsonArray();
            foreach (var (label, norms, parameterNorm) in rows)
                array.Add(new JsonObject
                {
                    ["label"] = label,
                    ["gradient_norms"] = new JsonArray(norms.Select(v => (JsonNode)v).ToArray()),
                    ["parameter_gradient_norm"] = parameterNorm
                });
            Console.WriteLine(array.ToJsonString());
            return;
        }
        int steps = rows.Max(r => r.Norms.Length);
        var marks = new[] { steps - 1, Math.Max(steps - 11, 0), (steps - 1) / 2, 0 }.Distinct().ToArray();
        var table = new Table().Title("‖∂L/∂h_t‖ at chosen steps (the loss is at the last step)").AddColumn("model");
        foreach (int t in marks) table.AddColumn(new TableColumn($"t={t}").RightAligned());
        table.AddColumn(new TableColumn("first/last").RightAligned()).AddColumn(new TableColumn("‖∇θ‖").RightAligned());
        foreach (var (label, norms, parameterNorm) in rows)
        {
            var cells = marks.Select(t => t < norms.Length ? Number(norms[t]) : "").ToList();
            double ratio = norms[^1] > 0 ? norms[0] / norms[^1] : double.NaN;
            table.AddRow([Markup.Escape(label), .. cells, Number(ratio), Number(parameterNorm)]);
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]‖∇θ‖: the parameters' gradient norm before clipping. first/last far below 1: "
            + "the gradient vanishes on its way back through time. Clipping rescales every step's gradient by one "
                + "factor, so it caps ‖∇θ‖ but does not change this ratio.[/]");
    }

    static Command Gates()
    {
        var subjects = new SubjectOptions();
        var output = OutOption("gates");
        var units = new Option<int>("--units")
        {
            Description = "Hidden units drawn in the heatmaps.",
            DefaultValueFactory = _ => 32,
        };
        var text = new Option<string?>("--text")
        {
            Description = "With a language model (--model of `recur lm train`): the text to run it over; heatmaps are "
                + "labelled with its tokens.",
        };
        var command = new Command("gates", "Gate and unit activity: saturation statistics of every gate, heatmaps of "
            + "gates and hidden states over one sequence (or a text).");
        subjects.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(units);
        command.Options.Add(text);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            bool json = r.GetValue(subjects.Json);
            int shown = r.GetValue(units);
            if (shown < 1) throw new UsageException("--units must be positive.");
            if (r.GetValue(text) is { } content)
            {
                var models = r.GetValue(subjects.Models) ?? [];
                if (models.Length != 1) throw new UsageException(
                    "--text needs exactly one --model, a run folder of `recur lm train`.");
                using var threadLimit = Parallelism.Limit(Math.Max(1, r.GetValue(subjects.Threads)));
                return GatesOverText(models[0], content, r.GetValue(output)!, shown, json);
            }
            var report = new JsonArray();
            var table = new Table().Title("Gate saturation (left: σ < 0.1 or tanh < −0.9; right: > 0.9)")
                .AddColumn("model").AddColumn("layer").AddColumn("gate").AddColumn(new TableColumn("mean").RightAligned(
                    ))
                .AddColumn(new TableColumn("left-saturated").RightAligned()).AddColumn(new TableColumn(
                    "right-saturated").RightAligned());
            var written = new List<FigureFiles>();
            var subjectList = subjects.Read(r);
            foreach (var s in subjectList)
            {
                s.Model.Eval();
                using var probe = RecurrentProbe.Start(recordGates: true);
                Tensor hidden;
                using (GradMode.NoGrad()) hidden = s.Model.Rnn.Forward(s.Data.BatchInputs(Enumerable.Range(0,
                    s.Data.Count).ToArray())).Output;
                string prefix = subjectList.Count > 1 ? $"{r.GetValue(output)}-{Slug(s.Label)}" : r.GetValue(output)!;
                foreach (var record in probe.Records)
                {
                    foreach (var g in Inspection.GateStatistics(record, s.Data.Lengths))
                    {
                        table.AddRow(Markup.Escape(s.Label), record.Label, g.Gate, Number(g.Mean),
                            Percent(g.LeftSaturated), Percent(g.RightSaturated));
                        report.Add(new JsonObject
                        {
                            ["model"] = s.Label, ["layer"] = record.Label, ["gate"] = g.Gate,
                            ["mean"] = g.Mean, ["left_saturated"] = g.LeftSaturated,
                            ["right_saturated"] = g.RightSaturated
                        });
                    }
                    if (record != probe.Records[0]) continue; // heatmaps for the first layer's forward direction
                    int steps = SequenceLength(s.Data, 0), h = Math.Min(shown, record.HiddenSize);
                    for (int gate = 0; gate < record.GateNames.Count && record.GateNames.Count > 1; gate++)
                    {
                        var values = new double[h, steps];
                        for (int u = 0; u < h; u++)
                            for (int t = 0; t < steps; t++) values[u, t] = record.Gate(t, 0, gate, u);
                        written.Add(Charts.Heatmap($"{prefix}-{record.GateNames[gate]}",
                            $"{s.Label}: {record.GateNames[gate]} gate, sequence 0",
                            values, "time step t", "unit", TimeLabels(s, steps), UnitLabels(h)));
                    }
                }
                int length = SequenceLength(s.Data, 0), width = Math.Min(shown, s.Model.Config.HiddenSize);
                var states = new double[width, length];
                int batch = s.Data.Count, stride = hidden.Size(2);
                for (int u = 0; u < width; u++)
                    for (int t = 0; t < length; t++) states[u, t] = hidden.Span[(t * batch) * stride + u];
                written.Add(Charts.Heatmap($"{prefix}-hidden", $"{s.Label}: hidden state h_t, sequence 0", states,
                    "time step t", "unit",
                    TimeLabels(s, length), UnitLabels(width), diverging: true));
            }
            if (json) Console.WriteLine(report.ToJsonString());
            else AnsiConsole.Write(table);
            foreach (var f in written) CliOutput.PrintFiles(f, json);
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Runs a language model over <paramref name="content"/> with the probe open: saturation statistics of every
    /// layer's gates, and heatmaps of the top layer's gates and hidden state with the text's tokens along the time
    /// axis. The units drawn are the ones whose hidden state varies most over the text.
    /// </summary>
    static int GatesOverText(string folder, string content, string prefix, int shown, bool json)
    {
        var (model, tokenizer) = Language.LanguageModel.Load(CliOutput.ModelFolder(folder));
        var ids = tokenizer.Encode(content);
        if (ids.Length < 2) throw new UsageException("--text has fewer than two tokens.");
        model.Eval();
        using var probe = RecurrentProbe.Start(recordGates: true);
        Tensor hidden;
        using (GradMode.NoGrad()) hidden = model.Encode(ids, ids.Length, 1).Output;
        var labels = ids.Select(id => TokenLabel(tokenizer, id)).ToArray();
        int width = hidden.Size(2), steps = ids.Length;
        var values = hidden.ToArray();
        // the units that vary most over the text, in unit order
        var chosen = Enumerable.Range(0, width).OrderByDescending(u =>
        {
            double mean = 0, square = 0;
            for (int t = 0; t < steps; t++) { double v = values[t * width + u]; mean += v; square += v * v; }
            mean /= steps;
            return square / steps - mean * mean;
        }).Take(Math.Min(shown, width)).Order().ToArray();
        var unitLabels = chosen.Select(u => u.ToString(CultureInfo.InvariantCulture)).ToArray();
        var table = new Table().Title("Gate saturation over the text (left: σ < 0.1 or tanh < −0.9; right: > 0.9)")
            .AddColumn("layer").AddColumn("gate").AddColumn(new TableColumn("mean").RightAligned())
            .AddColumn(new TableColumn("left-saturated").RightAligned()).AddColumn(new TableColumn(
                "right-saturated").RightAligned());
        var report = new JsonArray();
        var written = new List<FigureFiles>();
        foreach (var record in probe.Records)
        {
            foreach (var g in Inspection.GateStatistics(record))
            {
                table.AddRow(record.Label, g.Gate, Number(g.Mean), Percent(g.LeftSaturated), Percent(g.RightSaturated));
                report.Add(new JsonObject
                {
                    ["layer"] = record.Label, ["gate"] = g.Gate, ["mean"] = g.Mean,
                    ["left_saturated"] = g.LeftSaturated, ["right_saturated"] = g.RightSaturated
                });
            }
            if (record != probe.Records[^1] || record.GateNames.Count < 2) continue; // gate heatmaps for the top layer
            for (int gate = 0; gate < record.GateNames.Count; gate++)
            {
                var map = new double[chosen.Length, steps];
                for (int i = 0; i < chosen.Length; i++)
                    for (int t = 0; t < steps; t++) map[i, t] = chosen[i] < record.HiddenSize ? record.Gate(t, 0, gate,
                        chosen[i]) : double.NaN;
                written.Add(Charts.Heatmap($"{prefix}-{record.GateNames[gate]}",
                    $"{record.Label}: {record.GateNames[gate]} gate over the text", map, "token", "unit", labels,
                    unitLabels));
            }
        }
        if (probe.Records.Count == 0)
            Console.Error.WriteLine("note: no gate activity recorded: a projected LSTM (tied weights with --hidden > "
                + "--embed) runs on the tape, outside the probed kernels; only the hidden state is drawn.");
        var states = new double[chosen.Length, steps];
        for (int i = 0; i < chosen.Length; i++)
            for (int t = 0; t < steps; t++) states[i, t] = values[t * width + chosen[i]];
        written.Add(Charts.Heatmap($"{prefix}-hidden",
            "top layer: hidden state h_t over the text (the most varying units)", states, "token", "unit", labels,
            unitLabels, diverging: true));
        if (json) Console.WriteLine(report.ToJsonString());
        else AnsiConsole.Write(table);
        foreach (var f in written) CliOutput.PrintFiles(f, json);
        return 0;
    }

    /// <summary>A token as a figure label: a space as _, line breaks as \n.</summary>
    static string TokenLabel(ITokenizer tokenizer, int id) =>
        tokenizer.TokenText(id) switch { " " => "_", var t => t.Replace("\n", "\\n", StringComparison.Ordinal) };

    static Command Saliency()
    {
        var subjects = new SubjectOptions();
        var output = OutOption("saliency");
        var shown = new Option<int>("--show")
        {
            Description = "Sequences drawn and listed.",
            DefaultValueFactory = _ => 8,
        };
        var text = new Option<string?>("--text")
        {
            Description = "With a language model (--model of `recur lm train`): connectivity over this text, "
                + "‖∂y_t/∂e_s‖ for every prediction t and earlier token s.",
        };
        var command = new Command("saliency", "Connectivity: how strongly each input step moves the prediction, "
            + "‖∂y/∂x_t‖, per sequence (or over a text).");
        subjects.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(shown);
        command.Options.Add(text);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            bool json = r.GetValue(subjects.Json);
            if (r.GetValue(text) is { } content)
            {
                var models = r.GetValue(subjects.Models) ?? [];
                if (models.Length != 1) throw new UsageException(
                    "--text needs exactly one --model, a run folder of `recur lm train`.");
                using var threadLimit = Parallelism.Limit(Math.Max(1, r.GetValue(subjects.Threads)));
                return ConnectivityOverText(models[0], content, r.GetValue(output)!, json);
            }
            var report = new JsonArray();
            var written = new List<FigureFiles>();
            var subjectList = subjects.Read(r);
            foreach (var s in subjectList)
            {
                int show = Math.Clamp(r.GetValue(shown), 1, s.Data.Count);
                var saliency = SaliencyOf(s.Model, s.Data.BatchInputs(Enumerable.Range(0, show).ToArray()));
                var table
                    = new Table().Title($"{Markup.Escape(s.Label)}: most salient input steps").AddColumn(
                    "sequence").AddColumn("top steps (‖∂y/∂x_t‖)");
                if (s.Task == "adding") table.AddColumn("marked steps");
                int steps = s.Data.Steps;
                var values = new double[show, steps];
                for (int b = 0; b < show; b++)
                {
                    double max = saliency[b].Max();
                    for (int t = 0; t < steps; t++) values[b, t] = max > 0 ? saliency[b][t] / max : 0;
                    var top = Enumerable.Range(0, steps).OrderByDescending(t => saliency[b][t]).Take(3).ToArray();
                    var cells = new List<string> { b.ToString(CultureInfo.InvariantCulture), string.Join(", ",
                        top.Select(t => $"{t} ({Number(saliency[b][t])})")) };
                    var entry = new JsonObject
                    {
                        ["model"] = s.Label, ["sequence"] = b,
                        ["saliency"] = new JsonArray(saliency[b].Select(v => (JsonNode)v).ToArray())
                    };
                    if (s.Task == "adding")
                    {
                        var marked = Enumerable.Range(0,
                            steps).Where(t => s.Data.Inputs[(b * steps + t) * 2 + 1] > 0.5f).ToArray();
                        cells.Add(string.Join(", ", marked));
                        entry["marked"] = new JsonArray(marked.Select(t => (JsonNode)t).ToArray());
                    }
                    table.AddRow(cells.ToArray());
                    report.Add(entry);
                }
                if (!json) AnsiConsole.Write(table);
                string prefix = subjectList.Count > 1 ? $"{r.GetValue(output)}-{Slug(s.Label)}" : r.GetValue(output)!;
                written.Add(Charts.Heatmap(prefix, $"{s.Label}: saliency ‖∂y/∂x_t‖ (each row scaled to its maximum)",
                    values, "time step t", "sequence",
                    TimeLabels(s, steps), Enumerable.Range(0,
                        show).Select(b => b.ToString(CultureInfo.InvariantCulture)).ToArray()));
            }
            if (json) Console.WriteLine(report.ToJsonString());
            foreach (var f in written) CliOutput.PrintFiles(f, json);
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Connectivity of a language model over <paramref name="content"/>: a heatmap of ‖∂y_t/∂e_s‖ (rows: the prediction
    /// after token t, each scaled to its maximum; columns: the input tokens), and a table of how the influence falls
    /// with the distance t − s, averaged over the positions that reach that far back.
    /// </summary>
    static int ConnectivityOverText(string folder, string content, string prefix, bool json)
    {
        var (model, tokenizer) = Language.LanguageModel.Load(CliOutput.ModelFolder(folder));
        var ids = tokenizer.Encode(content);
        if (ids.Length < 2) throw new UsageException("--text has fewer than two tokens.");
        if (ids.Length > 160) throw new UsageException(
            $"--text has {ids.Length} tokens; connectivity draws at most 160.");
        var (map, predicted) = Language.LanguageModelInspection.Connectivity(model, ids);
        int steps = ids.Length;
        string Label(int id) => TokenLabel(tokenizer, id);
        var labels = ids.Select(Label).ToArray();
        var scaled = new double[steps, steps];
        var byDistance = new double[steps];
        var reaching = new int[steps];
        for (int t = 0; t < steps; t++)
        {
            double max = 0;
            for (int s = 0; s <= t; s++) max = Math.Max(max, map[t, s]);
            for (int s = 0; s < steps; s++) scaled[t, s] = s > t ? double.NaN : max > 0 ? map[t, s] / max : 0;
            for (int s = 0; s <= t; s++) { byDistance[t - s] += scaled[t, s]; reaching[t - s]++; }
        }
        var rowLabels = Enumerable.Range(0, steps).Select(t => $"{labels[t]}→{Label(predicted[t])}").ToArray();
        var files = Charts.Heatmap(prefix, "connectivity ‖∂y_t/∂e_s‖, each row scaled to its maximum",
            scaled, "input token s", "prediction after token t", labels, rowLabels);
        var distances = new[] { 0, 1, 2, 3, 5, 10, 20, 40, 80 }.Where(d => d < steps).ToArray();
        if (json)
        {
            var report = new JsonObject
            {
                ["tokens"] = new JsonArray(labels.Select(l => (JsonNode)l).ToArray()),
                ["predicted"] = new JsonArray(predicted.Select(p => (JsonNode)Label(p)).ToArray()),
                ["influence_by_distance"] = new JsonArray(Enumerable.Range(0,
                    steps).Select(d => (JsonNode)(byDistance[d] / reaching[d])).ToArray()),
            };
            Console.WriteLine(report.ToJsonString());
        }
        else
        {
            var table
                = new Table().Title(
                "Mean influence of the token d steps back (each prediction scaled to its most influential token)")
                .AddColumn(new TableColumn("d").RightAligned()).AddColumn(new TableColumn("influence").RightAligned(
                    )).AddColumn(new TableColumn("predictions").RightAligned());
            foreach (int d in distances) table.AddRow(d.ToString(CultureInfo.InvariantCulture),
                Number(byDistance[d] / reaching[d]), reaching[d].ToString(CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
        }
        CliOutput.PrintFiles(files, json);
        return 0;
    }

    /// <summary>‖∂y/∂x_t‖ per sequence and step, y being the prediction (regression) or the predicted class's logit at
    /// the last step.</summary>
    internal static double[][] SaliencyOf(SequenceModel model, Tensor input)
    {
        model.Eval();
        var result = Inspection.Saliency(x =>
        {
            var y = model.Forward(x);
            if (model.Config.PerStep) y = y.Select(0, y.Size(0) - 1);
            int batch = y.Size(0), classes = y.Size(1);
            if (classes == 1) return y.Reshape(batch);
            var chosen = new float[batch * classes];
            for (int b = 0; b < batch; b++)
            {
                var row = y.Span.Slice(b * classes, classes);
                int best = 0;
                for (int c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
                chosen[b * classes + best] = 1f;
            }
            return (y * Tensor.FromArray(chosen, batch, classes)).Sum(1);
        }, input);
        foreach (var p in model.Parameters()) p.Grad = null;
        return result;
    }

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

    static Command Memory()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur memnet train` or `recur ntm train`.", Required = true,
        };
        var story = new Option<string?>("--story")
        {
            Description = "Memory network: the story, one sentence a line, numbered as in bAbI or plain.",
        };
        var task = new Option<int?>("--task") { Description = "Memory network: the per-task model to ask." };
        var length = new Option<int>("--length")
        {
            Description = "Neural Turing Machine: length of the sequence shown (vectors to copy, items to recall "
                + "from).", DefaultValueFactory = _ => 20,
        };
        var question = new Argument<string?>("question")
        {
            Description = "Memory network: the question, e.g. \"Where is Mary?\"", Arity = ArgumentArity.ZeroOrOne,
        };
        var output = OutOption("memory");
        var json = new Option<bool>("--json") { Description = "Print the weights and files as JSON." };
        var command = new Command("memory", "Attention over memory: a memory network's over the story's sentences "
            + "at every hop, or a Neural Turing Machine's write and read weightings over its slots while it copies.")
        {
            model, story, task, length, question, output, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string folder = r.GetValue(model)!;
            if (!Directory.Exists(folder)) throw new UsageException($"{folder}: no such model folder.");
            // a per-task bAbI run holds task{N}/ folders; any other run one model whose config names it
            string? architecture = TrainedStoryModel.TaskFolders(folder).Count == 0
                ? (string?)Checkpoint.ReadConfig(Checkpoint.Locate(folder))["architecture"] : null;
            if (architecture == "sequence_model")
                throw new UsageException("the model is the LSTM baseline of the copy task: it has no memory to show.");
            bool ntm = architecture == "ntm";
            return ntm ? MachineWeightings(folder, r.GetValue(length), r.GetValue(output)!, r.GetValue(json))
                : StoryAttention(folder, r.GetValue(task), r.GetValue(story)
                    ?? throw new UsageException("--story is required for a memory network."), r.GetValue(question)
                    ?? throw new UsageException("give the question to ask about the story."), r.GetValue(output)!,
                    r.GetValue(json));
        }));
        return command;
    }

    static int StoryAttention(string model, int? task, string story, string question, string output, bool json)
    {
        var asked = StoryQuestions.Ask(model, task, story, question);
        if (asked.Attention.Length == 0)
            throw new UsageException("the model is the LSTM baseline: it has no attention over memories.");
        int sentences = asked.Story.Length, hops = asked.Attention.Length;
        // story order, oldest sentence at the top; the weight on empty slots, if any, in a last row
        bool empty = asked.Empty.Any(w => w > 0);
        var values = new double[sentences + (empty ? 1 : 0), hops];
        for (int h = 0; h < hops; h++)
        {
            for (int i = 0; i < sentences; i++) values[i, h] = asked.Attention[h][sentences - 1 - i];
            if (empty) values[sentences, h] = asked.Empty[h];
        }
        var rowLabels = asked.Story.Select((s, i) => $"{i + 1}: {string.Join(' ', s)}")
            .Concat(empty ? ["(empty slots)"] : []).ToArray();
        var files = Charts.Heatmap(output, $"\"{question}\" → {asked.Answer}", values, "hop", "sentence",
            Enumerable.Range(1, hops).Select(h => h.ToString(CultureInfo.InvariantCulture)).ToArray(), rowLabels);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                answer = asked.Answer, attention = asked.Attention, empty = asked.Empty, unknown = asked.Unknown,
                png = files.Png, svg = files.Svg,
            }));
        else
        {
            Console.WriteLine($"answer: {asked.Answer}");
            CliOutput.PrintFiles(files, false);
        }
        return 0;
    }

    /// <summary>The write and read weightings of a Neural Turing Machine on one sequence of its task: two heatmaps
    /// of slots (rows) over time steps (columns).</summary>
    static int MachineWeightings(string model, int length, string output, bool json)
    {
        if (length < 1) throw new UsageException($"--length must be positive, got {length}.");
        var (training, opened) = AlgorithmicTraining.Open(model);
        var machine = opened ?? throw new UsageException("the model is not a Neural Turing Machine.");
        if (length < AlgorithmicTasks.MinLength(training.Task))
            throw new UsageException($"--length must be at least {AlgorithmicTasks.MinLength(training.Task)} for "
                + $"{training.Task}.");
        var batch = AlgorithmicTasks.Batch(training.Task, new RandomGenerator(7), length, 1, training.Bits);
        machine.Eval();
        NeuralTuringMachineOutput result;
        using (GradMode.NoGrad()) result = machine.Forward(batch.Inputs);
        int steps = result.WriteWeights.Count, slots = machine.Config.MemorySlots;
        var figures = new List<FigureFiles>();
        var weights = new Dictionary<string, float[][]>();
        foreach (var (name, series) in new[] { ("write", result.WriteWeights), ("read", result.ReadWeights) })
        {
            var values = new double[slots, steps];
            for (int t = 0; t < steps; t++)
            {
                var w = series[t].ToArray();
                for (int i = 0; i < slots; i++) values[i, t] = w[i];
            }
            weights[name] = series.Select(w => w.ToArray()).ToArray();
            figures.Add(Charts.Heatmap($"{output}-{name}", training.Task == AlgorithmicTask.Copy
                ? $"NTM {name} weighting, copying {length} vectors (delimiter at step {length})"
                : $"NTM {name} weighting, recalling from {length} items (answer from step {batch.AnswerStart})",
                values, "time step", "memory slot"));
        }
        var (_, errors) = training.Score(batch);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bit_errors = errors, write = weights["write"], read = weights["read"],
                files = figures.SelectMany(f => new[] { f.Png, f.Svg }),
            }));
        else
        {
            Console.WriteLine(FormattableString.Invariant(
                $"bit errors: {errors:F0} of {batch.Targets.Size(0) * training.Bits}"));
            foreach (var f in figures) CliOutput.PrintFiles(f, false);
        }
        return 0;
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

    static int SequenceLength(SequenceDataset data, int row) => data.Lengths?[row] ?? data.Steps;

    static string[] TimeLabels(Subject s, int steps) => Enumerable.Range(0,
        steps).Select(t => t.ToString(CultureInfo.InvariantCulture)).ToArray();

    static string[] UnitLabels(int units) => Enumerable.Range(0,
        units).Select(u => u.ToString(CultureInfo.InvariantCulture)).ToArray();

    static string Slug(string label) => new(label.Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());

    static string Number(double v) => double.IsNaN(v) ? "–" : v.ToString("G3", CultureInfo.InvariantCulture);

    static string Percent(double v) => v.ToString("P1", CultureInfo.InvariantCulture);
}
