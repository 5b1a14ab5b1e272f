using System.CommandLine;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Cli;

/// <summary><c>recur layer run</c>: evaluate one recurrent layer stack on given weights and inputs (to check a ported
/// model).</summary>
static class LayerCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config")
        {
            Description = "JSON with torch.nn.RNN/LSTM/GRU argument names (mode, input_size, hidden_size, num_layers, "
                + "bidirectional, batch_first, bias, lengths).",
            Required = true,
        };
        var weights = new Option<FileInfo>("--weights")
        {
            Description = "safetensors with state_dict names (weight_ih_l0, ...).",
            Required = true,
        };
        var input = new Option<FileInfo>("--input")
        {
            Description = "safetensors with 'input' and optionally 'h0', 'c0'.",
            Required = true,
        };
        var gradOutput = new Option<FileInfo?>("--grad-output")
        {
            Description = "safetensors with the loss gradient for 'output' (and optionally 'h_n', 'c_n'); adds input "
                + "and weight gradients to the result.",
        };
        var output = new Option<FileInfo>("--out")
        {
            Description = "safetensors to write: output, h_n, c_n and grad.* tensors.",
            Required = true,
        };
        var run = new Command("run",
            "Evaluate a recurrent layer stack on given weights and input; write outputs, final states and gradients.")
        {
            config, weights, input, gradOutput, output,
        };
        run.SetAction(r => Run(r.GetValue(config)!, r.GetValue(weights)!, r.GetValue(input)!, r.GetValue(gradOutput),
            r.GetValue(output)!));
        var layer = new Command("layer", "Work with a single recurrent layer stack.");
        layer.Subcommands.Add(run);
        return layer;
    }

    static bool TensorIsFinite(Tensor t)
    {
        foreach (float v in t.Span) if (!float.IsFinite(v)) return false;
        return true;
    }

    static int Run(FileInfo config, FileInfo weights, FileInfo input, FileInfo? gradOutput, FileInfo output)
    {
        try
        {
            var (layerConfig, lengths) = RecurrentLayerRun.ParseConfig(File.ReadAllText(config.FullName),
                config.FullName);
            var result = RecurrentLayerRun.Evaluate(layerConfig, lengths, SafeTensors.Load(weights.FullName),
                SafeTensors.Load(input.FullName), gradOutput is null ? null : SafeTensors.Load(gradOutput.FullName));
            SafeTensors.Save(output.FullName, result, new Dictionary<string,
                string>
            { ["producer"] = "recur layer run" });
            foreach (var (name, tensor) in result.OrderBy(p => p.Key, StringComparer.Ordinal))
                if (!TensorIsFinite(tensor))
                    Console.Error.WriteLine($"recur layer run: warning: {name} holds NaN or infinite values (check the "
                        + $"weights and input).");
            Console.WriteLine(
                $"wrote {result.Count} tensors to {output.FullName}: {string.Join(", ", result.Keys.Order())}");
            return 0;
        }
        catch (ArgumentException e)
        {
            // shape and name mismatches between the files: say which files were combined
            Console.Error.WriteLine($"recur layer run: {e.Message} (config {config.FullName}, "
                + $"weights {weights.FullName}, input {input.FullName}" +
                (gradOutput is null ? ")" : $", grad-output {gradOutput.FullName})"));
            return 1;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"recur layer run: {e.Message}");
            return 1;
        }
    }
}
