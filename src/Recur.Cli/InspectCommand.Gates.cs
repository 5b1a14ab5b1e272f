using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Autograd;
using Recur.Cli.Training;
using Recur.Diagnostics;
using Recur.Figures;
using Recur.Kernels;
using Recur.Text;
using Spectre.Console;

namespace Recur.Cli;

static partial class InspectCommand
{
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
}
