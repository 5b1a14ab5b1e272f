using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using Recur.Autograd;
using Recur.Serialization;

namespace Recur.Optim;

/// <summary>
/// Updates parameters from their accumulated gradients; parameters without a gradient are skipped. Each optimizer keeps
/// named per-parameter buffers (PyTorch's names: <c>momentum_buffer</c>, <c>exp_avg</c>, …) and a step count per
/// parameter; <see cref="SaveState"/>/<see cref="LoadState"/> move them through a safetensors file so that a resumed
/// run continues exactly.
/// </summary>
public abstract class Optimizer
{
    readonly Dictionary<string, float[]?[]> buffers = [];

    /// <summary>The parameters this optimizer updates.</summary>
    protected IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>How many updates each parameter has received.</summary>
    protected long[] StepCounts { get; }

    /// <summary>Learning rate (schedules may change it between steps).</summary>
    public float LearningRate { get; set; }

    float[]? learningRateScales;

    /// <summary>
    /// A factor per parameter (in the order given to the constructor) on <see cref="LearningRate"/>, as PyTorch's
    /// parameter groups with their own <c>lr</c> — e.g. ULMFiT's discriminative rates, lower for layers nearer the
    /// input. Null (the default) means 1 for every parameter.
    /// </summary>
    public IReadOnlyList<float>? LearningRateScales
    {
        get => learningRateScales;
        set
        {
            if (value is not null
                && (value.Count != Parameters.Count || value.Any(f => !(f >= 0) || float.IsInfinity(f))))
                throw new ArgumentException($"{Name}: {value.Count} learning-rate scales for {Parameters.Count} "
                    + "parameters (each finite and non-negative).");
            learningRateScales = value?.ToArray();
        }
    }

    /// <summary>The learning rate of parameter <paramref name="index"/>: the rate times its scale.</summary>
    protected float RateOf(int index) => learningRateScales is null ? LearningRate
        : LearningRate * learningRateScales[index];

    /// <summary>The optimizer's name as PyTorch spells its class (<c>Adam</c>, <c>SGD</c>, …), stored with its
    /// state.</summary>
    public abstract string Name { get; }

    /// <summary>Creates an optimizer over <paramref name="parameters"/> with the buffer names it may keep.</summary>
    protected Optimizer(IEnumerable<Tensor> parameters, float learningRate, params string[] bufferNames)
    {
        Parameters = parameters.ToArray();
        if (Parameters.Count == 0) throw new ArgumentException($"{GetType().Name}: no parameters given.");
        if (!(learningRate >= 0f)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate,
            "learning rate must be non-negative");
        LearningRate = learningRate;
        StepCounts = new long[Parameters.Count];
        foreach (var name in bufferNames) buffers[name] = new float[Parameters.Count][];
    }

    /// <summary>Checks that a hyper-parameter is finite and at least <paramref name="min"/> (and below <paramref
    /// name="maxExclusive"/>).</summary>
    protected void Require(string name, float value, float min, float maxExclusive = float.PositiveInfinity)
    {
        if (!(value >= min && value < maxExclusive))
            throw new ArgumentOutOfRangeException(name, value, $"{Name}: {name} must be in [{min}, {maxExclusive}).");
    }

    /// <summary>Buffer <paramref name="name"/> of parameter <paramref name="index"/>, created filled with <paramref
    /// name="initial"/>.</summary>
    protected float[] Buffer(string name, int index, float initial = 0f)
    {
        var slot = buffers[name];
        if (slot[index] is null)
        {
            slot[index] = new float[Parameters[index].Length];
            if (initial != 0f) slot[index].AsSpan().Fill(initial);
        }
        return slot[index]!;
    }

    /// <summary>Whether buffer <paramref name="name"/> of parameter <paramref name="index"/> exists yet.</summary>
    protected bool HasBuffer(string name, int index) => buffers[name][index] is not null;

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public virtual void Step()
    {
        using var _ = GradMode.NoGrad();
        for (int i = 0; i < Parameters.Count; i++)
            if (Parameters[i].Grad is { } grad)
            {
                StepCounts[i]++;
                Update(i, Parameters[i].Span, grad.Span);
            }
    }

