using System.Text.Json;

namespace Recur.Nn.Recurrent;

/// <summary>
/// Evaluates one recurrent layer stack on given weights and inputs, the way <c>recur layer run</c> does, so a user can
/// check a model ported from PyTorch: the configuration uses <c>torch.nn.RNN/LSTM/GRU</c>'s argument names and the
/// tensors use <c>state_dict()</c> names.
/// </summary>
public static class RecurrentLayerRun
{
    static readonly HashSet<string> KnownKeys =
        ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional",
            "proj_size", "lengths"];

    /// <summary>
    /// Parses a configuration such as <c>{"mode": "LSTM", "input_size": 3, "hidden_size": 4, "num_layers": 2,
    /// "bidirectional": true, "batch_first": false, "lengths": [5, 3]}</c>. <c>mode</c> is RNN_TANH, RNN_RELU, LSTM or
    /// GRU. Errors name <paramref name="source"/> and the offending key.
    /// </summary>
    public static (RecurrentConfig Config, int[]? Lengths) ParseConfig(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON ({e.Message})."); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException(
                $"{source}: expected a JSON object.");
            foreach (var property in root.EnumerateObject())
                if (!KnownKeys.Contains(property.Name))
                    throw new InvalidDataException(
                        $"{source}: unknown key '{property.Name}' (known: {string.Join(", ", KnownKeys)}).");
            string modeName = Get(root, "mode", source,
                e => e.GetString()) ?? throw new InvalidDataException($"{source}: 'mode' is required.");
            var mode = modeName switch
            {
                "RNN_TANH" => RecurrentMode.RnnTanh,
                "RNN_RELU" => RecurrentMode.RnnRelu,
                "LSTM" => RecurrentMode.Lstm,
                "GRU" => RecurrentMode.Gru,
                _ => throw new InvalidDataException(
                    $"{source}: mode '{modeName}' is not RNN_TANH, RNN_RELU, LSTM or GRU."),
            };
            int projSize = Get(root, "proj_size", source, e => e.GetInt32());
            int? inputSize = Get<int?>(root, "input_size", source, e => e.GetInt32());
            int? hiddenSize = Get<int?>(root, "hidden_size", source, e => e.GetInt32());
            if (inputSize is null
                || hiddenSize
                is null) throw new InvalidDataException($"{source}: 'input_size' and 'hidden_size' are required.");
            var config = new RecurrentConfig(mode, inputSize.Value, hiddenSize.Value,
                NumLayers: Get<int?>(root, "num_layers", source, e => e.GetInt32()) ?? 1,
                Bias: Get<bool?>(root, "bias", source, e => e.GetBoolean()) ?? true,
                BatchFirst: Get(root, "batch_first", source, e => e.GetBoolean()),
                Dropout: Get(root, "dropout", source, e => e.GetSingle()),
                Bidirectional: Get(root, "bidirectional", source, e => e.GetBoolean()), ProjSize: projSize);
            try { config.Validate(); }
            catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message}"); }
            var lengths = Get(root, "lengths", source,
                e => e.ValueKind == JsonValueKind.Null ? null : e.EnumerateArray().Select(x => x.GetInt32()).ToArray());
            return (config, lengths);
        }
    }

    static T? Get<T>(JsonElement root, string key, string source, Func<JsonElement, T> read)
    {
        if (!root.TryGetProperty(key, out var value)) return default;
        try { return read(value); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: '{key}' has the wrong type ({value.ValueKind}).");
        }
    }

    /// <summary>
    /// Runs the stack. <paramref name="inputs"/> holds <c>input</c> and optionally <c>h0</c>, <c>c0</c>;
    /// <paramref name="gradOutputs"/>, when given, holds the gradient of a scalar loss with respect to <c>output</c>
    /// and optionally <c>h_n</c>, <c>c_n</c>. Returns <c>output</c>, <c>h_n</c> (and <c>c_n</c>), and with gradients
    /// <c>grad.input</c>, <c>grad.h0</c>, <c>grad.c0</c> and <c>grad.&lt;parameter&gt;</c> for every weight.
    /// </summary>
    public static Dictionary<string, Tensor> Evaluate(RecurrentConfig config, int[]? lengths,
        IReadOnlyDictionary<string, Tensor> weights, IReadOnlyDictionary<string, Tensor> inputs,
        IReadOnlyDictionary<string, Tensor>? gradOutputs)
    {
        var layer = new RecurrentLayer(config, new RandomGenerator(0));
        layer.Eval();
        layer.LoadStateDict(weights);
        var input = inputs.TryGetValue("input",
            out var x) ? x : throw new ArgumentException("inputs: a tensor named 'input' is required.");
        var h0 = inputs.GetValueOrDefault("h0");
        var c0 = inputs.GetValueOrDefault("c0");
        bool withGradients = gradOutputs != null;
        foreach (var t in new[] { input, h0, c0 }) if (t != null) t.RequiresGrad = withGradients;
        if (!withGradients) foreach (var p in layer.Parameters()) p.RequiresGrad = false;

        var output = layer.Forward(input, h0, c0, lengths);
        var result = new Dictionary<string, Tensor>
        {
            ["output"] = output.Output.Detach(),
            ["h_n"] = output.HiddenState.Detach()
        };
        if (output.CellState != null) result["c_n"] = output.CellState.Detach();
        if (gradOutputs is null) return result;

        Tensor Project(Tensor value, string name)
        {
            var g = gradOutputs[name];
            if (!g.Shape.SequenceEqual(value.Shape))
                throw new ArgumentException($"grad-output '{name}' has shape {Shapes.Format(g.Shape)} but the "
                    + $"layer's {name} is {Shapes.Format(value.Shape)}.");
            return (value * g).Sum();
        }
        if (!gradOutputs.ContainsKey("output")) throw new ArgumentException(
            "grad-output: a tensor named 'output' is required.");
        var loss = Project(output.Output, "output");
        if (gradOutputs.ContainsKey("h_n")) loss = loss + Project(output.HiddenState, "h_n");
        if (output.CellState != null && gradOutputs.ContainsKey("c_n")) loss = loss + Project(output.CellState, "c_n");
        loss.Backward();
        result["grad.input"] = input.Grad ?? Tensor.Zeros(input.ShapeArray());
        if (h0 != null) result["grad.h0"] = h0.Grad ?? Tensor.Zeros(h0.ShapeArray());
        if (c0 != null) result["grad.c0"] = c0.Grad ?? Tensor.Zeros(c0.ShapeArray());
        foreach (var (name, parameter) in layer.NamedParameters())
            result["grad." + name] = parameter.Grad ?? Tensor.Zeros(parameter.ShapeArray());
        return result;
    }
}
