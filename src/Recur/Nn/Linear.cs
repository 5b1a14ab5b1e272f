using Recur.Autograd;
using Recur.Kernels;

namespace Recur.Nn;

/// <summary>
/// A fully connected layer <c>y = x·Wᵀ + b</c> as <c>torch.nn.Linear</c>: parameters <c>weight</c> [out, in] and
/// <c>bias</c> [out], both initialised uniform(±1/√in) as PyTorch does.
/// </summary>
public sealed class Linear : Module, IInt8Module
{
    /// <summary>The weight [out, in].</summary>
    public Tensor Weight { get; }

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>Creates the layer, every weight and bias drawn uniformly from ±1/√inFeatures, as PyTorch initialises
    /// it.</summary>
    public Linear(int inFeatures, int outFeatures, RandomGenerator random, bool bias = true)
    {
        if (inFeatures < 1
            || outFeatures < 1) throw new ArgumentException(
            $"Linear: sizes must be positive, got in={inFeatures}, out={outFeatures}.");
        float bound = 1f / MathF.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", Tensor.RandomUniform(random, [outFeatures, inFeatures], -bound, bound));
        if (bias) Bias = RegisterParameter("bias", Tensor.RandomUniform(random, [outFeatures], -bound, bound));
    }

    QuantizedMatrix? quantized;

    /// <summary>Applies the layer to [..., in] (in int8 after <see cref="QuantizeDynamic"/>).</summary>
    public Tensor Forward(Tensor input) => quantized is null ? Functional.Linear(input, Weight, Bias)
        : QuantizedForward(input, quantized);

    /// <summary>
    /// Mean cross-entropy of this layer's logits for <paramref name="input"/> [..., in] against
    /// <paramref name="targets"/> (one per row), as <c>Losses.CrossEntropy(Forward(input), targets, …)</c>: in float
    /// through <see cref="Losses.LinearCrossEntropy"/>, which never holds the [rows, out] logits; after
    /// <see cref="QuantizeDynamic"/> from the int8 logits, so a loss is measured on what the layer computes.
    /// </summary>
    public Tensor CrossEntropy(Tensor input, ReadOnlySpan<int> targets, int ignoreIndex = -100,
        ReadOnlySpan<float> mask = default) => quantized is null
        ? Losses.LinearCrossEntropy(input, Weight, Bias, targets, ignoreIndex, mask)
        : Losses.CrossEntropy(QuantizedForward(input, quantized), targets, ignoreIndex, mask);

    /// <summary>Whether <see cref="QuantizeDynamic"/> made this layer's inference int8.</summary>
    public bool IsQuantized => quantized != null;

    /// <summary>
    /// Dynamic int8 quantisation for inference, as PyTorch's <c>quantize_dynamic</c> on <c>nn.Linear</c>: the weight
    /// kept per output row in int8 with its scale, each input row quantised as it arrives, the bias added in float.
    /// The parameters are frozen (a forward that would record for a backward is refused); loading a state dict
    /// quantises again. Each row's result does not depend on the other rows or on the thread count.
    /// </summary>
    public void QuantizeDynamic() => ((IInt8Module)this).LoadInt8(Quantization.Quantize);

    /// <inheritdoc/>
    protected override void OnStateLoaded()
    {
        if (quantized != null) QuantizeDynamic();
    }

    IEnumerable<(Tensor Weight, QuantizedMatrix Int8)> IInt8Module.Int8Weights() => quantized is null ? []
        : [(Weight, quantized)];

    IEnumerable<Tensor> IInt8Module.QuantizableWeights => [Weight];

    void IInt8Module.LoadInt8(Func<Tensor, QuantizedMatrix> int8Of)
    {
        quantized = int8Of(Weight);
        foreach (var parameter in Parameters()) parameter.RequiresGrad = false;
    }

    Tensor QuantizedForward(Tensor input, QuantizedMatrix weight)
    {
        if (GradMode.IsEnabled && (input.RequiresGrad || Weight.RequiresGrad || Bias is { RequiresGrad: true }))
            throw new InvalidOperationException("A Linear layer quantised to int8 runs inference only: its forward "
                + "cannot record for a backward. Run it under GradMode.NoGrad(), or train the float model and "
                + "quantise it again.");
        int outFeatures = weight.Rows, inFeatures = weight.Columns;
        if (input.Rank < 1 || input.Size(-1) != inFeatures)
            throw new ArgumentException($"Linear: input {Shapes.Format(input.Shape)} does not fit weight "
                + $"{Shapes.Format(Weight.Shape)} ([out, in]).");
        int rows = Shapes.Count(input.Shape[..^1]);
        var outShape = input.ShapeArray();
        outShape[^1] = outFeatures;
        var output = Tensor.Zeros(outShape);
        // rows are independent: large inputs are split across threads in contiguous ranges
        long macs = (long)rows * outFeatures * inFeatures;
        int threads = (int)Math.Clamp(macs / (1L << 20), 1, Math.Min(Parallelism.MaxThreads, Math.Max(1, rows)));
        var x = input.Storage;
        int offset = input.Offset;
        var y = output.Storage;
        var bias = Bias?.Storage;
        int biasOffset = Bias?.Offset ?? 0;
        WorkerPool.Shared.For(threads, part =>
        {
            int r0 = (int)((long)rows * part / threads), r1 = (int)((long)rows * (part + 1) / threads);
            var bytes = GC.AllocateArray<byte>(weight.Stride, pinned: true);
            var scale = new float[1];
            for (int r = r0; r < r1; r++)
            {
                scale[0] = weight.QuantizeVector(x.AsSpan(offset + r * inFeatures, inFeatures), bytes);
                Products(weight, bytes, scale, y.AsSpan(r * outFeatures, outFeatures));
                if (bias != null)
                {
                    var row = y.AsSpan(r * outFeatures, outFeatures);
                    System.Numerics.Tensors.TensorPrimitives.Add(row, bias.AsSpan(biasOffset, outFeatures), row);
                }
            }
        });
        return output;
    }

    static unsafe void Products(QuantizedMatrix weight, byte[] bytes, float[] scale, Span<float> destination)
    {
        fixed (byte* xq = bytes)
        fixed (float* ps = scale, py = destination)
            weight.RowDots(0, weight.Rows, xq, weight.Stride, ps, 1, py, weight.Rows);
    }
}
