using Recur.Autograd;
using Recur.Kernels;

namespace Recur.Nn.Recurrent;

/// <summary>The cell a <see cref="RecurrentLayer"/> runs, named as PyTorch's <c>mode</c>.</summary>
public enum RecurrentMode
{
    /// <summary>Elman RNN with tanh (PyTorch <c>RNN_TANH</c>).</summary>
    RnnTanh,
    /// <summary>Elman RNN with ReLU (PyTorch <c>RNN_RELU</c>).</summary>
    RnnRelu,
    /// <summary>Long short-term memory, gates i, f, g, o.</summary>
    Lstm,
    /// <summary>Gated recurrent unit, PyTorch form, gates r, z, n.</summary>
    Gru,
}

/// <summary>How a <see cref="RecurrentLayer"/> initialises its weights.</summary>
public enum RecurrentInit
{
    /// <summary>PyTorch's default: every weight and bias uniform in ±1/√H.</summary>
    PyTorchDefault,
    /// <summary>Xavier/Glorot uniform input and recurrent matrices (per gate block), zero biases.</summary>
    Xavier,
    /// <summary>Xavier input matrices, orthogonal recurrent matrices per gate block (Saxe et al. 2014), zero
    /// biases.</summary>
    Orthogonal,
    /// <summary>
    /// For ReLU RNNs (IRNN, Le et al. 2015): recurrent matrix = identity, input weights N(0, 0.001²), zero biases.
    /// </summary>
    Identity,
}

