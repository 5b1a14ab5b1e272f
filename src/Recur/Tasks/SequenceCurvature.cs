using System.Numerics.Tensors;
using Recur.Kernels;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;

namespace Recur.Tasks;

/// <summary>
/// Exact Gauss–Newton products for a <see cref="SequenceModel"/> with a tanh or ReLU RNN (any number of layers, one
/// direction, no leak, projection, residual or dropout) on some rows of a <see cref="SequenceDataset"/>, for
/// <see cref="HessianFree"/>. J·v comes from the R-operator of Pearlmutter (1994) — the forward pass differentiated
/// along v, run beside the forward pass: R(a_t) = V_ih x_t + W_ih R(x_t) + V_hh h_{t−1} + W_hh R(h_{t−1}) + R(b),
/// R(h_t) = φ′(a_t) ⊙ R(a_t), then R(y) through the head. The loss's Hessian with respect to the outputs multiplies
/// R(y) (softmax cross-entropy: (diag p − ppᵀ)/N per row; mean squared error: 2/N; binary cross-entropy: p(1 − p)/N),
/// and back-propagation through time takes the result back to the parameters: G·v = Jᵀ·H_L·J·v. Structural damping
/// adds J_hᵀ·J_h·v/B, seeding every layer's hidden states with R(h)/B (B sequences). The pass is its own, on the same
/// GEMM as the fused kernels, and agrees with the model's forward to float rounding.
/// </summary>
public sealed class SequenceCurvature : ICurvature
{
    readonly SequenceModel model;
    readonly SequenceDataset data;
    readonly int[] rows;
    readonly Dictionary<Tensor, int> offsets = new(ReferenceEqualityComparer.Instance);
    readonly IReadOnlyDictionary<string, Tensor> named; // the model's parameters by state-dict name, read once
    readonly float[] inputs;
    readonly int steps, batch, features, hidden, layers, outputs, length;
    readonly bool relu, perStep;

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
        relu = model.Config.Recurrent.Mode == RecurrentMode.RnnRelu;
        perStep = model.Config.PerStep;
    }

    /// <summary>
    /// Why products cannot be formed for a model of <paramref name="config"/>, or null when they can.
    /// </summary>
    public static string? Problem(SequenceModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var r = config.Recurrent;
        return r.Mode is RecurrentMode.RnnTanh or RecurrentMode.RnnRelu && !r.Bidirectional && r.ProjSize == 0
            && r.Leak == 0f && !r.Residual && r.Bias && config.Dropout == 0f
            ? null
            : "Gauss–Newton products (Hessian-free) are implemented for tanh and ReLU RNNs in one direction, without "
                + $"leak, projection, residual connections or dropout; the model has cell '{config.Cell.Name()}'"
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

    /// <summary>The forward pass: each layer's states h_t and φ′(a_t), and the outputs.</summary>
    sealed record Pass(float[][] States, float[][] Derivatives, float[] Output);

    Pass? pass;
    float[][]? rBuffers; // R(h) of each layer, reused by every product
    float[]? gradientBuffer, belowBuffer; // ∂/∂h and ∂/∂a of a layer and of the one below it

    static float[] Reuse(ref float[]? buffer, int length) =>
        buffer ??= GC.AllocateUninitializedArray<float>(length);

    /// <summary>The forward pass at the parameters' values when first asked (a curvature serves one point: Hessian-free
    /// forms every product at the same θ).</summary>
    Pass Forward() => pass ??= RunForward();

    ReadOnlySpan<float> Weight(string name) => named[name].Span;

    int Offset(string name) => offsets[named[name]];

    int InputWidth(int layer) => layer == 0 ? features : hidden;

    int HeadRows => perStep ? steps * batch : batch;

    /// <summary>The rows of the top layer's states the head reads: every step's, or the last step's.</summary>
    ReadOnlySpan<float> HeadInput(float[] top) => perStep ? top : top.AsSpan((steps - 1) * batch * hidden);

    Pass RunForward()
    {
        var states = new float[layers][];
        var derivatives = new float[layers][];
        ReadOnlySpan<float> input = inputs;
        for (int l = 0; l < layers; l++)
        {
            int width = InputWidth(l);
            var a = new float[steps * batch * hidden];
            var bias = Sum(Weight($"rnn.bias_ih_l{l}"), Weight($"rnn.bias_hh_l{l}"));
            Gemm.Multiply(false, true, steps * batch, hidden, width, input, width, Weight($"rnn.weight_ih_l{l}"), width,
                a, hidden, bias: bias);
            using var wHh = Gemm.Pack(true, hidden, hidden, Weight($"rnn.weight_hh_l{l}"), hidden);
            for (int t = 0; t < steps; t++)
            {
                var at = a.AsSpan(t * batch * hidden, batch * hidden);
                if (t > 0)
                    Gemm.Multiply(false, batch, a.AsSpan((t - 1) * batch * hidden, batch * hidden), hidden, wHh, at,
                        hidden, accumulate: true);
                if (relu) TensorPrimitives.Max(at, 0f, at);
                else TensorPrimitives.Tanh(at, at);
            }
            states[l] = a; // activated in place: h_t
            var derivative = derivatives[l] = new float[a.Length];
            for (int i = 0; i < a.Length; i++) derivative[i] = relu ? (a[i] > 0f ? 1f : 0f) : 1f - a[i] * a[i];
            input = a;
        }
        var output = new float[HeadRows * outputs];
        Gemm.Multiply(false, true, HeadRows, outputs, hidden, HeadInput(states[^1]), hidden, Weight("head.weight"),
            hidden, output, outputs, bias: Weight("head.bias"));
        return new Pass(states, derivatives, output);
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
            .Select(_ => GC.AllocateUninitializedArray<float>(steps * batch * hidden)).ToArray();
        ReadOnlySpan<float> input = inputs;
        float[]? rInput = null;
        for (int l = 0; l < layers; l++)
        {
            int width = InputWidth(l);
            var states = pass.States[l];
            var ra = rStates[l]; // written whole by the first product
            var vBias = Sum(v.Slice(Offset($"rnn.bias_ih_l{l}"), hidden), v.Slice(Offset($"rnn.bias_hh_l{l}"), hidden));
            Gemm.Multiply(false, true, steps * batch, hidden, width, input, width,
                v.Slice(Offset($"rnn.weight_ih_l{l}"), hidden * width), width, ra, hidden, bias: vBias);
            if (rInput != null)
                Gemm.Multiply(false, true, steps * batch, hidden, width, rInput, width, Weight($"rnn.weight_ih_l{l}"),
                    width, ra, hidden, accumulate: true);
            // V_hh h_{t−1} does not depend on R(h): one product for every step at once
            if (steps > 1)
                Gemm.Multiply(false, true, (steps - 1) * batch, hidden, hidden, states, hidden,
                    v.Slice(Offset($"rnn.weight_hh_l{l}"), hidden * hidden), hidden, ra.AsSpan(batch * hidden),
                    hidden, accumulate: true);
            using var wHh = Gemm.Pack(true, hidden, hidden, Weight($"rnn.weight_hh_l{l}"), hidden);
            for (int t = 0; t < steps; t++)
            {
                var rt = ra.AsSpan(t * batch * hidden, batch * hidden);
                if (t > 0)
                    Gemm.Multiply(false, batch, ra.AsSpan((t - 1) * batch * hidden, batch * hidden), hidden, wHh, rt,
                        hidden, accumulate: true);
                TensorPrimitives.Multiply(rt, pass.Derivatives[l].AsSpan(t * batch * hidden, batch * hidden), rt);
            }
            input = states;
            rInput = ra;
        }
        var rOutput = new float[HeadRows * outputs];
        for (int i = 0; i < HeadRows; i++)
            v.Slice(Offset("head.bias"), outputs).CopyTo(rOutput.AsSpan(i * outputs, outputs));
        Gemm.Multiply(false, true, HeadRows, outputs, hidden, HeadInput(rStates[^1]), hidden, Weight("head.weight"),
            hidden, rOutput, outputs, accumulate: true);
        Gemm.Multiply(false, true, HeadRows, outputs, hidden, HeadInput(pass.States[^1]), hidden,
            v.Slice(Offset("head.weight"), outputs * hidden), hidden, rOutput, outputs, accumulate: true);
        return rOutput;
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
                stride * outputs, HeadInput(pass.States[^1])[(first * hidden)..], stride * hidden,
                into.Slice(Offset("head.weight"), outputs * hidden), hidden, accumulate: true);
            var headBias = into.Slice(Offset("head.bias"), outputs);
            for (int i = 0; i < count; i++)
                TensorPrimitives.Add(headBias, outputGradient.AsSpan((first + i * stride) * outputs, outputs),
                    headBias);
        }
        Head(result, 0, 1, headRows);
        for (int b = 0; b < (perSequence?.Length ?? 0); b++) Head(perSequence![b], b, headStride, headCount);
        var dStates = Reuse(ref gradientBuffer, steps * batch * hidden);
        var spare = Reuse(ref belowBuffer, steps * batch * hidden);
        if (!perStep) dStates.AsSpan(0, (steps - 1) * batch * hidden).Clear();
        var headPart = perStep ? dStates.AsSpan() : dStates.AsSpan((steps - 1) * batch * hidden);
        Gemm.Multiply(false, false, headRows, hidden, outputs, outputGradient, outputs, Weight("head.weight"), hidden,
            headPart, hidden);
        for (int l = layers - 1; l >= 0; l--)
        {
            int width = InputWidth(l);
            var states = pass.States[l];
            if (stateGradients != null)
                for (int i = 0; i < dStates.Length; i++) dStates[i] += stateGradients[l][i];
            using var wHh = Gemm.Pack(false, hidden, hidden, Weight($"rnn.weight_hh_l{l}"), hidden);
            // dStates becomes ∂/∂a_t, from the last step back
            for (int t = steps - 1; t >= 0; t--)
            {
                var dt = dStates.AsSpan(t * batch * hidden, batch * hidden);
                if (t < steps - 1)
                    Gemm.Multiply(false, batch, dStates.AsSpan((t + 1) * batch * hidden, batch * hidden), hidden, wHh,
                        dt, hidden, accumulate: true);
                TensorPrimitives.Multiply(dt, pass.Derivatives[l].AsSpan(t * batch * hidden, batch * hidden), dt);
            }
            var input = l == 0 ? inputs : pass.States[l - 1];
            // rows first, first + stride, … (count of them) of ∂/∂a_t, of the layer's input and of its states
            void Layer(Span<float> into, int first, int stride, int count)
            {
                var gradient = dStates.AsSpan(first * hidden);
                Gemm.Multiply(true, false, hidden, width, count, gradient, stride * hidden, input.AsSpan(first * width),
                    stride * width, into.Slice(Offset($"rnn.weight_ih_l{l}"), hidden * width), width,
                    accumulate: true);
                int later = count - batch / stride; // the rows after the first step, which see h_{t−1}
                if (later > 0)
                    Gemm.Multiply(true, false, hidden, hidden, later, dStates.AsSpan((first + batch) * hidden),
                        stride * hidden, states.AsSpan(first * hidden), stride * hidden,
                        into.Slice(Offset($"rnn.weight_hh_l{l}"), hidden * hidden), hidden, accumulate: true);
                var biasSum = new float[hidden]; // both biases enter a_t alike
                for (int i = 0; i < count; i++)
                    TensorPrimitives.Add(biasSum, gradient.Slice(i * stride * hidden, hidden), biasSum);
                foreach (var name in new[] { $"rnn.bias_ih_l{l}", $"rnn.bias_hh_l{l}" })
                    TensorPrimitives.Add(into.Slice(Offset(name), hidden), biasSum, into.Slice(Offset(name), hidden));
            }
            Layer(result, 0, 1, steps * batch);
            for (int b = 0; b < (perSequence?.Length ?? 0); b++) Layer(perSequence![b], b, batch, steps);
            if (l > 0)
            {
                Gemm.Multiply(false, false, steps * batch, hidden, hidden, dStates, hidden,
                    Weight($"rnn.weight_ih_l{l}"), hidden, spare, hidden);
                (dStates, spare) = (spare, dStates);
            }
        }
    }
}
