// Generated layout, hand-checked: one accumulator register per (row, vector) of the tile, so the
// inner loop is {loads of B} + {one broadcast of A per row} + {FMAs}, and nothing else.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Recur.Kernels;

/// <summary>Portable Vector128 (any ISA .NET supports) micro-kernel: a 4×8 tile of C from packed panels of A (4 rows)
/// and B (8 columns).</summary>
internal readonly struct PortableKernel : IGemmMicroKernel
{
    public static int Mr => 4;
    public static int Nr => 8;
    public static bool IsSupported => true;
    public static int PartialRows(int rows) => 0;

    public static unsafe void RunPartial(int tileRows, int kc, float* pa, float* pb, float* c, nint ldc,
        bool accumulate, float* bias, float* rowBias) =>
        throw new NotSupportedException("this micro-kernel has no partial tile");

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(int kc, float* pa, float* pb, float* c, nint ldc, bool accumulate, float* bias,
        float* rowBias)
    {
        Vector128<float> c00 = default; Vector128<float> c01 = default;
        Vector128<float> c10 = default; Vector128<float> c11 = default;
        Vector128<float> c20 = default; Vector128<float> c21 = default;
        Vector128<float> c30 = default; Vector128<float> c31 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector128.Load(pb + 0); var b1 = Vector128.Load(pb + 4);
            var a0 = Vector128.Create(pa[0]); c00 = Vector128.MultiplyAddEstimate(a0, b0,
                c00); c01 = Vector128.MultiplyAddEstimate(a0, b1, c01);
            var a1 = Vector128.Create(pa[1]); c10 = Vector128.MultiplyAddEstimate(a1, b0,
                c10); c11 = Vector128.MultiplyAddEstimate(a1, b1, c11);
            var a2 = Vector128.Create(pa[2]); c20 = Vector128.MultiplyAddEstimate(a2, b0,
                c20); c21 = Vector128.MultiplyAddEstimate(a2, b1, c21);
            var a3 = Vector128.Create(pa[3]); c30 = Vector128.MultiplyAddEstimate(a3, b0,
                c30); c31 = Vector128.MultiplyAddEstimate(a3, b1, c31);
            pa += 4;
            pb += 8;
        }
        if (bias != null)
        {
            var bias0 = Vector128.Load(bias + 0); var bias1 = Vector128.Load(bias + 4);
            c00 += bias0; c01 += bias1;
            c10 += bias0; c11 += bias1;
            c20 += bias0; c21 += bias1;
            c30 += bias0; c31 += bias1;
        }
        if (accumulate)
        {
            c00 += Vector128.Load(c + 0 * ldc + 0); c01 += Vector128.Load(c + 0 * ldc + 4);
            c10 += Vector128.Load(c + 1 * ldc + 0); c11 += Vector128.Load(c + 1 * ldc + 4);
            c20 += Vector128.Load(c + 2 * ldc + 0); c21 += Vector128.Load(c + 2 * ldc + 4);
            c30 += Vector128.Load(c + 3 * ldc + 0); c31 += Vector128.Load(c + 3 * ldc + 4);
        }
        if (rowBias != null)
        {
            var r0 = Vector128.Create(rowBias[0]); c00 += r0; c01 += r0;
            var r1 = Vector128.Create(rowBias[1]); c10 += r1; c11 += r1;
            var r2 = Vector128.Create(rowBias[2]); c20 += r2; c21 += r2;
            var r3 = Vector128.Create(rowBias[3]); c30 += r3; c31 += r3;
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 4);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 4);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 4);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RunRow(int kc, float* pa, int aStride, float* pb, float* c, bool accumulate, float* bias,
        float* rowBias)
    {
        // four independent chains over k hide the FMA latency; one row has no other parallelism
        Vector128<float> c00 = default; Vector128<float> c10 = default;
        Vector128<float> c01 = default; Vector128<float> c11 = default;
        Vector128<float> c02 = default; Vector128<float> c12 = default;
        Vector128<float> c03 = default; Vector128<float> c13 = default;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            var a0 = Vector128.Create(pa[0 * aStride]); c00 = Vector128.MultiplyAddEstimate(a0, Vector128.Load(pb + 0),
                c00); c10 = Vector128.MultiplyAddEstimate(a0, Vector128.Load(pb + 4), c10);
            var a1 = Vector128.Create(pa[1 * aStride]); c01 = Vector128.MultiplyAddEstimate(a1, Vector128.Load(pb + 8),
                c01); c11 = Vector128.MultiplyAddEstimate(a1, Vector128.Load(pb + 12), c11);
            var a2 = Vector128.Create(pa[2 * aStride]); c02 = Vector128.MultiplyAddEstimate(a2,
                Vector128.Load(pb + 16), c02); c12 = Vector128.MultiplyAddEstimate(a2, Vector128.Load(pb + 20), c12);
            var a3 = Vector128.Create(pa[3 * aStride]); c03 = Vector128.MultiplyAddEstimate(a3,
                Vector128.Load(pb + 24), c03); c13 = Vector128.MultiplyAddEstimate(a3, Vector128.Load(pb + 28), c13);
            pa += 4 * aStride;
            pb += 32;
        }
        for (; p < kc; p++)
        {
            var a = Vector128.Create(*pa);
            c00 = Vector128.MultiplyAddEstimate(a, Vector128.Load(pb + 0), c00); c10 = Vector128.MultiplyAddEstimate(a,
                Vector128.Load(pb + 4), c10);
            pa += aStride;
            pb += 8;
        }
        var c0 = (c00 + c01) + (c02 + c03); var c1 = (c10 + c11) + (c12 + c13);
        if (bias != null) { c0 += Vector128.Load(bias + 0); c1 += Vector128.Load(bias + 4); }
        if (accumulate) { c0 += Vector128.Load(c + 0); c1 += Vector128.Load(c + 4); }
        if (rowBias != null) { var r = Vector128.Create(*rowBias); c0 += r; c1 += r; }
        c0.Store(c + 0); c1.Store(c + 4);
    }
}
