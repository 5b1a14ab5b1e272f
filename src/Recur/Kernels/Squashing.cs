using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Recur.Kernels;

/// <summary>
/// The squashing functions of recurrent cells — σ and tanh — in single precision, and the LSTM cell built on them,
/// each one pass over memory. A step of an LSTM at batch 64 spent about an eighth of its time in its five σ and tanh
/// per unit when they went through <c>TensorPrimitives</c> (which evaluates the exponential in double precision);
/// these are two to three times faster and within a few units in the last place of the exact values:
/// <list type="bullet">
/// <item>eˣ: x = n·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 split in two parts, Cody &amp; Waite), e^r − 1 = r·p(r) with p
/// the Taylor polynomial of (e^r − 1)/r through r⁶ (truncation below 6e-9 relative), then scaled by 2ⁿ;</item>
/// <item>σ(x) = 1 / (1 + e^−x);</item>
/// <item>tanh(x) = −m / (2 + m) with m = e^(−2|x|) − 1 computed as above as 2ⁿ·r·p(r) + (2ⁿ − 1), so small |x| keep
/// their relative accuracy (no 1 − e^… cancellation), and the sign of x restored.</item>
/// </list>
/// Every lane follows the same operations whatever the vector width, and partial vectors run through the same code on a
/// padded copy, so a value never depends on where it sits in a span — which keeps results independent of how units
/// are split across threads.
/// </summary>
internal static class Squashing
{
    const float Log2E = 1.44269504088896341f;
    const float Ln2High = 0.693359375f;      // ln 2 rounded to few bits, so n·Ln2High is exact
    const float Ln2Low = -2.12194440e-4f;    // ln 2 − Ln2High
    const float ExpLow = -87.33f, ExpHigh = 88.3f; // 2ⁿ stays a normal float
    const float TanhLimit = 9.1f;             // tanh rounds to ±1 beyond it

    /// <summary>σ of each element of <paramref name="x"/> into <paramref name="y"/> (which may be x).</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y) => Map<SigmoidFunction>(x, y);

    /// <summary>tanh of each element of <paramref name="x"/> into <paramref name="y"/> (which may be x).</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y) => Map<TanhFunction>(x, y);

    /// <summary>A function of this class lane by lane, at either vector width (a struct, so that <see
    /// cref="Map{TFunction}"/> is compiled for each and the calls inlined).</summary>
    interface ILaneFunction
    {
        static abstract Vector512<float> Of(Vector512<float> x);

        static abstract Vector256<float> Of(Vector256<float> x);
    }

    readonly struct SigmoidFunction : ILaneFunction
    {
        public static Vector512<float> Of(Vector512<float> x) => Sigmoid(x);

        public static Vector256<float> Of(Vector256<float> x) => Sigmoid(x);
    }

    readonly struct TanhFunction : ILaneFunction
    {
        public static Vector512<float> Of(Vector512<float> x) => Tanh(x);

        public static Vector256<float> Of(Vector256<float> x) => Tanh(x);
    }

