namespace Recur.Nn;

/// <summary>
/// <c>torch.nn.Conv1d</c>: <c>weight</c> [out, in / groups, kernel] and <c>bias</c> [out], initialised as PyTorch does
/// (uniform in ±1/√(in / groups · kernel)). <see cref="Causal"/> pads on the left only, dilation·(kernel − 1) zeros,
/// so that output t sees inputs up to t (WaveNet); otherwise <see cref="Padding"/> zeros go on both sides.
/// </summary>
public sealed class Conv1d : Module
{
    /// <summary>The weight [out, in / groups, kernel].</summary>
    public Tensor Weight { get; }

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>Step between output positions.</summary>
    public int Stride { get; }

    /// <summary>Zeros added on each side (ignored when <see cref="Causal"/>).</summary>
    public int Padding { get; }

    /// <summary>Spacing of the kernel taps.</summary>
    public int Dilation { get; }

    /// <summary>Channel groups (in and out channels are split into this many independent convolutions).</summary>
    public int Groups { get; }

    /// <summary>Whether the convolution only looks back.</summary>
    public bool Causal { get; }

    /// <summary>
    /// Creates the layer, every weight and bias drawn uniformly from ±1/√(inChannels / groups · kernelSize), as
    /// PyTorch initialises it; <paramref name="causal"/> pads only on the left, so output t sees inputs up to t.
    /// </summary>
    public Conv1d(int inChannels, int outChannels, int kernelSize, RandomGenerator random, int stride = 1,
        int padding = 0, int dilation = 1, int groups = 1, bool bias = true, bool causal = false)
    {
        if (inChannels < 1 || outChannels < 1 || kernelSize < 1 || groups < 1 || inChannels % groups != 0
            || outChannels % groups != 0)
            throw new ArgumentException(
                $"Conv1d: in {inChannels}, out {outChannels}, kernel {kernelSize}, groups {groups}: sizes must "
                + "be positive and the channels divisible by groups.");
        if (causal && stride != 1) throw new ArgumentException("Conv1d: a causal convolution has stride 1.");
        (Stride, Padding, Dilation, Groups, Causal) = (stride, padding, dilation, groups, causal);
        float bound = 1f / MathF.Sqrt(inChannels / groups * kernelSize);
        Weight = RegisterParameter("weight", Tensor.RandomUniform(random, [outChannels, inChannels / groups,
            kernelSize], -bound, bound));
        if (bias) Bias = RegisterParameter("bias", Tensor.RandomUniform(random, [outChannels], -bound, bound));
    }

    /// <summary>Applies the layer to [B, in, L].</summary>
    public Tensor Forward(Tensor input) => Causal
        ? Functional.Conv1d(input, Weight, Bias, 1, (Dilation * (Weight.Size(2) - 1), 0), Dilation, Groups)
        : Functional.Conv1d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

    /// <summary>
    /// The layer applied to [B, in, L] with <paramref name="itemBias"/> [B, out] (a bias per batch item and output
    /// channel) and <paramref name="addend"/> (a tensor of the output's shape) added where the product writes its
    /// output: WaveNet's global conditioning, residual and skip sums. Stride 1 and one group only.
    /// </summary>
    internal Tensor Forward(Tensor input, Tensor? itemBias, Tensor? addend = null)
    {
        if (Stride != 1 || Groups != 1)
            throw new InvalidOperationException("Conv1d: fused terms need stride 1 and one group.");
        var padding = Causal ? (Dilation * (Weight.Size(2) - 1), 0) : (Padding, Padding);
        return Functional.Conv1d(input, Weight, Bias, padding, Dilation, itemBias, addend);
    }
}

/// <summary>
/// <c>torch.nn.Conv2d</c>: <c>weight</c> [out, in / groups, kh, kw] and <c>bias</c> [out], initialised as PyTorch does
/// (uniform in ±1/√(in / groups · kh · kw)); stride, padding and dilation are (height, width).
/// </summary>
public sealed class Conv2d : Module
{
    /// <summary>The weight [out, in / groups, kh, kw].</summary>
    public Tensor Weight { get; }

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>Step between output positions (height, width).</summary>
    public (int H, int W) Stride { get; }

    /// <summary>Zeros added on each side (height, width).</summary>
    public (int H, int W) Padding { get; }

    /// <summary>Spacing of the kernel taps (height, width).</summary>
    public (int H, int W) Dilation { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>Creates the layer, every weight and bias drawn uniformly from ±1/√(inChannels / groups · kernel
    /// area), as PyTorch initialises it; stride, padding and dilation default to 1, 0 and 1 in both directions.
    /// </summary>
    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, RandomGenerator random, (int H,
        int W)? stride = null,
        (int H, int W)? padding = null, (int H, int W)? dilation = null, int groups = 1, bool bias = true)
    {
        if (inChannels < 1 || outChannels < 1 || kernelSize.H < 1 || kernelSize.W < 1 || groups < 1
            || inChannels % groups != 0
            || outChannels % groups != 0)
            throw new ArgumentException(
                $"Conv2d: in {inChannels}, out {outChannels}, kernel {kernelSize}, groups {groups}: sizes must "
                + "be positive and the channels divisible by groups.");
        (Stride, Padding, Dilation, Groups) = (stride ?? (1, 1), padding ?? (0, 0), dilation ?? (1, 1), groups);
        float bound = 1f / MathF.Sqrt(inChannels / groups * kernelSize.H * kernelSize.W);
        Weight = RegisterParameter("weight",
            Tensor.RandomUniform(random, [outChannels, inChannels / groups, kernelSize.H, kernelSize.W], -bound,
                bound));
        if (bias) Bias = RegisterParameter("bias", Tensor.RandomUniform(random, [outChannels], -bound, bound));
    }

    /// <summary>Applies the layer to [B, in, H, W].</summary>
    public Tensor Forward(Tensor input) => Functional.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
}