    /// <summary>Zeroes every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.Grad?.Zero();
    }

    /// <summary>Updates parameter <paramref name="index"/> in place; its step count has already been
    /// advanced.</summary>
    protected abstract void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient);

    /// <summary>
    /// Writes the optimizer's state (every buffer as tensor <c>"{parameter index}.{buffer}"</c>; name, step counts and
    /// learning rate as metadata) to a safetensors file, atomically.
    /// </summary>
    public void SaveState(string path)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, slot) in buffers)
            for (int i = 0; i < slot.Length; i++)
                if (slot[i] is { } values) tensors[$"{i}.{name}"] = Tensor.FromArray(values, values.Length);
        var metadata = new Dictionary<string, string>
        {
            ["optimizer"] = Name,
            ["parameters"] = Parameters.Count.ToString(CultureInfo.InvariantCulture),
            ["steps"] = string.Join(",", StepCounts.Select(s => s.ToString(CultureInfo.InvariantCulture))),
            ["learning_rate"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        };
        WriteState(metadata);
        SafeTensors.Save(path, tensors, metadata);
    }

    /// <summary>Adds what a subclass keeps beyond its buffers (e.g. an adapted damping) to the saved
    /// metadata.</summary>
    protected virtual void WriteState(IDictionary<string, string> metadata)
    {
    }

    /// <summary>Restores what <see cref="WriteState"/> wrote, refusing a malformed <paramref name="path"/>.</summary>
    protected virtual void ReadState(IReadOnlyDictionary<string, string> metadata, string path)
    {
    }

    /// <summary>
    /// Restores the state written by <see cref="SaveState"/>. The file must come from the same optimizer over the same
    /// parameter shapes; anything else is refused with a message naming the file and the mismatch.
    /// </summary>
    public void LoadState(string path)
    {
        var tensors = SafeTensors.Load(path, out var metadata);
        string Meta(string key) => metadata.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"{path}: optimizer state lacks '{key}'.");
        if (Meta("optimizer") != Name)
            throw new InvalidDataException($"{path}: holds {Meta("optimizer")} state, but the optimizer is {Name}.");
        if (Meta("parameters") != Parameters.Count.ToString(CultureInfo.InvariantCulture))
            throw new InvalidDataException(
                $"{path}: state for {Meta("parameters")} parameters, but the optimizer has {Parameters.Count}.");
        var steps = Meta("steps").Split(',');
        var counts = new long[Parameters.Count];
        for (int i = 0; i < counts.Length; i++)
            if (steps.Length != counts.Length || !long.TryParse(steps[i], NumberStyles.None,
                CultureInfo.InvariantCulture, out counts[i]))
                throw new InvalidDataException($"{path}: malformed step counts '{Meta("steps")}'.");
        if (!float.TryParse(Meta("learning_rate"), NumberStyles.Float, CultureInfo.InvariantCulture, out float lr)
            || !(lr >= 0f))
            throw new InvalidDataException($"{path}: malformed learning rate '{Meta("learning_rate")}'.");
        var restored = buffers.Keys.ToDictionary(k => k, _ => new float[Parameters.Count][]);
        foreach (var (key, tensor) in tensors)
        {
            int dot = key.IndexOf('.');
            if (dot < 0 || !int.TryParse(key.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture,
                out int index)
                || index >= Parameters.Count || !restored.TryGetValue(key[(dot + 1)..], out var slot))
                throw new InvalidDataException($"{path}: unexpected tensor '{key}' in {Name} state.");
            if (tensor.Length != Parameters[index].Length)
                throw new InvalidDataException($"{path}: '{key}' has {tensor.Length} values, but parameter {index} "
                    + $"has shape {Shapes.Format(Parameters[index].Shape)}.");
            slot[index] = tensor.ToArray();
        }
        ReadState(metadata, path); // the last check; it applies nothing when it refuses
        foreach (var (name, slot) in restored) slot.CopyTo(buffers[name], 0);
        counts.CopyTo(StepCounts, 0);
        LearningRate = lr;
    }
}

/// <summary>
/// Stochastic gradient descent as <c>torch.optim.SGD</c>: g ← ∇ + λp; with momentum μ the buffer b ← μb + (1−τ)g
/// (b = g at the first step), and g ← g + μb (Nesterov) or g ← b; then p ← p − lr·g.
/// </summary>
public sealed class Sgd : Optimizer
{
    readonly float momentum, dampening, weightDecay;
    readonly bool nesterov;

    /// <inheritdoc/>
    public override string Name => "SGD";