/// <summary>
/// Configuration of a recurrent layer stack, with PyTorch's constructor vocabulary. Validated once on construction.
/// <see cref="Init"/> chooses the initialisation; <see cref="ForgetGateBias"/> (LSTM only; Jozefowicz et al. 2015
/// recommend 1) sets the forget gate's total bias after it. <see cref="Residual"/> adds each layer's input to its
/// output wherever their widths agree (every layer above the first; the first too when InputSize = D·H). <see
/// cref="ProjSize"/> projects each step's hidden state to that many units with <c>weight_hr</c>, and the projection is
/// both the output and the state fed back: for an LSTM as <c>torch.nn.LSTM(proj_size)</c> (Sak et al. 2014; in [1, H),
/// c stays H wide); for an Elman RNN, of any width and with a bias <c>bias_hr</c> when <see cref="Bias"/>, it is the
/// Jordan network (Jordan 1986), whose output y_t = W_hr h_t + b_hr is what the next step sees. <see
/// cref="ChronoMaxSteps"/> (LSTM or GRU; 0 turns it off) is chrono initialisation (Tallec &amp; Ollivier 2018) for
/// dependencies up to that many steps: each unit's forget-gate bias (the GRU's update-gate bias z, which keeps the old
/// state) is log u with u uniform in [1, ChronoMaxSteps − 1], so the units' memory times spread over that range, and
/// the LSTM's input-gate bias is its negative. <see cref="Peephole"/> (LSTM only, not with a projection) adds diagonal
/// peephole weights <c>weight_ci</c>, <c>weight_cf</c> and <c>weight_co</c> (Gers &amp; Schmidhuber 2000), run by the
/// same fused kernel. <see cref="Leak"/> (tanh RNN only; 0 turns it off) makes the units leaky integrators, h_t = α
/// h_{t−1} + (1 − α) tanh(…), starting every unit's α at that value; with <see cref="LearnLeak"/> each unit's α is a
/// parameter <c>leak_l{k}</c> that training adjusts, otherwise it stays fixed; with <see cref="SharedLeak"/> all units
/// of a layer share one α (<c>leak_l{k}</c> of shape [1]). <see cref="LayerNorm"/> (LSTM or GRU, no projection or
/// peepholes) is the layer-normalised cell of Ba, Kiros &amp; Hinton (2016): W_ih x and W_hh h are normalised
/// separately over all gate units (gains and shifts <c>ln_ih_l{k}.weight</c>/<c>.bias</c>,
/// <c>ln_hh_l{k}.weight</c>/<c>.bias</c>; the shifts are the gate biases, so there are no
/// <c>bias_ih</c>/<c>bias_hh</c>) and an LSTM's cell state before its tanh (<c>ln_c_l{k}.*</c>); gains start at 1,
/// shifts at 0. <see cref="ResetAfter"/> (GRU; Keras's <c>reset_after</c>) true is PyTorch's and cuDNN's GRU, r ⊙ (W_hn
/// h + b_hn); false is the original GRU of Cho et al. (2014), W_hn (r ⊙ h) + b_hn, run by the fused kernel as two
/// recurrent products per step. <see cref="BatchNorm"/> (LSTM, no projection, peepholes or layer norm) is the
/// recurrent batch normalisation of Cooijmans et al. (2016): W_ih x and W_hh h are normalised separately over the
/// batch, with statistics of their own for each of the first <see cref="BatchNormSteps"/> time steps (later steps share
/// the last), and so is c before its tanh; gains <c>bn_ih_l{k}.weight</c>, <c>bn_hh_l{k}.weight</c> and
/// <c>bn_c_l{k}.weight</c> start at 0.1 as the paper recommends, shifts <c>.bias</c> at 0 (those of ih and hh are the
/// gate biases); the running statistics are buffers <c>bn_*_l{k}.running_mean</c>/<c>.running_var</c> [steps, units]
/// that evaluation mode uses. <see cref="StateNoise"/> (σ; 0 turns it off) adds Gaussian noise N(0, σ²) to every
/// layer's initial hidden state in training, as Cooijmans et al. prime h_0 for sequential MNIST (σ = 0.1): where every
/// sequence of a batch starts alike (MNIST's blank top rows), the batch statistics of a batch-normalised cell would
/// otherwise have no variance to normalise by, and ∂L/∂h would grow by 1/√ε at every such step. <see
/// cref="WeightDrop"/> is the weight-dropped recurrent matrix of the AWD-LSTM (Merity et al. 2018): in training each
/// forward pass zeroes every entry of each <c>weight_hh_l{k}</c> with that probability (DropConnect, Wan et al. 2013;
/// the rest scaled by 1/(1 − p)), one mask for all time steps of the pass, so the recurrent connections are regularised
/// without touching the fused kernel's hidden state. <see cref="VariationalDropout"/> draws the dropout between layers
/// once per sequence and unit and shares it over the time steps (Gal &amp; Ghahramani 2016) instead of anew at every
/// step.
/// </summary>
public sealed record RecurrentConfig(
    RecurrentMode Mode, int InputSize, int HiddenSize, int NumLayers = 1, bool Bias = true, bool BatchFirst = false,
    float Dropout = 0f, bool Bidirectional = false, RecurrentInit Init = RecurrentInit.PyTorchDefault,
        float? ForgetGateBias = null,
    bool Residual = false, int ProjSize = 0, int ChronoMaxSteps = 0, bool Peephole = false, float Leak = 0f,
        bool LearnLeak = false, bool LayerNorm = false, bool ResetAfter = true, bool SharedLeak = false,
        bool BatchNorm = false, int BatchNormSteps = 100, float StateNoise = 0f, float WeightDrop = 0f,
        bool VariationalDropout = false)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (InputSize < 1) throw new ArgumentException(
            $"RecurrentConfig: inputSize must be positive, got {InputSize}.");
        if (HiddenSize < 1) throw new ArgumentException(
            $"RecurrentConfig: hiddenSize must be positive, got {HiddenSize}.");
        if (NumLayers < 1) throw new ArgumentException(
            $"RecurrentConfig: numLayers must be positive, got {NumLayers}.");
        if (Dropout < 0f
            || Dropout >= 1f) throw new ArgumentException(
            $"RecurrentConfig: dropout must be in [0, 1), got {Dropout}.");
        if (ForgetGateBias != null && (Mode != RecurrentMode.Lstm || !HasGateBiases))
            throw new ArgumentException("RecurrentConfig: a forget-gate bias needs an LSTM with biases.");
        if (ChronoMaxSteps != 0 && (ChronoMaxSteps < 3 || Mode is not (RecurrentMode.Lstm or RecurrentMode.Gru)
            || !HasGateBiases || ForgetGateBias != null))
            throw new ArgumentException($"RecurrentConfig: chrono initialisation needs an LSTM or GRU with biases, no "
                + $"forget-gate bias, and chronoMaxSteps ≥ 3; got {ChronoMaxSteps} for {Mode}.");
        if (Leak != 0f && (Mode != RecurrentMode.RnnTanh || !(Leak > 0f && Leak < 1f)))
            throw new ArgumentException(
                $"RecurrentConfig: a leak needs a tanh RNN and α in (0, 1); got {Leak} for {Mode}.");
        if ((LearnLeak || SharedLeak) && Leak == 0f) throw new ArgumentException(
            "RecurrentConfig: learnLeak and sharedLeak need a leak α to start from.");
        if (Peephole && (Mode != RecurrentMode.Lstm || ProjSize > 0))
            throw new ArgumentException(
                $"RecurrentConfig: peepholes need an LSTM without a projection; got {Mode}, projSize {ProjSize}.");
        if (LayerNorm && (Mode is not (RecurrentMode.Lstm or RecurrentMode.Gru) || Peephole || ProjSize > 0))
            throw new ArgumentException($"RecurrentConfig: layer normalisation needs an LSTM or GRU without peepholes "
                + $"or a projection; got {Mode}{(Peephole ? " with peepholes" : "")}, projSize {ProjSize}.");
        if (BatchNorm && (Mode != RecurrentMode.Lstm || LayerNorm || Peephole || ProjSize > 0 || BatchNormSteps < 1))
            throw new ArgumentException("RecurrentConfig: batch normalisation needs an LSTM without layer norm, "
                + $"peepholes or a projection, and batchNormSteps ≥ 1; got {Mode}, batchNormSteps {BatchNormSteps}.");
        if (!(WeightDrop >= 0f && WeightDrop < 1f)) throw new ArgumentException(
            $"RecurrentConfig: weightDrop must be in [0, 1), got {WeightDrop}.");
        if (!(StateNoise >= 0f && float.IsFinite(StateNoise)))
            throw new ArgumentException($"RecurrentConfig: stateNoise must be a finite σ ≥ 0, got {StateNoise}.");
        if (!ResetAfter && (Mode != RecurrentMode.Gru || LayerNorm))
            throw new ArgumentException($"RecurrentConfig: resetAfter false (Cho's GRU) needs a GRU without layer "
                + $"normalisation; got {Mode}{(LayerNorm ? " with layer norm" : "")}.");
        if (ProjSize < 0 || ProjSize > 0 && (Mode == RecurrentMode.Gru || Mode == RecurrentMode.Lstm
            && ProjSize >= HiddenSize))
            throw new ArgumentException("RecurrentConfig: projSize must be 0, or for an LSTM in [1, hiddenSize) as in "
                + $"PyTorch, or positive for an Elman RNN (a Jordan network); got {ProjSize} for {Mode} with hidden "
                + $"{HiddenSize}.");
        if (ProjSize > 0 && (Leak > 0f || Init == RecurrentInit.Identity))
            throw new ArgumentException("RecurrentConfig: a projection does not combine with a leak or the identity "
                + "initialisation (the recurrent matrix is not square).");
    }

    /// <summary>
    /// Whether each gate has a bias: <see cref="Bias"/>, or the shifts of <see cref="LayerNorm"/> or <see
    /// cref="BatchNorm"/> (which replace <c>bias_ih</c>/<c>bias_hh</c>).
    /// </summary>
    public bool HasGateBiases => Bias || LayerNorm || BatchNorm;

    /// <summary>Width of each direction's output and hidden state: ProjSize when projecting, else HiddenSize.</summary>
    public int OutputWidth => ProjSize > 0 ? ProjSize : HiddenSize;

    /// <summary>1 or 2.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>Gate blocks stacked in the weight matrices (1, 4 or 3).</summary>
    public int Gates => GatesOf(Mode);

    /// <summary>Gate blocks of a cell of <paramref name="mode"/>: 4 (LSTM), 3 (GRU) or 1.</summary>
    internal static int GatesOf(RecurrentMode mode) =>
        mode switch { RecurrentMode.Lstm => 4, RecurrentMode.Gru => 3, _ => 1 };
}

