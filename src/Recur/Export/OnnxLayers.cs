using Recur.Nn.Recurrent;

namespace Recur.Export;

/// <summary>The values of a recurrent stack's outputs in an ONNX graph, as <see cref="RecurrentOutput"/>'s.</summary>
/// <param name="Output">[T, B, D·H], zero past each length.</param>
/// <param name="Hidden">h_n, [numLayers·D, B, H].</param>
/// <param name="Cell">c_n for an LSTM, else null.</param>
internal sealed record OnnxRecurrentOutput(string Output, string Hidden, string? Cell);

/// <summary>
/// Recur's layers written as ONNX operators: a linear layer as MatMul and Add, an embedding as Gather, and every
/// layer and direction of a <see cref="RecurrentLayer"/> as ONNX's own RNN, LSTM or GRU operator.
/// </summary>
internal static class OnnxLayers
{
    /// <summary>
    /// y = x Wᵀ + b on the last axis of <paramref name="x"/> (any rank), with the weight [out, in] and the optional
    /// bias [out] of the state-dict entries <c>{prefix}.weight</c> and <c>{prefix}.bias</c>.
    /// </summary>
    public static string Linear(this OnnxGraph graph, IReadOnlyDictionary<string, Tensor> state, string prefix,
        string x) => graph.Linear(state[prefix + ".weight"], state.GetValueOrDefault(prefix + ".bias"), x, prefix);

    /// <summary>y = x Wᵀ + b for a weight [out, in] and an optional bias [out].</summary>
    public static string Linear(this OnnxGraph graph, Tensor weight, Tensor? bias, string x, string hint)
    {
        int outputs = weight.Size(0), inputs = weight.Size(1);
        var transposed = weight.Transpose(0, 1);
        string y = graph.Op("MatMul", [x, graph.Weight(hint + ".weight", transposed.Span, inputs, outputs)]);
        return bias is null ? y : graph.Op("Add", [y, graph.Weight(hint + ".bias", bias.Span, outputs)]);
    }

    /// <summary>Rows of the table <c>{prefix}.weight</c> [V, E] at int64 <paramref name="ids"/> of any shape.</summary>
    public static string Embedding(this OnnxGraph graph, IReadOnlyDictionary<string, Tensor> state, string prefix,
        string ids)
    {
        var table = state[prefix + ".weight"];
        return graph.Op("Gather", [graph.Weight(prefix + ".weight", table.Span, table.Size(0), table.Size(1)), ids]);
    }

    /// <summary>
    /// [T, B, 1] float mask: 1 where t is below the int32 <paramref name="lengths"/> [B] of its column, else 0;
    /// <paramref name="like"/> is any [T, B, …] value giving T.
    /// </summary>
    public static string LengthMask(this OnnxGraph graph, string lengths, string like)
    {
        string steps = graph.Op("Gather", [graph.Op("Shape", [like]), graph.Int64s([0], [])]);
        string range = graph.Op("Range", [graph.Int64s([0], []), steps, graph.Int64s([1], [])]);
        string column = graph.Op("Unsqueeze", [range, graph.Int64s(1)]); // [T, 1]
        string limits = graph.Op("Unsqueeze", [graph.Op("Cast", [lengths], OnnxGraph.Attribute("to", 7L)),
            graph.Int64s(0)]); // [1, B]
        string inside = graph.Op("Less", [column, limits]); // [T, B]
        return graph.Op("Unsqueeze", [graph.Op("Cast", [inside], OnnxGraph.Attribute("to", 1L)), graph.Int64s(2)]);
    }

    /// <summary>
    /// Why <paramref name="config"/> has no ONNX form, or null when every part of it maps onto ONNX's RNN, LSTM or
    /// GRU operator.
    /// </summary>
    public static string? Unsupported(RecurrentConfig config) =>
        config.ProjSize > 0 ? (config.Mode == RecurrentMode.Lstm ? "a projected LSTM (proj_size)" : "a Jordan network")
            + " has no ONNX recurrent operator"
        : config.LayerNorm ? "layer-normalised cells have no ONNX recurrent operator"
        : config.Leak > 0f ? "leaky-integrator units have no ONNX recurrent operator"
        : null;

