using System.Runtime.Intrinsics;

namespace Recur.Kernels;

/// <summary>Gradients of elementwise activations in one vectorised pass over memory.</summary>
internal static class Activations
{
    /// <summary>
    /// ReLU's gradient: <c>g</c> where <c>x &gt; 0</c>, else 0 (NaN and 0 included), written to
    /// <paramref name="dx"/> or, with <paramref name="accumulate"/>, added to it.
    /// </summary>
    public static unsafe void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx,
        bool accumulate)
    {
        int n = x.Length;
        if (g.Length != n || dx.Length != n) throw new ArgumentException("Activations: spans of different lengths.");
        fixed (float* px = x, pg = g, pd = dx)
        {
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= n; i += 16)
                {
                    var v = Vector512.ConditionalSelect(Vector512.GreaterThan(Vector512.Load(px + i),
                        Vector512<float>.Zero), Vector512.Load(pg + i), Vector512<float>.Zero);
                    if (accumulate) v += Vector512.Load(pd + i);
                    v.Store(pd + i);
                }
            }
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.ConditionalSelect(Vector256.GreaterThan(Vector256.Load(px + i),
                    Vector256<float>.Zero), Vector256.Load(pg + i), Vector256<float>.Zero);
                if (accumulate) v += Vector256.Load(pd + i);
                v.Store(pd + i);
            }
            for (; i < n; i++)
            {
                float v = px[i] > 0f ? pg[i] : 0f;
                pd[i] = accumulate ? pd[i] + v : v;
            }
        }
    }
}