/// <summary>Outputs of a <see cref="RecurrentLayer"/>: the top layer's outputs for every step and the final
/// states.</summary>
/// <param name="Output">[T, B, D·H] (or [B, T, D·H] when batch-first; H is ProjSize when projecting); zero past each
/// sequence's length.</param>
/// <param name="HiddenState">h_n, [numLayers·D, B, H] (ProjSize wide when projecting): the state at each sequence's
/// last real step, in each direction.</param>
/// <param name="CellState">c_n for LSTM (same shape), otherwise null.</param>
public sealed record RecurrentOutput(Tensor Output, Tensor HiddenState, Tensor? CellState);

/// <summary>
/// A stack of recurrent layers, as <c>torch.nn.RNN</c>, <c>torch.nn.LSTM</c> and <c>torch.nn.GRU</c>: parameters
/// <c>weight_ih_l{k}</c> [G·H, in], <c>weight_hh_l{k}</c> [G·H, H], <c>bias_ih_l{k}</c>, <c>bias_hh_l{k}</c> (and
/// <c>weight_hr_l{k}</c> [P, H] with a projection), with <c>_reverse</c> for the backward direction, initialised
/// uniform(±1/√H) as PyTorch does. Each layer and direction is one fused operation on the tape, whatever the cell.
/// </summary>
public class RecurrentLayer : Module, IInt8Module
{
    readonly Tensor[][] weights; // [layer·D + direction] → weight_ih, weight_hh, bias_ih?, bias_hh?
    readonly Tensor?[] projections; // [layer·D + direction] → weight_hr, when projecting
    readonly Tensor?[] projectionBiases; // [layer·D + direction] → bias_hr, for a Jordan network with biases
    readonly Tensor[]?[] peepholes; // [layer·D + direction] → weight_ci, weight_cf, weight_co, for a peephole LSTM
    readonly Tensor?[] leaks; // [layer·D + direction] → α per unit, for a leaky tanh RNN (a parameter when learnt)
    readonly Tensor[]?[] norms; // [layer·D + direction] → γ_ih, β_ih, γ_hh, β_hh (, γ_c, β_c), when normalised
    readonly Tensor[]?[] statistics; // [layer·D + direction] → running mean, variance of ih, hh, c (batch norm)
    readonly RandomGenerator dropoutRandom;
    QuantizedWeights[]? quantized; // [layer·D + direction] → W_ih and W_hh in int8, after QuantizeDynamic

