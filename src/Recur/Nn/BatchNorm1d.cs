namespace Recur.Nn;

/// <summary>
/// Batch normalisation over [N, C] or [N, C, L] as <c>torch.nn.BatchNorm1d</c>: parameters <c>weight</c> (γ, ones) and
/// <c>bias</c> (β, zeros) when affine; buffers <c>running_mean</c> (zeros) and <c>running_var</c> (ones), which
/// training moves towards each batch's statistics by <see cref="Momentum"/> and evaluation (<see cref="Module.Eval"/>)
/// uses. PyTorch's <c>num_batches_tracked</c> counter is not kept: it only matters for a cumulative average (momentum
/// None).
/// </summary>
public sealed class BatchNorm1d : Module
{
    /// <summary>γ [C], or null without affine.</summary>
    public Tensor? Weight { get; }

    /// <summary>β [C], or null without affine.</summary>
    public Tensor? Bias { get; }

    /// <summary>The running mean [C].</summary>
    public Tensor RunningMean { get; }

    /// <summary>The running (unbiased) variance [C].</summary>
    public Tensor RunningVar { get; }

    /// <summary>How far each training batch moves the running statistics.</summary>
    public float Momentum { get; }

    /// <summary>Added to the variance before its square root.</summary>
    public float Eps { get; }

    /// <summary>Creates the layer for <paramref name="numFeatures"/> channels.</summary>
    public BatchNorm1d(int numFeatures, float eps = 1e-5f, float momentum = 0.1f, bool affine = true)
    {
        if (numFeatures < 1 || !(eps > 0f) || !(momentum is >= 0f and <= 1f))
            throw new ArgumentException($"BatchNorm1d: numFeatures {numFeatures} must be positive, eps {eps} positive "
                + $"and momentum {momentum} in [0, 1].");
        (Eps, Momentum) = (eps, momentum);
        if (affine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones(numFeatures));
            Bias = RegisterParameter("bias", Tensor.Zeros(numFeatures));
        }
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros(numFeatures));
        RunningVar = RegisterBuffer("running_var", Tensor.Ones(numFeatures));
    }

    /// <summary>Normalises [N, C] or [N, C, L]: batch statistics in training, running ones in evaluation.</summary>
    public Tensor Forward(Tensor input) =>
        Functional.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, Training, Momentum, Eps);
}
