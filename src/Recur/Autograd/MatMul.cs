using Recur.Kernels;

namespace Recur;

public sealed partial class Tensor
{
    /// <summary>
    /// Matrix product op(this)·op(other). 2-D: [m,k]·[k,n] → [m,n]. Batched: [b,m,k]·[b,k,n] → [b,m,n], or
    /// [b,m,k]·[k,n] with a shared right operand. A transposed operand is read as its transpose without copying,
    /// and the backward uses transposed GEMM forms the same way.
    /// </summary>
    public Tensor MatMul(Tensor other, bool transposeThis = false, bool transposeOther = false)
    {
        var a = this;
        var b = other;
        if (a.Rank == 3 && b.Rank == 2 && !transposeThis)
        {
            // [b,m,k]·[k,n]: one large product over all b·m rows.
            var flat = a.Reshape(a.shape[0] * a.shape[1], a.shape[2]).MatMul(b, false, transposeOther);
            return flat.Reshape(a.shape[0], a.shape[1], flat.shape[1]);
        }
        bool batched = a.Rank == 3 && b.Rank == 3 && a.shape[0] == b.shape[0];
        if (!(a.Rank == 2 && b.Rank == 2) && !batched)
            throw new ArgumentException($"MatMul: shapes {Shapes.Format(a.shape)} and {Shapes.Format(b.shape)} "
                + $"are not 2-D or batched 3-D operands.");
        int batch = batched ? a.shape[0] : 1;
        int r = batched ? 1 : 0;
        int m = transposeThis ? a.shape[r + 1] : a.shape[r];
        int k = transposeThis ? a.shape[r] : a.shape[r + 1];
        int kb = transposeOther ? b.shape[r + 1] : b.shape[r];
        int n = transposeOther ? b.shape[r] : b.shape[r + 1];
        if (k != kb)
            throw new ArgumentException($"MatMul: inner dimensions "
                + $"differ: {Shapes.Format(a.shape)}{(transposeThis ? "ᵀ" : "")} "
                    + $"· {Shapes.Format(b.shape)}{(transposeOther ? "ᵀ" : "")} ({k} vs {kb}).");
        var output = Zeros(batched ? [batch, m, n] : [m, n]);
        int lda = a.shape[r + 1], ldb = b.shape[r + 1];
        int sizeA = a.shape[r] * lda, sizeB = b.shape[r] * ldb, sizeC = m * n;
        for (int i = 0; i < batch; i++)
            Gemm.Multiply(transposeThis, transposeOther, m, n, k, a.Span.Slice(i * sizeA, sizeA), lda,
                b.Span.Slice(i * sizeB, sizeB), ldb, output.Span.Slice(i * sizeC, sizeC), n);
        bool ta = transposeThis, tb = transposeOther;
        return Result(output, [a, b], g =>
        {
            for (int i = 0; i < batch; i++)
            {
                var gc = g.Span.Slice(i * sizeC, sizeC);
                var av = a.Span.Slice(i * sizeA, sizeA);
                var bv = b.Span.Slice(i * sizeB, sizeB);
                if (a.requiresGrad)
                {
                    var ga = a.GradSpan().Slice(i * sizeA, sizeA);
                    if (!ta) Gemm.Multiply(false, !tb, m, k, n, gc, n, bv, ldb, ga, lda,
                        accumulate: true);  // dA = dC·op(B)ᵀ
                    else Gemm.Multiply(tb, true, k, m, n, bv, ldb, gc, n, ga, lda,
                        accumulate: true);       // dA = op(B)·dCᵀ
                }
                if (b.requiresGrad)
                {
                    var gb = b.GradSpan().Slice(i * sizeB, sizeB);
                    if (!tb) Gemm.Multiply(!ta, false, k, n, m, av, lda, gc, n, gb, ldb,
                        accumulate: true);  // dB = op(A)ᵀ·dC
                    else Gemm.Multiply(true, ta, n, k, m, gc, n, av, lda, gb, ldb,
                        accumulate: true);       // dB = dCᵀ·op(A)
                }
            }
        });
    }
}
