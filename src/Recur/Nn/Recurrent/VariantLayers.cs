namespace Recur.Nn.Recurrent;

/// <summary>
/// A single-layer, time-major recurrent layer composed from tape operations, for the textbook variants that have no
/// fused kernel: the input projections of all steps are still one GEMM (<c>weight_ih</c>), then each step records
/// its own operations. Input [T, B, in] → outputs [T, B, out] and the final state tensors.
/// </summary>
public abstract class ComposedRecurrentLayer : Module
{
    /// <summary>Input features per step.</summary>
    public int InputSize { get; }

    /// <summary>Hidden units.</summary>
    public int HiddenSize { get; }

    /// <summary>Input-to-gates weights [G·H, in] (PyTorch's name and gate layout).</summary>
    protected Tensor WeightIh { get; }

    /// <summary>Input-side gate biases [G·H], or null.</summary>
    protected Tensor? BiasIh { get; }

    /// <summary>Creates <c>weight_ih</c> (and <c>bias_ih</c>) for <paramref name="gates"/> gate blocks,
    /// uniform(±1/√H).</summary>
    protected ComposedRecurrentLayer(int inputSize, int hiddenSize, int gates, RandomGenerator random,
        bool inputBias = true)
    {
        if (inputSize < 1
            || hiddenSize < 1) throw new ArgumentException(
            $"{GetType().Name}: sizes must be positive, got input {inputSize}, hidden {hiddenSize}.");
        (InputSize, HiddenSize) = (inputSize, hiddenSize);
        WeightIh = RegisterParameter("weight_ih", Uniform(random, gates * hiddenSize, inputSize));
        if (inputBias) BiasIh = RegisterParameter("bias_ih", Uniform(random, gates * hiddenSize));
    }

    /// <summary>uniform(±1/√H), PyTorch's recurrent initialisation.</summary>
    protected Tensor Uniform(RandomGenerator random, params int[] shape)
    {
        float bound = 1f / MathF.Sqrt(HiddenSize);
        return Tensor.RandomUniform(random, shape, -bound, bound);
    }

    /// <summary>The zero initial state for a batch.</summary>
    protected abstract Tensor[] InitialState(int batch);

    /// <summary>One step: the input projection of this step [B, G·H] and the state → the output [B, out] and the new
    /// state.</summary>
    protected abstract (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state);

    /// <summary>Step <paramref name="t"/> (from 0), for layers whose maths depends on the time; the others ignore
    /// it.</summary>
    protected virtual (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state, int t) =>
        Step(projectedInput, state);

    /// <summary>Runs the sequence from <paramref name="state"/> (zeros when null).</summary>
    public (Tensor Output, Tensor[] State) Forward(Tensor input, Tensor[]? state = null)
    {
        if (input.Rank != 3 || input.Size(2) != InputSize)
            throw new ArgumentException(
                $"{GetType().Name}: input must be [T, B, {InputSize}], got {Shapes.Format(input.Shape)}.");
        int steps = input.Size(0), batch = input.Size(1);
        state ??= InitialState(batch);
        var projected = Functional.Linear(input, WeightIh, BiasIh);
        var outputs = new Tensor[steps];
        for (int t = 0; t < steps; t++) (outputs[t], state) = Step(projected.Select(0, t), state, t);
        return (Tensor.Stack(outputs, 0), state);
    }

    /// <summary>Gate block <paramref name="k"/> of a [B, G·H] tensor.</summary>
    protected Tensor Gate(Tensor gates, int k) => gates.Slice(1, k * HiddenSize, HiddenSize);
}

/// <summary>
/// LSTM with the options PyTorch's fused layer lacks or has: peephole connections (Gers &amp; Schmidhuber 2000: the
/// input and forget gates see c_{t−1}, the output gate sees c_t, through diagonal weights <c>weight_ci</c>,
/// <c>weight_cf</c>, <c>weight_co</c>) and a projection h_t = W_hr (o_t ⊙ tanh c_t) to <c>projSize</c> units
/// (<c>weight_hr</c>, as <c>torch.nn.LSTM(proj_size=…)</c>). Gate order i, f, g, o. State: (h, c).
/// </summary>
public sealed class LstmVariantLayer : ComposedRecurrentLayer
{
    readonly Tensor weightHh, biasHh;
    readonly Tensor? peepI, peepF, peepO, weightHr;

