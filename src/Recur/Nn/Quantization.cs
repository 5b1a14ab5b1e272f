using Recur.Kernels;
using Recur.Nn.Recurrent;

namespace Recur.Nn;

/// <summary>Post-training quantisation of a trained model for faster, smaller inference.</summary>
public static class Quantization
{
    /// <summary>Whether int8 products run on AVX-VNNI on this machine (one with AVX-VNNI but not AVX-512BW; the other
    /// paths give the same results).</summary>
    public static bool UsesVnni => Kernels.QuantizedMatrix.UsesVnni;

    /// <summary>The instructions int8 products run on here: "AVX-512BW tiles", "AVX-VNNI", "AVX2" or "portable" —
    /// all give the same results.</summary>
    public static string IntegerKernel => Kernels.QuantizedMatrix.PathName;

    /// <summary>
    /// Dynamic int8 quantisation, as PyTorch's <c>torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, …})</c>:
    /// every recurrent stack in <paramref name="model"/> whose cell has an int8 path gets
    /// <see cref="RecurrentLayer.QuantizeDynamic"/>, every decoder cell <see cref="RecurrentCell.QuantizeDynamic"/> and
    /// every <see cref="Linear"/> layer <see cref="Linear.QuantizeDynamic"/>.
    /// The model then runs inference only. Returns the names of the modules in int8 ("" for the model itself);
    /// stacks without an int8 path keep running in float. Modules already in int8 are kept as they are (a model
    /// loaded from a quantised checkpoint keeps the integers it was saved with).
    /// </summary>
    public static IReadOnlyList<string> QuantizeDynamic(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var quantised = new List<string>();
        foreach (var (name, module) in model.NamedModules())
        {
            if (module is not IInt8Module layer || !layer.QuantizableWeights.Any()) continue;
            if (!layer.Int8Weights().Any()) layer.QuantizeDynamic();
            quantised.Add(name);
        }
        return quantised;
    }

    /// <summary>A weight [out, in] quantised row by row.</summary>
    internal static QuantizedMatrix Quantize(Tensor weight) =>
        QuantizedMatrix.Quantize(weight.Span, weight.Size(0), weight.Size(1));

    /// <summary>The suffix of the tensor that holds an int8 weight's per-row scales in a saved state.</summary>
    internal const string ScaleSuffix = "_scale";

    /// <summary>
    /// The state <see cref="Module.Save"/> writes: the state dict, with each int8 weight of a quantised layer in
    /// place of its float one (its integers, exactly, as floats) and its row scales beside it under the weight's name
    /// + <c>_scale</c>; returns those weights' names, to be written as I8.
    /// </summary>
    internal static (Dictionary<string, Tensor> State, HashSet<string> Int8) SavedState(Module model)
    {
        var state = model.StateDict().ToDictionary();
        var int8 = new HashSet<string>(StringComparer.Ordinal);
        var names = ParameterNames(model);
        foreach (var (_, module) in model.NamedModules())
        {
            if (module is not IInt8Module layer) continue;
            foreach (var (weight, matrix) in layer.Int8Weights())
            {
                string name = names[weight];
                var values = new sbyte[matrix.Rows * matrix.Columns];
                matrix.CopyValues(values);
                var integers = Tensor.Zeros(matrix.Rows, matrix.Columns);
                var span = integers.Span;
                for (int i = 0; i < values.Length; i++) span[i] = values[i];
                if (!state.TryAdd(name + ScaleSuffix, Tensor.FromArray(matrix.Scales, matrix.Rows)))
                    throw new InvalidOperationException($"'{name}' is int8 but the model already has a tensor "
                        + $"'{name}{ScaleSuffix}', the name its scales are saved under.");
                state[name] = integers;
                int8.Add(name);
            }
        }
        return (state, int8);
    }