    /// <summary>The validated configuration.</summary>
    public RecurrentConfig Config { get; }

    /// <summary>Builds the stack; <paramref name="random"/> draws the initial weights (and seeds dropout).</summary>
    public RecurrentLayer(RecurrentConfig config, RandomGenerator random)
    {
        config.Validate();
        Config = config;
        int hidden = config.HiddenSize, gates = config.Gates;
        float bound = 1f / MathF.Sqrt(hidden);
        int width = config.OutputWidth;
        weights = new Tensor[config.NumLayers * config.Directions][];
        projections = new Tensor?[weights.Length];
        projectionBiases = new Tensor?[weights.Length];
        peepholes = new Tensor[]?[weights.Length];
        leaks = new Tensor?[weights.Length];
        norms = new Tensor[]?[weights.Length];
        statistics = new Tensor[]?[weights.Length];
        for (int layer = 0; layer < config.NumLayers; layer++)
        {
            int inputSize = layer == 0 ? config.InputSize : width * config.Directions;
            for (int direction = 0; direction < config.Directions; direction++)
            {
                string suffix = $"_l{layer}{(direction == 1 ? "_reverse" : "")}";
                Tensor Uniform(params int[] shape) => Tensor.RandomUniform(random, shape, -bound, bound);
                var set = new List<Tensor>
                {
                    RegisterParameter("weight_ih" + suffix, Uniform(gates * hidden, inputSize)),
                    RegisterParameter("weight_hh" + suffix, Uniform(gates * hidden, width)),
                };
                if (config.LayerNorm || config.BatchNorm)
                {
                    // per normalised part (ih, hh, and an LSTM's c): gain and shift, and for batch norm its
                    // running mean and variance per time step
                    string prefix = config.LayerNorm ? "ln" : "bn";
                    float gain = config.BatchNorm ? 0.1f : 1f;
                    var (affine, running) = (new List<Tensor>(), new List<Tensor>());
                    string[] parts = config.Mode == RecurrentMode.Lstm ? ["ih", "hh", "c"] : ["ih", "hh"];
                    foreach (string part in parts)
                    {
                        string name = $"{prefix}_{part}{suffix}";
                        int units = part == "c" ? hidden : gates * hidden;
                        affine.Add(RegisterParameter(name + ".weight", Tensor.Full(gain, units)));
                        affine.Add(RegisterParameter(name + ".bias", Tensor.Zeros(units)));
                        if (!config.BatchNorm) continue;
                        running.Add(RegisterBuffer(name + ".running_mean", Tensor.Zeros(config.BatchNormSteps, units)));
                        running.Add(RegisterBuffer(name + ".running_var", Tensor.Ones(config.BatchNormSteps, units)));
                    }
                    norms[layer * config.Directions + direction] = [.. affine];
                    if (config.BatchNorm) statistics[layer * config.Directions + direction] = [.. running];
                }
                else if (config.Bias)
                {
                    set.Add(RegisterParameter("bias_ih" + suffix, Uniform(gates * hidden)));
                    set.Add(RegisterParameter("bias_hh" + suffix, Uniform(gates * hidden)));
                }
                weights[layer * config.Directions + direction] = set.ToArray();
                if (config.ProjSize > 0)
                {
                    projections[layer * config.Directions + direction] = RegisterParameter("weight_hr" + suffix,
                        Uniform(width, hidden));
                    if (config.Bias && config.Mode != RecurrentMode.Lstm)
                        projectionBiases[layer * config.Directions + direction] = RegisterParameter(
                            "bias_hr" + suffix, Uniform(width));
                }
                if (config.Leak > 0f)
                {
                    var alpha = Tensor.Full(config.Leak, config.SharedLeak ? 1 : hidden);
                    leaks[layer * config.Directions + direction] = config.LearnLeak ? RegisterParameter("leak" + suffix,
                        alpha) : alpha;
                }
                if (config.Peephole)
                    peepholes[layer * config.Directions + direction] = new[] { "weight_ci", "weight_cf", "weight_co" }
                        .Select(name => RegisterParameter(name + suffix, Uniform(hidden))).ToArray();
            }
        }
        dropoutRandom = RegisterRandom("dropout", random.Fork());
        if (config.Init != RecurrentInit.PyTorchDefault) ResetParameters(config.Init, random);
        if (config.ForgetGateBias is float forgetBias)
            for (int index = 0; index < weights.Length; index++)
            {
                // gate order i, f, g, o: the forget block is [H, 2H); the total bias b_ih + b_hh becomes forgetBias
                var (biasIh, biasHh) = GateBiases(index);
                biasIh.Span.Slice(hidden, hidden).Fill(forgetBias);
                biasHh.Span.Slice(hidden, hidden).Clear();
            }
        if (config.ChronoMaxSteps > 0) ChronoBiases(config.ChronoMaxSteps, random);
    }