    /// <summary>Output (and recurrent) width: projSize, or H without projection.</summary>
    public int OutputSize { get; }

    /// <summary>Creates the layer, every weight drawn uniformly from ±1/√hiddenSize as PyTorch's LSTM does;
    /// <paramref name="peephole"/> adds w_ci, w_cf, w_co and a positive <paramref name="projSize"/> adds
    /// weight_hr.</summary>
    public LstmVariantLayer(int inputSize, int hiddenSize, RandomGenerator random, bool peephole = false,
        int projSize = 0)
        : base(inputSize, hiddenSize, 4, random)
    {
        if (projSize < 0 || projSize >= hiddenSize && projSize != 0)
            throw new ArgumentException($"LstmVariantLayer: projSize must be in [0, hiddenSize) as in PyTorch, "
                + $"got {projSize} for hidden {hiddenSize}.");
        OutputSize = projSize > 0 ? projSize : hiddenSize;
        weightHh = RegisterParameter("weight_hh", Uniform(random, 4 * hiddenSize, OutputSize));
        biasHh = RegisterParameter("bias_hh", Uniform(random, 4 * hiddenSize));
        if (projSize > 0) weightHr = RegisterParameter("weight_hr", Uniform(random, projSize, hiddenSize));
        if (peephole)
        {
            peepI = RegisterParameter("weight_ci", Uniform(random, hiddenSize));
            peepF = RegisterParameter("weight_cf", Uniform(random, hiddenSize));
            peepO = RegisterParameter("weight_co", Uniform(random, hiddenSize));
        }
    }

    /// <inheritdoc/>
    protected override Tensor[] InitialState(int batch) => [Tensor.Zeros(batch, OutputSize), Tensor.Zeros(batch,
        HiddenSize)];

    /// <inheritdoc/>
    protected override (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state)
    {
        var (hNext, cNext) = LstmStep(projectedInput, state[0], state[1], weightHh, biasHh, weightHr, peepI, peepF,
            peepO);
        return (hNext, [hNext, cNext]);
    }

    /// <summary>
    /// One LSTM step on the tape from the step's input projection [B, 4H]: gates i, f, g, o; optional peepholes
    /// (diagonal weights from c_{t−1} into i and f, from c_t into o) and projection h_t = W_hr (o ⊙ tanh c_t).
    /// </summary>
    static (Tensor H, Tensor C) LstmStep(Tensor projectedInput, Tensor h, Tensor c, Tensor weightHh, Tensor? biasHh,
        Tensor? weightHr, Tensor? peepI = null, Tensor? peepF = null, Tensor? peepO = null)
    {
        int hidden = c.Size(1);
        var gates = projectedInput + Functional.Linear(h, weightHh, biasHh);
        Tensor i = gates.Slice(1, 0, hidden), f = gates.Slice(1, hidden, hidden), g = gates.Slice(1, 2 * hidden,
            hidden).Tanh(), o = gates.Slice(1, 3 * hidden, hidden);
        if (peepI != null) (i, f) = (i + peepI * c, f + peepF! * c);
        var cNext = f.Sigmoid() * c + i.Sigmoid() * g;
        if (peepO != null) o = o + peepO * cNext;
        var hNext = o.Sigmoid() * cNext.Tanh();
        if (weightHr != null) hNext = Functional.Linear(hNext, weightHr);
        return (hNext, cNext);
    }
}

/// <summary>
/// GRU in the original form of Cho et al. (2014): the reset gate multiplies the previous state before the recurrent
/// product, n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn) (PyTorch applies r after the product). Gates r, z, n;
/// h' = (1 − z) ⊙ n + z ⊙ h. Parameters named as PyTorch's GRU.
/// </summary>
public sealed class ChoGruLayer : ComposedRecurrentLayer
{
    readonly Tensor weightHh, biasHh;

    /// <summary>Creates the layer, every weight drawn uniformly from ±1/√hiddenSize.</summary>
    public ChoGruLayer(int inputSize, int hiddenSize, RandomGenerator random) : base(inputSize, hiddenSize, 3, random)
    {
        weightHh = RegisterParameter("weight_hh", Uniform(random, 3 * hiddenSize, hiddenSize));
        biasHh = RegisterParameter("bias_hh", Uniform(random, 3 * hiddenSize));
    }

