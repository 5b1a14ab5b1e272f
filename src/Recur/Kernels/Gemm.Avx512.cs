// Generated layout, hand-checked: one accumulator register per (row, vector) of the tile, so the
// inner loop is {loads of B} + {one broadcast of A per row} + {FMAs}, and nothing else.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>AVX-512F micro-kernel: a 12×32 tile of C from packed panels of A (12 rows) and B (32 columns).</summary>
internal readonly struct Avx512Kernel : IGemmMicroKernel
{
    public static int Mr => 12;
    public static int Nr => 32;
    public static bool IsSupported => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(int kc, float* pa, float* pb, float* c, nint ldc, bool accumulate, float* bias,
        float* rowBias)
    {
        Vector512<float> c00 = default; Vector512<float> c01 = default;
        Vector512<float> c10 = default; Vector512<float> c11 = default;
        Vector512<float> c20 = default; Vector512<float> c21 = default;
        Vector512<float> c30 = default; Vector512<float> c31 = default;
        Vector512<float> c40 = default; Vector512<float> c41 = default;
        Vector512<float> c50 = default; Vector512<float> c51 = default;
        Vector512<float> c60 = default; Vector512<float> c61 = default;
        Vector512<float> c70 = default; Vector512<float> c71 = default;
        Vector512<float> c80 = default; Vector512<float> c81 = default;
        Vector512<float> c90 = default; Vector512<float> c91 = default;
        Vector512<float> c100 = default; Vector512<float> c101 = default;
        Vector512<float> c110 = default; Vector512<float> c111 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(pb + 0); var b1 = Vector512.Load(pb + 16);
            var a0 = Vector512.Create(pa[0]); c00 = Avx512F.FusedMultiplyAdd(a0, b0,
                c00); c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(pa[1]); c10 = Avx512F.FusedMultiplyAdd(a1, b0,
                c10); c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(pa[2]); c20 = Avx512F.FusedMultiplyAdd(a2, b0,
                c20); c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(pa[3]); c30 = Avx512F.FusedMultiplyAdd(a3, b0,
                c30); c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(pa[4]); c40 = Avx512F.FusedMultiplyAdd(a4, b0,
                c40); c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(pa[5]); c50 = Avx512F.FusedMultiplyAdd(a5, b0,
                c50); c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(pa[6]); c60 = Avx512F.FusedMultiplyAdd(a6, b0,
                c60); c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(pa[7]); c70 = Avx512F.FusedMultiplyAdd(a7, b0,
                c70); c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
            var a8 = Vector512.Create(pa[8]); c80 = Avx512F.FusedMultiplyAdd(a8, b0,
                c80); c81 = Avx512F.FusedMultiplyAdd(a8, b1, c81);
            var a9 = Vector512.Create(pa[9]); c90 = Avx512F.FusedMultiplyAdd(a9, b0,
                c90); c91 = Avx512F.FusedMultiplyAdd(a9, b1, c91);
            var a10 = Vector512.Create(pa[10]); c100 = Avx512F.FusedMultiplyAdd(a10, b0,
                c100); c101 = Avx512F.FusedMultiplyAdd(a10, b1, c101);
            var a11 = Vector512.Create(pa[11]); c110 = Avx512F.FusedMultiplyAdd(a11, b0,
                c110); c111 = Avx512F.FusedMultiplyAdd(a11, b1, c111);
            pa += 12;
            pb += 32;
        }
        if (bias != null)
        {
            var bias0 = Vector512.Load(bias + 0); var bias1 = Vector512.Load(bias + 16);
            c00 += bias0; c01 += bias1;
            c10 += bias0; c11 += bias1;
            c20 += bias0; c21 += bias1;
            c30 += bias0; c31 += bias1;
            c40 += bias0; c41 += bias1;
            c50 += bias0; c51 += bias1;
            c60 += bias0; c61 += bias1;
            c70 += bias0; c71 += bias1;
            c80 += bias0; c81 += bias1;
            c90 += bias0; c91 += bias1;
            c100 += bias0; c101 += bias1;
            c110 += bias0; c111 += bias1;
        }
        if (accumulate)
        {
            c00 += Vector512.Load(c + 0 * ldc + 0); c01 += Vector512.Load(c + 0 * ldc + 16);
            c10 += Vector512.Load(c + 1 * ldc + 0); c11 += Vector512.Load(c + 1 * ldc + 16);
            c20 += Vector512.Load(c + 2 * ldc + 0); c21 += Vector512.Load(c + 2 * ldc + 16);
            c30 += Vector512.Load(c + 3 * ldc + 0); c31 += Vector512.Load(c + 3 * ldc + 16);
            c40 += Vector512.Load(c + 4 * ldc + 0); c41 += Vector512.Load(c + 4 * ldc + 16);
            c50 += Vector512.Load(c + 5 * ldc + 0); c51 += Vector512.Load(c + 5 * ldc + 16);
            c60 += Vector512.Load(c + 6 * ldc + 0); c61 += Vector512.Load(c + 6 * ldc + 16);
            c70 += Vector512.Load(c + 7 * ldc + 0); c71 += Vector512.Load(c + 7 * ldc + 16);
            c80 += Vector512.Load(c + 8 * ldc + 0); c81 += Vector512.Load(c + 8 * ldc + 16);
            c90 += Vector512.Load(c + 9 * ldc + 0); c91 += Vector512.Load(c + 9 * ldc + 16);
            c100 += Vector512.Load(c + 10 * ldc + 0); c101 += Vector512.Load(c + 10 * ldc + 16);
            c110 += Vector512.Load(c + 11 * ldc + 0); c111 += Vector512.Load(c + 11 * ldc + 16);
        }
        if (rowBias != null)
        {
            var r0 = Vector512.Create(rowBias[0]); c00 += r0; c01 += r0;
            var r1 = Vector512.Create(rowBias[1]); c10 += r1; c11 += r1;
            var r2 = Vector512.Create(rowBias[2]); c20 += r2; c21 += r2;
            var r3 = Vector512.Create(rowBias[3]); c30 += r3; c31 += r3;
            var r4 = Vector512.Create(rowBias[4]); c40 += r4; c41 += r4;
            var r5 = Vector512.Create(rowBias[5]); c50 += r5; c51 += r5;
            var r6 = Vector512.Create(rowBias[6]); c60 += r6; c61 += r6;
            var r7 = Vector512.Create(rowBias[7]); c70 += r7; c71 += r7;
            var r8 = Vector512.Create(rowBias[8]); c80 += r8; c81 += r8;
            var r9 = Vector512.Create(rowBias[9]); c90 += r9; c91 += r9;
            var r10 = Vector512.Create(rowBias[10]); c100 += r10; c101 += r10;
            var r11 = Vector512.Create(rowBias[11]); c110 += r11; c111 += r11;
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 16);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 16);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc + 0); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc + 0); c71.Store(c + 7 * ldc + 16);
        c80.Store(c + 8 * ldc + 0); c81.Store(c + 8 * ldc + 16);
        c90.Store(c + 9 * ldc + 0); c91.Store(c + 9 * ldc + 16);
        c100.Store(c + 10 * ldc + 0); c101.Store(c + 10 * ldc + 16);
        c110.Store(c + 11 * ldc + 0); c111.Store(c + 11 * ldc + 16);
    }

    /// <summary>Panels of 3–4 rows take a 4-row tile, of 5–8 rows an 8-row one; others none.</summary>
    public static int PartialRows(int rows) => rows switch { 3 or 4 => 4, >= 5 and <= 8 => 8, _ => 0 };

    /// <summary>Rows 0 to <paramref name="tileRows"/> − 1 of <see cref="Run"/> (4 or 8): the same loads of B,
    /// broadcasts of A (panel stride still 12) and FMAs in the same order, for that share of the work.</summary>
    public static unsafe void RunPartial(int tileRows, int kc, float* pa, float* pb, float* c, nint ldc,
        bool accumulate, float* bias, float* rowBias)
    {
        if (tileRows == 8) Run8(kc, pa, pb, c, ldc, accumulate, bias, rowBias);
        else Run4(kc, pa, pb, c, ldc, accumulate, bias, rowBias);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Run8(int kc, float* pa, float* pb, float* c, nint ldc, bool accumulate, float* bias,
        float* rowBias)
    {
        Vector512<float> c00 = default; Vector512<float> c01 = default;
        Vector512<float> c10 = default; Vector512<float> c11 = default;
        Vector512<float> c20 = default; Vector512<float> c21 = default;
        Vector512<float> c30 = default; Vector512<float> c31 = default;
        Vector512<float> c40 = default; Vector512<float> c41 = default;
        Vector512<float> c50 = default; Vector512<float> c51 = default;
        Vector512<float> c60 = default; Vector512<float> c61 = default;
        Vector512<float> c70 = default; Vector512<float> c71 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(pb + 0); var b1 = Vector512.Load(pb + 16);
            var a0 = Vector512.Create(pa[0]); c00 = Avx512F.FusedMultiplyAdd(a0, b0,
                c00); c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(pa[1]); c10 = Avx512F.FusedMultiplyAdd(a1, b0,
                c10); c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(pa[2]); c20 = Avx512F.FusedMultiplyAdd(a2, b0,
                c20); c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(pa[3]); c30 = Avx512F.FusedMultiplyAdd(a3, b0,
                c30); c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(pa[4]); c40 = Avx512F.FusedMultiplyAdd(a4, b0,
                c40); c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(pa[5]); c50 = Avx512F.FusedMultiplyAdd(a5, b0,
                c50); c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(pa[6]); c60 = Avx512F.FusedMultiplyAdd(a6, b0,
                c60); c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(pa[7]); c70 = Avx512F.FusedMultiplyAdd(a7, b0,
                c70); c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
            pa += 12;
            pb += 32;
        }
        if (bias != null)
        {
            var bias0 = Vector512.Load(bias + 0); var bias1 = Vector512.Load(bias + 16);
            c00 += bias0; c01 += bias1;
            c10 += bias0; c11 += bias1;
            c20 += bias0; c21 += bias1;
            c30 += bias0; c31 += bias1;
            c40 += bias0; c41 += bias1;
            c50 += bias0; c51 += bias1;
            c60 += bias0; c61 += bias1;
            c70 += bias0; c71 += bias1;
        }
        if (accumulate)
        {
            c00 += Vector512.Load(c + 0 * ldc + 0); c01 += Vector512.Load(c + 0 * ldc + 16);
            c10 += Vector512.Load(c + 1 * ldc + 0); c11 += Vector512.Load(c + 1 * ldc + 16);
            c20 += Vector512.Load(c + 2 * ldc + 0); c21 += Vector512.Load(c + 2 * ldc + 16);
            c30 += Vector512.Load(c + 3 * ldc + 0); c31 += Vector512.Load(c + 3 * ldc + 16);
            c40 += Vector512.Load(c + 4 * ldc + 0); c41 += Vector512.Load(c + 4 * ldc + 16);
            c50 += Vector512.Load(c + 5 * ldc + 0); c51 += Vector512.Load(c + 5 * ldc + 16);
            c60 += Vector512.Load(c + 6 * ldc + 0); c61 += Vector512.Load(c + 6 * ldc + 16);
            c70 += Vector512.Load(c + 7 * ldc + 0); c71 += Vector512.Load(c + 7 * ldc + 16);
        }
        if (rowBias != null)
        {
            var r0 = Vector512.Create(rowBias[0]); c00 += r0; c01 += r0;
            var r1 = Vector512.Create(rowBias[1]); c10 += r1; c11 += r1;
            var r2 = Vector512.Create(rowBias[2]); c20 += r2; c21 += r2;
            var r3 = Vector512.Create(rowBias[3]); c30 += r3; c31 += r3;
            var r4 = Vector512.Create(rowBias[4]); c40 += r4; c41 += r4;
            var r5 = Vector512.Create(rowBias[5]); c50 += r5; c51 += r5;
            var r6 = Vector512.Create(rowBias[6]); c60 += r6; c61 += r6;
            var r7 = Vector512.Create(rowBias[7]); c70 += r7; c71 += r7;
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 16);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 16);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc + 0); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc + 0); c71.Store(c + 7 * ldc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Run4(int kc, float* pa, float* pb, float* c, nint ldc, bool accumulate, float* bias,
        float* rowBias)
    {
        Vector512<float> c00 = default; Vector512<float> c01 = default;
        Vector512<float> c10 = default; Vector512<float> c11 = default;
        Vector512<float> c20 = default; Vector512<float> c21 = default;
        Vector512<float> c30 = default; Vector512<float> c31 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(pb + 0); var b1 = Vector512.Load(pb + 16);
            var a0 = Vector512.Create(pa[0]); c00 = Avx512F.FusedMultiplyAdd(a0, b0,
                c00); c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(pa[1]); c10 = Avx512F.FusedMultiplyAdd(a1, b0,
                c10); c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(pa[2]); c20 = Avx512F.FusedMultiplyAdd(a2, b0,
                c20); c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(pa[3]); c30 = Avx512F.FusedMultiplyAdd(a3, b0,
                c30); c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            pa += 12;
            pb += 32;
        }
        if (bias != null)
        {
            var bias0 = Vector512.Load(bias + 0); var bias1 = Vector512.Load(bias + 16);
            c00 += bias0; c01 += bias1;
            c10 += bias0; c11 += bias1;
            c20 += bias0; c21 += bias1;
            c30 += bias0; c31 += bias1;
        }
        if (accumulate)
        {
            c00 += Vector512.Load(c + 0 * ldc + 0); c01 += Vector512.Load(c + 0 * ldc + 16);
            c10 += Vector512.Load(c + 1 * ldc + 0); c11 += Vector512.Load(c + 1 * ldc + 16);
            c20 += Vector512.Load(c + 2 * ldc + 0); c21 += Vector512.Load(c + 2 * ldc + 16);
            c30 += Vector512.Load(c + 3 * ldc + 0); c31 += Vector512.Load(c + 3 * ldc + 16);
        }
        if (rowBias != null)
        {
            var r0 = Vector512.Create(rowBias[0]); c00 += r0; c01 += r0;
            var r1 = Vector512.Create(rowBias[1]); c10 += r1; c11 += r1;
            var r2 = Vector512.Create(rowBias[2]); c20 += r2; c21 += r2;
            var r3 = Vector512.Create(rowBias[3]); c30 += r3; c31 += r3;
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 16);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 16);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RunRow(int kc, float* pa, int aStride, float* pb, float* c, bool accumulate, float* bias,
        float* rowBias)
    {
        // four independent chains over k hide the FMA latency; one row has no other parallelism
        Vector512<float> c00 = default; Vector512<float> c10 = default;
        Vector512<float> c01 = default; Vector512<float> c11 = default;
        Vector512<float> c02 = default; Vector512<float> c12 = default;
        Vector512<float> c03 = default; Vector512<float> c13 = default;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            var a0 = Vector512.Create(pa[0 * aStride]); c00 = Avx512F.FusedMultiplyAdd(a0, Vector512.Load(pb + 0),
                c00); c10 = Avx512F.FusedMultiplyAdd(a0, Vector512.Load(pb + 16), c10);
            var a1 = Vector512.Create(pa[1 * aStride]); c01 = Avx512F.FusedMultiplyAdd(a1, Vector512.Load(pb + 32),
                c01); c11 = Avx512F.FusedMultiplyAdd(a1, Vector512.Load(pb + 48), c11);
            var a2 = Vector512.Create(pa[2 * aStride]); c02 = Avx512F.FusedMultiplyAdd(a2, Vector512.Load(pb + 64),
                c02); c12 = Avx512F.FusedMultiplyAdd(a2, Vector512.Load(pb + 80), c12);
            var a3 = Vector512.Create(pa[3 * aStride]); c03 = Avx512F.FusedMultiplyAdd(a3, Vector512.Load(pb + 96),
                c03); c13 = Avx512F.FusedMultiplyAdd(a3, Vector512.Load(pb + 112), c13);
            pa += 4 * aStride;
            pb += 128;
        }
        for (; p < kc; p++)
        {
            var a = Vector512.Create(*pa);
            c00 = Avx512F.FusedMultiplyAdd(a, Vector512.Load(pb + 0), c00); c10 = Avx512F.FusedMultiplyAdd(a,
                Vector512.Load(pb + 16), c10);
            pa += aStride;
            pb += 32;
        }
        var c0 = (c00 + c01) + (c02 + c03); var c1 = (c10 + c11) + (c12 + c13);
        if (bias != null) { c0 += Vector512.Load(bias + 0); c1 += Vector512.Load(bias + 16); }
        if (accumulate) { c0 += Vector512.Load(c + 0); c1 += Vector512.Load(c + 16); }
        if (rowBias != null) { var r = Vector512.Create(*rowBias); c0 += r; c1 += r; }
        c0.Store(c + 0); c1.Store(c + 16);
    }
}
