using System.Numerics.Tensors;

namespace Recur;

public sealed partial class Tensor
{
    /// <summary>Elements per chunk of <see cref="Sum()"/>: each chunk is summed alone, then the chunks' sums in
    /// order.</summary>
    const int SumChunk = 1 << 16;

    /// <summary>Chunks of a whole-tensor sum (or fill) below which one thread does it all.</summary>
    const int ParallelChunks = 8;

    /// <summary>Sum of all elements (a rank-0 tensor). A large tensor is summed in chunks of 65,536 elements by the
    /// kernel workers, the chunks' sums added in order: the same bits on any thread count.</summary>
    public Tensor Sum()
    {
        var output = Scalar(SumAll());
        var x = this;
        return Result(output, x, g =>
        {
            // every element's gradient is the output's: written straight into a first gradient, not added to zeros
            var grad = x.GradToWrite(out bool accumulate);
            float value = g.Span[0];
            ForEachChunk(grad.Length, (start, count) =>
            {
                var dst = grad.Span.Slice(start, count);
                if (accumulate) TensorPrimitives.Add(dst, value, dst);
                else dst.Fill(value);
            });
        });
    }

    float SumAll()
    {
        int chunks = (Length + SumChunk - 1) / SumChunk;
        if (chunks <= 1) return TensorPrimitives.Sum(Span);
        var sums = new float[chunks];
        ForEachChunk(Length, (start, count) => sums[start / SumChunk] = TensorPrimitives.Sum(Span.Slice(start, count)));
        float total = 0;
        foreach (float sum in sums) total += sum;
        return total;
    }

    /// <summary>Calls <paramref name="body"/>(start, count) for every chunk of <see cref="SumChunk"/> elements of
    /// [0, <paramref name="length"/>), on the kernel workers when there are enough chunks to pay for waking
    /// them.</summary>
    static void ForEachChunk(int length, Action<int, int> body)
    {
        int chunks = (length + SumChunk - 1) / SumChunk;
        int workers = Math.Min(Kernels.Parallelism.MaxThreads, chunks / ParallelChunks);
        Kernels.WorkerPool.Shared.ForRanges(chunks, workers, (_, first, last) =>
        {
            for (int c = first; c < last; c++)
                body(c * SumChunk, Math.Min(SumChunk, length - c * SumChunk));
        });
    }

    /// <summary>Mean of all elements (a rank-0 tensor).</summary>
    public Tensor Mean() => Sum() * (1f / Math.Max(Length, 1));

    /// <summary>Sum over <paramref name="axis"/>; the axis is kept with size 1 when
    /// <paramref name="keepDim"/>.</summary>
    public Tensor Sum(int axis, bool keepDim = false)
    {
        int ax = Shapes.Axis(axis, Rank, "Sum");
        var (outer, dim, inner) = Shapes.Split(shape, ax);
        var outShape = ReducedShape(ax, keepDim);
        var output = Zeros(outShape);
        ReadOnlySpan<float> xv = Span;
        var ov = output.Span;
        for (int o = 0; o < outer; o++)
            for (int d = 0; d < dim; d++)
            {
                var dst = ov.Slice(o * inner, inner);
                TensorPrimitives.Add(dst, xv.Slice((o * dim + d) * inner, inner), dst);
            }
        var x = this;
        return Result(output, x, g =>
        {
            var gx = x.GradSpan();
            ReadOnlySpan<float> gv = g.Span;
            for (int o = 0; o < outer; o++)
                for (int d = 0; d < dim; d++)
                {
                    var dst = gx.Slice((o * dim + d) * inner, inner);
                    TensorPrimitives.Add(dst, gv.Slice(o * inner, inner), dst);
                }
        });
    }

