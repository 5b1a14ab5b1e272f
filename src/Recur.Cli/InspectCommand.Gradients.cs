using System.CommandLine;
using System.Text.Json.Nodes;
using Recur.Figures;
using Recur.Nn;
using Recur.Tasks;
using Spectre.Console;

namespace Recur.Cli;

static partial class InspectCommand
{
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
}