    /// <summary>Creates SGD.</summary>
    public Sgd(IEnumerable<Tensor> parameters, float learningRate, float momentum = 0f, bool nesterov = false,
        float weightDecay = 0f,
        float dampening = 0f) : base(parameters, learningRate, "momentum_buffer")
    {
        Require(nameof(momentum), momentum, 0f);
        Require(nameof(weightDecay), weightDecay, 0f);
        Require(nameof(dampening), dampening, 0f, 1.0000001f);
        if (nesterov && (momentum <= 0f || dampening != 0f))
            throw new ArgumentException("SGD: Nesterov momentum needs momentum > 0 and zero dampening.");
        (this.momentum, this.nesterov, this.weightDecay, this.dampening) = (momentum, nesterov, weightDecay, dampening);
    }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        bool first = !HasBuffer("momentum_buffer", index);
        var buffer = momentum > 0f ? Buffer("momentum_buffer", index) : null;
        float lr = RateOf(index), keep = 1f - dampening;
        for (int i = 0; i < parameter.Length; i++)
        {
            float g = weightDecay != 0f ? gradient[i] + weightDecay * parameter[i] : gradient[i];
            if (buffer != null)
            {
                buffer[i] = first ? g : buffer[i] * momentum + keep * g;
                g = nesterov ? g + momentum * buffer[i] : buffer[i];
            }
            parameter[i] += -lr * g;
        }
    }
}

/// <summary>
/// Adam (Kingma &amp; Ba 2015) as <c>torch.optim.Adam</c>: g ← ∇ + λp (L2), m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε). <see cref="AdamW"/> decays the weights directly instead.
/// </summary>
public class Adam : Optimizer
{
    readonly float beta1, beta2, epsilon;

    /// <summary>The weight-decay coefficient.</summary>
    protected float WeightDecay { get; }

    /// <inheritdoc/>
    public override string Name => "Adam";

    /// <summary>Creates Adam with PyTorch's defaults.</summary>
    public Adam(IEnumerable<Tensor> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0f) : base(parameters, learningRate, "exp_avg", "exp_avg_sq")
    {
        Require(nameof(beta1), beta1, 0f, 1f);
        Require(nameof(beta2), beta2, 0f, 1f);
        Require(nameof(epsilon), epsilon, 0f);
        Require(nameof(weightDecay), weightDecay, 0f);
        (this.beta1, this.beta2, this.epsilon, WeightDecay) = (beta1, beta2, epsilon, weightDecay);
    }

    /// <summary>Adds the L2 term to the gradient (Adam) or decays the weights (AdamW); returns whether g includes
    /// λp.</summary>
    protected virtual bool DecayInGradient(int index, Span<float> parameter) => true;

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        long t = StepCounts[index];
        var m = Buffer("exp_avg", index);
        var v = Buffer("exp_avg_sq", index);
        float decay = DecayInGradient(index, parameter) ? WeightDecay : 0f;
        // scalars in double, as PyTorch computes them in Python
        float stepSize = (float)(RateOf(index) / (1.0 - Math.Pow(beta1, t)));
        float correction2 = (float)Math.Sqrt(1.0 - Math.Pow(beta2, t));
        float w1 = 1f - beta1, w2 = 1f - beta2;
        // The vector loop performs exactly the scalar loop's operations in the same order (no fused multiply-adds), so
        // every element gets the same bits whichever loop handles it.
        int i = 0;
        if (Vector.IsHardwareAccelerated && parameter.Length >= Vector<float>.Count)
        {
            var pv = MemoryMarshal.Cast<float, Vector<float>>(parameter);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(gradient);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m.AsSpan());
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v.AsSpan());
            Vector<float> decayV = new(decay), w1V = new(w1), w2V = new(w2), beta2V = new(beta2),
                correctionV = new(correction2), epsilonV = new(epsilon), stepV = new(-stepSize);
            for (int j = 0; j < pv.Length; j++)
            {
                var g = decay != 0f ? gv[j] + decayV * pv[j] : gv[j];
                mv[j] += w1V * (g - mv[j]);
                vv[j] = vv[j] * beta2V + w2V * g * g;
                var denominator = Vector.SquareRoot(vv[j]) / correctionV + epsilonV;
                pv[j] += stepV * mv[j] / denominator;
            }
            i = pv.Length * Vector<float>.Count;
        }
        for (; i < parameter.Length; i++)
        {
            float g = decay != 0f ? gradient[i] + decay * parameter[i] : gradient[i];
            m[i] += w1 * (g - m[i]);
            v[i] = v[i] * beta2 + w2 * g * g;
            float denominator = MathF.Sqrt(v[i]) / correction2 + epsilon;
            parameter[i] += -stepSize * m[i] / denominator;
        }
    }
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter 2019) as <c>torch.optim.AdamW</c>: p ← p(1 − lr·λ), then Adam's update without L2.
/// </summary>
public sealed class AdamW : Adam
{
    /// <inheritdoc/>
    public override string Name => "AdamW";

    /// <summary>Creates AdamW with PyTorch's defaults (weight decay 0.01).</summary>
    public AdamW(IEnumerable<Tensor> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 1e-2f) : base(parameters, learningRate, beta1, beta2, epsilon,
            weightDecay)
    { }