    void ChronoBiases(int maxSteps, RandomGenerator random)
    {
        int hidden = Config.HiddenSize;
        bool lstm = Config.Mode == RecurrentMode.Lstm;
        for (int index = 0; index < weights.Length; index++)
        {
            // LSTM gates i, f, g, o; GRU gates r, z, n: the keeping gate is block 1 in both. The total bias b_ih + b_hh
            // is set in b_ih, with b_hh's share cleared.
            var biasIh = GateBiases(index).Input.Span;
            var biasHh = GateBiases(index).Recurrent.Span;
            for (int j = 0; j < hidden; j++)
            {
                float keep = MathF.Log(1f + (maxSteps - 2) * random.NextFloat());
                biasIh[hidden + j] = keep;
                biasHh[hidden + j] = 0f;
                if (!lstm) continue;
                biasIh[j] = -keep;
                biasHh[j] = 0f;
            }
        }
    }

    /// <summary>The two vectors whose sum is each gate's bias: b_ih and b_hh, or the layer norms' shifts.</summary>
    (Tensor Input, Tensor Recurrent) GateBiases(int index) => norms[index] is { } norm
        ? (norm[1], norm[3]) : (weights[index][2], weights[index][3]);

    void ResetParameters(RecurrentInit init, RandomGenerator random)
    {
        using var _ = GradMode.NoGrad();
        int hidden = Config.HiddenSize;
        foreach (var set in weights)
        {
            var (weightIh, weightHh) = (set[0], set[1]);
            for (int gate = 0; gate < Config.Gates; gate++)
            {
                // each gate's block is its own map, so fans and orthogonality are per block
                var inputBlock = weightIh.Slice(0, gate * hidden, hidden).Detach();
                var recurrentBlock = weightHh.Slice(0, gate * hidden, hidden).Detach();
                switch (init)
                {
                    case RecurrentInit.Xavier:
                        Nn.Init.XavierUniform(inputBlock, random);
                        Nn.Init.XavierUniform(recurrentBlock, random);
                        break;
                    case RecurrentInit.Orthogonal:
                        Nn.Init.XavierUniform(inputBlock, random);
                        Nn.Init.Orthogonal(recurrentBlock, random);
                        break;
                    case RecurrentInit.Identity:
                        Nn.Init.Normal(inputBlock, random, 0f, 1e-3f);
                        Nn.Init.Identity(recurrentBlock);
                        break;
                }
            }
            for (int i = 2; i < set.Length; i++) set[i].Zero();
        }
        foreach (var set in peepholes)
            // like the biases: the schemes start them at 0
            foreach (var peephole in set ?? Array.Empty<Tensor>()) peephole.Zero();
        foreach (var projection in projections)
            if (projection != null) Nn.Init.XavierUniform(projection.Detach(), random);
        foreach (var bias in projectionBiases) bias?.Zero();
    }

