using Recur.Export.Protos;
using Recur.Nn.Recurrent;

namespace Recur.Export;

/// <summary>The values of a recurrent stack's outputs in an ONNX graph, as <see cref="RecurrentOutput"/>'s.</summary>
/// <param name="Output">[T, B, D·H], zero past each length.</param>
/// <param name="Hidden">h_n, [numLayers·D, B, H].</param>
/// <param name="Cell">c_n for an LSTM, else null.</param>
internal sealed record OnnxRecurrentOutput(string Output, string Hidden, string? Cell);

/// <summary>
/// Recur's layers written as ONNX operators: a linear layer as MatMul and Add, an embedding as Gather, each layer of a
/// <see cref="RecurrentLayer"/> as ONNX's own RNN, LSTM or GRU operator (both directions in one node), or, for the
/// cells those operators lack, as a Scan per direction over one step's graph.
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
    /// A convolution (<c>Conv</c>) with the weight <c>{prefix}.weight</c> and, when the state has one,
    /// <c>{prefix}.bias</c>; <paramref name="attributes"/> give its kernel, strides, pads and dilations.
    /// </summary>
    public static string Conv(this OnnxGraph graph, IReadOnlyDictionary<string, Tensor> state, string prefix,
        string x, params AttributeProto[] attributes)
    {
        var weight = state[prefix + ".weight"];
        var inputs = new List<string> { x, graph.Weight(prefix + ".weight", weight.Span, weight.ShapeArray()) };
        if (state.TryGetValue(prefix + ".bias", out var bias))
            inputs.Add(graph.Weight(prefix + ".bias", bias.Span, weight.Size(0)));
        return graph.Op("Conv", [.. inputs], attributes);
    }

    /// <summary>
    /// A Neural Turing Machine head's new weighting [B, N] from its parameters [B, W + 6 (+ …)] (key, strength, gate,
    /// three shift logits, sharpening), the memory [B, N, W] and its previous weighting, as
    /// <c>NeuralTuringMachine.Address</c> computes it.
    /// </summary>
    public static string NtmAddress(this OnnxGraph graph, string parameters, string memory, string previous, int n,
        int w)
    {
        const float epsilon = 1e-8f;
        string Part(int from, int size) => graph.Slice(parameters, from, from + size);
        string Constant(float value) => graph.Weight("constant", [value]);
        string Sum(string value, long axis, long keep) => graph.Op("ReduceSum", [value, graph.Int64s(axis)],
            OnnxGraph.Attribute("keepdims", keep));
        string key = Part(0, w);
        string strength = graph.Op("Softplus", [Part(w, 1)]);
        string gate = graph.Op("Sigmoid", [Part(w + 1, 1)]);
        string shift = graph.Op("Softmax", [Part(w + 2, 3)], OnnxGraph.Attribute("axis", 1L));
        string sharpen = graph.Op("Add", [graph.Op("Softplus", [Part(w + 5, 1)]), Constant(1f)]);
        // content: cosine similarity of the key with every row, sharpened by the strength
        string dot = graph.Op("Squeeze", [graph.Op("MatMul", [memory, graph.Op("Unsqueeze", [key, graph.Int64s(2)])]),
            graph.Int64s(2)]);
        string rowNorms = graph.Op("Sqrt", [graph.Op("Add", [Sum(graph.Op("Mul", [memory, memory]), 2, 0),
            Constant(epsilon)])]);
        string keyNorm = graph.Op("Sqrt", [graph.Op("Add", [Sum(graph.Op("Mul", [key, key]), 1, 1),
            Constant(epsilon)])]);
        string cosine = graph.Op("Div", [dot, graph.Op("Add", [graph.Op("Mul", [rowNorms, keyNorm]),
            Constant(epsilon)])]);
        string content = graph.Op("Softmax", [graph.Op("Mul", [strength, cosine])], OnnxGraph.Attribute("axis", 1L));
        string gated = graph.Op("Add", [graph.Op("Mul", [gate, content]),
            graph.Op("Mul", [graph.Op("Sub", [Constant(1f), gate]), previous])]);
        // rotation: slot i takes gated[i − s] with weight shift[s + 1] for s = −1, 0, +1
        string? shifted = null;
        for (int s = -1; s <= 1; s++)
        {
            var source = Enumerable.Range(0, n).Select(i => (long)(((i - s) % n + n) % n)).ToArray();
            string term = graph.Op("Mul", [graph.Op("Gather", [gated, graph.Int64s(source)],
                OnnxGraph.Attribute("axis", 1L)), graph.Slice(shift, s + 1, s + 2)]);
            shifted = shifted is null ? term : graph.Op("Add", [shifted, term]);
        }
        string sharpened = graph.Op("Exp", [graph.Op("Mul", [sharpen, graph.Op("Log", [graph.Op("Add",
            [shifted!, Constant(epsilon)])])])]);
        return graph.Op("Div", [sharpened, Sum(sharpened, 1, 1)]);
    }

    /// <summary>Entries [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="value"/> along
    /// <paramref name="axis"/>.</summary>
    public static string Slice(this OnnxGraph graph, string value, long start, long end, long axis = 1) =>
        graph.Op("Slice", [value, graph.Int64s(start), graph.Int64s(end), graph.Int64s(axis)]);

    /// <summary>0, 1, …, T − 1 (int64 [T]) and T (an int64 scalar), the length of axis <paramref name="axis"/> of
    /// <paramref name="like"/>.</summary>
    static (string Range, string Count) Steps(this OnnxGraph graph, string like, long axis)
    {
        string count = graph.Op("Gather", [graph.Op("Shape", [like]), graph.Int64s([axis], [])]);
        return (graph.Op("Range", [graph.Int64s([0], []), count, graph.Int64s([1], [])]), count);
    }

    /// <summary>
    /// [T, B, 1] float mask: 1 where t is below the int32 <paramref name="lengths"/> [B] of its column, else 0;
    /// <paramref name="like"/> is any value whose axis <paramref name="axis"/> has length T.
    /// </summary>
    public static string LengthMask(this OnnxGraph graph, string lengths, string like, long axis = 0)
    {
        var (range, _) = graph.Steps(like, axis);
        string column = graph.Op("Unsqueeze", [range, graph.Int64s(1)]); // [T, 1]
        string limits = graph.Op("Unsqueeze", [graph.Op("Cast", [lengths], OnnxGraph.Attribute("to", 7L)),
            graph.Int64s(0)]); // [1, B]
        string inside = graph.Op("Less", [column, limits]); // [T, B]
        return graph.Op("Unsqueeze", [graph.Op("Cast", [inside], OnnxGraph.Attribute("to", 1L)), graph.Int64s(2)]);
    }

    /// <summary>
    /// Whether every part of <paramref name="config"/> maps onto ONNX's RNN, LSTM or GRU operator; the other cells
    /// (projected LSTM, Jordan, leaky, layer- and batch-normalised) run as a <c>Scan</c> over a graph of one step.
    /// </summary>
    static bool HasOperator(RecurrentConfig config) => config.ProjSize == 0 && !config.LayerNorm && !config.BatchNorm
        && config.Leak == 0f;

    /// <summary>
    /// The recurrent stack of <paramref name="config"/>, with the state-dict entries under <c>{prefix}.</c>, over
    /// <paramref name="x"/> ([T, B, in], or [B, T, in] when batch-first), stopping at the int32 <paramref
    /// name="lengths"/> [B] when given; <paramref name="h0"/>/<paramref name="c0"/> are [numLayers·D, B, H] or null
    /// for zeros.
    /// </summary>
    public static OnnxRecurrentOutput Recurrent(this OnnxGraph graph, RecurrentConfig config,
        IReadOnlyDictionary<string, Tensor> state, string prefix, string x, string? lengths = null, string? h0 = null,
        string? c0 = null)
    {
        var layer = new LayerWeights(config, name => state[$"{prefix}.{name}"], prefix);
        int directions = config.Directions, width = config.OutputWidth;
        if (config.BatchFirst) x = graph.Transpose(x, 1, 0, 2);
        string? mask = lengths != null && (config.Residual || !HasOperator(config)) ? graph.LengthMask(lengths, x)
            : null;
        var hiddens = new List<string>();
        var cells = new List<string>();
        for (int l = 0; l < config.NumLayers; l++)
        {
            string? StateSlice(string? state) => state is null ? null : graph.Op("Slice",
                [state, graph.Int64s(l * directions), graph.Int64s((l + 1) * directions), graph.Int64s(0)]);
            var (sequence, hidden, cell) = HasOperator(config)
                ? graph.OperatorLayer(layer, l, x, lengths, StateSlice(h0), StateSlice(c0))
                : graph.ScanLayer(layer, l, x, mask, StateSlice(h0), StateSlice(c0));
            hiddens.Add(hidden);
            if (cell != null) cells.Add(cell);
            if (config.Residual && (l > 0 || config.InputSize == width * directions))
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

    /// <summary>
    /// One step of a <see cref="RecurrentCell"/> (entries <c>{prefix}.weight_ih</c>, …) of <paramref name="mode"/> as
    /// ONNX's own operator over a sequence of one step: <paramref name="x"/> [B, in], <paramref name="h"/> and
    /// <paramref name="c"/> [B, H] → the new h and c.
    /// </summary>
    public static (string H, string? C) CellStep(this OnnxGraph graph, RecurrentMode mode,
        IReadOnlyDictionary<string, Tensor> state, string prefix, string x, string h, string? c)
    {
        var weightIh = state[$"{prefix}.weight_ih"];
        int gates = RecurrentConfig.GatesOf(mode);
        var config = new RecurrentConfig(mode, weightIh.Size(1), weightIh.Size(0) / gates,
            Bias: state.ContainsKey($"{prefix}.bias_ih"));
        // the cell's entries under the names of layer 0 of a stack
        var layer = new LayerWeights(config, name => state[$"{prefix}.{name[..name.LastIndexOf("_l0")]}"], prefix);
        string Sequence(string value) => graph.Op("Unsqueeze", [value, graph.Int64s(0)]);
        var (_, hidden, cell) = graph.OperatorLayer(layer, 0, Sequence(x), null, Sequence(h),
            c is null ? null : Sequence(c));
        string Step(string value) => graph.Op("Squeeze", [value, graph.Int64s(0)]);
        return (Step(hidden), cell is null ? null : Step(cell));
    }

    /// <summary>A stack's configuration with its state-dict entries.</summary>
    sealed record LayerWeights(RecurrentConfig Config, Func<string, Tensor> Parameter, string Hint)
    {
        public string[] Suffixes(int l) => Config.Directions == 1 ? [$"_l{l}"] : [$"_l{l}", $"_l{l}_reverse"];

        public int InputSize(int l) => l == 0 ? Config.InputSize : Config.OutputWidth * Config.Directions;
    }

    /// <summary>
    /// One layer (both directions) as ONNX's own RNN, LSTM or GRU node: outputs [T, B, D·H], h_n [D, B, H] and c_n.
    /// </summary>
    static (string Sequence, string Hidden, string? Cell) OperatorLayer(this OnnxGraph graph, LayerWeights layer,
        int l, string x, string? lengths, string? h0, string? c0)
    {
        var config = layer.Config;
        var suffixes = layer.Suffixes(l);
        int directions = config.Directions, hidden = config.HiddenSize, gates = config.Gates;
        int inputSize = layer.InputSize(l);
        Tensor Stacked(string name, Func<Tensor, float[]> reorder, int size) =>
            Tensor.FromArray(suffixes.SelectMany(s => reorder(layer.Parameter(name + s))).ToArray(), directions,
                size);
        var order = GateOrder(config.Mode);
        var w = Stacked("weight_ih", p => Reorder(p, order, hidden), gates * hidden * inputSize);
        var r = Stacked("weight_hh", p => Reorder(p, order, hidden), gates * hidden * hidden);
        var bias = new float[directions * 2 * gates * hidden];
        if (config.Bias)
            for (int d = 0; d < directions; d++)
            {
                Reorder(layer.Parameter("bias_ih" + suffixes[d]), order, hidden)
                    .CopyTo(bias, d * 2 * gates * hidden);
                Reorder(layer.Parameter("bias_hh" + suffixes[d]), order, hidden)
                    .CopyTo(bias, (d * 2 + 1) * gates * hidden);
            }
        string hint = layer.Hint;
        var inputs = new List<string>
        {
            x, graph.Weight($"{hint}.W_l{l}", w.Span, directions, gates * hidden, inputSize),
            graph.Weight($"{hint}.R_l{l}", r.Span, directions, gates * hidden, hidden),
            graph.Weight($"{hint}.B_l{l}", bias, directions, 2 * gates * hidden), lengths ?? "", h0 ?? "",
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
                inputs.Add(c0 ?? "");
                if (config.Peephole)
                {
                    // Recur's peepholes are [w_ci, w_cf, w_co]; ONNX's P is [i, o, f]
                    var p = suffixes.SelectMany(s => new[] { "weight_ci", "weight_co", "weight_cf" }
                        .SelectMany(n => layer.Parameter(n + s).ToArray())).ToArray();
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
        bool lstm = config.Mode == RecurrentMode.Lstm;
        var outputs = graph.Ops(op, [.. inputs], lstm ? 3 : 2, [.. attributes]);
        // Y is [T, D, B, H]: directions side by side on the last axis, as Recur's output
        string sequence = graph.Op("Reshape", [graph.Transpose(outputs[0], 0, 2, 1, 3), graph.Int64s(0, 0, -1)]);
        return (sequence, outputs[1], lstm ? outputs[2] : null);
    }

    /// <summary>
    /// One layer as a <c>Scan</c> per direction over a graph of one step: the input products of every step are one
    /// MatMul before the loop; the step adds the recurrent product and applies the cell. With a
    /// <paramref name="mask"/> [T, B, 1] a sequence's state stops changing past its length and its outputs there are
    /// zero — so the backward direction, scanning from the end, starts at each sequence's own last step.
    /// </summary>
    static (string Sequence, string Hidden, string? Cell) ScanLayer(this OnnxGraph graph, LayerWeights layer, int l,
        string x, string? mask, string? h0, string? c0)
    {
        var config = layer.Config;
        bool lstm = config.Mode == RecurrentMode.Lstm;
        int directions = config.Directions, hidden = config.HiddenSize, width = config.OutputWidth;
        int units = config.Gates * hidden;
        var sequences = new List<string>();
        var hiddens = new List<string>();
        var cells = new List<string>();
        string BatchShape(int size) => graph.Op("Concat", [graph.Op("Slice", [graph.Op("Shape", [x]),
            graph.Int64s(1), graph.Int64s(2), graph.Int64s(0)]), graph.Int64s(size)], OnnxGraph.Attribute("axis", 0L));
        for (int d = 0; d < directions; d++)
        {
            string suffix = layer.Suffixes(l)[d], hint = $"{layer.Hint}{suffix}";
            // a normalisation's entries carry the suffix before their part: ln_ih_l0.weight
            Tensor Parameter(string name) => layer.Parameter(name.Contains('.')
                ? name.Insert(name.IndexOf('.'), suffix) : name + suffix);
            string? State(string? states, int size) => states is null
                ? graph.Op("ConstantOfShape", [BatchShape(size)])
                : graph.Op("Squeeze", [graph.Op("Slice", [states, graph.Int64s(d), graph.Int64s(d + 1),
                    graph.Int64s(0)]), graph.Int64s(0)]);
            // the input products of all steps: W_ih x (+ both biases; layer normalisation normalises it first)
            Tensor? inputBias = config.Bias && !config.LayerNorm && !config.BatchNorm
                ? Parameter("bias_ih") + Parameter("bias_hh") : null;
            string products = graph.Linear(Parameter("weight_ih"), inputBias, x, hint + ".ih");
            var batchNorm = config.BatchNorm ? graph.BatchNormSteps(Parameter, hint, x, d == 1, ref products) : null;
            if (config.LayerNorm)
                products = graph.Op("LayerNormalization", [products,
                    graph.Weight(hint + ".ln_ih.weight", Parameter("ln_ih.weight").Span, units),
                    graph.Weight(hint + ".ln_ih.bias", Parameter("ln_ih.bias").Span, units)],
                    OnnxGraph.Attribute("axis", -1L), OnnxGraph.Attribute("epsilon", 1e-5f));
            var recurrent = Parameter("weight_hh").Transpose(0, 1);
            string recurrentWeight = graph.Weight(hint + ".hh", recurrent.Span, width, units);

            var step = graph.Subgraph($"{hint}_step");
            string hPrev = step.FreshFloatInput("h_prev", "batch", width);
            string? cPrev = lstm ? step.FreshFloatInput("c_prev", "batch", hidden) : null;
            string gi = step.FreshFloatInput("products", "batch", units);
            string? m = mask is null ? null : step.FreshFloatInput("mask", "batch", 1);
            string[]? scale = batchNorm is null ? null
                : [step.FreshFloatInput("scale_hh", units), step.FreshFloatInput("scale_c", hidden),
                    step.FreshFloatInput("shift_c", hidden)];
            string gh = step.Op("MatMul", [hPrev, recurrentWeight]);
            if (scale != null) gh = step.Op("Mul", [gh, scale[0]]);
            var (hNew, cNew) = CellStep(graph, step, config, Parameter, hint, gi, gh, hPrev, cPrev,
                scale is null ? null : (scale[1], scale[2]));
            string hOut = hNew, y = step.Op("Identity", [hNew]);
            string? cOut = cNew;
            if (m != null)
            {
                string keep = step.Op("Sub", [step.Weight("one", [1f]), m]);
                hOut = step.Op("Add", [step.Op("Mul", [m, hNew]), step.Op("Mul", [keep, hPrev])]);
                if (cNew != null) cOut = step.Op("Add", [step.Op("Mul", [m, cNew]), step.Op("Mul", [keep, cPrev!])]);
                y = step.Op("Mul", [m, hNew]);
            }
            step.Output(hOut, hOut, Protos.TensorProto.Types.DataType.Float, "batch", width);
            if (cOut != null) step.Output(cOut, cOut, Protos.TensorProto.Types.DataType.Float, "batch", hidden);
            step.Output(y, y, Protos.TensorProto.Types.DataType.Float, "batch", width);

            var inputs = new List<string> { State(h0, width)! };
            if (lstm) inputs.Add(State(c0, hidden)!);
            inputs.Add(products);
            if (mask != null) inputs.Add(mask);
            if (batchNorm != null) inputs.AddRange(batchNorm);
            int scanned = inputs.Count - (lstm ? 2 : 1);
            long direction = d == 1 ? 1 : 0;
            var outputs = graph.Ops("Scan", [.. inputs], lstm ? 3 : 2, step.AsAttribute("body"),
                OnnxGraph.Attribute("num_scan_inputs", (long)scanned),
                OnnxGraph.Attribute("scan_input_directions", Enumerable.Repeat(direction, scanned).ToArray()),
                OnnxGraph.Attribute("scan_output_directions", new[] { direction }));
            hiddens.Add(graph.Op("Unsqueeze", [outputs[0], graph.Int64s(0)]));
            if (lstm) cells.Add(graph.Op("Unsqueeze", [outputs[1], graph.Int64s(0)]));
            sequences.Add(outputs[^1]);
        }
        string Joined(List<string> values, long axis) => values.Count == 1 ? values[0]
            : graph.Op("Concat", [.. values], OnnxGraph.Attribute("axis", axis));
        return (Joined(sequences, 2), Joined(hiddens, 0), lstm ? Joined(cells, 0) : null);
    }

    /// <summary>
    /// A batch-normalised LSTM direction in evaluation, as affine maps per time step: step s of the recurrence (from
    /// the direction's first step, as Recur's kernel counts) normalises by row min(s, steps − 1) of the running
    /// statistics, so BN(v) = v·a_s + b_s with a_s = γ/√(var_s + ε) and b_s = β − mean_s·a_s. Folds the input
    /// products' map and the recurrent products' shift into <paramref name="products"/> [T, B, 4H] and returns the
    /// per-step scan inputs: the recurrent products' scale [T, 4H], and c's scale and shift [T, H].
    /// </summary>
    static string[] BatchNormSteps(this OnnxGraph graph, Func<string, Tensor> parameter, string hint, string x,
        bool reverse, ref string products)
    {
        (Tensor Scale, Tensor Shift) Affine(string part)
        {
            var gain = parameter($"bn_{part}.weight").Span;
            var shift = parameter($"bn_{part}.bias").Span;
            var mean = parameter($"bn_{part}.running_mean");
            var variance = parameter($"bn_{part}.running_var").Span;
            int rows = mean.Size(0), width = mean.Size(1);
            var (a, b) = (Tensor.Zeros(rows, width), Tensor.Zeros(rows, width));
            for (int i = 0; i < rows * width; i++)
            {
                float scale = gain[i % width] / MathF.Sqrt(variance[i] + Kernels.Normalization.Epsilon);
                a.Span[i] = scale;
                b.Span[i] = shift[i % width] - mean.Span[i] * scale;
            }
            return (a, b);
        }
        var (ih, ihShift) = Affine("ih");
        var (hh, hhShift) = Affine("hh");
        var (c, cShift) = Affine("c");
        long rowsHeld = ih.Size(0);
        // the statistics row of every time step: min(s, rows − 1), s = t forwards and T − 1 − t backwards
        var (t, steps) = graph.Steps(x, 0);
        string s = reverse ? graph.Op("Sub", [graph.Op("Sub", [steps, graph.Int64s([1], [])]), t]) : t;
        string rows = graph.Op("Min", [s, graph.Int64s([rowsHeld - 1], [])]);
        string PerStep(Tensor table, string name) => graph.Op("Gather",
            [graph.Weight($"{hint}.{name}", table.Span, table.Size(0), table.Size(1)), rows],
            OnnxGraph.Attribute("axis", 0L));
        string Broadcast(string perStep) => graph.Op("Unsqueeze", [perStep, graph.Int64s(1)]); // [T, 1, width]
        products = graph.Op("Add", [graph.Op("Mul", [products, Broadcast(PerStep(ih, "bn_ih.scale"))]),
            Broadcast(PerStep(ihShift + hhShift, "bn_ih_hh.shift"))]);
        return [PerStep(hh, "bn_hh.scale"), PerStep(c, "bn_c.scale"), PerStep(cShift, "bn_c.shift")];
    }

    /// <summary>
    /// The cell of one step inside <paramref name="step"/>: from the input products <paramref name="gi"/> and the
    /// recurrent products <paramref name="gh"/> (both [B, G·H], Recur's gate order) to the new h (and c);
    /// <paramref name="cellNorm"/> is a batch-normalised LSTM's map of c at this step.
    /// Weights go into the outer <paramref name="graph"/>, which the step reads.
    /// </summary>
    static (string H, string? C) CellStep(OnnxGraph graph, OnnxGraph step, RecurrentConfig config,
        Func<string, Tensor> parameter, string hint, string gi, string gh, string hPrev, string? cPrev,
        (string Scale, string Shift)? cellNorm = null)
    {
        int hidden = config.HiddenSize, units = config.Gates * hidden;
        string Weight(string name, int size) => graph.Weight($"{hint}.{name}", parameter(name).Span, size);
        string Normalised(string value, string norm, int size) => step.Op("LayerNormalization",
            [value, Weight(norm + ".weight", size), Weight(norm + ".bias", size)], OnnxGraph.Attribute("axis", -1L),
            OnnxGraph.Attribute("epsilon", 1e-5f));
        if (config.LayerNorm) gh = Normalised(gh, "ln_hh", units);
        string Project(string h) => config.ProjSize == 0 ? h
            : config.Mode == RecurrentMode.Lstm || !config.Bias
                ? step.Op("MatMul", [h, graph.Weight(hint + ".hr", parameter("weight_hr").Transpose(0, 1).Span,
                    hidden, config.ProjSize)])
                : step.Op("Add", [step.Op("MatMul", [h, graph.Weight(hint + ".hr",
                    parameter("weight_hr").Transpose(0, 1).Span, hidden, config.ProjSize)]),
                    Weight("bias_hr", config.ProjSize)]);
        switch (config.Mode)
        {
            case RecurrentMode.Lstm:
            {
                var g = step.Ops("Split", [step.Op("Add", [gi, gh])], 4, OnnxGraph.Attribute("axis", 1L));
                string i = step.Op("Sigmoid", [g[0]]), f = step.Op("Sigmoid", [g[1]]);
                string candidate = step.Op("Tanh", [g[2]]), o = step.Op("Sigmoid", [g[3]]);
                string c = step.Op("Add", [step.Op("Mul", [f, cPrev!]), step.Op("Mul", [i, candidate])]);
                string normalised = config.LayerNorm ? Normalised(c, "ln_c", hidden)
                    : cellNorm is var (scale, shift) ? step.Op("Add", [step.Op("Mul", [c, scale]), shift]) : c;
                string squashed = step.Op("Tanh", [normalised]);
                return (Project(step.Op("Mul", [o, squashed])), c);
            }
            case RecurrentMode.Gru:
            {
                // layer-normalised GRU, PyTorch's form: n = tanh(A_n + r ⊙ R_n)
                var a = step.Ops("Split", [gi], 3, OnnxGraph.Attribute("axis", 1L));
                var r = step.Ops("Split", [gh], 3, OnnxGraph.Attribute("axis", 1L));
                string reset = step.Op("Sigmoid", [step.Op("Add", [a[0], r[0]])]);
                string update = step.Op("Sigmoid", [step.Op("Add", [a[1], r[1]])]);
                string n = step.Op("Tanh", [step.Op("Add", [a[2], step.Op("Mul", [reset, r[2]])])]);
                // h = n + z ⊙ (h_prev − n)
                return (step.Op("Add", [n, step.Op("Mul", [update, step.Op("Sub", [hPrev, n])])]), null);
            }
            default:
            {
                string a = step.Op("Add", [gi, gh]);
                string h = step.Op(config.Mode == RecurrentMode.RnnRelu ? "Relu" : "Tanh", [a]);
                if (config.Leak > 0f)
                {
                    // h = candidate + α ⊙ (h_prev − candidate), α per unit (or shared, or fixed)
                    var alpha = config.LearnLeak ? parameter("leak") : Tensor.Full(config.Leak, 1);
                    string leak = graph.Weight(hint + ".leak", alpha.Span, alpha.Length);
                    h = step.Op("Add", [h, step.Op("Mul", [leak, step.Op("Sub", [hPrev, h])])]);
                }
                return (Project(h), null);
            }
        }
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
