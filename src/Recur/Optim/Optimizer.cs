using Recur.Autograd;

namespace Recur.Optim;

/// <summary>Updates parameters from their accumulated gradients; parameters without a gradient are skipped.</summary>
public abstract class Optimizer
{
    /// <summary>The parameters this optimizer updates.</summary>
    protected IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>Learning rate (schedules may change it between steps).</summary>
    public float LearningRate { get; set; }

    /// <summary>Creates an optimizer over <paramref name="parameters"/>.</summary>
    protected Optimizer(IEnumerable<Tensor> parameters, float learningRate)
    {
        Parameters = parameters.ToArray();
        if (Parameters.Count == 0) throw new ArgumentException("Optimizer: no parameters given.");
        if (!(learningRate >= 0f)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be non-negative");
        LearningRate = learningRate;
    }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        using var _ = GradMode.NoGrad();
        for (int i = 0; i < Parameters.Count; i++)
            if (Parameters[i].Grad is { } grad) Update(i, Parameters[i].Span, grad.Span);
    }

    /// <summary>Zeroes every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.Grad?.Zero();
    }

    /// <summary>Updates parameter <paramref name="index"/> in place.</summary>
    protected abstract void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient);
}

/// <summary>
/// Adam (Kingma &amp; Ba 2015) with PyTorch's update rule: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε); weight decay (L2) is added to the gradient first.
/// </summary>
public sealed class Adam : Optimizer
{
    readonly float beta1, beta2, epsilon, weightDecay;
    readonly float[][] firstMoment, secondMoment;
    readonly int[] steps;

    /// <summary>Creates Adam with PyTorch's defaults.</summary>
    public Adam(IEnumerable<Tensor> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0f) : base(parameters, learningRate)
    {
        (this.beta1, this.beta2, this.epsilon, this.weightDecay) = (beta1, beta2, epsilon, weightDecay);
        firstMoment = Parameters.Select(p => new float[p.Length]).ToArray();
        secondMoment = Parameters.Select(p => new float[p.Length]).ToArray();
        steps = new int[Parameters.Count];
    }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        int t = ++steps[index];
        var m = firstMoment[index];
        var v = secondMoment[index];
        float stepSize = LearningRate / (1f - MathF.Pow(beta1, t));
        float correction2 = MathF.Sqrt(1f - MathF.Pow(beta2, t));
        for (int i = 0; i < parameter.Length; i++)
        {
            float g = gradient[i] + weightDecay * parameter[i];
            m[i] = beta1 * m[i] + (1f - beta1) * g;
            v[i] = beta2 * v[i] + (1f - beta2) * g * g;
            parameter[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / correction2 + epsilon);
        }
    }
}

/// <summary>Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay (PyTorch's rule).</summary>
public sealed class Sgd : Optimizer
{
    readonly float momentum, weightDecay;
    readonly bool nesterov;
    readonly float[]?[] velocity;

    /// <summary>Creates SGD.</summary>
    public Sgd(IEnumerable<Tensor> parameters, float learningRate, float momentum = 0f, bool nesterov = false, float weightDecay = 0f)
        : base(parameters, learningRate)
    {
        if (nesterov && momentum <= 0f) throw new ArgumentException("Sgd: Nesterov momentum needs momentum > 0.");
        (this.momentum, this.nesterov, this.weightDecay) = (momentum, nesterov, weightDecay);
        velocity = new float[Parameters.Count][];
    }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        bool first = velocity[index] is null;
        var buffer = momentum > 0f ? velocity[index] ??= new float[parameter.Length] : null;
        for (int i = 0; i < parameter.Length; i++)
        {
            float g = gradient[i] + weightDecay * parameter[i];
            if (buffer != null)
            {
                buffer[i] = first ? g : momentum * buffer[i] + g; // PyTorch starts the buffer at the first gradient
                g = nesterov ? g + momentum * buffer[i] : buffer[i];
            }
            parameter[i] -= LearningRate * g;
        }
    }
}