    /// <summary>
    /// Runs the stack over <paramref name="input"/> ([T, B, inputSize], or [B, T, inputSize] when batch-first).
    /// <paramref name="h0"/>/<paramref name="c0"/> are [numLayers·D, B, H] (zeros when null);
    /// <paramref name="lengths"/> gives each sequence's real length (1..T) for packed-sequence semantics.
    /// </summary>
    public RecurrentOutput Forward(Tensor input, Tensor? h0 = null, Tensor? c0 = null, int[]? lengths = null) =>
        ForwardWithProjection(input, h0, c0, lengths, null);

    /// <summary>
    /// The first layer's input projections of <paramref name="rows"/> inputs <paramref name="x"/> (row-major,
    /// InputSize each), as its small-batch inference computes them (float or int8), for <see
    /// cref="ForwardWithProjection"/> to take in their place; null where that path does not
    /// apply (a bidirectional stack, or a first layer with peepholes, a leak, normalisation, Cho's GRU or a
    /// projection).
    /// </summary>
    internal float[]? ProjectFirstLayer(ReadOnlySpan<float> x, int rows)
    {
        if (Config.Directions != 1 || peepholes[0] != null || leaks[0] != null || norms[0] != null
            || !Config.ResetAfter || projections[0] != null || statistics[0] != null) return null;
        var w = weights[0];
        var (bi, bh) = w.Length > 2 ? (w[2], w[3]) : (null, null);
        return RecurrentKernel.ProjectInputs(Config.Mode, x, rows, w[0], bi, bh, quantized?[0]);
    }

