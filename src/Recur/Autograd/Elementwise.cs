using System.Numerics.Tensors;

namespace Recur;

public sealed partial class Tensor
{
    internal enum BinaryOp { Add, Subtract, Multiply, Divide }

    /// <summary>Elementwise sum with numpy broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    /// <summary>Elementwise difference with numpy broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Subtract(b);
    /// <summary>Elementwise product with numpy broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Multiply(b);
    /// <summary>Elementwise quotient with numpy broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Divide(b);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();
    /// <summary>Adds a constant.</summary>
    public static Tensor operator +(Tensor a, float b) => a.Add(Scalar(b));
    /// <summary>Subtracts a constant.</summary>
    public static Tensor operator -(Tensor a, float b) => a.Subtract(Scalar(b));
    /// <summary>A constant minus a tensor (1 − p and the like).</summary>
    public static Tensor operator -(float a, Tensor b) => b.Neg().Add(Scalar(a));
    /// <summary>Multiplies by a constant.</summary>
    public static Tensor operator *(Tensor a, float b) => a.Multiply(Scalar(b));
    /// <summary>Multiplies by a constant.</summary>
    public static Tensor operator *(float a, Tensor b) => b.Multiply(Scalar(a));
    /// <summary>Divides by a constant.</summary>
    public static Tensor operator /(Tensor a, float b) => a.Divide(Scalar(b));

    /// <summary><c>this + other</c>, broadcasting as numpy does.</summary>
    public Tensor Add(Tensor other)
    {
        var output = BroadcastKernel(BinaryOp.Add, this, other, "Add");
        Tensor a = this, b = other;
        return Result(output, [a, b], g =>
        {
            // the output's gradient (dropped after this) becomes the first gradient of one input instead of a copy;
            // a reduced one (broadcasting) is fresh and can be given away too
            bool taken = false;
            if (a.requiresGrad)
            {
                var ga = SumTo(g, a.shape);
                taken = a.AccumulateGrad(ga, mayAdopt: true) && ReferenceEquals(ga, g);
            }
            if (b.requiresGrad)
            {
                var gb = SumTo(g, b.shape);
                b.AccumulateGrad(gb, mayAdopt: !(taken && ReferenceEquals(gb, g)));
            }
        });
    }

    /// <summary><c>this - other</c>, broadcasting as numpy does.</summary>
    public Tensor Subtract(Tensor other)
    {
        var output = BroadcastKernel(BinaryOp.Subtract, this, other, "Subtract");
        Tensor a = this, b = other;
        return Result(output, [a, b], g =>
        {
            // b's share is read from g below, so a takes g itself only when b does not need it
            if (a.requiresGrad)
            {
                var ga = SumTo(g, a.shape);
                a.AccumulateGrad(ga, mayAdopt: !(b.requiresGrad && ReferenceEquals(ga, g)));
            }
            if (b.requiresGrad)
            {
                var gb = SumTo(g, b.shape);
                var dst = b.GradSpan();
                TensorPrimitives.Subtract(dst, gb.Span, dst);
            }
        });
    }

    /// <summary><c>this ⊙ other</c>, broadcasting as numpy does.</summary>
    public Tensor Multiply(Tensor other)
    {
        var output = BroadcastKernel(BinaryOp.Multiply, this, other, "Multiply");
        Tensor a = this, b = other;
        return Result(output, [a, b], g =>
        {
            if (a.requiresGrad) a.AccumulateGrad(SumTo(BroadcastKernel(BinaryOp.Multiply, g, b, "Multiply"),
                a.shape).Span);
            if (b.requiresGrad) b.AccumulateGrad(SumTo(BroadcastKernel(BinaryOp.Multiply, g, a, "Multiply"),
                b.shape).Span);
        });
    }

    /// <summary><c>this ⊘ other</c>, broadcasting as numpy does.</summary>
    public Tensor Divide(Tensor other)
    {
        var output = BroadcastKernel(BinaryOp.Divide, this, other, "Divide");
        Tensor a = this, b = other;
        return Result(output, [a, b], g =>
        {
            var gOverB = BroadcastKernel(BinaryOp.Divide, g, b, "Divide");
            if (a.requiresGrad) a.AccumulateGrad(SumTo(gOverB, a.shape).Span);
            if (b.requiresGrad)
            {
                // d(a/b)/db = -(a/b)/b = -output/b
                var gb = SumTo(BroadcastKernel(BinaryOp.Multiply, gOverB, output, "Divide"), b.shape);
                var dst = b.GradSpan();
                TensorPrimitives.Subtract(dst, gb.Span, dst);
            }
        });
    }

