using System.Runtime.Intrinsics;

namespace Recur.Kernels;

public static partial class Gemm
{
    /// <summary>Rows (and columns) of C in a tile of <see cref="DotProducts"/>.</summary>
    const int DotTile = 4;

    /// <summary>Depth of one pass over a tile: its 16 accumulators are reduced and stored once per chunk.</summary>
    const int DotChunk = 2048;

    /// <summary>
    /// Whether <paramref name="p"/> is a product of two operands stored along a long k — C = A·Bᵀ with A [m×k] and B
    /// [n×k] row-major and a small C, as a weight gradient (output gradient against input, summed over time) is —
    /// that <see cref="DotProducts"/> computes without packing. The blocked path would transpose both operands whole
    /// into its panels for a C that fits in the L1 cache.
    /// </summary>
    static unsafe bool IsDotShaped(in Problem p) => Vector512.IsHardwareAccelerated && !p.TransA && p.TransB
        && p.PackedB == null && p.Source == null && p.Bias == null && p.RowBias == null
        && p.K >= 512 && p.M >= DotTile && p.N >= DotTile && p.M <= 128 && p.N <= 128;

    /// <summary>
    /// C (+)= A·Bᵀ as dot products of rows read where they lie (B's rows may be an implicit operand's shifted views):
    /// 4×4 tiles of C, each accumulating 16 vectors over a chunk of k, then reduced. Rows of C are split over threads
    /// in whole tiles; every element is summed in the same order whatever the split.
    /// </summary>
    static unsafe void DotProducts(Problem p, int threads)
    {
        int maxThreads = threads > 0 ? threads : Parallelism.MaxThreads;
        long flops = 2L * p.M * p.N * p.K;
        int t = (int)Math.Clamp(flops / MinFlopsPerThread, 1, Math.Min(maxThreads, (p.M + DotTile - 1) / DotTile));
        if (t == 1) { DotRows(p, 0, p.M); return; }
        int[] bounds = Partition(p.M, t, DotTile);
        WorkerPool.Shared.For(t, s => DotRows(p, bounds[s], bounds[s + 1]));
    }

    static unsafe void DotRows(in Problem p, int i0, int i1)
    {
        for (int k0 = 0; k0 < p.K; k0 += DotChunk)
        {
            int kc = Math.Min(DotChunk, p.K - k0);
            bool accumulate = p.Accumulate || k0 > 0;
            int i = i0;
            for (; i + DotTile <= i1; i += DotTile)
            {
                int j = 0;
                for (; j + DotTile <= p.N; j += DotTile) DotTile4x4(p, i, j, k0, kc, accumulate);
                for (; j < p.N; j++)
                    for (int r = 0; r < DotTile; r++) DotOne(p, i + r, j, k0, kc, accumulate);
            }
            for (; i < i1; i++)
                for (int j = 0; j < p.N; j++) DotOne(p, i, j, k0, kc, accumulate);
        }
    }

    static unsafe void DotTile4x4(in Problem p, int i, int j, int k0, int kc, bool accumulate)
    {
        float* a0 = p.A + i * p.Lda + k0, a1 = a0 + p.Lda, a2 = a1 + p.Lda, a3 = a2 + p.Lda;
        float* b0 = RowOfB(p, j) + k0, b1 = RowOfB(p, j + 1) + k0, b2 = RowOfB(p, j + 2) + k0,
            b3 = RowOfB(p, j + 3) + k0;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        int q = 0;
        for (; q + 16 <= kc; q += 16)
        {
            var x0 = Vector512.Load(a0 + q); var x1 = Vector512.Load(a1 + q);
            var x2 = Vector512.Load(a2 + q); var x3 = Vector512.Load(a3 + q);
            var y = Vector512.Load(b0 + q);
            c00 = Vector512.FusedMultiplyAdd(x0, y, c00); c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
            c20 = Vector512.FusedMultiplyAdd(x2, y, c20); c30 = Vector512.FusedMultiplyAdd(x3, y, c30);
            y = Vector512.Load(b1 + q);
            c01 = Vector512.FusedMultiplyAdd(x0, y, c01); c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
            c21 = Vector512.FusedMultiplyAdd(x2, y, c21); c31 = Vector512.FusedMultiplyAdd(x3, y, c31);
            y = Vector512.Load(b2 + q);
            c02 = Vector512.FusedMultiplyAdd(x0, y, c02); c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
            c22 = Vector512.FusedMultiplyAdd(x2, y, c22); c32 = Vector512.FusedMultiplyAdd(x3, y, c32);
            y = Vector512.Load(b3 + q);
            c03 = Vector512.FusedMultiplyAdd(x0, y, c03); c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
            c23 = Vector512.FusedMultiplyAdd(x2, y, c23); c33 = Vector512.FusedMultiplyAdd(x3, y, c33);
        }
        float* c = p.C + i * p.Ldc + j;
        nint ldc = p.Ldc;
        Finish(c00, a0, b0, q, kc, c, accumulate); Finish(c01, a0, b1, q, kc, c + 1, accumulate);
        Finish(c02, a0, b2, q, kc, c + 2, accumulate); Finish(c03, a0, b3, q, kc, c + 3, accumulate);
        Finish(c10, a1, b0, q, kc, c + ldc, accumulate); Finish(c11, a1, b1, q, kc, c + ldc + 1, accumulate);
        Finish(c12, a1, b2, q, kc, c + ldc + 2, accumulate); Finish(c13, a1, b3, q, kc, c + ldc + 3, accumulate);
        Finish(c20, a2, b0, q, kc, c + 2 * ldc, accumulate); Finish(c21, a2, b1, q, kc, c + 2 * ldc + 1, accumulate);
        Finish(c22, a2, b2, q, kc, c + 2 * ldc + 2, accumulate);
        Finish(c23, a2, b3, q, kc, c + 2 * ldc + 3, accumulate);
        Finish(c30, a3, b0, q, kc, c + 3 * ldc, accumulate); Finish(c31, a3, b1, q, kc, c + 3 * ldc + 1, accumulate);
        Finish(c32, a3, b2, q, kc, c + 3 * ldc + 2, accumulate);
        Finish(c33, a3, b3, q, kc, c + 3 * ldc + 3, accumulate);
    }

    /// <summary>Reduces a tile element's accumulator, adds the tail of k past the last whole vector (from
    /// <paramref name="q"/>) and writes or adds the element.</summary>
    static unsafe void Finish(Vector512<float> sum, float* x, float* y, int q, int kc, float* target, bool accumulate)
    {
        float value = Vector512.Sum(sum);
        for (; q < kc; q++) value = MathF.FusedMultiplyAdd(x[q], y[q], value);
        *target = accumulate ? *target + value : value;
    }

    /// <summary>One element of C over a chunk of k, for the rows and columns that do not fill a tile.</summary>
    static unsafe void DotOne(in Problem p, int i, int j, int k0, int kc, bool accumulate)
    {
        float* x = p.A + i * p.Lda + k0, y = RowOfB(p, j) + k0;
        var sum = Vector512<float>.Zero;
        int q = 0;
        for (; q + 16 <= kc; q += 16)
            sum = Vector512.FusedMultiplyAdd(Vector512.Load(x + q), Vector512.Load(y + q), sum);
        Finish(sum, x, y, q, kc, p.C + i * p.Ldc + j, accumulate);
    }
}