    /// <summary>
    /// <see cref="Forward"/>, with the first layer's input projections given
    /// (<paramref name="firstLayerProjection"/>, from <see cref="ProjectFirstLayer"/>) rather than computed from
    /// <paramref name="input"/>, which then serves for its shape: inference of at most four sequences only.
    /// </summary>
    internal RecurrentOutput ForwardWithProjection(Tensor input, Tensor? h0, Tensor? c0, int[]? lengths,
        ReadOnlyMemory<float>? firstLayerProjection)
    {
        var config = Config;
        if (input.Rank != 3 || input.Size(2) != config.InputSize)
            throw new ArgumentException($"{config.Mode}: input {Shapes.Format(input.Shape)} is not "
                + $"[{(config.BatchFirst ? "B, T" : "T, B")}, {config.InputSize}].");
        var x = config.BatchFirst ? input.Transpose(0, 1) : input;
        int steps = x.Size(0), batch = x.Size(1), hidden = config.HiddenSize,
            states = config.NumLayers * config.Directions;
        CheckState("h0", h0, states, batch, config.OutputWidth);
        CheckState("c0", c0, states, batch, hidden);
        if (c0 != null
            && config.Mode != RecurrentMode.Lstm) throw new ArgumentException(
            $"{config.Mode}: only LSTM takes a cell state c0.");
        if (lengths != null)
        {
            if (lengths.Length != batch) throw new ArgumentException(
                $"{config.Mode}: {lengths.Length} lengths for a batch of {batch}.");
            for (int b = 0; b < batch; b++)
                if (lengths[b] < 1 || lengths[b] > steps)
                    throw new ArgumentException(
                        $"{config.Mode}: length {lengths[b]} of sequence {b} is outside [1, {steps}].");
        }

        var finalH = new List<Tensor>();
        var finalC = new List<Tensor>();
        // zero states only where none was given (a token of generation gives both)
        Tensor? zeroState = null, zeroOutput = null;
        Tensor ZeroState() => zeroState ??= Tensor.Zeros(batch, hidden);
        Tensor ZeroOutput() => zeroOutput ??= config.ProjSize > 0 ? Tensor.Zeros(batch, config.ProjSize) : ZeroState();
        for (int layer = 0; layer < config.NumLayers; layer++)
        {
            var directionOutputs = new Tensor[config.Directions];
            for (int direction = 0; direction < config.Directions; direction++)
            {
                int index = layer * config.Directions + direction;
                var w = weights[index];
                var hInit = h0?.Select(0, index) ?? ZeroOutput();
                if (Training && config.StateNoise > 0f)
                    hInit = hInit + Tensor.RandomNormal(dropoutRandom, [batch, config.OutputWidth], 0f,
                        config.StateNoise);
                var cInit = config.Mode == RecurrentMode.Lstm ? c0?.Select(0, index) ?? ZeroState() : null;
                var (bi, bh) = w.Length > 2 ? (w[2], w[3]) : (null, null);
                bool reverse = direction == 1;
                using GradMode.Scope? frozen = layer < FrozenLayers ? GradMode.NoGrad() : null;
                var weightHh = Functional.Dropout(w[1], config.WeightDrop, Training && !IsQuantized, dropoutRandom);
                var packed = RecurrentKernel.Run(config.Mode, $"l{layer}{(reverse ? "_reverse" : "")}", x, hInit, cInit,
                    w[0], weightHh, bi, bh, lengths, reverse, peepholes[index],
                    config.SharedLeak && leaks[index] is { } shared ? shared * Tensor.Ones(hidden) : leaks[index],
                    norms[index],
                    config.ResetAfter, projections[index], projectionBiases[index], quantized?[index],
                    statistics[index] is { } running ? new BatchNormStatistics(running, Training, 0.1f) : null,
                    index == 0 ? firstLayerProjection : null);
                var (sequence, hLast, cLast) = RecurrentKernel.Unpack(packed, steps, batch, config.OutputWidth, hidden);
                directionOutputs[direction] = sequence;
                finalH.Add(hLast);
                if (config.Mode == RecurrentMode.Lstm) finalC.Add(cLast);
            }
            var layerOutput = config.Directions == 1 ? directionOutputs[0] : Tensor.Concat(directionOutputs, 2);
            // residual connection: outputs past a sequence's length stay zero, as without it
            x = config.Residual && x.Size(2) == layerOutput.Size(2) ? Masked(layerOutput + x, lengths) : layerOutput;
            if (layer < config.NumLayers - 1 && config.Dropout > 0f)
                x = config.VariationalDropout
                    ? Functional.VariationalDropout(x, config.Dropout, Training, dropoutRandom)
                    : Functional.Dropout(x, config.Dropout, Training, dropoutRandom);
        }
        var output = config.BatchFirst ? x.Transpose(0, 1) : x;
        return new RecurrentOutput(output, Tensor.Stack(finalH), finalC.Count > 0 ? Tensor.Stack(finalC) : null);
    }

