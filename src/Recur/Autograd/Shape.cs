using System.Numerics.Tensors;

namespace Recur;

public sealed partial class Tensor
{
    /// <summary>The same elements with a new shape (one dimension may be −1); shares storage.</summary>
    public Tensor Reshape(params int[] newShape)
    {
        var resolved = (int[])newShape.Clone();
        int unknown = Array.IndexOf(resolved, -1);
        if (unknown >= 0)
        {
            resolved[unknown] = 1;
            int known = Shapes.Count(resolved);
            if (known == 0 || Length % known != 0)
                throw new ArgumentException($"Reshape: cannot infer −1 in {Shapes.Format(newShape)} for a tensor "
                    + $"of shape {Shapes.Format(shape)}.");
            resolved[unknown] = Length / known;
        }
        Shapes.Validate(resolved, "Reshape");
        if (Shapes.Count(resolved) != Length)
            throw new ArgumentException($"Reshape: shape {Shapes.Format(shape)} ({Length} elements) cannot "
                + $"become {Shapes.Format(newShape)}.");
        var output = new Tensor(resolved, Storage, Offset);
        var x = this;
        return Result(output, x, g => x.AccumulateGrad(g.Span));
    }

    /// <summary>
    /// Elements <paramref name="start"/> .. <paramref name="start"/>+<paramref name="length"/> along
    /// <paramref name="axis"/>. Along the leading axis (e.g. one time step of a [T, B, H] sequence) this is a view that
    /// shares storage.
    /// </summary>
    public Tensor Slice(int axis, int start, int length)
    {
        int ax = Shapes.Axis(axis, Rank, "Slice");
        if (start < 0 || length < 0 || start + length > shape[ax])
            throw new ArgumentException(
                $"Slice: range [{start}, {start + length}) is outside axis {ax} of shape {Shapes.Format(shape)}.");
        var outShape = ShapeArray();
        outShape[ax] = length;
        var (outer, dim, inner) = Shapes.Split(shape, ax);
        Tensor output;
        if (outer == 1)
        {
            output = new Tensor(outShape, Storage, Offset + start * inner);
        }
        else
        {
            output = Zeros(outShape);
            for (int o = 0; o < outer; o++)
                Span.Slice((o * dim + start) * inner, length * inner).CopyTo(output.Span.Slice(o * length * inner,
                    length * inner));
        }
        var x = this;
        return Result(output, x, g =>
        {
            var gx = x.GradSpan();
            for (int o = 0; o < outer; o++)
            {
                var dst = gx.Slice((o * dim + start) * inner, length * inner);
                TensorPrimitives.Add(dst, g.Span.Slice(o * length * inner, length * inner), dst);
            }
        });
    }

    /// <summary>Index <paramref name="index"/> along <paramref name="axis"/>, removing that axis (a view along the
    /// leading axis).</summary>
    public Tensor Select(int axis, int index)
    {
        int ax = Shapes.Axis(axis, Rank, "Select");
        var sliced = Slice(ax, index, 1);
        var outShape = shape.Where((_, i) => i != ax).ToArray();
        return sliced.Reshape(outShape);
    }

