using System.Numerics.Tensors;
using Recur.Kernels;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;

namespace Recur.Tasks;

/// <summary>
/// Exact Gauss–Newton products for a <see cref="SequenceModel"/> with a tanh or ReLU RNN, an LSTM or a GRU (PyTorch's
/// cells: any number of layers, one direction, no leak, peepholes, normalisation, projection, residual connections or
/// dropout) on some rows of a <see cref="SequenceDataset"/>, for <see cref="HessianFree"/>. J·v comes from the
/// R-operator of Pearlmutter (1994) — the forward pass differentiated along v, run beside the forward pass. For the
/// tanh RNN R(a_t) = V_ih x_t + W_ih R(x_t) + V_hh h_{t−1} + W_hh R(h_{t−1}) + R(b) and R(h_t) = φ′(a_t) ⊙ R(a_t);
/// the LSTM carries R(c_t) = R(f)⊙c_{t−1} + f⊙R(c_{t−1}) + R(i)⊙g + i⊙R(g) and R(h_t) = R(o)⊙tanh c_t +
/// o⊙tanh′(c_t)⊙R(c_t);
/// the GRU keeps W_hh h + b_hh apart, as r multiplies its n block: R(n) = tanh′⊙(R(a_n) + R(r)⊙(W_hn h + b_hn) +
/// r⊙R(W_hn h + b_hn)), R(h_t) = R(z)⊙(h_{t−1} − n) + (1 − z)⊙R(n) + z⊙R(h_{t−1}); then R(y) through the head. The
/// loss's Hessian with respect to the outputs multiplies R(y) (softmax cross-entropy: (diag p − ppᵀ)/N per row; mean
/// squared error: 2/N; binary cross-entropy: p(1 − p)/N), and back-propagation through time takes the result back to
/// the parameters: G·v = Jᵀ·H_L·J·v. Structural damping adds J_hᵀ·J_h·v/B over the hidden states h_t (an LSTM's cell
/// states are not damped), seeding every layer's states with R(h)/B (B sequences). The forward and backward passes
/// step through time with the recurrent layers' own cell maths and GEMM, keeping every step for the R-pass; they agree
/// with the model's forward and autograd to float rounding.
/// </summary>
public sealed class SequenceCurvature : ICurvature
{
    readonly SequenceModel model;
    readonly SequenceDataset data;
    readonly int[] rows;
    readonly Dictionary<Tensor, int> offsets = new(ReferenceEqualityComparer.Instance);
    readonly IReadOnlyDictionary<string, Tensor> named; // the model's parameters by state-dict name, read once
    readonly float[] inputs;
    readonly int steps, batch, features, hidden, layers, outputs, length, width; // width: the gate units, G·H
    readonly RecurrentMode mode;
    readonly bool perStep;

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>
    /// Curvature of <paramref name="model"/>'s loss on <paramref name="rows"/> of <paramref name="data"/>.
    /// </summary>
    public SequenceCurvature(SequenceModel model, SequenceDataset data, int[] rows)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (Problem(model.Config) is { } problem) throw new ArgumentException("SequenceCurvature: " + problem);
        if (rows.Length == 0 || rows.Any(r => (uint)r >= (uint)data.Count))
            throw new ArgumentException($"SequenceCurvature: rows must be some of the {data.Count} sequences.");
        (this.model, this.data, this.rows) = (model, data, rows);
        Parameters = model.Parameters();
        named = model.StateDict();
        int offset = 0;
        foreach (var p in Parameters)
        {
            offsets[p] = offset;
            offset += p.Length;
        }
        length = offset;
        inputs = data.BatchInputs(rows).ToArray();
        (steps, batch, features) = (data.Steps, rows.Length, data.Features);
        (hidden, layers, outputs) = (model.Config.HiddenSize, model.Config.NumLayers, model.Config.OutputSize);
        mode = model.Config.Recurrent.Mode;
        width = hidden * mode switch { RecurrentMode.Lstm => 4, RecurrentMode.Gru => 3, _ => 1 };
        perStep = model.Config.PerStep;
    }

    /// <summary>
    /// Why products cannot be formed for a model of <paramref name="config"/>, or null when they can.
    /// </summary>
    public static string? Problem(SequenceModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var r = config.Recurrent;
        bool plainCell = r.Mode switch
        {
            RecurrentMode.Lstm => !r.Peephole && !r.LayerNorm && !r.BatchNorm,
            RecurrentMode.Gru => r.ResetAfter && !r.LayerNorm,
            _ => r.Leak == 0f,
        };
        return plainCell && !r.Bidirectional && r.ProjSize == 0 && !r.Residual && r.Bias && r.WeightDrop == 0f
            && config.Dropout == 0f
            ? null
            : "Gauss–Newton products (Hessian-free) are implemented for tanh and ReLU RNNs, LSTMs and GRUs (PyTorch's "
                + "cells) in one direction, without leak, peepholes, normalisation, projection, residual connections, "
                + $"weight drop or dropout; the model has cell '{config.Cell.Name()}'"
                + $"{(r.Bidirectional ? ", bidirectional" : "")}{(config.Dropout > 0f ? ", dropout" : "")}.";
    }

    /// <inheritdoc/>
    public void Product(ReadOnlySpan<float> direction, Span<float> result, float structuralWeight)
    {
        if (direction.Length != length || result.Length != length)
            throw new ArgumentException($"SequenceCurvature: vectors of {direction.Length} and {result.Length} values "
                + $"for {length} parameters.");
        var pass = Forward();
        var rOutput = Directional(pass, direction, out var rStates);
        var seed = OutputHessian(pass.Output, rOutput);
        float scale = structuralWeight / batch;
        if (scale != 0f)
            foreach (var r in rStates)
                for (int i = 0; i < r.Length; i++) r[i] *= scale;
        result.Clear();
        Backward(pass, seed, scale != 0f ? rStates : null, result);
    }

    /// <summary>
    /// The empirical Fisher diagonal (1/N)·Σ_b ∇f_b ⊙ ∇f_b over the N sequences of the curvature batch: the gradient
    /// of the batch's loss with respect to the outputs (from the task's own loss), cut to one sequence's outputs at a
    /// time and taken back through time by this class's backward pass; f_b's gradient is N times that part.
    /// </summary>
    public bool GradientSquares(Span<float> result)
    {
        if (result.Length != length)
            throw new ArgumentException($"SequenceCurvature: {result.Length} values for {length} parameters.");
        var pass = Forward();
        var output = Tensor.FromArray((float[])pass.Output.Clone(), HeadRows, outputs);
        output.RequiresGrad = true;
        SequenceTask.OutputLoss(perStep ? output.Reshape(steps, batch, outputs) : output, data, rows).Backward();
        // the sequences do not interact: one backward pass gives each its part of ∂/∂a_t
        var perSequence = Enumerable.Range(0, batch).Select(_ => new float[length]).ToArray();
        Backward(pass, output.Grad!.ToArray(), null, new float[length], perSequence);
        result.Clear();
        foreach (var single in perSequence)
            for (int i = 0; i < length; i++) result[i] += batch * single[i] * single[i];
        return true;
    }

    /// <summary>J·v: the outputs' derivative along <paramref name="direction"/>, shaped as the output.</summary>
    internal float[] OutputDirectional(ReadOnlySpan<float> direction) => Directional(Forward(), direction, out _);

    /// <summary>Jᵀ·u for an output-shaped <paramref name="outputGradient"/>, into <paramref name="result"/>.</summary>
    internal void Transposed(float[] outputGradient, Span<float> result)
    {
        result.Clear();
        Backward(Forward(), outputGradient, null, result);
    }

    /// <summary>The model's outputs on the rows, from this class's own forward pass.</summary>
    internal float[] Outputs() => Forward().Output;

    /// <summary>
    /// One layer's forward pass, each array step-major ([steps, batch, units]): its states h_t and what the products
    /// need of every step — the activated gates as the cell leaves them (the RNN's are h_t itself), an LSTM's cell
    /// states c_t and tanh c_t, a GRU's W_hh h_{t−1} + b_hh.
    /// </summary>
    sealed record LayerPass(float[] States, float[] Gates, float[]? Cells, float[]? Squashed, float[]? Recurrent);

    /// <summary>The forward pass: every layer's, and the outputs.</summary>
    sealed record Pass(LayerPass[] Layers, float[] Output)
    {
        public float[] Top => Layers[^1].States;
    }

    Pass? pass;
    float[][]? rBuffers; // R(h) of each layer, reused by every product
    float[]? rGateBuffer, rRecurrentBuffer, rCellBuffer; // R of the gates' inputs (the GRU's W_hh h + b_hh apart), R(c)
    float[]? gradientBuffer, belowBuffer; // ∂/∂h of a layer and of the one below it
    float[]? gateGradientBuffer, recurrentGradientBuffer, carryBuffer; // ∂/∂ gate inputs; an LSTM's ∂/∂c_{t+1}·f_{t+1}
    float[]? previousGradientBuffer, scratchBuffer, zeroBuffer; // a row's direct part of ∂/∂h_{t−1}; the cells' scratch

    static float[] Reuse(ref float[]? buffer, int length) =>
        buffer ??= GC.AllocateUninitializedArray<float>(length);

    /// <summary>The forward pass at the parameters' values when first asked (a curvature serves one point: Hessian-free
    /// forms every product at the same θ).</summary>
    Pass Forward() => pass ??= RunForward();

    ReadOnlySpan<float> Weight(string name) => named[name].Span;

    int Offset(string name) => offsets[named[name]];

    int InputWidth(int layer) => layer == 0 ? features : hidden;

    int HeadRows => perStep ? steps * batch : batch;

    int StepSize => batch * hidden;

    /// <summary>The rows of the top layer's states the head reads: every step's, or the last step's.</summary>
    ReadOnlySpan<float> HeadInput(float[] top) => perStep ? top : top.AsSpan((steps - 1) * batch * hidden);

    Pass RunForward()
    {
        var layerPasses = new LayerPass[layers];
        ReadOnlySpan<float> input = inputs;
        for (int l = 0; l < layers; l++)
        {
            int inputWidth = InputWidth(l);
            var gates = new float[steps * batch * width];
            // the GRU keeps b_hh beside W_hh h (r multiplies its n block); the other cells add both biases here
            var bias = mode == RecurrentMode.Gru ? Weight($"rnn.bias_ih_l{l}")
                : Sum(Weight($"rnn.bias_ih_l{l}"), Weight($"rnn.bias_hh_l{l}"));
            Gemm.Multiply(false, true, steps * batch, width, inputWidth, input, inputWidth,
                Weight($"rnn.weight_ih_l{l}"), inputWidth, gates, width, bias: bias);
            using var wHh = Gemm.Pack(true, hidden, width, Weight($"rnn.weight_hh_l{l}"), hidden);
            var biasHh = Weight($"rnn.bias_hh_l{l}");
            var layerPass = layerPasses[l] = mode switch
            {
                RecurrentMode.Lstm => LayerForward<LstmCell>(gates, wHh, biasHh),
                RecurrentMode.Gru => LayerForward<GruCell>(gates, wHh, biasHh),
                RecurrentMode.RnnRelu => LayerForward<ReluCell>(gates, wHh, biasHh),
                _ => LayerForward<TanhCell>(gates, wHh, biasHh),
            };
            input = layerPass.States;
        }
        var output = new float[HeadRows * outputs];
        Gemm.Multiply(false, true, HeadRows, outputs, hidden, HeadInput(layerPasses[^1].States), hidden,
            Weight("head.weight"), hidden, output, outputs, bias: Weight("head.bias"));
        return new Pass(layerPasses, output);
    }

    /// <summary>
    /// A layer's time loop with the model's own cell maths (<typeparamref name="TCell"/>'s forward, row by row):
    /// <paramref name="gates"/> holds W_ih x_t + b_ih (+ b_hh but for the GRU) on entry and the activated gates after.
    /// </summary>
    LayerPass LayerForward<TCell>(float[] gates, PackedMatrix wHh, ReadOnlySpan<float> biasHh)
        where TCell : IRecurrentCell
    {
        var h = new float[steps * StepSize];
        var c = TCell.HasCellState ? new float[h.Length] : null;
        var recurrent = TCell.SeparateRecurrent ? new float[gates.Length] : null;
        var zeros = Reuse(ref zeroBuffer, hidden).AsSpan();
        zeros.Clear();
        var scratch = new float[TCell.ScratchBlocks * hidden];
        for (int t = 0; t < steps; t++)
        {
            var previous = t > 0 ? h.AsSpan((t - 1) * StepSize, StepSize) : default;
            // W_hh h_{t−1} (+ b_hh) goes apart for the GRU, onto the gate inputs for the others
            if (recurrent != null)
            {
                var step = recurrent.AsSpan(t * batch * width, batch * width);
                if (t > 0) Gemm.Multiply(false, batch, previous, hidden, wHh, step, width, bias: biasHh);
                else
                    for (int b = 0; b < batch; b++) biasHh.CopyTo(step.Slice(b * width, width));
            }
            else if (t > 0)
                Gemm.Multiply(false, batch, previous, hidden, wHh, gates.AsSpan(t * batch * width, batch * width),
                    width, accumulate: true);
            for (int b = 0; b < batch; b++)
            {
                int g = (t * batch + b) * width, row = t * StepSize + b * hidden;
                TCell.Forward(gates.AsSpan(g, width), recurrent != null ? recurrent.AsSpan(g, width) : default,
                    t > 0 ? h.AsSpan(row - StepSize, hidden) : zeros,
                    c != null && t > 0 ? c.AsSpan(row - StepSize, hidden) : zeros, h.AsSpan(row, hidden),
                    c != null ? c.AsSpan(row, hidden) : default, scratch, default);
            }
        }
        float[]? squashed = null;
        if (c != null) Kernels.Squashing.Tanh(c, squashed = new float[c.Length]);
        return new LayerPass(h, gates, c, squashed, recurrent);
    }

    static float[] Sum(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = new float[a.Length];
        for (int i = 0; i < a.Length; i++) sum[i] = a[i] + b[i];
        return sum;
    }

    float[] Directional(Pass pass, ReadOnlySpan<float> v, out float[][] rStates)
    {
        rStates = rBuffers ??= Enumerable.Range(0, layers)
            .Select(_ => GC.AllocateUninitializedArray<float>(steps * StepSize)).ToArray();
        var rGates = Reuse(ref rGateBuffer, steps * batch * width);
        // R of W_hh h + b_hh: the GRU's own array; the other cells add it to the same gate inputs
        var rRecurrent = mode == RecurrentMode.Gru ? Reuse(ref rRecurrentBuffer, steps * batch * width) : rGates;
        ReadOnlySpan<float> input = inputs;
        float[]? rInput = null;
        for (int l = 0; l < layers; l++)
        {
            int inputWidth = InputWidth(l);
            var layer = pass.Layers[l];
            var vBiasIh = v.Slice(Offset($"rnn.bias_ih_l{l}"), width);
            var vBiasHh = v.Slice(Offset($"rnn.bias_hh_l{l}"), width);
            Gemm.Multiply(false, true, steps * batch, width, inputWidth, input, inputWidth,
                v.Slice(Offset($"rnn.weight_ih_l{l}"), width * inputWidth), inputWidth, rGates, width,
                bias: mode == RecurrentMode.Gru ? vBiasIh : Sum(vBiasIh, vBiasHh));
            if (rInput != null)
                Gemm.Multiply(false, true, steps * batch, width, inputWidth, rInput, inputWidth,
                    Weight($"rnn.weight_ih_l{l}"), inputWidth, rGates, width, accumulate: true);
            // V_hh h_{t−1} does not depend on R(h): one product for every step at once
            bool gru = mode == RecurrentMode.Gru;
            if (gru)
                for (int b = 0; b < batch; b++) vBiasHh.CopyTo(rRecurrent.AsSpan(b * width, width));
            if (steps > 1)
                Gemm.Multiply(false, true, (steps - 1) * batch, width, hidden, layer.States, hidden,
                    v.Slice(Offset($"rnn.weight_hh_l{l}"), width * hidden), hidden, rRecurrent.AsSpan(batch * width),
                    width, accumulate: !gru, bias: gru ? vBiasHh : default);
            using var wHh = Gemm.Pack(true, hidden, width, Weight($"rnn.weight_hh_l{l}"), hidden);
            var rh = rStates[l];
            for (int t = 0; t < steps; t++)
            {
                if (t > 0)
                    Gemm.Multiply(false, batch, rh.AsSpan((t - 1) * StepSize, StepSize), hidden, wHh,
                        rRecurrent.AsSpan(t * batch * width, batch * width), width, accumulate: true);
                switch (mode)
                {
                    case RecurrentMode.Lstm: LstmDirectional(layer, t, rGates, rh); break;
                    case RecurrentMode.Gru: GruDirectional(layer, t, rGates, rRecurrent, rh); break;
                    default: RnnDirectional(layer, t, rGates, rh); break;
                }
            }
            input = layer.States;
            rInput = rh;
        }
        var rOutput = new float[HeadRows * outputs];
        for (int i = 0; i < HeadRows; i++)
            v.Slice(Offset("head.bias"), outputs).CopyTo(rOutput.AsSpan(i * outputs, outputs));
        Gemm.Multiply(false, true, HeadRows, outputs, hidden, HeadInput(rStates[^1]), hidden, Weight("head.weight"),
            hidden, rOutput, outputs, accumulate: true);
        Gemm.Multiply(false, true, HeadRows, outputs, hidden, HeadInput(pass.Top), hidden,
            v.Slice(Offset("head.weight"), outputs * hidden), hidden, rOutput, outputs, accumulate: true);
        return rOutput;
    }

    /// <summary>Step t of the RNN's R-pass: R(h_t) = φ′(a_t) ⊙ R(a_t), φ′ from h_t.</summary>
    void RnnDirectional(LayerPass layer, int t, float[] rGates, float[] rh)
    {
        var h = layer.States;
        bool relu = mode == RecurrentMode.RnnRelu;
        for (int i = t * StepSize; i < (t + 1) * StepSize; i++)
            rh[i] = rGates[i] * (relu ? (h[i] > 0f ? 1f : 0f) : 1f - h[i] * h[i]);
    }

    /// <summary>Step t of the LSTM's R-pass: R(c_t) and R(h_t) from R of the gate inputs.</summary>
    void LstmDirectional(LayerPass layer, int t, float[] rGates, float[] rh)
    {
        var rc = Reuse(ref rCellBuffer, steps * StepSize);
        var (gates, c, squashed) = (layer.Gates, layer.Cells!, layer.Squashed!);
        for (int b = 0; b < batch; b++)
        {
            int g0 = (t * batch + b) * width, row = t * StepSize + b * hidden;
            for (int j = 0; j < hidden; j++)
            {
                int gi = g0 + j, gf = gi + hidden, gg = gf + hidden, go = gg + hidden;
                float ri = gates[gi] * (1f - gates[gi]) * rGates[gi], rf = gates[gf] * (1f - gates[gf]) * rGates[gf];
                float rg = (1f - gates[gg] * gates[gg]) * rGates[gg], ro = gates[go] * (1f - gates[go]) * rGates[go];
                float rcell = ri * gates[gg] + gates[gi] * rg;
                if (t > 0) rcell += rf * c[row - StepSize + j] + gates[gf] * rc[row - StepSize + j];
                rc[row + j] = rcell;
                float k = squashed[row + j];
                rh[row + j] = ro * k + gates[go] * (1f - k * k) * rcell;
            }
        }
    }

    /// <summary>Step t of the GRU's R-pass: R(h_t) from R of both gate inputs.</summary>
    void GruDirectional(LayerPass layer, int t, float[] rGates, float[] rRecurrent, float[] rh)
    {
        var (gates, h, recurrent) = (layer.Gates, layer.States, layer.Recurrent!);
        for (int b = 0; b < batch; b++)
        {
            int g0 = (t * batch + b) * width, row = t * StepSize + b * hidden;
            for (int j = 0; j < hidden; j++)
            {
                int gr = g0 + j, gz = gr + hidden, gn = gz + hidden;
                float r = gates[gr], z = gates[gz], n = gates[gn];
                float rr = r * (1f - r) * (rGates[gr] + rRecurrent[gr]);
                float rz = z * (1f - z) * (rGates[gz] + rRecurrent[gz]);
                float rn = (1f - n * n) * (rGates[gn] + rr * recurrent[gn] + r * rRecurrent[gn]);
                float previous = t > 0 ? h[row - StepSize + j] : 0f, rPrevious = t > 0 ? rh[row - StepSize + j] : 0f;
                rh[row + j] = rz * (previous - n) + (1f - z) * rn + z * rPrevious;
            }
        }
    }

    /// <summary>H_L·<paramref name="r"/>: the Hessian of the batch's mean loss with respect to the outputs.</summary>
    float[] OutputHessian(float[] output, float[] r)
    {
        var result = new float[r.Length];
        switch (data.Kind)
        {
            case TargetKind.Regression:
                for (int i = 0; i < r.Length; i++) result[i] = 2f * r[i] / output.Length;
                break;
            case TargetKind.ClassLast or TargetKind.ClassPerStep:
            {
                var labels = data.Kind == TargetKind.ClassLast ? rows.Select(i => data.Labels![i]).ToArray()
                    : data.BatchStepLabels(rows);
                int counted = labels.Count(label => label != -100);
                var p = new double[outputs];
                for (int row = 0; row < labels.Length; row++)
                {
                    if (labels[row] == -100) continue;
                    var logits = output.AsSpan(row * outputs, outputs);
                    double max = double.NegativeInfinity, total = 0, mean = 0;
                    foreach (float z in logits) max = Math.Max(max, z);
                    for (int c = 0; c < outputs; c++) total += p[c] = Math.Exp(logits[c] - max);
                    for (int c = 0; c < outputs; c++) mean += (p[c] /= total) * r[row * outputs + c];
                    for (int c = 0; c < outputs; c++)
                        result[row * outputs + c] = (float)(p[c] * (r[row * outputs + c] - mean) / counted);
                }
                break;
            }
            default:
            {
                // binary cross-entropy on the steps inside each sequence, mean over their outputs
                int counted = rows.Sum(i => data.Lengths?[i] ?? steps) * outputs;
                for (int t = 0; t < steps; t++)
                    for (int b = 0; b < batch; b++)
                    {
                        if (t >= (data.Lengths?[rows[b]] ?? steps)) continue;
                        for (int c = 0; c < outputs; c++)
                        {
                            int k = (t * batch + b) * outputs + c;
                            double p = 1 / (1 + Math.Exp(-output[k]));
                            result[k] = (float)(p * (1 - p) * r[k] / counted);
                        }
                    }
                break;
            }
        }
        return result;
    }

    /// <summary>
    /// Back-propagation through time of <paramref name="outputGradient"/> (and of <paramref name="stateGradients"/>
    /// on every layer's states, when given), adding the parameters' gradients to <paramref name="result"/>, and each
    /// sequence's own part of them to <paramref name="perSequence"/>[b] when given.
    /// </summary>
    void Backward(Pass pass, float[] outputGradient, float[][]? stateGradients, Span<float> result,
        float[][]? perSequence = null)
    {
        // the rows of sequence b: the head's (every step's or the last) and the recurrent layers' (every step's)
        int headRows = HeadRows, headStride = perStep ? batch : 1, headCount = perStep ? steps : 1;
        void Head(Span<float> into, int first, int stride, int count)
        {
            Gemm.Multiply(true, false, outputs, hidden, count, outputGradient.AsSpan(first * outputs),
                stride * outputs, HeadInput(pass.Top)[(first * hidden)..], stride * hidden,
                into.Slice(Offset("head.weight"), outputs * hidden), hidden, accumulate: true);
            var headBias = into.Slice(Offset("head.bias"), outputs);
            for (int i = 0; i < count; i++)
                TensorPrimitives.Add(headBias, outputGradient.AsSpan((first + i * stride) * outputs, outputs),
                    headBias);
        }
        Head(result, 0, 1, headRows);
        for (int b = 0; b < (perSequence?.Length ?? 0); b++) Head(perSequence![b], b, headStride, headCount);
        var dStates = Reuse(ref gradientBuffer, steps * StepSize);
        var spare = Reuse(ref belowBuffer, steps * StepSize);
        if (!perStep) dStates.AsSpan(0, (steps - 1) * StepSize).Clear();
        var headPart = perStep ? dStates.AsSpan() : dStates.AsSpan((steps - 1) * StepSize);
        Gemm.Multiply(false, false, headRows, hidden, outputs, outputGradient, outputs, Weight("head.weight"), hidden,
            headPart, hidden);
        // ∂/∂ the gate inputs: of W_ih x + b_ih, and of W_hh h + b_hh (the same array but for the GRU)
        var dGates = Reuse(ref gateGradientBuffer, steps * batch * width);
        var dRecurrent = mode == RecurrentMode.Gru ? Reuse(ref recurrentGradientBuffer, dGates.Length) : dGates;
        for (int l = layers - 1; l >= 0; l--)
        {
            int inputWidth = InputWidth(l);
            var layer = pass.Layers[l];
            if (stateGradients != null)
                for (int i = 0; i < dStates.Length; i++) dStates[i] += stateGradients[l][i];
            using (var wHh = Gemm.Pack(false, width, hidden, Weight($"rnn.weight_hh_l{l}"), hidden))
                switch (mode)
                {
                    case RecurrentMode.Lstm: LayerBackward<LstmCell>(layer, wHh, dStates, dGates, dRecurrent); break;
                    case RecurrentMode.Gru: LayerBackward<GruCell>(layer, wHh, dStates, dGates, dRecurrent); break;
                    case RecurrentMode.RnnRelu:
                        LayerBackward<ReluCell>(layer, wHh, dStates, dGates, dRecurrent);
                        break;
                    default: LayerBackward<TanhCell>(layer, wHh, dStates, dGates, dRecurrent); break;
                }
            var input = l == 0 ? inputs : pass.Layers[l - 1].States;
            // rows first, first + stride, … (count of them) of the gate gradients, of the layer's input and states
            void Layer(Span<float> into, int first, int stride, int count)
            {
                Gemm.Multiply(true, false, width, inputWidth, count, dGates.AsSpan(first * width), stride * width,
                    input.AsSpan(first * inputWidth), stride * inputWidth,
                    into.Slice(Offset($"rnn.weight_ih_l{l}"), width * inputWidth), inputWidth, accumulate: true);
                int later = count - batch / stride; // the rows after the first step, which see h_{t−1}
                if (later > 0)
                    Gemm.Multiply(true, false, width, hidden, later, dRecurrent.AsSpan((first + batch) * width),
                        stride * width, layer.States.AsSpan(first * hidden), stride * hidden,
                        into.Slice(Offset($"rnn.weight_hh_l{l}"), width * hidden), hidden, accumulate: true);
                foreach (var (name, gradient) in new[] { ($"rnn.bias_ih_l{l}", dGates), ($"rnn.bias_hh_l{l}",
                    dRecurrent) })
                {
                    var bias = into.Slice(Offset(name), width);
                    for (int i = 0; i < count; i++)
                        TensorPrimitives.Add(bias, gradient.AsSpan((first + i * stride) * width, width), bias);
                }
            }
            Layer(result, 0, 1, steps * batch);
            for (int b = 0; b < (perSequence?.Length ?? 0); b++) Layer(perSequence![b], b, batch, steps);
            if (l > 0)
            {
                Gemm.Multiply(false, false, steps * batch, hidden, width, dGates, width,
                    Weight($"rnn.weight_ih_l{l}"), hidden, spare, hidden);
                (dStates, spare) = (spare, dStates);
            }
        }
    }

    /// <summary>
    /// A layer's back-propagation through time with the model's own cell maths (<typeparamref name="TCell"/>'s
    /// backward, row by row), from the last step back: ∂/∂h_t gets W_hhᵀ·∂/∂(W_hh h_t + b_hh) of step t + 1, then the
    /// cell gives ∂/∂ the gate inputs (<paramref name="dRecurrent"/> is the GRU's own array, else
    /// <paramref name="dGates"/>), an LSTM's ∂/∂c carried back and the GRU's z_t ⊙ ∂/∂h_t into ∂/∂h_{t−1}.
    /// </summary>
    void LayerBackward<TCell>(LayerPass layer, PackedMatrix wHh, float[] dStates, float[] dGates,
        float[] dRecurrent) where TCell : IRecurrentCell
    {
        var carry = Reuse(ref carryBuffer, StepSize).AsSpan(); // ∂/∂c_{t+1}·f_{t+1}, replaced by the same for step t
        carry.Clear();
        var dPrevious = Reuse(ref previousGradientBuffer, hidden).AsSpan();
        var scratch = Reuse(ref scratchBuffer, hidden * TCell.ScratchBlocks).AsSpan(0, hidden * TCell.ScratchBlocks);
        var zeros = Reuse(ref zeroBuffer, hidden).AsSpan();
        zeros.Clear();
        var (gates, h, c, recurrent) = (layer.Gates, layer.States, layer.Cells, layer.Recurrent);
        for (int t = steps - 1; t >= 0; t--)
        {
            if (t < steps - 1)
                Gemm.Multiply(false, batch, dRecurrent.AsSpan((t + 1) * batch * width, batch * width), width, wHh,
                    dStates.AsSpan(t * StepSize, StepSize), hidden, accumulate: true);
            for (int b = 0; b < batch; b++)
            {
                int g = (t * batch + b) * width, row = t * StepSize + b * hidden;
                TCell.Backward(gates.AsSpan(g, width), recurrent != null ? recurrent.AsSpan(g, width) : default,
                    t > 0 ? h.AsSpan(row - StepSize, hidden) : zeros,
                    c != null && t > 0 ? c.AsSpan(row - StepSize, hidden) : zeros,
                    c != null ? c.AsSpan(row, hidden) : default, h.AsSpan(row, hidden), dStates.AsSpan(row, hidden),
                    carry.Slice(b * hidden, hidden), dGates.AsSpan(g, width), dRecurrent.AsSpan(g, width), dPrevious,
                    scratch, default, default);
                if (t > 0)
                    TensorPrimitives.Add(dStates.AsSpan(row - StepSize, hidden), dPrevious,
                        dStates.AsSpan(row - StepSize, hidden));
            }
        }
    }
}