    /// <summary><typeparamref name="TFunction"/> of each element of <paramref name="x"/> into <paramref name="y"/>
    /// (which may be x): whole vectors, then the last elements through the same code on a zero-padded copy.</summary>
    static unsafe void Map<TFunction>(ReadOnlySpan<float> x, Span<float> y) where TFunction : struct, ILaneFunction
    {
        if (x.Length != y.Length)
            throw new ArgumentException($"Squashing: input of {x.Length} elements but output of {y.Length}.");
        fixed (float* px = x, py = y)
        {
            int n = x.Length, i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16) TFunction.Of(Vector512.Load(px + i)).Store(py + i);
            else
                for (; i + 8 <= n; i += 8) TFunction.Of(Vector256.Load(px + i)).Store(py + i);
            if (i == n) return;
            float* buffer = stackalloc float[16];
            new Span<float>(buffer, 16).Clear();
            new ReadOnlySpan<float>(px + i, n - i).CopyTo(new Span<float>(buffer, 16));
            if (Vector512.IsHardwareAccelerated) TFunction.Of(Vector512.Load(buffer)).Store(buffer);
            else TFunction.Of(Vector256.Load(buffer)).Store(buffer);
            new ReadOnlySpan<float>(buffer, n - i).CopyTo(new Span<float>(py + i, n - i));
        }
    }

    /// <summary>
    /// One LSTM step for a row of <c>n</c> units: <paramref name="gates"/> holds the pre-activations of the i, f, g, o
    /// blocks (n each) on entry and σ(i), σ(f), tanh(g), σ(o) on exit; c = f ⊙ c_prev + i ⊙ g and h = o ⊙ tanh(c).
    /// </summary>
    public static unsafe void LstmForward(Span<float> gates, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> h)
    {
        int n = h.Length;
        if (gates.Length < 4 * n || cPrev.Length != n || c.Length != n)
            throw new ArgumentException("Squashing: LSTM spans of inconsistent lengths.");
        fixed (float* pg = gates, pcp = cPrev, pc = c, ph = h)
            LstmForward(n, pg, n, null, 0, pcp, pc, ph);
    }

    /// <summary>
    /// One LSTM step for <paramref name="n"/> units whose gate blocks start <paramref name="stride"/> floats apart in
    /// <paramref name="gates"/>; with <paramref name="addend"/> (blocks <paramref name="addendStride"/> apart), each
    /// pre-activation is the sum of the two, added in the same pass. The activated gates are written back to
    /// <paramref name="gates"/>.
    /// </summary>
    public static unsafe void LstmForward(int n, float* gates, int stride, float* addend, int addendStride,
        float* cPrev, float* c, float* h)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + 16 <= n; j += 16)
                Lstm512(gates + j, stride, addend == null ? null : addend + j, addendStride, cPrev + j, c + j, h + j);
        else
            for (; j + 8 <= n; j += 8)
                Lstm256(gates + j, stride, addend == null ? null : addend + j, addendStride, cPrev + j, c + j, h + j);
        if (j == n) return;
        // the last units through the same code on a padded copy
        int rest = n - j;
        float* g = stackalloc float[4 * 16];
        float* cp = stackalloc float[16];
        float* cn = stackalloc float[16];
        float* hn = stackalloc float[16];
        new Span<float>(g, 4 * 16).Clear();
        new Span<float>(cp, 16).Clear();
        for (int b = 0; b < 4; b++)
        {
            var block = new Span<float>(g + b * 16, rest);
            new ReadOnlySpan<float>(gates + b * stride + j, rest).CopyTo(block);
            if (addend != null)
                for (int k = 0; k < rest; k++) block[k] += addend[b * addendStride + j + k];
        }
        new ReadOnlySpan<float>(cPrev + j, rest).CopyTo(new Span<float>(cp, 16));
        if (Vector512.IsHardwareAccelerated) Lstm512(g, 16, null, 0, cp, cn, hn);
        else
        {
            Lstm256(g, 16, null, 0, cp, cn, hn);
            Lstm256(g + 8, 16, null, 0, cp + 8, cn + 8, hn + 8);
        }
        for (int b = 0; b < 4; b++)
            new ReadOnlySpan<float>(g + b * 16, rest).CopyTo(new Span<float>(gates + b * stride + j, rest));
        new ReadOnlySpan<float>(cn, rest).CopyTo(new Span<float>(c + j, rest));
        new ReadOnlySpan<float>(hn, rest).CopyTo(new Span<float>(h + j, rest));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector512<float> Load512(float* at, float* addend) =>
        addend == null ? Vector512.Load(at) : Vector512.Load(at) + Vector512.Load(addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector256<float> Load256(float* at, float* addend) =>
        addend == null ? Vector256.Load(at) : Vector256.Load(at) + Vector256.Load(addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Lstm512(float* gates, int n, float* addend, int addendStride, float* cPrev, float* c, float* h)
    {
        var i = Sigmoid(Load512(gates, addend));
        var f = Sigmoid(Load512(gates + n, addend == null ? null : addend + addendStride));
        var g = Tanh(Load512(gates + 2 * n, addend == null ? null : addend + 2 * addendStride));
        var o = Sigmoid(Load512(gates + 3 * n, addend == null ? null : addend + 3 * addendStride));
        i.Store(gates);
        f.Store(gates + n);
        g.Store(gates + 2 * n);
        o.Store(gates + 3 * n);
        var cell = Vector512.FusedMultiplyAdd(i, g, f * Vector512.Load(cPrev));
        cell.Store(c);
        (o * Tanh(cell)).Store(h);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Lstm256(float* gates, int n, float* addend, int addendStride, float* cPrev, float* c, float* h)
    {
        var i = Sigmoid(Load256(gates, addend));
        var f = Sigmoid(Load256(gates + n, addend == null ? null : addend + addendStride));
        var g = Tanh(Load256(gates + 2 * n, addend == null ? null : addend + 2 * addendStride));
        var o = Sigmoid(Load256(gates + 3 * n, addend == null ? null : addend + 3 * addendStride));
        i.Store(gates);
        f.Store(gates + n);
        g.Store(gates + 2 * n);
        o.Store(gates + 3 * n);
        var cell = Vector256.FusedMultiplyAdd(i, g, f * Vector256.Load(cPrev));
        cell.Store(c);
        (o * Tanh(cell)).Store(h);
    }

    /// <summary>σ(x) = 1 / (1 + e^−x), lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x)
    {
        var (scale, q) = ExpParts(-x);
        // e^−x = 2ⁿ·(1 + q)
        var e = Vector512.FusedMultiplyAdd(scale, q, scale);
        return Vector512<float>.One / (Vector512<float>.One + e);
    }

    /// <summary>tanh(x), lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var a = Vector512.Min(Vector512.Abs(x), Vector512.Create(TanhLimit));
        var (scale, q) = ExpParts(Vector512.Create(-2f) * a);
        var m = Vector512.FusedMultiplyAdd(scale, q, scale - Vector512<float>.One); // e^(−2|x|) − 1
        var t = -m / (Vector512.Create(2f) + m);
        return Vector512.CopySign(t, x);
    }

    /// <summary>σ(x), lane by lane, as <see cref="Sigmoid(Vector512{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        var (scale, q) = ExpParts(-x);
        var e = Vector256.FusedMultiplyAdd(scale, q, scale);
        return Vector256<float>.One / (Vector256<float>.One + e);
    }

    /// <summary>tanh(x), lane by lane, as <see cref="Tanh(Vector512{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var a = Vector256.Min(Vector256.Abs(x), Vector256.Create(TanhLimit));
        var (scale, q) = ExpParts(Vector256.Create(-2f) * a);
        var m = Vector256.FusedMultiplyAdd(scale, q, scale - Vector256<float>.One);
        var t = -m / (Vector256.Create(2f) + m);
        return Vector256.CopySign(t, x);
    }

    /// <summary>eˣ = scale·(1 + q) with scale = 2ⁿ and q = e^r − 1 for x = n·ln 2 + r (x clamped to where 2ⁿ is a
    /// normal float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<float> Scale, Vector512<float> Q) ExpParts(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(ExpLow)), Vector512.Create(ExpHigh));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2High), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Low), r);
        var p = Vector512.Create(1f / 5040);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 720));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scale = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        return (scale.AsSingle(), p * r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<float> Scale, Vector256<float> Q) ExpParts(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(ExpLow)), Vector256.Create(ExpHigh));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2High), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Low), r);
        var p = Vector256.Create(1f / 5040);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 720));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var scale = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        return (scale.AsSingle(), p * r);
    }
}
