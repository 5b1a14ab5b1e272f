using System.CommandLine;
using Recur.Cli.Training;
using Recur.Nn;
using Recur.Nn.Recurrent;

namespace Recur.Cli;

/// <summary>The <c>--int8</c> option of the verbs that load a trained model for inference.</summary>
static class Int8Inference
{
    public static Option<bool> Option() => new("--int8")
    {
        Description = "Run the recurrent layers with int8 weights (dynamic quantisation, as PyTorch's "
            + "quantize_dynamic): faster, slightly less exact.",
    };

    /// <summary>Quantises the recurrent stacks of every model loaded from <paramref name="model"/>, or says why it
    /// cannot (a usage error, before any output).</summary>
    public static void Apply(IEnumerable<Module> models, string model)
    {
        var all = models.ToList();
        foreach (var m in all) Quantization.QuantizeDynamic(m);
        var modules = all.SelectMany(m => m.NamedModules()).Select(m => m.Value).ToList();
        int recurrent = modules.Count(m => m is RecurrentLayer { IsQuantized: true } or RecurrentCell
        {
            IsQuantized: true,
        });
        if (recurrent == 0)
            throw new UsageException($"--int8: {model}'s recurrent layers have no int8 path (a projected LSTM, "
                + "layer norm or Cho's GRU); run it without --int8.");
        int linear = modules.Count(m => m is Linear { IsQuantized: true });
        Console.Error.WriteLine($"int8: {recurrent} recurrent and {linear} linear module(s) quantised dynamically.");
    }
}
