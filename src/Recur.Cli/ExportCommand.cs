using System.CommandLine;
using Recur.Cli.Training;
using Recur.Export;

namespace Recur.Cli;

/// <summary>
/// <c>recur export onnx|pytorch</c>: a trained model as a file other runtimes load, or as a PyTorch project to continue
/// with.
/// </summary>
static class ExportCommand
{
    public static Command Create()
    {
        var command = new Command("export", "Write a trained model in another framework's format.");
        command.Subcommands.Add(Onnx());
        command.Subcommands.Add(PyTorch());
        return command;
    }

    static Option<string> ModelOption() => new("--model")
    {
        Description = "Run or checkpoint folder of a trained model (its best/ checkpoint, else last/).",
        Required = true,
    };

    static Command PyTorch()
    {
        var model = ModelOption();
        var output = new Option<string>("--out")
        {
            Description = "Folder to write model.py, model.safetensors and load.py into.", Required = true,
        };
        var command = new Command("pytorch", "Export a trained model as a PyTorch module (model.py, torch's own "
            + $"layers), its weights in torch's names and load.py; kinds: {string.Join(", ", PyTorchExport.Kinds)}.")
        {
            model, output,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string folder = CliOutput.ModelFolder(r.GetValue(model)!), target = r.GetValue(output)!;
            string kind = PyTorchExport.SaveRun(folder, target);
            Console.WriteLine($"{kind} → {target} (model.py, model.safetensors, load.py; python3 load.py prints it)");
            return 0;
        }));
        return command;
    }

    static Command Onnx()
    {
        var model = ModelOption();
        var output = new Option<string>("--out") { Description = "The ONNX file to write.", Required = true };
        var command = new Command("onnx", "Export a trained model to ONNX (opset 17) with ONNX's own LSTM/GRU/RNN "
            + $"operators; kinds: {string.Join(", ", OnnxExport.Kinds)}.")
        {
            model, output,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string folder = CliOutput.ModelFolder(r.GetValue(model)!), path = r.GetValue(output)!;
            string? parent = Path.GetDirectoryName(Path.GetFullPath(path));
            if (parent is null || !Directory.Exists(parent))
                throw new UsageException($"--out {path}: the folder {parent} does not exist.");
            var (kind, files) = OnnxExport.SaveRun(folder, path);
            foreach (string file in files) Console.WriteLine($"{kind} → {file} ({new FileInfo(file).Length:N0} bytes)");
            return 0;
        }));
        return command;
    }
}