    /// <inheritdoc/>
    protected override Tensor[] InitialState(int batch) => [Tensor.Zeros(batch, HiddenSize)];

    /// <inheritdoc/>
    protected override (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state)
    {
        var h = state[0];
        int hs = HiddenSize;
        var rz = projectedInput.Slice(1, 0, 2 * hs) + Functional.Linear(h, weightHh.Slice(0, 0, 2 * hs),
            biasHh.Slice(0, 0, 2 * hs));
        var r = rz.Slice(1, 0, hs).Sigmoid();
        var z = rz.Slice(1, hs, hs).Sigmoid();
        var n = (Gate(projectedInput, 2) + Functional.Linear(r * h, weightHh.Slice(0, 2 * hs, hs), biasHh.Slice(0,
            2 * hs, hs))).Tanh();
        var hNext = n + z * (h - n); // (1 − z) n + z h
        return (hNext, [hNext]);
    }
}

/// <summary>
/// Leaky-integrator (tanh) units: h_t = α h_{t−1} + (1 − α) tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), with a fixed
/// leak α ∈ [0, 1) (α = 0 is the Elman RNN); the units change slowly and keep information longer.
/// </summary>
public sealed class LeakyRnnLayer : ComposedRecurrentLayer
{
    readonly Tensor weightHh, biasHh;

    /// <summary>The leak α.</summary>
    public float Alpha { get; }

    /// <summary>Creates the layer with a fixed leak <paramref name="alpha"/> in [0, 1) (0 is the Elman RNN), every
    /// weight drawn uniformly from ±1/√hiddenSize.</summary>
    public LeakyRnnLayer(int inputSize, int hiddenSize, float alpha, RandomGenerator random) : base(inputSize,
        hiddenSize, 1, random)
    {
        if (!(alpha >= 0f && alpha < 1f)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha,
            "LeakyRnnLayer: α must be in [0, 1).");
        Alpha = alpha;
        weightHh = RegisterParameter("weight_hh", Uniform(random, hiddenSize, hiddenSize));
        biasHh = RegisterParameter("bias_hh", Uniform(random, hiddenSize));
    }

    /// <inheritdoc/>
    protected override Tensor[] InitialState(int batch) => [Tensor.Zeros(batch, HiddenSize)];

    /// <inheritdoc/>
    protected override (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state)
    {
        var h = state[0];
        var candidate = (projectedInput + Functional.Linear(h, weightHh, biasHh)).Tanh();
        var hNext = Alpha * h + (1f - Alpha) * candidate;
        return (hNext, [hNext]);
    }
}

/// <summary>
/// Layer-normalised LSTM (Ba, Kiros &amp; Hinton 2016): the input and recurrent pre-activations are normalised
/// separately over all 4H gate units (gains <c>ln_ih.weight</c>, <c>ln_hh.weight</c>, shifts <c>ln_ih.bias</c>,
/// <c>ln_hh.bias</c>, which serve as the gate biases), and the cell state before its tanh (<c>ln_c.*</c>). With <c>gru:
/// true</c> the same for a GRU (PyTorch form, 3H units, no cell norm).
/// </summary>
public sealed class LayerNormRecurrentLayer : ComposedRecurrentLayer
{
    readonly Tensor weightHh, gainIh, shiftIh, gainHh, shiftHh;
    readonly Tensor? gainC, shiftC;

    /// <summary>True for the GRU form, false for the LSTM.</summary>
    public bool Gru { get; }

    /// <summary>Creates the layer; gains start at 1 and shifts (which act as the gate biases) at 0.</summary>
    public LayerNormRecurrentLayer(int inputSize, int hiddenSize, RandomGenerator random, bool gru = false)
        : base(inputSize, hiddenSize, gru ? 3 : 4, random, inputBias: false)
    {
        Gru = gru;
        int units = (gru ? 3 : 4) * hiddenSize;
        weightHh = RegisterParameter("weight_hh", Uniform(random, units, hiddenSize));
        gainIh = RegisterParameter("ln_ih.weight", Tensor.Ones(units));
        shiftIh = RegisterParameter("ln_ih.bias", Tensor.Zeros(units));
        gainHh = RegisterParameter("ln_hh.weight", Tensor.Ones(units));
        shiftHh = RegisterParameter("ln_hh.bias", Tensor.Zeros(units));
        if (!gru)
        {
            gainC = RegisterParameter("ln_c.weight", Tensor.Ones(hiddenSize));
            shiftC = RegisterParameter("ln_c.bias", Tensor.Zeros(hiddenSize));
        }
    }

