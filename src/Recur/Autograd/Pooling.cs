using Recur.Kernels;

namespace Recur;

/// <summary>Max and average pooling over [B, C, L] and [B, C, H, W], as PyTorch's <c>max_pool*</c> and
/// <c>avg_pool*</c>.</summary>
public static partial class Functional
{
    /// <summary>1-D max pooling (<c>F.max_pool1d</c>); <paramref name="stride"/> defaults to the kernel size.</summary>
    public static Tensor MaxPool1d(Tensor input, int kernel, int? stride = null, int padding = 0) =>
        Pool1d(input, kernel, stride, padding, max: true);

    /// <summary>1-D average pooling (<c>F.avg_pool1d</c>, padding counted in the average as PyTorch's
    /// default).</summary>
    public static Tensor AvgPool1d(Tensor input, int kernel, int? stride = null, int padding = 0) =>
        Pool1d(input, kernel, stride, padding, max: false);

    /// <summary>2-D max pooling (<c>F.max_pool2d</c>); <paramref name="stride"/> defaults to the kernel size.</summary>
    public static Tensor MaxPool2d(Tensor input, (int H, int W) kernel, (int H, int W)? stride = null, (int H,
        int W)? padding = null) =>
        Pool2d(input, kernel, stride ?? kernel, padding ?? (0, 0), max: true, "MaxPool2d");

    /// <summary>2-D average pooling (<c>F.avg_pool2d</c>, padding counted in the average as PyTorch's
    /// default).</summary>
    public static Tensor AvgPool2d(Tensor input, (int H, int W) kernel, (int H, int W)? stride = null, (int H,
        int W)? padding = null) =>
        Pool2d(input, kernel, stride ?? kernel, padding ?? (0, 0), max: false, "AvgPool2d");

