using System.CommandLine;
using Recur.Export;
using Recur.Training;

namespace Recur.Cli;

/// <summary><c>recur quantize</c>: an int8 copy of a trained model, which every inference verb then runs in
/// int8.</summary>
static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run or checkpoint folder of a trained model (its best/ checkpoint, else last/).",
            Required = true,
        };
        var output = new Option<string>("--out")
        {
            Description = "New folder for the int8 copy (the run's other files are copied beside it).",
            Required = true,
        };
        var command = new Command("quantize", "Save a trained model with int8 weights (dynamic quantisation, as "
            + "PyTorch's quantize_dynamic: recurrent and linear layers per output row); eval, predict, generate, "
            + "run and explore then use it as they use the float model, in int8.")
        {
            model, output,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string source = CliOutput.ModelFolder(r.GetValue(model)!), target = r.GetValue(output)!;
            var quantised = SavedModel.Quantize(source, target);
            foreach (var (checkpoint, modules) in quantised)
            {
                long before = new FileInfo(Path.Combine(Checkpoint.Locate(Path.Combine(source,
                    OriginalOf(checkpoint))), Checkpoint.ModelFile)).Length;
                long after = new FileInfo(Path.Combine(target, checkpoint, Checkpoint.ModelFile)).Length;
                Console.WriteLine($"{Path.Combine(target, checkpoint)}: {modules.Count} module(s) in int8 "
                    + $"({string.Join(", ", modules.Select(m => m.Length == 0 ? "the model" : m))}); "
                    + $"{Checkpoint.ModelFile} {before:N0} → {after:N0} bytes");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The source folder a written checkpoint came from: <c>best/</c> stands for the run folder it is in,
    /// whose best/ or last/ it was made from.</summary>
    static string OriginalOf(string checkpoint) =>
        Path.GetFileName(checkpoint) == "best" ? Path.GetDirectoryName(checkpoint) ?? "" : checkpoint;
}