    /// <inheritdoc/>
    protected override Tensor[] InitialState(int batch) => Gru ? [Tensor.Zeros(batch,
        HiddenSize)] : [Tensor.Zeros(batch, HiddenSize), Tensor.Zeros(batch, HiddenSize)];

    /// <inheritdoc/>
    protected override (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state)
    {
        var h = state[0];
        var x = Functional.LayerNorm(projectedInput, gainIh, shiftIh);
        var r = Functional.LayerNorm(Functional.Linear(h, weightHh), gainHh, shiftHh);
        if (Gru)
        {
            var reset = (Gate(x, 0) + Gate(r, 0)).Sigmoid();
            var update = (Gate(x, 1) + Gate(r, 1)).Sigmoid();
            var n = (Gate(x, 2) + reset * Gate(r, 2)).Tanh();
            var next = n + update * (h - n);
            return (next, [next]);
        }
        var gates = x + r;
        var c = Gate(gates, 1).Sigmoid() * state[1] + Gate(gates, 0).Sigmoid() * Gate(gates, 2).Tanh();
        var hNext = Gate(gates, 3).Sigmoid() * Functional.LayerNorm(c, gainC, shiftC).Tanh();
        return (hNext, [hNext, c]);
    }
}

/// <summary>
/// Jordan network (Jordan 1986): the previous <em>output</em>, not the hidden state, is fed back:
/// h_t = tanh(W_ih x_t + b_ih + W_oh y_{t−1}), y_t = W_ho h_t + b_ho. Outputs y [T, B, out]; state: y.
/// </summary>
public sealed class JordanLayer : ComposedRecurrentLayer
{
    readonly Tensor weightOh, weightHo, biasHo;

    /// <summary>Output width.</summary>
    public int OutputSize { get; }

    /// <summary>Creates the layer with <paramref name="outputSize"/> outputs fed back, every weight drawn uniformly
    /// from ±1/√hiddenSize.</summary>
    public JordanLayer(int inputSize, int hiddenSize, int outputSize, RandomGenerator random) : base(inputSize,
        hiddenSize, 1, random)
    {
        if (outputSize < 1) throw new ArgumentException(
            $"JordanLayer: output size must be positive, got {outputSize}.");
        OutputSize = outputSize;
        weightOh = RegisterParameter("weight_oh", Uniform(random, hiddenSize, outputSize));
        weightHo = RegisterParameter("weight_ho", Uniform(random, outputSize, hiddenSize));
        biasHo = RegisterParameter("bias_ho", Uniform(random, outputSize));
    }

    /// <inheritdoc/>
    protected override Tensor[] InitialState(int batch) => [Tensor.Zeros(batch, OutputSize)];

    /// <inheritdoc/>
    protected override (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state)
    {
        var hidden = (projectedInput + Functional.Linear(state[0], weightOh)).Tanh();
        var y = Functional.Linear(hidden, weightHo, biasHo);
        return (y, [y]);
    }
}

/// <summary>
/// Recurrent batch normalisation (Cooijmans et al. 2016): an LSTM whose input and recurrent products are
/// batch-normalised separately, with statistics of their own for every time step (steps beyond <see cref="MaxSteps"/>
/// share the last step's), and whose cell state is normalised before its tanh: gates = BN(W_ih x_t; γ_ih) + BN(W_hh
/// h_{t−1}; γ_hh) + b, c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g), h_t = σ(o) ⊙ tanh(BN(c_t; γ_c, β_c)). The gains start at
/// 0.1, as the paper recommends (a larger γ saturates the tanh and stops the gradient), the shifts and b at 0.
/// Parameters <c>weight_ih</c>, <c>weight_hh</c>, <c>bias</c>, <c>bn_ih.weight</c>, <c>bn_hh.weight</c>,
/// <c>bn_c.weight</c>, <c>bn_c.bias</c>; buffers <c>bn_*.running_mean</c>/<c>running_var</c> [MaxSteps, units], which
/// evaluation mode uses. State: (h, c).
/// </summary>
public sealed class BatchNormLstmLayer : ComposedRecurrentLayer
{
    readonly Tensor weightHh, bias, gainIh, gainHh, gainC, shiftC;
    readonly (Tensor Mean, Tensor Var) statsIh, statsHh, statsC;