    static Tensor Pool1d(Tensor input, int kernel, int? stride, int padding, bool max)
    {
        string op = max ? "MaxPool1d" : "AvgPool1d";
        if (input.Rank != 3) throw new ArgumentException($"{op}: input {Shapes.Format(
            input.Shape)} is not [B, C, L].");
        int b = input.Size(0), c = input.Size(1), l = input.Size(2);
        var output = Pool2d(input.Reshape(b, c, 1, l), (1, kernel), (1, stride ?? kernel), (0, padding), max, op);
        return output.Reshape(b, c, output.Size(3));
    }

    /// <summary>
    /// 2 × 2 max pooling with stride 2 and no padding (the CNNs' usual halving) for planes [first, last): the generic
    /// loop's scan of each window — row by row, the first larger value (or a NaN) wins — without its index
    /// arithmetic.
    /// </summary>
    static unsafe void HalvingMaxPool(Tensor input, Tensor output, int[] argmax, int first, int last, int height,
        int width, int outH, int outW)
    {
        fixed (float* x = input.Span, y = output.Span)
        fixed (int* index = argmax)
            for (int p = first; p < last; p++)
                for (int oh = 0; oh < outH; oh++)
                {
                    int top = (p * height + 2 * oh) * width, at = (p * outH + oh) * outW;
                    float* r0 = x + top;
                    float* r1 = r0 + width;
                    for (int ow = 0; ow < outW; ow++)
                    {
                        int c = 2 * ow;
                        float best = float.NegativeInfinity;
                        int bestIndex = -1;
                        float v = r0[c];
                        if (v > best || float.IsNaN(v)) (best, bestIndex) = (v, top + c);
                        v = r0[c + 1];
                        if (v > best || float.IsNaN(v)) (best, bestIndex) = (v, top + c + 1);
                        v = r1[c];
                        if (v > best || float.IsNaN(v)) (best, bestIndex) = (v, top + width + c);
                        v = r1[c + 1];
                        if (v > best || float.IsNaN(v)) (best, bestIndex) = (v, top + width + c + 1);
                        y[at + ow] = best;
                        index[at + ow] = bestIndex;
                    }
                }
    }

    /// <summary>Window reads below which a pooling stays on the calling thread.</summary>
    const long MinPoolingWorkPerThread = 1 << 18;

    static Tensor Pool2d(Tensor input, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding, bool max,
        string op)
    {
        if (input.Rank != 4) throw new ArgumentException($"{op}: input {Shapes.Format(
            input.Shape)} is not [B, C, H, W].");
        if (kernel.H < 1 || kernel.W < 1 || stride.H < 1 || stride.W < 1 || padding.H < 0 || padding.W < 0
            || 2 * padding.H > kernel.H || 2 * padding.W > kernel.W)
            throw new ArgumentException(
                $"{op}: kernel and stride must be positive and padding at most half the kernel, as in PyTorch.");
        int planes = input.Size(0) * input.Size(1), height = input.Size(2), width = input.Size(3);
        int spanH = height + 2 * padding.H - kernel.H, spanW = width + 2 * padding.W - kernel.W;
        int outH = spanH / stride.H + 1, outW = spanW / stride.W + 1;
        if (spanH < 0 || spanW < 0) throw new ArgumentException($"{op}: input {Shapes.Format(
            input.Shape)} is smaller than the kernel.");
        var output = Tensor.Uninitialized([input.Size(0), input.Size(1), outH, outW]); // every element is written
        // max: the input index each output took (−1 when its window held only padding); average: divide by the window
        var argmax = max ? new int[planes * outH * outW] : null;
        float scale = 1f / (kernel.H * kernel.W);
        // planes are independent (an output reads, and its gradient writes, only its own plane), so large poolings
        // are split over the kernel workers by planes; each plane is computed the same way whatever the split
        long work = (long)planes * outH * outW * kernel.H * kernel.W;
        int workers = (int)Math.Clamp(work / MinPoolingWorkPerThread, 1,
            Math.Max(1, Math.Min(Parallelism.MaxThreads, planes)));
        bool halving = max && kernel == (2, 2) && stride == (2, 2) && padding == (0, 0);
        ForEachRange(planes, workers, (first, last) =>
        {
            if (halving)
            {
                HalvingMaxPool(input, output, argmax!, first, last, height, width, outH, outW);
                return;
            }
            var x = input.Span;
            var y = output.Span;
            for (int p = first; p < last; p++)
                for (int oh = 0; oh < outH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                    {
                        int at = (p * outH + oh) * outW + ow;
                        float best = float.NegativeInfinity, sum = 0f;
                        int bestIndex = -1;
                        for (int i = 0; i < kernel.H; i++)
                        {
                            int yy = oh * stride.H - padding.H + i;
                            if ((uint)yy >= (uint)height) continue;
                            for (int j = 0; j < kernel.W; j++)
                            {
                                int xx = ow * stride.W - padding.W + j;
                                if ((uint)xx >= (uint)width) continue;
                                int index = (p * height + yy) * width + xx;
                                float v = x[index];
                                sum += v;
                                if (v > best || float.IsNaN(v)) (best, bestIndex) = (v, index);
                            }
                        }
                        if (max) { y[at] = best; argmax![at] = bestIndex; }
                        else y[at] = sum * scale;
                    }
        });
        return Tensor.Result(output, input, grad =>
        {
            if (!input.RequiresGrad) return;
            input.GradSpan(); // created before the workers add to disjoint planes of it
            ForEachRange(planes, workers, (first, last) =>
            {
                var g = grad.Span;
                var dx = input.GradSpan();
                for (int p = first; p < last; p++)
                    for (int oh = 0; oh < outH; oh++)
                        for (int ow = 0; ow < outW; ow++)
                        {
                            int at = (p * outH + oh) * outW + ow;
                            if (max)
                            {
                                if (argmax![at] >= 0) dx[argmax[at]] += g[at];
                                continue;
                            }
                            float share = g[at] * scale;
                            for (int i = 0; i < kernel.H; i++)
                            {
                                int yy = oh * stride.H - padding.H + i;
                                if ((uint)yy >= (uint)height) continue;
                                for (int j = 0; j < kernel.W; j++)
                                {
                                    int xx = ow * stride.W - padding.W + j;
                                    if ((uint)xx < (uint)width) dx[(p * height + yy) * width + xx] += share;
                                }
                            }
                        }
            });
        });
    }
}