    /// <summary>
    /// How many layers, counted from the input, run without gradients (0, the default: none): their weights get no
    /// gradient, so an optimizer leaves them as they are while the layers above train — the stages of gradual
    /// unfreezing (Howard &amp; Ruder 2018). Their outputs are the same; only the tape is not kept.
    /// </summary>
    public int FrozenLayers
    {
        get => frozenLayers;
        set => frozenLayers = value >= 0 ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "FrozenLayers must be 0 or more.");
    }

    int frozenLayers;

    /// <summary>Whether <see cref="QuantizeDynamic"/> made this stack's inference int8.</summary>
    public bool IsQuantized => quantized != null;

    /// <summary>Whether this stack's cell has an int8 path: plain, peephole or leaky cells without a projection
    /// (not layer or batch normalisation, whose statistics span the units or the batch, nor Cho's GRU or a projected
    /// output).</summary>
    public bool CanQuantize => Config.ProjSize == 0 && Config.ResetAfter && norms.All(n => n is null);

    /// <summary>
    /// Dynamic int8 quantisation for inference, the scheme of PyTorch's <c>quantize_dynamic</c>: every W_ih and W_hh
    /// is kept per output row in int8 with its own scale (<c>s_r = max|W_r| / 127</c>), and each input and state it
    /// multiplies is quantised when it arrives to 129 levels (<c>max|x| / 64</c> a step, about the 7 bits of PyTorch's
    /// <c>reduce_range</c>), so a step reads a quarter of the bytes; biases and the
    /// cell's gate maths stay in float. Afterwards every forward of this stack runs in int8 whatever its batch size,
    /// and recording for a backward is refused:
    /// the parameters are frozen (<c>RequiresGrad = false</c>). The float parameters stay, so the state dict, saving
    /// and export are unchanged; <see cref="Module.LoadStateDict"/> quantises the loaded weights again.
    /// </summary>
    /// <exception cref="NotSupportedException">The cell has no int8 path (<see cref="CanQuantize"/>).</exception>
    public void QuantizeDynamic()
    {
        if (!CanQuantize)
            throw new NotSupportedException($"{Config.Mode}: int8 quantisation needs a cell without layer norm, "
                + "projection or Cho's reset placement.");
        ((IInt8Module)this).LoadInt8(Quantization.Quantize);
    }

    /// <inheritdoc/>
    protected override void OnStateLoaded()
    {
        if (quantized != null) QuantizeDynamic();
    }

    IEnumerable<(Tensor Weight, QuantizedMatrix Int8)> IInt8Module.Int8Weights() => quantized is null ? []
        : weights.Zip(quantized).SelectMany(p => new[] { (p.First[0], p.Second.Ih), (p.First[1], p.Second.Hh) });

    IEnumerable<Tensor> IInt8Module.QuantizableWeights => CanQuantize ? weights.SelectMany(w => w[..2]) : [];

    void IInt8Module.LoadInt8(Func<Tensor, QuantizedMatrix> int8Of)
    {
        quantized = [.. weights.Select(w => new QuantizedWeights(int8Of(w[0]), int8Of(w[1])))];
        foreach (var parameter in Parameters()) parameter.RequiresGrad = false;
    }

    /// <summary>Zeroes the steps past each sequence's length (a no-op without lengths).</summary>
    static Tensor Masked(Tensor sequence, int[]? lengths)
    {
        if (lengths is null) return sequence;
        int steps = sequence.Size(0), batch = sequence.Size(1);
        var mask = Tensor.Zeros(steps, batch, 1);
        for (int t = 0; t < steps; t++)
            for (int b = 0; b < batch; b++)
                if (t < lengths[b]) mask.Span[t * batch + b] = 1f;
        return sequence * mask;
    }

    void CheckState(string name, Tensor? state, int states, int batch, int hidden)
    {
        if (state != null && !state.Shape.SequenceEqual([states, batch, hidden]))
            throw new ArgumentException($"{Config.Mode}: {name} has shape {Shapes.Format(state.Shape)}, expected "
                + $"[{states}, {batch}, {hidden}].");
    }
}
