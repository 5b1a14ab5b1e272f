// Generated layout, hand-checked: one accumulator register per (row, vector) of the tile, so the
// inner loop is {loads of B} + {one broadcast of A per row} + {FMAs}, and nothing else.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>AVX2 + FMA micro-kernel: a 6×16 tile of C from packed panels of A (6 rows) and B (16 columns).</summary>
internal readonly struct Avx2Kernel : IGemmMicroKernel
{
    public static int Mr => 6;
    public static int Nr => 16;
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;
    public static int PartialRows(int rows) => 0;

    public static unsafe void RunPartial(int tileRows, int kc, float* pa, float* pb, float* c, nint ldc,
        bool accumulate, float* bias, float* rowBias) =>
        throw new NotSupportedException("this micro-kernel has no partial tile");

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(int kc, float* pa, float* pb, float* c, nint ldc, bool accumulate, float* bias,
        float* rowBias)
    {
        Vector256<float> c00 = default; Vector256<float> c01 = default;
        Vector256<float> c10 = default; Vector256<float> c11 = default;
        Vector256<float> c20 = default; Vector256<float> c21 = default;
        Vector256<float> c30 = default; Vector256<float> c31 = default;
        Vector256<float> c40 = default; Vector256<float> c41 = default;
        Vector256<float> c50 = default; Vector256<float> c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(pb + 0); var b1 = Vector256.Load(pb + 8);
            var a0 = Vector256.Create(pa[0]); c00 = Fma.MultiplyAdd(a0, b0, c00); c01 = Fma.MultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(pa[1]); c10 = Fma.MultiplyAdd(a1, b0, c10); c11 = Fma.MultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(pa[2]); c20 = Fma.MultiplyAdd(a2, b0, c20); c21 = Fma.MultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(pa[3]); c30 = Fma.MultiplyAdd(a3, b0, c30); c31 = Fma.MultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(pa[4]); c40 = Fma.MultiplyAdd(a4, b0, c40); c41 = Fma.MultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(pa[5]); c50 = Fma.MultiplyAdd(a5, b0, c50); c51 = Fma.MultiplyAdd(a5, b1, c51);
            pa += 6;
            pb += 16;
        }
        if (bias != null)
        {
            var bias0 = Vector256.Load(bias + 0); var bias1 = Vector256.Load(bias + 8);
            c00 += bias0; c01 += bias1;
            c10 += bias0; c11 += bias1;
            c20 += bias0; c21 += bias1;
            c30 += bias0; c31 += bias1;
            c40 += bias0; c41 += bias1;
            c50 += bias0; c51 += bias1;
        }
        if (accumulate)
        {
            c00 += Vector256.Load(c + 0 * ldc + 0); c01 += Vector256.Load(c + 0 * ldc + 8);
            c10 += Vector256.Load(c + 1 * ldc + 0); c11 += Vector256.Load(c + 1 * ldc + 8);
            c20 += Vector256.Load(c + 2 * ldc + 0); c21 += Vector256.Load(c + 2 * ldc + 8);
            c30 += Vector256.Load(c + 3 * ldc + 0); c31 += Vector256.Load(c + 3 * ldc + 8);
            c40 += Vector256.Load(c + 4 * ldc + 0); c41 += Vector256.Load(c + 4 * ldc + 8);
            c50 += Vector256.Load(c + 5 * ldc + 0); c51 += Vector256.Load(c + 5 * ldc + 8);
        }
        if (rowBias != null)
        {
            var r0 = Vector256.Create(rowBias[0]); c00 += r0; c01 += r0;
            var r1 = Vector256.Create(rowBias[1]); c10 += r1; c11 += r1;
            var r2 = Vector256.Create(rowBias[2]); c20 += r2; c21 += r2;
            var r3 = Vector256.Create(rowBias[3]); c30 += r3; c31 += r3;
            var r4 = Vector256.Create(rowBias[4]); c40 += r4; c41 += r4;
            var r5 = Vector256.Create(rowBias[5]); c50 += r5; c51 += r5;
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 8);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 8);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 8);
        c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 8);
        c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RunRow(int kc, float* pa, int aStride, float* pb, float* c, bool accumulate, float* bias,
        float* rowBias)
    {
        // four independent chains over k hide the FMA latency; one row has no other parallelism
        Vector256<float> c00 = default; Vector256<float> c10 = default;
        Vector256<float> c01 = default; Vector256<float> c11 = default;
        Vector256<float> c02 = default; Vector256<float> c12 = default;
        Vector256<float> c03 = default; Vector256<float> c13 = default;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            var a0 = Vector256.Create(pa[0 * aStride]); c00 = Fma.MultiplyAdd(a0, Vector256.Load(pb + 0),
                c00); c10 = Fma.MultiplyAdd(a0, Vector256.Load(pb + 8), c10);
            var a1 = Vector256.Create(pa[1 * aStride]); c01 = Fma.MultiplyAdd(a1, Vector256.Load(pb + 16),
                c01); c11 = Fma.MultiplyAdd(a1, Vector256.Load(pb + 24), c11);
            var a2 = Vector256.Create(pa[2 * aStride]); c02 = Fma.MultiplyAdd(a2, Vector256.Load(pb + 32),
                c02); c12 = Fma.MultiplyAdd(a2, Vector256.Load(pb + 40), c12);
            var a3 = Vector256.Create(pa[3 * aStride]); c03 = Fma.MultiplyAdd(a3, Vector256.Load(pb + 48),
                c03); c13 = Fma.MultiplyAdd(a3, Vector256.Load(pb + 56), c13);
            pa += 4 * aStride;
            pb += 64;
        }
        for (; p < kc; p++)
        {
            var a = Vector256.Create(*pa);
            c00 = Fma.MultiplyAdd(a, Vector256.Load(pb + 0), c00); c10 = Fma.MultiplyAdd(a, Vector256.Load(pb + 8),
                c10);
            pa += aStride;
            pb += 16;
        }
        var c0 = (c00 + c01) + (c02 + c03); var c1 = (c10 + c11) + (c12 + c13);
        if (bias != null) { c0 += Vector256.Load(bias + 0); c1 += Vector256.Load(bias + 8); }
        if (accumulate) { c0 += Vector256.Load(c + 0); c1 += Vector256.Load(c + 8); }
        if (rowBias != null) { var r = Vector256.Create(*rowBias); c0 += r; c1 += r; }
        c0.Store(c + 0); c1.Store(c + 8);
    }
}