    /// <summary>
    /// Loads a saved state into <paramref name="model"/>: the I8 tensors (<paramref name="dtypes"/>) with their
    /// <c>_scale</c> companions become the int8 weights of the layers that own them — exactly as they were saved, so
    /// the loaded model computes what the saved one did — and their float parameters the values the integers stand
    /// for; everything else as <see cref="Module.LoadStateDict"/> with <paramref name="strict"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An int8 weight without its scales, of the wrong shape, out of range, or
    /// of a layer with no int8 path; or what <see cref="Module.LoadStateDict"/> refuses.</exception>
    internal static StateDictLoad LoadSavedState(Module model, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string> dtypes, bool strict)
    {
        var int8 = dtypes.Where(d => d.Value == "I8").Select(d => d.Key).ToHashSet(StringComparer.Ordinal);
        if (int8.Count == 0) return model.LoadStateDict(tensors, strict);
        var floats = tensors.ToDictionary();
        var matrices = new Dictionary<string, QuantizedMatrix>(StringComparer.Ordinal);
        foreach (string name in int8.Order(StringComparer.Ordinal))
        {
            var integers = tensors[name];
            if (integers.Rank != 2)
                throw new ArgumentException($"int8 tensor '{name}' has shape {Shapes.Format(integers.ShapeArray())}; "
                    + "int8 weights are matrices.");
            int rows = integers.Size(0), columns = integers.Size(1);
            if (!tensors.TryGetValue(name + ScaleSuffix, out var scales) || dtypes[name + ScaleSuffix] != "F32")
                throw new ArgumentException($"int8 tensor '{name}' has no F32 scales '{name}{ScaleSuffix}'.");
            if (scales.Rank != 1 || scales.Size(0) != rows)
                throw new ArgumentException($"'{name}{ScaleSuffix}' has shape {Shapes.Format(scales.ShapeArray())}, "
                    + $"not [{rows}] (one scale per row of '{name}').");
            var values = new sbyte[integers.Length];
            var span = integers.Span;
            for (int i = 0; i < values.Length; i++) values[i] = (sbyte)span[i];
            var matrix = QuantizedMatrix.FromValues(values, scales.Span, rows, columns, $"int8 tensor '{name}'");
            matrices[name] = matrix;
            var dequantized = Tensor.Zeros(rows, columns);
            var target = dequantized.Span;
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < columns; k++) target[r * columns + k] = matrix.Dequantized(r, k);
            floats[name] = dequantized;
            floats.Remove(name + ScaleSuffix);
        }
        var load = model.LoadStateDict(floats, strict);
        var names = ParameterNames(model);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (moduleName, module) in model.NamedModules())
        {
            if (module is not IInt8Module layer) continue;
            var own = layer.QuantizableWeights.Select(w => names[w]).ToArray();
            var present = own.Where(matrices.ContainsKey).ToArray();
            if (present.Length == 0) continue;
            if (present.Length < own.Length)
                throw new ArgumentException($"module '{moduleName}' has int8 weights for {string.Join(", ", present)} "
                    + $"but not for {string.Join(", ", own.Except(present))}; its weights are all int8 or none.");
            layer.LoadInt8(w => matrices[names[w]]);
            claimed.UnionWith(own);
        }
        var stray = int8.Where(n => names.ContainsValue(n) && !claimed.Contains(n)).Order(StringComparer.Ordinal)
            .ToArray();
        if (stray.Length > 0)
            throw new ArgumentException($"{string.Join(", ", stray)} are int8 but belong to layers with no int8 path "
                + "(embeddings, convolutions, normalised or projected recurrent layers).");
        return load;
    }

    static Dictionary<Tensor, string> ParameterNames(Module model) =>
        model.NamedParameters().ToDictionary(p => p.Value, p => p.Name, TensorIdentity);

    static readonly IEqualityComparer<Tensor> TensorIdentity = ReferenceEqualityComparer.Instance;
}

/// <summary>A layer whose inference can run with int8 weights, and whose int8 weights can be saved and restored
/// exactly.</summary>
internal interface IInt8Module
{
    /// <summary>The float weights an int8 form replaces (none for a layer with no int8 path).</summary>
    IEnumerable<Tensor> QuantizableWeights { get; }

    /// <summary>Quantises the weights from their float values.</summary>
    void QuantizeDynamic();

    /// <summary>Each float weight with its int8 form (none unless quantised).</summary>
    IEnumerable<(Tensor Weight, QuantizedMatrix Int8)> Int8Weights();

    /// <summary>Runs inference with the given int8 form of each of <see cref="QuantizableWeights"/> (quantised
    /// afresh by <see cref="QuantizeDynamic"/>, read from a file by <see cref="Quantization.LoadSavedState"/>) and
    /// freezes the parameters.</summary>
    void LoadInt8(Func<Tensor, QuantizedMatrix> int8Of);
}