    /// <summary>Joins tensors along <paramref name="axis"/>; all other dimensions must agree.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int axis)
    {
        if (tensors.Count == 0) throw new ArgumentException("Concat: no tensors given.");
        var first = tensors[0];
        int ax = Shapes.Axis(axis, first.Rank, "Concat");
        int total = 0;
        foreach (var t in tensors)
        {
            bool compatible = t.Rank == first.Rank;
            for (int d = 0; compatible && d < t.Rank; d++) compatible = d == ax || t.shape[d] == first.shape[d];
            if (!compatible)
                throw new ArgumentException($"Concat: shapes {Shapes.Format(first.shape)} "
                    + $"and {Shapes.Format(t.shape)} differ outside axis {ax}.");
            total += t.shape[ax];
        }
        var outShape = first.ShapeArray();
        outShape[ax] = total;
        var output = Zeros(outShape);
        var (outer, _, inner) = Shapes.Split(outShape, ax);
        var offsets = new int[tensors.Count];
        int offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            offsets[i] = offset;
            int dim = tensors[i].shape[ax];
            for (int o = 0; o < outer; o++)
                tensors[i].Span.Slice(o * dim * inner,
                    dim * inner).CopyTo(output.Span.Slice((o * total + offset) * inner, dim * inner));
            offset += dim;
        }
        var inputs = tensors.ToArray();
        return Result(output, inputs, g =>
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                if (!inputs[i].requiresGrad) continue;
                int dim = inputs[i].shape[ax];
                var gx = inputs[i].GradSpan();
                for (int o = 0; o < outer; o++)
                {
                    var dst = gx.Slice(o * dim * inner, dim * inner);
                    TensorPrimitives.Add(dst, g.Span.Slice((o * total + offsets[i]) * inner, dim * inner), dst);
                }
            }
        });
    }

    /// <summary>Stacks equally shaped tensors along a new axis <paramref name="axis"/>.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("Stack: no tensors given.");
        var first = tensors[0];
        foreach (var t in tensors)
            if (!t.Shape.SequenceEqual(first.Shape))
                throw new ArgumentException(
                    $"Stack: shapes {Shapes.Format(first.shape)} and {Shapes.Format(t.shape)} differ.");
        int ax = Shapes.Axis(axis, first.Rank + 1, "Stack");
        var expanded = first.shape.ToList();
        expanded.Insert(ax, 1);
        var newShape = expanded.ToArray();
        return Concat(tensors.Select(t => t.Reshape(newShape)).ToArray(), ax);
    }

    /// <summary>Splits along <paramref name="axis"/> into pieces of the given sizes (which must add up to that
    /// dimension).</summary>
    public Tensor[] Split(int[] sizes, int axis)
    {
        int ax = Shapes.Axis(axis, Rank, "Split");
        if (sizes.Sum() != shape[ax] || sizes.Any(s => s < 0))
            throw new ArgumentException($"Split: sizes [{string.Join(", ", sizes)}] do not add up to axis {ax} of "
                + $"shape {Shapes.Format(shape)}.");
        var pieces = new Tensor[sizes.Length];
        int start = 0;
        for (int i = 0; i < sizes.Length; i++) { pieces[i] = Slice(ax, start, sizes[i]); start += sizes[i]; }
        return pieces;
    }

    /// <summary>Swaps two axes (materialises the result).</summary>
    public Tensor Transpose(int axis0, int axis1)
    {
        int a0 = Shapes.Axis(axis0, Rank, "Transpose"), a1 = Shapes.Axis(axis1, Rank, "Transpose");
        var permutation = Enumerable.Range(0, Rank).ToArray();
        (permutation[a0], permutation[a1]) = (permutation[a1], permutation[a0]);
        return Permute(permutation);
    }

    /// <summary>Reorders axes: output axis i is input axis <paramref name="permutation"/>[i] (materialises the
    /// result).</summary>
    public Tensor Permute(params int[] permutation)
    {
        if (permutation.Length != Rank || permutation.Order().Where((p, i) => p != i).Any())
            throw new ArgumentException($"Permute: [{string.Join(", ", permutation)}] is not a permutation of the "
                + $"axes of shape {Shapes.Format(shape)}.");
        var output = Zeros(permutation.Select(p => shape[p]).ToArray());
        PermuteKernel(Span, shape, permutation, output.Span, accumulate: false);
        var inverse = new int[Rank];
        for (int i = 0; i < Rank; i++) inverse[permutation[i]] = i;
        var x = this;
        return Result(output, x, g => PermuteKernel(g.Span, g.shape, inverse, x.GradSpan(), accumulate: true));
    }

    static void PermuteKernel(ReadOnlySpan<float> source, ReadOnlySpan<int> sourceShape, int[] permutation,
        Span<float> destination, bool accumulate)
    {
        int rank = sourceShape.Length;
        if (source.Length == 0) return;
        if (rank >= 2 && permutation[rank - 2] == rank - 1 && permutation[rank - 1] == rank - 2
            && Enumerable.Range(0, rank - 2).All(d => permutation[d] == d))
        {
            // [..., R, C] → [..., C, R]: a tiled transpose of each trailing matrix
            int rows = sourceShape[rank - 2], columns = sourceShape[rank - 1], matrix = rows * columns;
            for (int m = 0; m < source.Length / matrix; m++)
                Transpose(source.Slice(m * matrix, matrix), destination.Slice(m * matrix, matrix), rows, columns,
                    accumulate);
            return;
        }
        var sourceStrides = Shapes.Strides(sourceShape);
        var outShape = new int[rank];
        var strides = new int[rank]; // source stride of each output axis
        for (int d = 0; d < rank; d++)
        {
            outShape[d] = sourceShape[permutation[d]]; strides[d]
            = sourceStrides[permutation[d]];
        }
        // one output row (the last axis) at a time with a fixed source stride; the carry runs once per row
        int inner = rank == 0 ? 1 : outShape[rank - 1], innerStride = rank == 0 ? 0 : strides[rank - 1];
        var index = new int[rank];
        int src = 0;
        for (int start = 0; start < destination.Length; start += inner)
        {
            var row = destination.Slice(start, inner);
            if (accumulate)
                for (int i = 0, s = src; i < inner; i++, s += innerStride) row[i] += source[s];
            else
                for (int i = 0, s = src; i < inner; i++, s += innerStride) row[i] = source[s];
            for (int d = rank - 2; d >= 0; d--)
            {
                index[d]++;
                src += strides[d];
                if (index[d] < outShape[d]) break;
                src -= strides[d] * outShape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>destination [columns, rows] (=, or += with <paramref name="accumulate"/>) the transpose of source
    /// [rows, columns], in 32 × 32 tiles so that both sides stay in cache.</summary>
    static void Transpose(ReadOnlySpan<float> source, Span<float> destination, int rows, int columns, bool accumulate)
    {
        const int Tile = 32;
        for (int r0 = 0; r0 < rows; r0 += Tile)
            for (int c0 = 0; c0 < columns; c0 += Tile)
            {
                int r1 = Math.Min(rows, r0 + Tile), c1 = Math.Min(columns, c0 + Tile);
                for (int c = c0; c < c1; c++)
                {
                    var dst = destination.Slice(c * rows, rows);
                    if (accumulate)
                        for (int r = r0; r < r1; r++) dst[r] += source[r * columns + c];
                    else
                        for (int r = r0; r < r1; r++) dst[r] = source[r * columns + c];
                }
            }
    }

    /// <summary>Entries <paramref name="indices"/> along <paramref name="axis"/> (repeats allowed), as
    /// <c>torch.index_select</c>.</summary>
    public Tensor IndexSelect(int axis, ReadOnlySpan<int> indices)
    {
        int ax = Shapes.Axis(axis, Rank, "IndexSelect");
        var (outer, dim, inner) = Shapes.Split(shape, ax);
        foreach (int i in indices)
            if ((uint)i >= (uint)dim)
                throw new ArgumentException(
                    $"IndexSelect: index {i} is out of range for axis {ax} of shape {Shapes.Format(shape)}.");
        var outShape = ShapeArray();
        outShape[ax] = indices.Length;
        var output = Zeros(outShape);
        int count = indices.Length;
        var idx = indices.ToArray();
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                Span.Slice((o * dim + idx[j]) * inner, inner).CopyTo(output.Span.Slice((o * count + j) * inner, inner));
        var x = this;
        return Result(output, x, g =>
        {
            var gx = x.GradSpan();
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < count; j++)
                {
                    var dst = gx.Slice((o * dim + idx[j]) * inner, inner);
                    TensorPrimitives.Add(dst, g.Span.Slice((o * count + j) * inner, inner), dst);
                }
        });
    }

    /// <summary>
    /// <c>torch.gather</c>: output has the shape of <paramref name="indexShape"/> (equal to this shape except along
    /// <paramref name="axis"/>) and output[..., j, ...] = this[..., index[..., j, ...], ...] along that axis.
    /// </summary>
    public Tensor Gather(int axis, ReadOnlySpan<int> index, int[] indexShape)
    {
        int ax = Shapes.Axis(axis, Rank, "Gather");
        bool compatible = indexShape.Length == Rank && Shapes.Count(indexShape) == index.Length;
        for (int d = 0; compatible && d < Rank; d++) compatible = d == ax || indexShape[d] == shape[d];
        if (!compatible)
            throw new ArgumentException($"Gather: index shape {Shapes.Format(indexShape)} ({index.Length} indices) "
                + $"does not fit shape {Shapes.Format(shape)} off axis {ax}.");
        var (outer, dim, inner) = Shapes.Split(shape, ax);
        int count = indexShape[ax];
        var idx = index.ToArray();
        foreach (int i in idx)
            if ((uint)i >= (uint)dim)
                throw new ArgumentException(
                    $"Gather: index {i} is out of range for axis {ax} of shape {Shapes.Format(shape)}.");
        var output = Zeros((int[])indexShape.Clone());
        ReadOnlySpan<float> xv = Span;
        var ov = output.Span;
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < count; j++)
                for (int i = 0; i < inner; i++)
                {
                    int at = (o * count + j) * inner + i;
                    ov[at] = xv[(o * dim + idx[at]) * inner + i];
                }
        var x = this;
        return Result(output, x, g =>
        {
            var gx = x.GradSpan();
            ReadOnlySpan<float> gv = g.Span;
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < count; j++)
                    for (int i = 0; i < inner; i++)
                    {
                        int at = (o * count + j) * inner + i;
                        gx[(o * dim + idx[at]) * inner + i] += gv[at];
                    }
        });
    }
}