    /// <summary>Applies <paramref name="op"/> elementwise under numpy broadcasting, without recording.</summary>
    internal static Tensor BroadcastKernel(BinaryOp op, Tensor a, Tensor b, string name)
    {
        if (a.shape.AsSpan().SequenceEqual(b.shape))
        {
            var same = Uninitialized(a.shape);
            Apply(op, a.Span, b.Span, same.Span);
            return same;
        }
        var outShape = Shapes.Broadcast(a.shape, b.shape, name);
        var output = Uninitialized(outShape); // every row is written below
        int rank = outShape.Length;
        if (output.Length == 0) return output;
        if (rank == 0) { Apply(op, a.Span, b.Span, output.Span); return output; }

        var sa = Shapes.BroadcastStrides(a.shape, outShape);
        var sb = Shapes.BroadcastStrides(b.shape, outShape);
        int inner = outShape[rank - 1];
        int rows = output.Length / inner;
        var index = new int[rank];
        ReadOnlySpan<float> av = a.Span, bv = b.Span;
        var ov = output.Span;
        int offA = 0, offB = 0;
        for (int row = 0; row < rows; row++)
        {
            var dst = ov.Slice(row * inner, inner);
            bool aScalar = sa[rank - 1] == 0, bScalar = sb[rank - 1] == 0;
            if (!aScalar && !bScalar) Apply(op, av.Slice(offA, inner), bv.Slice(offB, inner), dst);
            else if (aScalar && !bScalar) ApplyScalarLeft(op, av[offA], bv.Slice(offB, inner), dst);
            else if (!aScalar && bScalar) ApplyScalarRight(op, av.Slice(offA, inner), bv[offB], dst);
            else dst.Fill(Apply(op, av[offA], bv[offB]));
            // advance the multi-index over all but the last axis
            for (int d = rank - 2; d >= 0; d--)
            {
                index[d]++;
                offA += sa[d]; offB += sb[d];
                if (index[d] < outShape[d]) break;
                offA -= sa[d] * outShape[d]; offB -= sb[d] * outShape[d];
                index[d] = 0;
            }
        }
        return output;
    }

