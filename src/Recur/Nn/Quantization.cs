using Recur.Nn.Recurrent;

namespace Recur.Nn;

/// <summary>Post-training quantisation of a trained model for faster, smaller inference.</summary>
public static class Quantization
{
    /// <summary>Whether int8 products run on AVX-VNNI on this machine (otherwise on a portable path that gives the
    /// same results, more slowly).</summary>
    public static bool UsesVnni => Kernels.QuantizedMatrix.UsesVnni;

    /// <summary>
    /// Dynamic int8 quantisation, as PyTorch's <c>torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, …})</c>:
    /// every recurrent stack in <paramref name="model"/> whose cell has an int8 path gets
    /// <see cref="RecurrentLayer.QuantizeDynamic"/>, every decoder cell <see cref="RecurrentCell.QuantizeDynamic"/> and
    /// every <see cref="Linear"/> layer <see cref="Linear.QuantizeDynamic"/>.
    /// The model then runs inference only. Returns the names of the modules quantised ("" for the model itself);
    /// stacks without an int8 path keep running in float.
    /// </summary>
    public static IReadOnlyList<string> QuantizeDynamic(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var quantised = new List<string>();
        foreach (var (name, module) in model.NamedModules())
            switch (module)
            {
                case RecurrentLayer { CanQuantize: true } layer:
                    layer.QuantizeDynamic();
                    quantised.Add(name);
                    break;
                case RecurrentCell cell:
                    cell.QuantizeDynamic();
                    quantised.Add(name);
                    break;
                case Linear linear:
                    linear.QuantizeDynamic();
                    quantised.Add(name);
                    break;
            }
        return quantised;
    }
}
