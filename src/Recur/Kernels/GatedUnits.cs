using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Recur.Kernels;

/// <summary>
/// WaveNet's gated unit y = tanh(f) ⊙ σ(g) — one definition for training (<c>Functional.GatedTanh</c>) and
/// generation (<c>WaveNetGenerator</c>) — and its gradient in one pass over memory: for the saved t = tanh(f) and
/// s = σ(g) and the output gradient dy, ∂L/∂f = dy·s·(1 − t²) and ∂L/∂g = dy·t·s·(1 − s). On tensors of megabytes
/// these are bound by memory traffic, so each value is read once and each gradient written once (or added to once).
/// </summary>
internal static class GatedUnits
{
    /// <summary>
    /// y = tanh(f) ⊙ σ(g), keeping t = tanh(f) and s = σ(g) for the backward. All spans have the same length;
    /// <paramref name="tanh"/> and <paramref name="sigmoid"/> may be the inputs they are computed from, and
    /// <paramref name="y"/> may be either of them.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> filter, ReadOnlySpan<float> gate, Span<float> tanh,
        Span<float> sigmoid, Span<float> y)
    {
        Squashing.Tanh(filter, tanh);
        Squashing.Sigmoid(gate, sigmoid);
        TensorPrimitives.Multiply(tanh, sigmoid, y);
    }

    /// <summary>
    /// Writes (or with <paramref name="accumulate"/> adds) the gradients of the filter and gate halves. All spans
    /// have the same length; the outputs may not alias the inputs.
    /// </summary>
    public static unsafe void Backward(ReadOnlySpan<float> tanh, ReadOnlySpan<float> sigmoid, ReadOnlySpan<float> grad,
        Span<float> filterGrad, Span<float> gateGrad, bool accumulate)
    {
        int n = tanh.Length;
        if (sigmoid.Length != n || grad.Length != n || filterGrad.Length != n || gateGrad.Length != n)
            throw new ArgumentException("GatedUnits: spans of different lengths.");
        fixed (float* t = tanh, s = sigmoid, g = grad, df = filterGrad, dg = gateGrad)
        {
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= n; i += 16)
                {
                    var tv = Vector512.Load(t + i); var sv = Vector512.Load(s + i); var gv = Vector512.Load(g + i);
                    var gs = gv * sv;
                    var f = gs * (Vector512<float>.One - tv * tv);
                    var q = gs * tv * (Vector512<float>.One - sv);
                    if (accumulate) { f += Vector512.Load(df + i); q += Vector512.Load(dg + i); }
                    f.Store(df + i);
                    q.Store(dg + i);
                }
            }
            for (; i + 8 <= n; i += 8)
            {
                var tv = Vector256.Load(t + i); var sv = Vector256.Load(s + i); var gv = Vector256.Load(g + i);
                var gs = gv * sv;
                var f = gs * (Vector256<float>.One - tv * tv);
                var q = gs * tv * (Vector256<float>.One - sv);
                if (accumulate) { f += Vector256.Load(df + i); q += Vector256.Load(dg + i); }
                f.Store(df + i);
                q.Store(dg + i);
            }
            for (; i < n; i++) Scalar(t[i], s[i], g[i], df + i, dg + i, accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Scalar(float t, float s, float g, float* df, float* dg, bool accumulate)
    {
        float gs = g * s, f = gs * (1f - t * t), q = gs * t * (1f - s);
        *df = accumulate ? *df + f : f;
        *dg = accumulate ? *dg + q : q;
    }
}