    /// <summary>
    /// The recurrent stack of <paramref name="config"/>, with the state-dict entries under <c>{prefix}.</c>, over
    /// <paramref name="x"/> ([T, B, in], or [B, T, in] when batch-first), stopping at the int32 <paramref
    /// name="lengths"/> [B] when given (ONNX's <c>sequence_lens</c>); <paramref name="h0"/>/<paramref name="c0"/> are
    /// [numLayers·D, B, H] or null for zeros.
    /// </summary>
    public static OnnxRecurrentOutput Recurrent(this OnnxGraph graph, RecurrentConfig config,
        IReadOnlyDictionary<string, Tensor> state, string prefix, string x, string? lengths = null, string? h0 = null,
        string? c0 = null)
    {
        if (Unsupported(config) is { } reason) throw new NotSupportedException($"ONNX export of {prefix}: {reason}.");
        Tensor Parameter(string name) => state[$"{prefix}.{name}"];
        string hint = prefix;
        int directions = config.Directions, hidden = config.HiddenSize, gates = config.Gates;
        if (config.BatchFirst) x = graph.Transpose(x, 1, 0, 2);
        string? mask = config.Residual && lengths != null ? graph.LengthMask(lengths, x) : null;
        var hiddens = new List<string>();
        var cells = new List<string>();
        for (int l = 0; l < config.NumLayers; l++)
        {
            int inputSize = l == 0 ? config.InputSize : hidden * directions;
            string[] suffixes = directions == 1 ? [$"_l{l}"] : [$"_l{l}", $"_l{l}_reverse"];
            Tensor Stacked(string name, Func<Tensor, float[]> reorder, int width) =>
                Tensor.FromArray(suffixes.SelectMany(s => reorder(Parameter(name + s))).ToArray(), directions,
                    width);
            var order = GateOrder(config.Mode);
            var w = Stacked("weight_ih", p => Reorder(p, order, hidden), gates * hidden * inputSize);
            var r = Stacked("weight_hh", p => Reorder(p, order, hidden), gates * hidden * hidden);
            var bias = new float[directions * 2 * gates * hidden];
            if (config.Bias)
                for (int d = 0; d < directions; d++)
                {
                    Reorder(Parameter("bias_ih" + suffixes[d]), order, hidden).CopyTo(bias, d * 2 * gates * hidden);
                    Reorder(Parameter("bias_hh" + suffixes[d]), order, hidden)
                        .CopyTo(bias, (d * 2 + 1) * gates * hidden);
                }
            string lengthInput = lengths ?? "";
            string StateSlice(string? state) => state is null ? "" : graph.Op("Slice",
                [state, graph.Int64s(l * directions), graph.Int64s((l + 1) * directions), graph.Int64s(0)]);
            var inputs = new List<string>
            {
                x, graph.Weight($"{hint}.W_l{l}", w.Span, directions, gates * hidden, inputSize),
                graph.Weight($"{hint}.R_l{l}", r.Span, directions, gates * hidden, hidden),
                graph.Weight($"{hint}.B_l{l}", bias, directions, 2 * gates * hidden), lengthInput, StateSlice(h0),
            };
            var attributes = new List<Protos.AttributeProto>
            {
                OnnxGraph.Attribute("hidden_size", (long)hidden),
                OnnxGraph.Attribute("direction", directions == 2 ? "bidirectional" : "forward"),
                OnnxGraph.Attribute("layout", 0L),
            };
            string op;
            switch (config.Mode)
            {
                case RecurrentMode.Lstm:
                    op = "LSTM";
                    inputs.Add(StateSlice(c0));
                    if (config.Peephole)
                    {
                        // Recur's peepholes are [w_ci, w_cf, w_co]; ONNX's P is [i, o, f]
                        var p = suffixes.SelectMany(s => new[] { "weight_ci", "weight_co", "weight_cf" }
                            .SelectMany(n => Parameter(n + s).ToArray())).ToArray();
                        inputs.Add(graph.Weight($"{hint}.P_l{l}", p, directions, 3 * hidden));
                    }
                    break;
                case RecurrentMode.Gru:
                    op = "GRU";
                    attributes.Add(OnnxGraph.Attribute("linear_before_reset", config.ResetAfter ? 1L : 0L));
                    break;
                default:
                    op = "RNN";
                    string activation = config.Mode == RecurrentMode.RnnRelu ? "Relu" : "Tanh";
                    attributes.Add(OnnxGraph.Attribute("activations", Enumerable.Repeat(activation, directions)
                        .ToArray()));
                    break;
            }
            while (inputs[^1] == "") inputs.RemoveAt(inputs.Count - 1);
            var outputs = graph.Ops(op, [.. inputs], config.Mode == RecurrentMode.Lstm ? 3 : 2, [.. attributes]);
            hiddens.Add(outputs[1]);
            if (config.Mode == RecurrentMode.Lstm) cells.Add(outputs[2]);
            // Y is [T, D, B, H]: directions side by side on the last axis, as Recur's output
            string sequence = graph.Op("Reshape", [
                graph.Transpose(outputs[0], 0, 2, 1, 3),
                graph.Int64s(0, 0, -1)]);
            if (config.Residual && (l > 0 || config.InputSize == hidden * directions))
            {
                sequence = graph.Op("Add", [sequence, x]);
                if (mask != null) sequence = graph.Op("Mul", [sequence, mask]);
            }
            x = sequence;
        }
        if (config.BatchFirst) x = graph.Transpose(x, 1, 0, 2);
        string Joined(List<string> states) => states.Count == 1 ? states[0]
            : graph.Op("Concat", [.. states], OnnxGraph.Attribute("axis", 0L));
        return new OnnxRecurrentOutput(x, Joined(hiddens), cells.Count > 0 ? Joined(cells) : null);
    }

    /// <summary>Recur's gate blocks in ONNX's order: LSTM i,f,g,o → i,o,f,c; GRU r,z,n → z,r,h.</summary>
    static int[] GateOrder(RecurrentMode mode) => mode switch
    {
        RecurrentMode.Lstm => [0, 3, 1, 2],
        RecurrentMode.Gru => [1, 0, 2],
        _ => [0],
    };

    /// <summary>
    /// The rows of <paramref name="parameter"/> in gate blocks of <paramref name="hidden"/> rows, in the order
    /// <paramref name="order"/>.
    /// </summary>
    static float[] Reorder(Tensor parameter, int[] order, int hidden)
    {
        var source = parameter.Span;
        int block = hidden * (parameter.Length / (order.Length * hidden));
        var result = new float[parameter.Length];
        for (int g = 0; g < order.Length; g++)
            source.Slice(order[g] * block, block).CopyTo(result.AsSpan(g * block, block));
        return result;
    }
}
