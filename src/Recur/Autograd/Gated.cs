namespace Recur;

public static partial class Functional
{
    /// <summary>
    /// The gated activation unit of WaveNet and PixelCNN in one pass: for <paramref name="input"/> [B, 2C, …] it
    /// returns tanh(input[:, :C]) ⊙ σ(input[:, C:]) [B, C, …] — the same as two slices, a tanh, a sigmoid and a
    /// product, without their five intermediate tensors. The backward uses the saved tanh and sigmoid values.
    /// </summary>
    public static Tensor GatedTanh(Tensor input)
    {
        if (input.Rank < 2 || input.Size(1) % 2 != 0)
            throw new ArgumentException($"GatedTanh: input {Shapes.Format(input.Shape)} needs an even number of "
                + "channels on axis 1.");
        var shape = input.Shape.ToArray();
        int batch = shape[0], half = shape[1] / 2;
        int block = half * (input.Length / (batch * shape[1])); // one half of one batch item: C × the rest
        shape[1] = half;
        var output = Tensor.Uninitialized(shape);
        var tanh = StorageAllocator.Allocate(batch * block, clear: false);
        var sigmoid = StorageAllocator.Allocate(batch * block, clear: false);
        // batch items split over the kernel workers when there is enough to share (results do not depend on it)
        int workers = input.Length >= 1 << 16 ? Math.Min(Kernels.Parallelism.MaxThreads, batch) : 1;
        ForEachRange(batch, workers, (first, last) =>
        {
            var x = input.Span;
            var y = output.Span;
            for (int b = first; b < last; b++)
            {
                Kernels.GatedUnits.Forward(x.Slice(2 * b * block, block), x.Slice((2 * b + 1) * block, block),
                    tanh.AsSpan(b * block, block), sigmoid.AsSpan(b * block, block), y.Slice(b * block, block));
            }
        });
        return Tensor.Result(output, input, g =>
        {
            var dx = input.GradToWrite(out bool accumulate);
            ForEachRange(batch, workers, (first, last) =>
            {
                var gx = dx.Span;
                var gy = g.Span;
                for (int b = first; b < last; b++)
                    Kernels.GatedUnits.Backward(tanh.AsSpan(b * block, block), sigmoid.AsSpan(b * block, block),
                        gy.Slice(b * block, block), gx.Slice(2 * b * block, block),
                        gx.Slice((2 * b + 1) * block, block), accumulate);
            });
        });
    }
}
