using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Diagnostics;
using Recur.Figures;
using Recur.Kernels;
using Recur.Nn;
using Spectre.Console;

namespace Recur.Cli;

static partial class InspectCommand
{
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
}