    /// <inheritdoc/>
    protected override bool DecayInGradient(int index, Span<float> parameter)
    {
        float keep = 1f - RateOf(index) * WeightDecay;
        if (keep != 1f)
            for (int i = 0; i < parameter.Length; i++) parameter[i] *= keep;
        return false;
    }
}

/// <summary>
/// RMSprop as <c>torch.optim.RMSprop</c>: g ← ∇ + λp, s ← αs + (1−α)g²; centred: ḡ ← αḡ + (1−α)g and the denominator
/// is √(s − ḡ²) + ε, else √s + ε; with momentum μ: b ← μb + g/denominator, p ← p − lr·b; else p ← p − lr·g/denominator.
/// </summary>
public sealed class RmsProp : Optimizer
{
    readonly float alpha, epsilon, weightDecay, momentum;
    readonly bool centered;

    /// <inheritdoc/>
    public override string Name => "RMSprop";

    /// <summary>Creates RMSprop with PyTorch's defaults.</summary>
    public RmsProp(IEnumerable<Tensor> parameters, float learningRate = 1e-2f, float alpha = 0.99f,
        float epsilon = 1e-8f, float weightDecay = 0f, float momentum = 0f, bool centered = false)
        : base(parameters, learningRate, "square_avg", "grad_avg", "momentum_buffer")
    {
        Require(nameof(alpha), alpha, 0f, 1.0000001f);
        Require(nameof(epsilon), epsilon, 0f);
        Require(nameof(weightDecay), weightDecay, 0f);
        Require(nameof(momentum), momentum, 0f);
        (this.alpha, this.epsilon, this.weightDecay, this.momentum, this.centered) = (alpha, epsilon, weightDecay,
            momentum, centered);
    }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        var square = Buffer("square_avg", index);
        var average = centered ? Buffer("grad_avg", index) : null;
        var buffer = momentum > 0f ? Buffer("momentum_buffer", index) : null;
        float lr = RateOf(index), w = 1f - alpha;
        for (int i = 0; i < parameter.Length; i++)
        {
            float g = weightDecay != 0f ? gradient[i] + weightDecay * parameter[i] : gradient[i];
            square[i] = square[i] * alpha + w * g * g;
            float denominator;
            if (average != null)
            {
                average[i] += w * (g - average[i]);
                denominator = MathF.Sqrt(square[i] + -1f * average[i] * average[i]) + epsilon;
            }
            else denominator = MathF.Sqrt(square[i]) + epsilon;
            if (buffer != null)
            {
                buffer[i] = buffer[i] * momentum + g / denominator;
                parameter[i] += -lr * buffer[i];
            }
            else parameter[i] += -lr * g / denominator;
        }
    }
}

/// <summary>
/// Adagrad (Duchi et al. 2011) as <c>torch.optim.Adagrad</c>: g ← ∇ + λp, lr_t = lr / (1 + (t−1)·decay), s ← s + g²,
/// p ← p − lr_t · g / (√s + ε); s starts at the initial accumulator value.
/// </summary>
public sealed class Adagrad : Optimizer
{
    readonly float learningRateDecay, weightDecay, initialAccumulator, epsilon;

    /// <inheritdoc/>
    public override string Name => "Adagrad";

    /// <summary>Creates Adagrad with PyTorch's defaults.</summary>
    public Adagrad(IEnumerable<Tensor> parameters, float learningRate = 1e-2f, float learningRateDecay = 0f,
        float weightDecay = 0f,
        float initialAccumulator = 0f, float epsilon = 1e-10f) : base(parameters, learningRate, "sum")
    {
        Require(nameof(learningRateDecay), learningRateDecay, 0f);
        Require(nameof(weightDecay), weightDecay, 0f);
        Require(nameof(initialAccumulator), initialAccumulator, 0f);
        Require(nameof(epsilon), epsilon, 0f);
        (this.learningRateDecay, this.weightDecay, this.initialAccumulator, this.epsilon) = (learningRateDecay,
            weightDecay, initialAccumulator, epsilon);
    }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        var sum = Buffer("sum", index, initialAccumulator);
        float lr = (float)(RateOf(index) / (1.0 + (StepCounts[index] - 1) * (double)learningRateDecay));
        for (int i = 0; i < parameter.Length; i++)
        {
            float g = weightDecay != 0f ? gradient[i] + weightDecay * parameter[i] : gradient[i];
            sum[i] += g * g;
            parameter[i] += -lr * g / (MathF.Sqrt(sum[i]) + epsilon);
        }
    }
}