    /// <summary>Time steps with statistics of their own; later steps use the last ones.</summary>
    public int MaxSteps { get; }

    /// <summary>How far each training batch moves the running statistics.</summary>
    public float Momentum { get; }

    /// <summary>Creates the layer with statistics for <paramref name="maxSteps"/> steps.</summary>
    public BatchNormLstmLayer(int inputSize, int hiddenSize, int maxSteps, RandomGenerator random,
        float momentum = 0.1f) : base(inputSize, hiddenSize, 4, random, inputBias: false)
    {
        if (maxSteps < 1 || !(momentum is >= 0f and <= 1f))
            throw new ArgumentException($"BatchNormLstmLayer: maxSteps {maxSteps} must be positive and momentum "
                + $"{momentum} in [0, 1].");
        (MaxSteps, Momentum) = (maxSteps, momentum);
        int units = 4 * hiddenSize;
        weightHh = RegisterParameter("weight_hh", Uniform(random, units, hiddenSize));
        bias = RegisterParameter("bias", Tensor.Zeros(units));
        gainIh = RegisterParameter("bn_ih.weight", Tensor.Full(0.1f, units));
        gainHh = RegisterParameter("bn_hh.weight", Tensor.Full(0.1f, units));
        gainC = RegisterParameter("bn_c.weight", Tensor.Full(0.1f, hiddenSize));
        shiftC = RegisterParameter("bn_c.bias", Tensor.Zeros(hiddenSize));
        (Tensor, Tensor) Statistics(string name, int width) =>
            (RegisterBuffer($"{name}.running_mean", Tensor.Zeros(maxSteps, width)),
                RegisterBuffer($"{name}.running_var", Tensor.Ones(maxSteps, width)));
        statsIh = Statistics("bn_ih", units);
        statsHh = Statistics("bn_hh", units);
        statsC = Statistics("bn_c", hiddenSize);
    }

    /// <inheritdoc/>
    protected override Tensor[] InitialState(int batch) =>
        [Tensor.Zeros(batch, HiddenSize), Tensor.Zeros(batch, HiddenSize)];

    /// <inheritdoc/>
    protected override (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state) =>
        Step(projectedInput, state, 0);

    /// <inheritdoc/>
    protected override (Tensor Output, Tensor[] State) Step(Tensor projectedInput, Tensor[] state, int t)
    {
        int row = Math.Min(t, MaxSteps - 1);
        var (h, c) = (state[0], state[1]);
        var gates = Normalise(projectedInput, statsIh, row, gainIh, null)
            + Normalise(Functional.Linear(h, weightHh), statsHh, row, gainHh, null) + bias;
        var cNext = Gate(gates, 1).Sigmoid() * c + Gate(gates, 0).Sigmoid() * Gate(gates, 2).Tanh();
        var hNext = Gate(gates, 3).Sigmoid() * Normalise(cNext, statsC, row, gainC, shiftC).Tanh();
        return (hNext, [hNext, cNext]);
    }

    /// <summary>Batch norm of [B, units] with the running statistics of step <paramref name="row"/>.</summary>
    Tensor Normalise(Tensor x, (Tensor Mean, Tensor Var) stats, int row, Tensor gain, Tensor? shift)
    {
        int width = x.Size(1);
        var mean = Tensor.FromArray(stats.Mean.Span.Slice(row * width, width).ToArray(), width);
        var variance = Tensor.FromArray(stats.Var.Span.Slice(row * width, width).ToArray(), width);
        var y = Functional.BatchNorm(x, mean, variance, gain, shift, Training, Momentum);
        if (Training)
        {
            mean.Span.CopyTo(stats.Mean.Span.Slice(row * width, width));
            variance.Span.CopyTo(stats.Var.Span.Slice(row * width, width));
        }
        return y;
    }
}
