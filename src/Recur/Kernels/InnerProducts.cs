using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Recur.Kernels;

/// <summary>
/// <c>C[m×n] = (accumulate ? C : 0) + A·Bᵀ</c> for operands whose rows are contiguous along the summed dimension k:
/// each entry is a dot product, vectorised along k, with no packing. This is the shape of a convolution's weight
/// gradient — Σ_t dY[o, t]·x[c, t + shift] over a long time axis into a small [C_out × taps·C_in] result — where the
/// packed GEMM would copy (and transpose) both long operands to use each value only a few times. A 4×4 block of
/// entries shares its loads; k runs in blocks that keep the rows in the L1 cache while every block of columns of the
/// result is visited. Each entry is summed in the same order whatever the alignment or the caller's threads.
/// </summary>
internal static class InnerProducts
{
    const int Tile = 4;
    const int KBlock = 512;

    /// <summary>
    /// Row i of A starts at <c>a[i·lda]</c>; row j of B at <c>b[bRowStarts[j]]</c> (rows may overlap: shifted views of
    /// one buffer); both hold k values. Every operand is checked against its buffer before any work is done.
    /// </summary>
    public static unsafe void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b,
        ReadOnlySpan<int> bRowStarts, Span<float> c, int ldc, bool accumulate)
    {
        if (m < 0 || n < 0 || k < 0 || bRowStarts.Length < n)
            throw new ArgumentException($"InnerProducts: sizes m={m}, n={n}, k={k} with {bRowStarts.Length} rows of B.");
        if (m == 0 || n == 0) return;
        if (lda < k || (long)(m - 1) * lda + k > a.Length || ldc < n || (long)(m - 1) * ldc + n > c.Length)
            throw new ArgumentException($"InnerProducts: A or C is too small for m={m}, n={n}, k={k}.");
        foreach (int start in bRowStarts[..n])
            if (start < 0 || (long)start + k > b.Length)
                throw new ArgumentException($"InnerProducts: a row of B at {start} runs past its {b.Length} values.");
        var rows = new nint[n];
        fixed (float* pa = a, pb = b, pc = c)
        {
            for (int j = 0; j < n; j++) rows[j] = (nint)(pb + bRowStarts[j]);
            fixed (nint* pr = rows)
            {
                if (Vector512.IsHardwareAccelerated) Run<Lanes512>(m, n, k, pa, lda, (float**)pr, pc, ldc, accumulate);
                else if (Vector256.IsHardwareAccelerated)
                    Run<Lanes256>(m, n, k, pa, lda, (float**)pr, pc, ldc, accumulate);
                else Run<Lanes128>(m, n, k, pa, lda, (float**)pr, pc, ldc, accumulate);
            }
        }
    }

    static unsafe void Run<TLanes>(int m, int n, int k, float* a, nint lda, float** b, float* c, nint ldc,
        bool accumulate) where TLanes : struct, ILanes
    {
        float* sums = stackalloc float[Tile * Tile];
        float** tileA = stackalloc float*[Tile];
        float** tileB = stackalloc float*[Tile];
        for (int k0 = 0; k0 < k || k0 == 0; k0 += KBlock)
        {
            int kc = Math.Min(KBlock, k - k0);
            bool add = accumulate || k0 > 0;
            for (int j0 = 0; j0 < n; j0 += Tile)
            {
                // a short edge repeats its last row; the repeats are computed and not stored
                for (int t = 0; t < Tile; t++) tileB[t] = b[Math.Min(j0 + t, n - 1)] + k0;
                for (int i0 = 0; i0 < m; i0 += Tile)
                {
                    for (int t = 0; t < Tile; t++) tileA[t] = a + Math.Min(i0 + t, m - 1) * lda + k0;
                    TLanes.Block(kc, tileA, tileB, sums);
                    for (int r = 0; r < Tile && i0 + r < m; r++)
                        for (int s = 0; s < Tile && j0 + s < n; s++)
                        {
                            float* entry = c + (i0 + r) * ldc + j0 + s;
                            *entry = add ? *entry + sums[r * Tile + s] : sums[r * Tile + s];
                        }
                }
            }
            if (k == 0) break;
        }
    }

    /// <summary>A 4×4 block of dot products of length kc at one vector width.</summary>
    interface ILanes
    {
        static abstract unsafe void Block(int kc, float** a, float** b, float* sums);
    }

    /// <summary>The scalar tail of a block, after <paramref name="from"/> vectorised values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Tail(int from, int kc, float** a, float** b, float* sums)
    {
        for (int r = 0; r < Tile; r++)
            for (int s = 0; s < Tile; s++)
            {
                float sum = sums[r * Tile + s];
                for (int p = from; p < kc; p++) sum = MathF.FusedMultiplyAdd(a[r][p], b[s][p], sum);
                sums[r * Tile + s] = sum;
            }
    }

    readonly struct Lanes512 : ILanes
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static unsafe void Block(int kc, float** a, float** b, float* sums)
        {
            float* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
            Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
            Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
            Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
            int p = 0;
            for (; p + 16 <= kc; p += 16)
            {
                var x0 = Vector512.Load(a0 + p); var x1 = Vector512.Load(a1 + p);
                var x2 = Vector512.Load(a2 + p); var x3 = Vector512.Load(a3 + p);
                var y = Vector512.Load(b0 + p);
                s00 = Vector512.FusedMultiplyAdd(x0, y, s00); s10 = Vector512.FusedMultiplyAdd(x1, y, s10);
                s20 = Vector512.FusedMultiplyAdd(x2, y, s20); s30 = Vector512.FusedMultiplyAdd(x3, y, s30);
                y = Vector512.Load(b1 + p);
                s01 = Vector512.FusedMultiplyAdd(x0, y, s01); s11 = Vector512.FusedMultiplyAdd(x1, y, s11);
                s21 = Vector512.FusedMultiplyAdd(x2, y, s21); s31 = Vector512.FusedMultiplyAdd(x3, y, s31);
                y = Vector512.Load(b2 + p);
                s02 = Vector512.FusedMultiplyAdd(x0, y, s02); s12 = Vector512.FusedMultiplyAdd(x1, y, s12);
                s22 = Vector512.FusedMultiplyAdd(x2, y, s22); s32 = Vector512.FusedMultiplyAdd(x3, y, s32);
                y = Vector512.Load(b3 + p);
                s03 = Vector512.FusedMultiplyAdd(x0, y, s03); s13 = Vector512.FusedMultiplyAdd(x1, y, s13);
                s23 = Vector512.FusedMultiplyAdd(x2, y, s23); s33 = Vector512.FusedMultiplyAdd(x3, y, s33);
            }
            sums[0] = Vector512.Sum(s00); sums[1] = Vector512.Sum(s01);
            sums[2] = Vector512.Sum(s02); sums[3] = Vector512.Sum(s03);
            sums[4] = Vector512.Sum(s10); sums[5] = Vector512.Sum(s11);
            sums[6] = Vector512.Sum(s12); sums[7] = Vector512.Sum(s13);
            sums[8] = Vector512.Sum(s20); sums[9] = Vector512.Sum(s21);
            sums[10] = Vector512.Sum(s22); sums[11] = Vector512.Sum(s23);
            sums[12] = Vector512.Sum(s30); sums[13] = Vector512.Sum(s31);
            sums[14] = Vector512.Sum(s32); sums[15] = Vector512.Sum(s33);
            Tail(p, kc, a, b, sums);
        }
    }

    readonly struct Lanes256 : ILanes
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static unsafe void Block(int kc, float** a, float** b, float* sums)
        {
            int p = 0;
            for (int r = 0; r < Tile; r++)
            {
                // one row of A against the four of B: four accumulators, loads shared through the row
                float* x = a[r], b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (p = 0; p + 8 <= kc; p += 8)
                {
                    var v = Vector256.Load(x + p);
                    s0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b0 + p), s0);
                    s1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b1 + p), s1);
                    s2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b2 + p), s2);
                    s3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b3 + p), s3);
                }
                sums[r * Tile] = Vector256.Sum(s0); sums[r * Tile + 1] = Vector256.Sum(s1);
                sums[r * Tile + 2] = Vector256.Sum(s2); sums[r * Tile + 3] = Vector256.Sum(s3);
            }
            Tail(p, kc, a, b, sums);
        }
    }

    readonly struct Lanes128 : ILanes
    {
        public static unsafe void Block(int kc, float** a, float** b, float* sums)
        {
            new Span<float>(sums, Tile * Tile).Clear();
            Tail(0, kc, a, b, sums);
        }
    }
}
