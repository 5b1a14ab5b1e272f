using System.Numerics.Tensors;
using Recur.Kernels;

namespace Recur;

/// <summary>Convolution and pooling, with PyTorch's layouts ([B, C, L] and [B, C, H, W]) and arguments.</summary>
public static partial class Functional
{
    /// <summary>
    /// 1-D convolution as <c>torch.nn.functional.conv1d</c>: <paramref name="input"/> [B, C_in, L],
    /// <paramref name="weight"/> [C_out, C_in / groups, K], <paramref name="bias"/> [C_out] or null → [B, C_out, L_out]
    /// with L_out = ⌊(L + 2·padding − dilation·(K − 1) − 1) / stride⌋ + 1. Lowered onto the packed GEMM (im2col).
    /// </summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0,
        int dilation = 1, int groups = 1) => Conv1d(input, weight, bias, stride, (padding, padding), dilation, groups);

    /// <summary>
    /// 1-D convolution with its own left and right padding (zeros). <c>(dilation·(K − 1), 0)</c> makes it causal:
    /// output t
    /// sees inputs up to t only, and L_out = L (see <see cref="CausalConv1d"/>).
    /// </summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias, int stride, (int Left, int Right) padding,
        int dilation, int groups)
    {
        if (input.Rank != 3 || weight.Rank != 3)
            throw new ArgumentException($"Conv1d: input {Shapes.Format(input.Shape)} must be [B, C, L] and weight "
                + $"{Shapes.Format(weight.Shape)} [C_out, C_in/groups, K].");
        int b = input.Size(0), c = input.Size(1), l = input.Size(2);
        if (stride == 1 && groups == 1 && ByTaps(input, weight, bias, padding, dilation))
            return Conv1dByTaps(input, weight, bias, padding, dilation, null, null);
        var output = Conv2dCore(input.Reshape(b, c, 1, l), weight.Reshape(weight.Size(0), weight.Size(1), 1,
            weight.Size(2)), bias,
            (1, stride), (0, 0, padding.Left, padding.Right), (1, dilation), groups, "Conv1d");
        return output.Reshape(b, output.Size(1), output.Size(3));
    }

    /// <summary>
    /// Stride-1 1-D convolution without groups, with two terms added where the product writes its output rather than
    /// in further passes over it: <paramref name="itemBias"/> [B, C_out], a bias per batch item and output channel
    /// (WaveNet's global conditioning inside every gate), and <paramref name="addend"/>, a tensor of the output's
    /// shape (a residual or skip sum that the convolution adds to) — <c>addend + Conv1d(input, weight, bias, 1,
    /// padding, dilation, 1) + itemBias[:, :, None]</c>. The per-item bias's gradient is the output gradient summed
    /// over time, taken in the same pass as the bias's; the addend's is the output gradient itself, handed on.
    /// </summary>
    internal static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias, (int Left, int Right) padding,
        int dilation, Tensor? itemBias, Tensor? addend)
    {
        if (input.Rank == 3 && weight.Rank == 3 && itemBias != null && (itemBias.Rank != 2
            || itemBias.Size(0) != input.Size(0) || itemBias.Size(1) != weight.Size(0)))
            throw new ArgumentException($"Conv1d: the bias per item is {Shapes.Format(itemBias.Shape)}, not "
                + $"[{input.Size(0)}, {weight.Size(0)}].");
        if (input.Rank == 3 && weight.Rank == 3 && ByTaps(input, weight, bias, padding, dilation))
        {
            int outLength = input.Size(2) + padding.Left + padding.Right - dilation * (weight.Size(2) - 1);
            if (addend != null && (addend.Rank != 3 || addend.Size(0) != input.Size(0)
                || addend.Size(1) != weight.Size(0) || addend.Size(2) != outLength))
                throw new ArgumentException($"Conv1d: the addend is {Shapes.Format(addend.Shape)}, not the output's "
                    + $"[{input.Size(0)}, {weight.Size(0)}, {outLength}].");
            return Conv1dByTaps(input, weight, bias, padding, dilation, itemBias, addend);
        }
        var output = Conv1d(input, weight, bias, 1, padding, dilation, 1);
        if (itemBias != null) output += itemBias.Reshape(itemBias.Size(0), itemBias.Size(1), 1);
        return addend is null ? output : addend + output;
    }

    static bool ByTaps(Tensor input, Tensor weight, Tensor? bias, (int Left, int Right) padding, int dilation) =>
        input.Size(1) == weight.Size(1) && padding.Left >= 0 && padding.Right >= 0 && dilation >= 1
        && input.Size(2) + padding.Left + padding.Right - dilation * (weight.Size(2) - 1) >= 1
        && (bias is null || bias.Length == weight.Size(0));

    /// <summary>
    /// Stride-1 1-D convolution without groups as one GEMM over an implicit matrix: row (k, c) of its right operand is
    /// the (zero-padded) input channel c shifted by k·dilation, so y = Σ_k W_k · x[:, k·d : k·d + L_out] is computed
    /// without unfolding anything, which suits the few taps of dilated (WaveNet) and 1×1 convolutions. The backward is
    /// the same trick twice: dx from the taps' transposed weights against the shifted (zero-margined) output gradient,
    /// and dW against the implicit input as a transposed operand. Batch items are split over the cores in fixed
    /// ranges.
    /// </summary>
    static Tensor Conv1dByTaps(Tensor input, Tensor weight, Tensor? bias, (int Left, int Right) padding, int dilation,
        Tensor? itemBias, Tensor? addend)
    {
        int batch = input.Size(0), channels = input.Size(1), length = input.Size(2);
        int outChannels = weight.Size(0), taps = weight.Size(2), depth = taps * channels;
        int padded = length + padding.Left + padding.Right, outLength = padded - dilation * (taps - 1);
        bool copyInput = padding.Left > 0 || padding.Right > 0; // unpadded input is read where it lies
        int stride = copyInput ? padded : length;
        // the weight as one [O × (K·C)] matrix, column k·C + c, to match the rows of the implicit input
        var tapWeights = new float[outChannels * depth];
        var w = weight.Span;
        for (int o = 0; o < outChannels; o++)
            for (int ci = 0; ci < channels; ci++)
                for (int k = 0; k < taps; k++)
                    tapWeights[o * depth + k * channels + ci] = w[(o * channels + ci) * taps + k];
        var rowStarts = new int[depth];
        for (int k = 0; k < taps; k++)
            for (int ci = 0; ci < channels; ci++) rowStarts[k * channels + ci] = ci * stride + k * dilation;
        var output = Tensor.Uninitialized([batch, outChannels, outLength]); // the product overwrites it
        int workers = Math.Min(Parallelism.MaxThreads, batch);
        int gemmThreads = workers > 1 ? 1 : 0;
        // an item's input as the implicit matrix reads it: in place, or a zero-padded copy from the pinned pool
        // (fresh pages would cost more in faults than the copy itself)
        ReadOnlySpan<float> Item(int item, PinnedBuffer? buffer)
        {
            var source = input.Span.Slice(item * channels * length, channels * length);
            if (buffer is null) return source;
            var row = buffer.AsSpan(channels * padded);
            for (int ci = 0; ci < channels; ci++)
            {
                var line = row.Slice(ci * padded, padded);
                line[..padding.Left].Clear();
                line[(padding.Left + length)..].Clear();
                source.Slice(ci * length, length).CopyTo(line.Slice(padding.Left, length));
            }
            return row;
        }
        ForEachRange(batch, workers, (first, last) =>
        {
            var buffer = copyInput ? PinnedPool.Rent(channels * padded) : null;
            var rowBias = itemBias is null ? null : new float[outChannels];
            for (int item = first; item < last; item++)
            {
                var y = output.Span.Slice(item * outChannels * outLength, outChannels * outLength);
                ReadOnlySpan<float> itemRowBias = bias is null ? default : bias.Span;
                if (rowBias != null)
                {
                    var own = itemBias!.Span.Slice(item * outChannels, outChannels);
                    if (bias is null) own.CopyTo(rowBias);
                    else TensorPrimitives.Add(bias.Span, own, rowBias);
                    itemRowBias = rowBias;
                }
                // the addend's item is copied where the product then adds to it, while it is in the cache
                addend?.Span.Slice(item * outChannels * outLength, outChannels * outLength).CopyTo(y);
                Gemm.MultiplyRows(outChannels, outLength, depth, tapWeights, depth, Item(item, buffer),
                    rowStarts, y, outLength, accumulate: addend != null, threads: gemmThreads, rowBias: itemRowBias);
            }
            if (buffer != null) PinnedPool.Return(buffer);
        });
        List<Tensor> inputs = [input, weight];
        if (bias != null) inputs.Add(bias);
        if (itemBias != null) inputs.Add(itemBias);
        if (addend != null) inputs.Add(addend);
        return Tensor.Result(output, [.. inputs], grad =>
        {
            Conv1dByTapsBackward(grad, input, weight, bias, itemBias, tapWeights, rowStarts, padding, dilation,
                outLength, copyInput ? padded : 0, Item);
            // last: nothing here reads the output gradient after the addend takes it
            addend?.AccumulateGrad(grad, mayAdopt: true);
        });
    }

    delegate ReadOnlySpan<float> ItemView(int item, PinnedBuffer? buffer);

    /// <summary>The backward of <see cref="Conv1dByTaps"/>; <paramref name="padded"/> is 0 when the input is read
    /// in place.</summary>
    static void Conv1dByTapsBackward(Tensor grad, Tensor input, Tensor weight, Tensor? bias, Tensor? itemBias,
        float[] tapWeights, int[] rowStarts, (int Left, int Right) padding, int dilation, int outLength, int padded,
        ItemView item)
    {
        int batch = input.Size(0), channels = input.Size(1), length = input.Size(2);
        int outChannels = weight.Size(0), taps = weight.Size(2), depth = taps * channels;
        int workers = Math.Min(Parallelism.MaxThreads, batch);
        int gemmThreads = workers > 1 ? 1 : 0;
        // dx[c, s] = Σ_(k, o) W[o, c, k]·dY[o, s − k·d]: a product with the taps' transposed weights [C × (K·O)] and
        // an implicit matrix whose row (k, o) is dY[o] shifted right by k·d, read from a copy with a zero margin of
        // (K − 1)·d on both sides (none is needed for one tap)
        int margin = (taps - 1) * dilation, marginLength = outLength + 2 * margin;
        float[]? transposed = null;
        int[]? gradStarts = null;
        if (input.RequiresGrad)
        {
            transposed = new float[channels * taps * outChannels];
            for (int ci = 0; ci < channels; ci++)
                for (int k = 0; k < taps; k++)
                    for (int o = 0; o < outChannels; o++)
                        transposed[(ci * taps + k) * outChannels + o] = tapWeights[o * depth + k * channels + ci];
            gradStarts = new int[taps * outChannels];
            for (int k = 0; k < taps; k++)
                for (int o = 0; o < outChannels; o++)
                    gradStarts[k * outChannels + o] = o * marginLength + margin - k * dilation + padding.Left;
        }
        // the gradient is created before the workers write disjoint slices of it
        bool accumulate = false;
        var inputGrad = input.RequiresGrad ? input.GradToWrite(out accumulate) : null;
        var partial = weight.RequiresGrad ? new float[workers][] : null;
        bool biasGrad = bias is { RequiresGrad: true }, itemGrad = itemBias is { RequiresGrad: true };
        // each output channel's gradient summed over time, per item, by the item's worker (added up below in item
        // order, so the bits do not depend on the split)
        var channelSums = biasGrad || itemGrad ? new float[batch * outChannels] : null;
        ForEachRange(batch, workers, (worker, first, last) =>
        {
            var dTaps = partial is null ? null : partial[worker] = new float[tapWeights.Length];
            var xBuffer = padded > 0 && dTaps != null ? PinnedPool.Rent(channels * padded) : null;
            var dyBuffer = margin > 0 && transposed != null ? PinnedPool.Rent(outChannels * marginLength) : null;
            for (int b = first; b < last; b++)
            {
                var dy = grad.Span.Slice(b * outChannels * outLength, outChannels * outLength);
                var sums = channelSums is null ? default : channelSums.AsSpan(b * outChannels, outChannels);
                // the output gradient with a zero margin of (K − 1)·d on both sides (for dx), copied first: the
                // weight gradient then reads the copy, so the item's gradient comes from memory once
                ReadOnlySpan<float> shifted = dy, rows = dy;
                int rowStride = outLength;
                if (dyBuffer != null)
                {
                    var copy = dyBuffer.AsSpan(outChannels * marginLength);
                    for (int o = 0; o < outChannels; o++)
                    {
                        var line = copy.Slice(o * marginLength, marginLength);
                        line[..margin].Clear();
                        line[(margin + outLength)..].Clear();
                        dy.Slice(o * outLength, outLength).CopyTo(line.Slice(margin, outLength));
                        // the bias gradient from the copy, while it is in the L1 cache
                        if (!sums.IsEmpty) sums[o] = TensorPrimitives.Sum(line.Slice(margin, outLength));
                    }
                    shifted = copy;
                    rows = copy[margin..];
                    rowStride = marginLength;
                }
                else
                    for (int o = 0; o < sums.Length; o++)
                        sums[o] = TensorPrimitives.Sum(dy.Slice(o * outLength, outLength));
                // dW[o, (k, c)] += Σ_t dY[o, t]·x[c, t + k·d]: the implicit input as a transposed right operand
                if (dTaps != null)
                    Gemm.MultiplyRows(outChannels, depth, outLength, rows, rowStride, item(b, xBuffer), rowStarts,
                        dTaps, depth, accumulate: true, threads: gemmThreads, transposeB: true);
                if (transposed is null) continue;
                Gemm.MultiplyRows(channels, length, taps * outChannels, transposed, taps * outChannels, shifted,
                    gradStarts!, inputGrad!.Span.Slice(b * channels * length, channels * length), length,
                    accumulate: accumulate, threads: gemmThreads);
            }
            if (xBuffer != null) PinnedPool.Return(xBuffer);
            if (dyBuffer != null) PinnedPool.Return(dyBuffer);
        });
        if (partial != null)
        {
            var sum = new float[tapWeights.Length];
            foreach (var part in partial) TensorPrimitives.Add(sum, part, sum);
            var dw = weight.GradSpan();
            for (int o = 0; o < outChannels; o++)
                for (int ci = 0; ci < channels; ci++)
                    for (int k = 0; k < taps; k++)
                        dw[(o * channels + ci) * taps + k] += sum[o * depth + k * channels + ci];
        }
        if (channelSums != null)
        {
            var db = biasGrad ? bias!.GradSpan() : default;
            var di = itemGrad ? itemBias!.GradSpan() : default;
            for (int b = 0; b < batch; b++)
                for (int o = 0; o < outChannels; o++)
                {
                    float sum = channelSums[b * outChannels + o];
                    if (biasGrad) db[o] += sum;
                    if (itemGrad) di[b * outChannels + o] += sum;
                }
        }
    }

    /// <summary>
    /// Causal dilated 1-D convolution (WaveNet): zeros on the left only, dilation·(K − 1) of them, so output t depends
    /// on inputs t, t − d, …, t − d·(K − 1) and the length is kept.
    /// </summary>
    public static Tensor CausalConv1d(Tensor input, Tensor weight, Tensor? bias = null, int dilation = 1) =>
        Conv1d(input, weight, bias, 1, (dilation * (weight.Rank == 3 ? weight.Size(2) - 1 : 0), 0), dilation, 1);

    /// <summary>
    /// 2-D convolution as <c>torch.nn.functional.conv2d</c>: <paramref name="input"/> [B, C_in, H, W],
    /// <paramref name="weight"/> [C_out, C_in / groups, KH, KW], <paramref name="bias"/> [C_out] or null →
    /// [B, C_out, H_out, W_out]. Stride, padding and dilation are (height, width).
    /// </summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, (int H, int W)? stride = null,
        (int H, int W)? padding = null, (int H, int W)? dilation = null, int groups = 1)
    {
        var (ph, pw) = padding ?? (0, 0);
        return Conv2dCore(input, weight, bias, stride ?? (1, 1), (ph, ph, pw, pw), dilation ?? (1, 1), groups,
            "Conv2d");
    }

    /// <summary>
    /// The forward product as GEMMs over implicit im2col panels: batch items are split over the cores in fixed
    /// contiguous ranges, each with its own column buffer and single-threaded GEMMs (one item alone uses the GEMM's
    /// own threads); results do not depend on scheduling.
    /// </summary>
    static void GemmForward(Tensor input, Tensor weight, Tensor? bias, ConvGeometry geometry, int groups,
        Tensor output)
    {
        int batch = input.Size(0), channels = input.Size(1), height = input.Size(2), width = input.Size(3);
        int outChannels = weight.Size(0), groupChannels = weight.Size(1);
        int outGroup = outChannels / groups, patch = geometry.Patch, pixels = geometry.OutH * geometry.OutW;
        int workers = Math.Min(Parallelism.MaxThreads, batch);
        ForEachRange(batch, workers, (first, last) =>
        {
            // the columns are never stored: each GEMM panel is copied from a polyphase copy of the item's input
            using var columns = new ImplicitColumns(geometry);
            for (int b = first; b < last; b++)
                for (int g = 0; g < groups; g++)
                {
                    columns.Load(input.Span.Slice((b * channels + g * groupChannels) * height * width,
                        groupChannels * height * width));
                    Gemm.MultiplyImplicit(outGroup, pixels, patch, weight.Span.Slice(g * outGroup * patch,
                        outGroup * patch), patch, columns,
                        output.Span.Slice((b * outChannels + g * outGroup) * pixels, outGroup * pixels), pixels,
                        threads: workers > 1 ? 1 : 0, rowBias: bias is null ? default : bias.Span.Slice(g * outGroup,
                            outGroup));
                }
        });
    }

    /// <summary>
    /// The forward product by <see cref="FftConvolution"/>: the kernel spectra of every filter pair and polyphase
    /// plane are split over the cores, then the items, each worker with its own spectra of the item it is on.
    /// </summary>
    static unsafe void FftForward(Tensor input, Tensor weight, Tensor? bias, FftConvolution.Plan plan, Tensor output)
    {
        int batch = input.Size(0), itemLength = input.Length / batch, outLength = output.Length / batch;
        var spectra = KernelSpectra(weight, plan);
        try
        {
            ForEachRange(batch, Math.Min(Parallelism.MaxThreads, batch), (first, last) =>
            {
                var scratch = PinnedPool.Rent(checked((int)plan.ScratchLength));
                try
                {
                    fixed (float* x = input.Span)
                    fixed (float* biasValues = bias is null ? default : bias.Span)
                    fixed (float* y = output.Span)
                        for (int b = first; b < last; b++)
                            FftConvolution.Item(plan, x + (nint)b * itemLength, spectra.Pointer, biasValues,
                                y + (nint)b * outLength, scratch.Pointer);
                }
                finally { PinnedPool.Return(scratch); }
            });
        }
        finally { PinnedPool.Return(spectra); }
    }

    /// <summary>The kernel spectra of every filter pair and polyphase plane (<see
    /// cref="FftConvolution.KernelSpectrum"/>), split over the cores; the caller returns the buffer to the
    /// pool.</summary>
    static unsafe PinnedBuffer KernelSpectra(Tensor weight, FftConvolution.Plan plan)
    {
        int planes = plan.Planes, units = plan.Pairs * planes, length = plan.PlaneLength;
        var spectra = PinnedPool.Rent(checked((int)plan.SpectraLength));
        ForEachRange(units, Math.Min(Parallelism.MaxThreads, units), (first, last) =>
        {
            var scratch = PinnedPool.Rent(length);
            try
            {
                fixed (float* w = weight.Span)
                    for (int u = first; u < last; u++)
                        FftConvolution.KernelSpectrum(plan, w, u / planes, u % planes,
                            spectra.Pointer + (nint)u * length, scratch.Pointer);
            }
            finally { PinnedPool.Return(scratch); }
        });
        return spectra;
    }

    /// <summary>
    /// The backward of <see cref="FftForward"/> through the transforms (<see cref="FftConvolution.BackwardItem"/>):
    /// items split over the cores in fixed ranges, each worker gathering its own weight-gradient spectra, which are
    /// added in worker order and turned into the weight gradient pair by pair and plane by plane.
    /// </summary>
    static unsafe void FftBackward(Tensor input, Tensor weight, Tensor grad, FftConvolution.Plan plan)
    {
        if (!input.RequiresGrad && !weight.RequiresGrad) return;
        int batch = input.Size(0), planes = plan.Planes, units = plan.Pairs * planes, length = plan.PlaneLength;
        int itemLength = input.Length / batch, outLength = grad.Length / batch, spectraLength = (int)plan.SpectraLength;
        int workers = Math.Min(Parallelism.MaxThreads, batch);
        var partial = weight.RequiresGrad ? new PinnedBuffer[workers] : null;
        var spectra = KernelSpectra(weight, plan);
        try
        {
            if (input.RequiresGrad) input.GradSpan(); // created before the workers add into disjoint items of it
            ForEachRange(batch, workers, (worker, first, last) =>
            {
                float* sums = null;
                if (partial != null)
                {
                    partial[worker] = PinnedPool.Rent(spectraLength);
                    partial[worker].AsSpan(spectraLength).Clear();
                    sums = partial[worker].Pointer;
                }
                var scratch = PinnedPool.Rent(checked((int)plan.BackwardScratchLength));
                try
                {
                    fixed (float* x = input.Span)
                    fixed (float* dy = grad.Span)
                    fixed (float* dx = input.RequiresGrad ? input.GradSpan() : default)
                        for (int b = first; b < last; b++)
                            FftConvolution.BackwardItem(plan, x + (nint)b * itemLength, dy + (nint)b * outLength,
                                spectra.Pointer, dx == null ? null : dx + (nint)b * itemLength, sums, scratch.Pointer);
                }
                finally { PinnedPool.Return(scratch); }
            });
            if (partial == null) return;
            var total = partial[0].AsSpan(spectraLength);
            for (int w = 1; w < workers; w++) TensorPrimitives.Add(total, partial[w].AsSpan(spectraLength), total);
            weight.GradSpan();
            ForEachRange(units, Math.Min(Parallelism.MaxThreads, units), (first, last) =>
            {
                var work = PinnedPool.Rent(length);
                try
                {
                    fixed (float* dw = weight.GradSpan())
                        for (int u = first; u < last; u++)
                            FftConvolution.WeightGradient(plan, partial[0].Pointer + (nint)u * length, u / planes,
                                u % planes, dw, work.Pointer);
                }
                finally { PinnedPool.Return(work); }
            });
        }
        finally
        {
            PinnedPool.Return(spectra);
            if (partial != null)
                foreach (var buffer in partial)
                    if (buffer != null) PinnedPool.Return(buffer);
        }
    }

    /// <summary>
    /// The forward product by <see cref="DirectConvolution"/>: the output rows of all items are split over the cores
    /// in fixed contiguous ranges, each worker with its own zero-margined copy of the item it is on.
    /// </summary>
    static unsafe void DirectForward(Tensor input, Tensor weight, Tensor? bias, DirectConvolution.Shape shape,
        Tensor output)
    {
        int batch = input.Size(0), filters = weight.Size(0), taps = shape.Taps, outH = shape.OutH;
        int itemLength = shape.Channels * shape.Height * shape.Width, pixels = outH * shape.OutW, units = batch * outH;
        var packed = PinnedPool.Rent(filters * taps);
        var offsets = DirectConvolution.TapOffsets(shape);
        try
        {
            DirectConvolution.PackWeights(weight.Span, filters, taps, packed.AsSpan(filters * taps));
            ForEachRange(units, Math.Min(Parallelism.MaxThreads, units), (first, last) =>
            {
                var padded = PinnedPool.Rent(shape.PaddedLength);
                try
                {
                    fixed (int* tapOffsets = offsets)
                    fixed (float* biasValues = bias is null ? default : bias.Span)
                    fixed (float* y = output.Span)
                    {
                        int item = -1;
                        for (int unit = first; unit < last; unit++)
                        {
                            int b = unit / outH;
                            if (b != item)
                            {
                                DirectConvolution.Pad(shape, input.Span.Slice(b * itemLength, itemLength),
                                    padded.AsSpan(shape.PaddedLength));
                                item = b;
                            }
                            DirectConvolution.Row(shape, padded.Pointer, tapOffsets, packed.Pointer, filters,
                                bias is null ? null : biasValues, y + (nint)b * filters * pixels, unit % outH);
                        }
                    }
                }
                finally { PinnedPool.Return(padded); }
            });
        }
        finally { PinnedPool.Return(packed); }
    }

    static Tensor Conv2dCore(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride,
        (int Top, int Bottom, int Left, int Right) pad, (int H, int W) dilation, int groups, string op)
    {
        if (input.Rank != 4 || weight.Rank != 4)
            throw new ArgumentException($"{op}: input {Shapes.Format(input.Shape)} and weight {Shapes.Format(
                weight.Shape)} have the wrong rank.");
        int batch = input.Size(0), channels = input.Size(1), height = input.Size(2), width = input.Size(3);
        int outChannels = weight.Size(0), groupChannels = weight.Size(1), kh = weight.Size(2), kw = weight.Size(3);
        if (groups < 1 || channels % groups != 0 || outChannels % groups != 0 || groupChannels != channels / groups)
            throw new ArgumentException($"{op}: weight {Shapes.Format(
                weight.Shape)} does not fit input {Shapes.Format(input.Shape)} "
                + $"with groups = {groups} (C_in and C_out must divide by groups; weight dim 1 = C_in/groups).");
        if (stride.H < 1 || stride.W < 1 || dilation.H < 1 || dilation.W < 1 || pad.Top < 0 || pad.Bottom < 0
            || pad.Left < 0 || pad.Right < 0)
            throw new ArgumentException($"{op}: stride and dilation must be positive and padding non-negative.");
        if (bias != null && (bias.Rank != 1 || bias.Length != outChannels))
            throw new ArgumentException($"{op}: bias {Shapes.Format(
                bias.Shape)} does not match {outChannels} output channels.");
        int spanH = height + pad.Top + pad.Bottom - dilation.H * (kh - 1) - 1;
        int spanW = width + pad.Left + pad.Right - dilation.W * (kw - 1) - 1;
        int outH = spanH / stride.H + 1, outW = spanW / stride.W + 1;
        if (spanH < 0 || spanW < 0)
            throw new ArgumentException($"{op}: input {Shapes.Format(
                input.Shape)} is smaller than the dilated kernel "
                + $"{Shapes.Format(weight.Shape)} after padding.");
        var geometry = new ConvGeometry(groupChannels, height, width, kh, kw, outH, outW, stride, (pad.Top, pad.Left),
            dilation);
        int outGroup = outChannels / groups, patch = geometry.Patch, pixels = outH * outW;
        var output = Tensor.Uninitialized([batch, outChannels, outH, outW]); // each group's product overwrites it
        var shape = new DirectConvolution.Shape(channels, height, width, kh, kw, outH, outW, stride, (pad.Top,
            pad.Left), dilation);
        var plan = FftConvolution.Choose(shape, batch, outChannels, groups);
        if (plan is { } fft) FftForward(input, weight, bias, fft, output);
        else if (DirectConvolution.Applies(outChannels, groups)) DirectForward(input, weight, bias, shape, output);
        else
            GemmForward(input, weight, bias, geometry, groups, output);
        Tensor[] inputs = bias is null ? [input, weight] : [input, weight, bias];
        return Tensor.Result(output, inputs, grad =>
        {
            if (plan is { } fft) FftBackward(input, weight, grad, fft);
            else GemmBackward(grad);
            var dy = grad.Span;
            if (bias is { RequiresGrad: true })
            {
                var db = bias.GradSpan();
                for (int b = 0; b < batch; b++)
                    for (int o = 0; o < outChannels; o++) db[o] += TensorPrimitives.Sum(dy.Slice((b * outChannels
                        + o) * pixels, pixels));
            }
        });

        void GemmBackward(Tensor grad)
        {
            int workers = Math.Min(Parallelism.MaxThreads, batch);
            // each range of items sums its own weight gradient; the partial sums are added in range order
            var partial = weight.RequiresGrad ? new float[workers][] : null;
            if (input.RequiresGrad) input.GradSpan(); // created before the workers write disjoint slices of it
            ForEachRange(batch, workers, (worker, first, last) =>
            {
                var dWeight = partial is null ? null : partial[worker] = new float[weight.Length];
                var buffer = PinnedPool.Rent(patch * pixels);
                try
                {
                    for (int b = first; b < last; b++)
                        for (int g = 0; g < groups; g++)
                        {
                            var columns = buffer.AsSpan(patch * pixels);
                            var dyGroup = grad.Span.Slice((b * outChannels + g * outGroup) * pixels, outGroup * pixels);
                            var weightGroup = weight.Span.Slice(g * outGroup * patch, outGroup * patch);
                            int inputOffset = (b * channels + g * groupChannels) * height * width,
                                inputLength = groupChannels * height * width;
                            int gemmThreads = workers > 1 ? 1 : 0;
                            if (dWeight != null)
                            {
                                // dW_g += dY_g · colsᵀ, with the columns rebuilt rather than kept from the forward
                                geometry.ToColumns(input.Span.Slice(inputOffset, inputLength), columns);
                                Gemm.Multiply(false, true, outGroup, patch, pixels, dyGroup, pixels, columns, pixels,
                                    dWeight.AsSpan(g * outGroup * patch, outGroup * patch), patch, accumulate: true,
                                        threads: gemmThreads);
                            }
                            if (input.RequiresGrad)
                            {
                                // dcols = W_gᵀ · dY_g, scattered back onto the input positions each column came from
                                Gemm.Multiply(true, false, patch, pixels, outGroup, weightGroup, patch, dyGroup, pixels,
                                    columns, pixels,
                                    threads: gemmThreads);
                                geometry.AddFromColumns(columns, input.GradSpan().Slice(inputOffset, inputLength));
                            }
                        }
                }
                finally { PinnedPool.Return(buffer); }
            });
            if (partial != null)
            {
                var dw = weight.GradSpan();
                foreach (var part in partial) TensorPrimitives.Add(dw, part, dw);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="workers"/> fixed contiguous ranges of [0, <paramref
    /// name="count"/>), in parallel when there is more than one (on the calling thread otherwise).
    /// </summary>
    static void ForEachRange(int count, int workers, Action<int, int> body) =>
        ForEachRange(count, workers, (_, first, last) => body(first, last));

    /// <summary>As the other overload, with the worker's index (0 to <paramref name="workers"/> − 1) first, for
    /// per-worker partial sums.</summary>
    static void ForEachRange(int count, int workers, Action<int, int, int> body) =>
        // the kernel workers, not the thread pool: a convolution of a small layer takes less than a wake-up
        WorkerPool.Shared.ForRanges(count, workers, body);

    /// <summary>
    /// The im2col matrix of one item as an implicit GEMM operand: row (c, i, j), column (oh, ow) holds
    /// x[c, oh·sh − top + i·dh, ow·sw − left + j·dw]. The input is first split into sw polyphase planes with zero
    /// margins (plane φ, column u holds x[.., u·sw + φ]), so that along an output row every tap reads a contiguous run
    /// of one plane, whatever the stride: a panel row is a few vector copies, and the [patch × pixels] matrix is never
    /// written.
    /// </summary>
    sealed unsafe class ImplicitColumns : IImplicitOperand, IDisposable
    {
        readonly ConvGeometry g;
        readonly int margin, planeWidth;
        readonly PinnedBuffer planes;

        public ImplicitColumns(ConvGeometry geometry)
        {
            g = geometry;
            int sw = g.Stride.W;
            margin = (g.Pad.Left + sw - 1) / sw;
            int farthest = Math.Max(0, FloorDiv((g.KernelW - 1) * g.Dilation.W - g.Pad.Left, sw));
            planeWidth = margin + Math.Max(g.OutW + farthest, (g.Width + sw - 1) / sw) + 1;
            planes = PinnedPool.Rent(sw * g.Channels * g.Height * planeWidth);
        }

        public int Rows => g.Patch;

        public int Columns => g.OutH * g.OutW;

        static int FloorDiv(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);

        /// <summary>Splits one item's [C, H, W] input into the polyphase planes.</summary>
        public void Load(ReadOnlySpan<float> x)
        {
            int sw = g.Stride.W;
            var all = planes.AsSpan(sw * g.Channels * g.Height * planeWidth);
            all.Clear();
            for (int phase = 0; phase < sw; phase++)
                for (int c = 0; c < g.Channels; c++)
                    for (int y = 0; y < g.Height; y++)
                    {
                        var source = x.Slice((c * g.Height + y) * g.Width, g.Width);
                        var line = all.Slice(((phase * g.Channels + c) * g.Height + y) * planeWidth + margin);
                        if (sw == 1) { source.CopyTo(line); continue; }
                        for (int u = 0, w = phase; w < g.Width; u++, w += sw) line[u] = source[w];
                    }
        }

        public void Pack(int k0, int kc, int j0, int cols, float* panel, int nr)
        {
            int taps = g.KernelH * g.KernelW, sw = g.Stride.W;
            for (int q = 0; q < kc; q++, panel += nr)
            {
                int row = k0 + q, c = row / taps, i = row % taps / g.KernelW, j = row % g.KernelW;
                int offset = j * g.Dilation.W - g.Pad.Left;
                int shift = FloorDiv(offset, sw), phase = offset - shift * sw;
                float* plane = planes.Pointer + (nint)(phase * g.Channels + c) * g.Height * planeWidth + margin + shift;
                int oh = j0 / g.OutW, ow = j0 % g.OutW;
                for (int t = 0; t < cols; oh++, ow = 0)
                {
                    int run = Math.Min(cols - t, g.OutW - ow);
                    int y = oh * g.Stride.H - g.Pad.Top + i * g.Dilation.H;
                    var into = new Span<float>(panel + t, run);
                    if ((uint)y < (uint)g.Height)
                        new ReadOnlySpan<float>(plane + (nint)y * planeWidth + ow, run).CopyTo(into);
                    else into.Clear();
                    t += run;
                }
                new Span<float>(panel + cols, nr - cols).Clear();
            }
        }

        public void Dispose() => PinnedPool.Return(planes);
    }

    /// <summary>Where each kernel tap of each output pixel reads the input: im2col and its adjoint.</summary>
    readonly record struct ConvGeometry(int Channels, int Height, int Width, int KernelH, int KernelW, int OutH,
        int OutW, (int H, int W) Stride, (int Top, int Left) Pad, (int H, int W) Dilation)
    {
        public int Patch => Channels * KernelH * KernelW;

        /// <summary>The output columns [start, end) whose tap at input column x0 + ow·sw lies inside the row.</summary>
        (int Start, int End) Inside(int x0)
        {
            int start = x0 >= 0 ? 0 : (-x0 + Stride.W - 1) / Stride.W;
            int end = x0 >= Width ? 0 : Math.Min(OutW, (Width - 1 - x0) / Stride.W + 1);
            return (Math.Min(start, OutW), Math.Max(end, Math.Min(start, OutW)));
        }

        /// <summary>columns[(c·KH + i)·KW + j, oh·OW + ow] = x[c, oh·sh − top + i·dh, ow·sw − left + j·dw] (0
        /// outside).</summary>
        public void ToColumns(ReadOnlySpan<float> x, Span<float> columns)
        {
            int pixels = OutH * OutW;
            for (int c = 0; c < Channels; c++)
                for (int i = 0; i < KernelH; i++)
                    for (int j = 0; j < KernelW; j++)
                    {
                        var row = columns.Slice(((c * KernelH + i) * KernelW + j) * pixels, pixels);
                        for (int oh = 0; oh < OutH; oh++)
                        {
                            int y = oh * Stride.H - Pad.Top + i * Dilation.H;
                            var line = row.Slice(oh * OutW, OutW);
                            if ((uint)y >= (uint)Height) { line.Clear(); continue; }
                            var source = x.Slice((c * Height + y) * Width, Width);
                            int x0 = j * Dilation.W - Pad.Left;
                            var (start, end) = Inside(x0);
                            line[..start].Clear();
                            line[end..].Clear();
                            if (Stride.W == 1)
                            {
                                if (end > start) source.Slice(x0 + start, end - start).CopyTo(line[start..end]);
                                continue;
                            }
                            for (int ow = start, xx = x0 + start * Stride.W; ow < end; ow++,
                                xx += Stride.W) line[ow] = source[xx];
                        }
                    }
        }

        /// <summary>The adjoint of <see cref="ToColumns"/>: adds each column entry to the input position it was read
        /// from.</summary>
        public void AddFromColumns(ReadOnlySpan<float> columns, Span<float> dx)
        {
            int pixels = OutH * OutW;
            for (int c = 0; c < Channels; c++)
                for (int i = 0; i < KernelH; i++)
                    for (int j = 0; j < KernelW; j++)
                    {
                        var row = columns.Slice(((c * KernelH + i) * KernelW + j) * pixels, pixels);
                        for (int oh = 0; oh < OutH; oh++)
                        {
                            int y = oh * Stride.H - Pad.Top + i * Dilation.H;
                            if ((uint)y >= (uint)Height) continue;
                            var target = dx.Slice((c * Height + y) * Width, Width);
                            var line = row.Slice(oh * OutW, OutW);
                            int x0 = j * Dilation.W - Pad.Left;
                            var (start, end) = Inside(x0);
                            if (Stride.W == 1)
                            {
                                if (end <= start) continue;
                                var into = target.Slice(x0 + start, end - start);
                                TensorPrimitives.Add(into, line[start..end], into);
                                continue;
                            }
                            for (int ow = start, xx = x0 + start * Stride.W; ow < end; ow++,
                                xx += Stride.W) target[xx] += line[ow];
                        }
                    }
        }
    }
}