    /// <summary>
    /// Maximum over <paramref name="axis"/>; the gradient flows to the first position holding the maximum (as a
    /// subgradient). The axis is kept with size 1 when <paramref name="keepDim"/>.
    /// </summary>
    public Tensor Max(int axis, bool keepDim = false)
    {
        int ax = Shapes.Axis(axis, Rank, "Max");
        var (outer, dim, inner) = Shapes.Split(shape, ax);
        var output = Zeros(ReducedShape(ax, keepDim));
        var winners = MaximaAlong(ax, "Max", output.Span);
        var x = this;
        return Result(output, x, g =>
        {
            var gx = x.GradSpan();
            ReadOnlySpan<float> gv = g.Span;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++) gx[(o * dim + winners[o * inner + i]) * inner + i] += gv[o * inner + i];
        });
    }

    /// <summary>
    /// The index of the maximum over <paramref name="axis"/> (the first, on ties; a NaN counts as the maximum), for
    /// each position of the other axes in order — e.g. the predicted class of each row of logits [B, classes] with
    /// axis −1. Not differentiable.
    /// </summary>
    public int[] ArgMax(int axis)
    {
        int ax = Shapes.Axis(axis, Rank, "ArgMax");
        var (outer, _, inner) = Shapes.Split(shape, ax);
        return MaximaAlong(ax, "ArgMax", new float[outer * inner]);
    }

    /// <summary>
    /// The maximum over axis <paramref name="ax"/> into <paramref name="values"/> and its index (the first on ties; a
    /// NaN counts as the maximum) for each position of the other axes.
    /// </summary>
    int[] MaximaAlong(int ax, string op, Span<float> values)
    {
        var (outer, dim, inner) = Shapes.Split(shape, ax);
        if (dim == 0) throw new ArgumentException($"{op}: axis {ax} of {Shapes.Format(shape)} is empty.");
        var winners = new int[outer * inner];
        ReadOnlySpan<float> xv = Span;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                float value = xv[o * dim * inner + i];
                for (int d = 1; d < dim; d++)
                {
                    float v = xv[(o * dim + d) * inner + i];
                    if (v > value || float.IsNaN(v) && !float.IsNaN(value)) (value, best) = (v, d);
                }
                values[o * inner + i] = value;
                winners[o * inner + i] = best;
            }
        return winners;
    }

    /// <summary>
    /// The largest |this − <paramref name="other"/>| over all elements (same shape; NaN when either holds a NaN), the
    /// number to report when two implementations are compared.
    /// </summary>
    public float MaxAbsDifference(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!Shape.SequenceEqual(other.Shape))
            throw new ArgumentException($"MaxAbsDifference: shapes {Shapes.Format(shape)} and "
                + $"{Shapes.Format(other.Shape)} differ.");
        ReadOnlySpan<float> a = Span, b = other.Span;
        float largest = 0f;
        for (int i = 0; i < a.Length; i++)
        {
            float d = MathF.Abs(a[i] - b[i]);
            if (float.IsNaN(d)) return float.NaN;
            largest = Math.Max(largest, d);
        }
        return largest;
    }

    /// <summary>
    /// Whether every element satisfies |this − other| ≤ <paramref name="absolute"/> +
    /// <paramref name="relative"/>·|other| (PyTorch's <c>allclose</c>, with its default tolerances); shapes must agree
    /// and NaN is never close.
    /// </summary>
    public bool AllClose(Tensor other, float relative = 1e-5f, float absolute = 1e-8f)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!Shape.SequenceEqual(other.Shape))
            throw new ArgumentException($"AllClose: shapes {Shapes.Format(shape)} and "
                + $"{Shapes.Format(other.Shape)} differ.");
        ReadOnlySpan<float> a = Span, b = other.Span;
        for (int i = 0; i < a.Length; i++)
            if (!(MathF.Abs(a[i] - b[i]) <= absolute + relative * MathF.Abs(b[i]))) return false;
        return true;
    }

    /// <summary>Mean over <paramref name="axis"/>.</summary>
    public Tensor Mean(int axis, bool keepDim = false) =>
        Sum(axis, keepDim) * (1f / Math.Max(shape[Shapes.Axis(axis, Rank, "Mean")], 1));

    /// <summary>Sum over several axes.</summary>
    public Tensor Sum(int[] axes, bool keepDim = false)
    {
        var normalized = axes.Select(a => Shapes.Axis(a, Rank, "Sum")).Distinct().OrderDescending().ToArray();
        var result = this;
        foreach (int a in normalized) result = result.Sum(a, keepDim);
        return result;
    }

    /// <summary>Mean over several axes.</summary>
    public Tensor Mean(int[] axes, bool keepDim = false)
    {
        long count = 1;
        foreach (int a in axes.Select(a => Shapes.Axis(a, Rank, "Mean")).Distinct()) count *= shape[a];
        return Sum(axes, keepDim) * (1f / Math.Max(count, 1));
    }

    int[] ReducedShape(int axis, bool keepDim)
    {
        var list = shape.ToList();
        if (keepDim) list[axis] = 1; else list.RemoveAt(axis);
        return list.ToArray();
    }

    /// <summary>Softmax along <paramref name="axis"/> (default: last), computed stably by subtracting the
    /// maximum.</summary>
    public Tensor Softmax(int axis = -1) => SoftmaxOp(axis, log: false, "Softmax");

    /// <summary>log(softmax(x)) along <paramref name="axis"/> (default: last), computed as x − max − log Σ exp(x −
    /// max).</summary>
    public Tensor LogSoftmax(int axis = -1) => SoftmaxOp(axis, log: true, "LogSoftmax");

    Tensor SoftmaxOp(int axis, bool log, string name)
    {
        int ax = Shapes.Axis(axis, Rank, name);
        var output = Zeros(shape);
        SoftmaxKernel(Span, output.Span, shape, ax, log);
        var x = this;
        var (outer, dim, inner) = Shapes.Split(shape, ax);
        return Result(output, x, g =>
        {
            // softmax: dx = y ⊙ (g − Σ g ⊙ y); log-softmax: dx = g − exp(y) ⊙ Σ g
            var gx = x.GradSpan();
            ReadOnlySpan<float> gv = g.Span, yv = output.Span;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    int start = o * dim * inner + i;
                    float sum = 0f;
                    for (int d = 0; d < dim; d++)
                        sum += log ? gv[start + d * inner] : gv[start + d * inner] * yv[start + d * inner];
                    for (int d = 0; d < dim; d++)
                    {
                        int k = start + d * inner;
                        gx[k] += log ? gv[k] - MathF.Exp(yv[k]) * sum : yv[k] * (gv[k] - sum);
                    }
                }
        });
    }

    internal static void SoftmaxKernel(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<int> shape, int axis,
        bool log)
    {
        var (outer, dim, inner) = Shapes.Split(shape, axis);
        if (inner == 1)
        {
            var scratch = log && dim > 0 ? new float[dim] : [];
            for (int o = 0; o < outer; o++)
            {
                var src = x.Slice(o * dim, dim);
                var dst = y.Slice(o * dim, dim);
                if (dim == 0) continue;
                float max = TensorPrimitives.Max(src);
                TensorPrimitives.Subtract(src, max, dst);
                if (log)
                {
                    TensorPrimitives.Exp(dst, scratch); // vectorised; the row stays shifted in dst
                    TensorPrimitives.Subtract(dst, MathF.Log(TensorPrimitives.Sum(scratch)), dst);
                }
                else
                {
                    TensorPrimitives.Exp(dst, dst);
                    TensorPrimitives.Divide(dst, TensorPrimitives.Sum(dst), dst);
                }
            }
            return;
        }
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * dim * inner + i;
                float max = float.NegativeInfinity;
                for (int d = 0; d < dim; d++) max = Math.Max(max, x[start + d * inner]);
                float sum = 0f;
                for (int d = 0; d < dim; d++) sum += MathF.Exp(x[start + d * inner] - max);
                float logSum = MathF.Log(sum);
                for (int d = 0; d < dim; d++)
                {
                    float shifted = x[start + d * inner] - max;
                    y[start + d * inner] = log ? shifted - logSum : MathF.Exp(shifted) / sum;
                }
            }
    }
}