    static float Apply(BinaryOp op, float x, float y) => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Subtract => x - y,
        BinaryOp.Multiply => x * y,
        _ => x / y,
    };

    static void Apply(BinaryOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst)
    {
        if (x.Length != y.Length)
        {
            // equal-shape fast path also handles rank-0 against rank-0; lengths match there
            throw new InvalidOperationException("internal: broadcast length mismatch");
        }
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(x, y, dst); break;
            case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, dst); break;
            case BinaryOp.Multiply: TensorPrimitives.Multiply(x, y, dst); break;
            default: TensorPrimitives.Divide(x, y, dst); break;
        }
    }

    static void ApplyScalarLeft(BinaryOp op, float x, ReadOnlySpan<float> y, Span<float> dst)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(y, x, dst); break;
            case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, dst); break;
            case BinaryOp.Multiply: TensorPrimitives.Multiply(y, x, dst); break;
            default: TensorPrimitives.Divide(x, y, dst); break;
        }
    }

    static void ApplyScalarRight(BinaryOp op, ReadOnlySpan<float> x, float y, Span<float> dst)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(x, y, dst); break;
            case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, dst); break;
            case BinaryOp.Multiply: TensorPrimitives.Multiply(x, y, dst); break;
            default: TensorPrimitives.Divide(x, y, dst); break;
        }
    }

    /// <summary>Sums <paramref name="source"/> over the axes on which <paramref name="target"/> was broadcast (the
    /// gradient of a broadcast).</summary>
    internal static Tensor SumTo(Tensor source, int[] target)
    {
        if (source.shape.AsSpan().SequenceEqual(target)) return source;
        var output = Zeros(target);
        int rank = source.Rank;
        if (source.Length == 0) return output;
        if (rank == 0) { output.Span[0] = source.Span[0]; return output; }
        var st = Shapes.BroadcastStrides(target, source.shape);
        int inner = source.shape[rank - 1];
        int rows = source.Length / inner;
        var index = new int[rank];
        ReadOnlySpan<float> sv = source.Span;
        var ov = output.Span;
        int off = 0;
        bool innerReduced = st[rank - 1] == 0;
        for (int row = 0; row < rows; row++)
        {
            var src = sv.Slice(row * inner, inner);
            if (innerReduced) ov[off] += TensorPrimitives.Sum(src);
            else TensorPrimitives.Add(ov.Slice(off, inner), src, ov.Slice(off, inner));
            for (int d = rank - 2; d >= 0; d--)
            {
                index[d]++;
                off += st[d];
                if (index[d] < source.shape[d]) break;
                off -= st[d] * source.shape[d];
                index[d] = 0;
            }
        }
        return output;
    }

    // ---------------------------------------------------------------- unary

    /// <summary>−x.</summary>
    public Tensor Neg()
    {
        var output = Uninitialized(shape);
        TensorPrimitives.Negate(Span, output.Span);
        var x = this;
        return Result(output, x, g =>
        {
            var dst = x.GradSpan();
            TensorPrimitives.Subtract(dst, g.Span, dst);
        });
    }

    /// <summary>eˣ.</summary>
    public Tensor Exp()
    {
        var output = Uninitialized(shape);
        TensorPrimitives.Exp(Span, output.Span);
        var x = this;
        return Result(output, x, g => AddProduct(x.GradSpan(), g.Span, output.Span)); // d eˣ = eˣ
    }

    /// <summary>Natural logarithm.</summary>
    public Tensor Log()
    {
        var output = Uninitialized(shape);
        TensorPrimitives.Log(Span, output.Span);
        var x = this;
        return Result(output, x, g =>
        {
            var quotient = StorageAllocator.Allocate(g.Length, clear: false);
            TensorPrimitives.Divide(g.Span, x.Span, quotient);
            x.AccumulateGrad(quotient);
        });
    }

    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh()
    {
        var output = Uninitialized(shape);
        Kernels.Squashing.Tanh(Span, output.Span);
        var x = this;
        return Result(output, x, g =>
        {
            var local = StorageAllocator.Allocate(g.Length, clear: false); // 1 − tanh²
            TensorPrimitives.MultiplyAdd(output.Span, output.Span, -1f, local);
            TensorPrimitives.Negate(local, local);
            AddProduct(x.GradSpan(), g.Span, local);
        });
    }

    /// <summary>Logistic sigmoid 1/(1+e⁻ˣ).</summary>
    public Tensor Sigmoid()
    {
        var output = Uninitialized(shape);
        Kernels.Squashing.Sigmoid(Span, output.Span);
        var x = this;
        return Result(output, x, g =>
        {
            var local = StorageAllocator.Allocate(g.Length, clear: false); // σ(1 − σ)
            TensorPrimitives.Multiply(output.Span, output.Span, local);
            TensorPrimitives.Subtract(output.Span, local, local);
            AddProduct(x.GradSpan(), g.Span, local);
        });
    }

    /// <summary>√x (x ≥ 0; the gradient 1/(2√x) is infinite at 0, so add a small ε first where x can be 0).</summary>
    public Tensor Sqrt()
    {
        var output = Uninitialized(shape);
        TensorPrimitives.Sqrt(Span, output.Span);
        var x = this;
        return Result(output, x, g =>
        {
            var local = StorageAllocator.Allocate(g.Length, clear: false); // g / (2√x)
            TensorPrimitives.Divide(g.Span, output.Span, local);
            TensorPrimitives.Multiply(local, 0.5f, local);
            x.AccumulateGrad(local);
        });
    }

    /// <summary>Softplus log(1 + eˣ), computed as max(x, 0) + log(1 + e^−|x|) so that large x do not overflow; its
    /// gradient is σ(x).</summary>
    public Tensor Softplus()
    {
        var output = Uninitialized(shape);
        ReadOnlySpan<float> xv = Span;
        var y = output.Span;
        for (int i = 0; i < y.Length; i++) y[i] = Math.Max(xv[i], 0f) + MathF.Log(1f + MathF.Exp(-Math.Abs(xv[i])));
        var x = this;
        return Result(output, x, g =>
        {
            var local = StorageAllocator.Allocate(g.Length, clear: false);
            Kernels.Squashing.Sigmoid(x.Span, local);
            AddProduct(x.GradSpan(), g.Span, local);
        });
    }

    /// <summary>max(x, 0).</summary>
    public Tensor Relu()
    {
        var output = Uninitialized(shape);
        TensorPrimitives.Max(Span, 0f, output.Span);
        var x = this;
        return Result(output, x, g =>
        {
            var dx = x.GradToWrite(out bool accumulate);
            Kernels.Activations.ReluBackward(x.Span, g.Span, dx.Span, accumulate);
        });
    }

    /// <summary>Absolute value |x|; its gradient is sign(x), 0 at 0 (as PyTorch's).</summary>
    public Tensor Abs()
    {
        var output = Uninitialized(shape);
        TensorPrimitives.Abs(Span, output.Span);
        var x = this;
        return Result(output, x, g =>
        {
            var dst = x.GradSpan();
            ReadOnlySpan<float> gv = g.Span, xv = x.Span;
            for (int i = 0; i < dst.Length; i++) dst[i] += xv[i] > 0f ? gv[i] : xv[i] < 0f ? -gv[i] : 0f;
        });
    }

    /// <summary><paramref name="dst"/> += <paramref name="x"/> ⊙ <paramref name="y"/>.</summary>
    internal static void AddProduct(Span<float> dst, ReadOnlySpan<float> x, ReadOnlySpan<float> y) =>
        TensorPrimitives.MultiplyAdd(x, y, dst, dst);
}
