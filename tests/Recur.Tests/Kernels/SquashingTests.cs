using Recur.Kernels;

namespace Recur.Tests.Kernels;

/// <summary>σ, tanh and the fused LSTM step against double-precision references, at every offset of a span.</summary>
public sealed class SquashingTests
{
    static double Ulp(float value) => Math.Max(Math.Abs(MathF.BitIncrement(value) - value), float.Epsilon);

    static float[] DenseRange()
    {
        var values = new List<float>();
        for (double v = -30; v <= 30; v += 7.3e-4) values.Add((float)v);
        values.AddRange([0f, -0f, 1e-30f, -1e-20f, 1e-7f, 3e-4f, -2e-3f, 87f, -87f, 89f, -89f, 1e4f, -1e4f]);
        return values.ToArray();
    }

    [Fact]
    public void SigmoidIsWithinThreeUlpsOfTheExactValue()
    {
        var x = DenseRange();
        var y = new float[x.Length];
        Squashing.Sigmoid(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            double exact = 1 / (1 + Math.Exp(-(double)x[i]));
            // below −87 the exact σ is under 2^−126, where only the absolute error (< 1e−38) is meaningful
            double tolerance = x[i] < -87 ? 1e-38 : 3 * Ulp((float)exact);
            Assert.True(Math.Abs(y[i] - exact) <= tolerance, $"σ({x[i]:R}) = {y[i]:R}, exact {exact:R}");
        }
    }

    [Fact]
    public void TanhIsWithinThreeUlpsOfTheExactValueIncludingTinyArguments()
    {
        var x = DenseRange();
        var y = new float[x.Length];
        Squashing.Tanh(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            double exact = Math.Tanh(x[i]);
            Assert.True(Math.Abs(y[i] - exact) <= 3 * Ulp((float)exact), $"tanh({x[i]:R}) = {y[i]:R}, exact {exact:R}");
        }
        Assert.True(float.IsNegative(y[Array.IndexOf(x, -1e-20f)]));
    }

    [Fact]
    public void NanPropagatesAndInfinitiesSaturate()
    {
        float[] x = [float.NaN, float.PositiveInfinity, float.NegativeInfinity];
        var s = new float[3];
        var t = new float[3];
        Squashing.Sigmoid(x, s);
        Squashing.Tanh(x, t);
        Assert.True(float.IsNaN(s[0]));
        Assert.True(float.IsNaN(t[0]));
        Assert.Equal(1f, s[1]);
        Assert.True(s[2] >= 0 && s[2] < 1e-38f);
        Assert.Equal([1f, -1f], t[1..]);
    }

    [Fact]
    public void AValueDoesNotDependOnWhereItSitsInTheSpan()
    {
        // the same inputs at every offset and length: vector bodies and padded tails agree bit for bit
        var random = new Random(3);
        var values = Enumerable.Range(0, 40).Select(_ => (float)(random.NextDouble() * 12 - 6)).ToArray();
        var whole = new float[values.Length];
        Squashing.Tanh(values, whole);
        var wholeSigmoid = new float[values.Length];
        Squashing.Sigmoid(values, wholeSigmoid);
        for (int start = 0; start < values.Length; start++)
            for (int length = 1; start + length <= values.Length; length += 7)
            {
                var part = new float[length];
                Squashing.Tanh(values.AsSpan(start, length), part);
                Assert.Equal(whole.AsSpan(start, length).ToArray(), part);
                Squashing.Sigmoid(values.AsSpan(start, length), part);
                Assert.Equal(wholeSigmoid.AsSpan(start, length).ToArray(), part);
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(37)]
    public void TheLstmStepMatchesTheCellEquations(int n)
    {
        var random = new Random(n);
        float Next() => (float)(random.NextDouble() * 6 - 3);
        var gates = Enumerable.Range(0, 4 * n).Select(_ => Next()).ToArray();
        var cPrev = Enumerable.Range(0, n).Select(_ => Next()).ToArray();
        var raw = (float[])gates.Clone();
        var c = new float[n];
        var h = new float[n];
        Squashing.LstmForward(gates, cPrev, c, h);
        static double Sigma(double v) => 1 / (1 + Math.Exp(-v));
        for (int j = 0; j < n; j++)
        {
            double i = Sigma(raw[j]), f = Sigma(raw[n + j]), g = Math.Tanh(raw[2 * n + j]), o = Sigma(raw[3 * n + j]);
            double cell = f * cPrev[j] + i * g;
            Assert.Equal(i, gates[j], 1e-6);
            Assert.Equal(f, gates[n + j], 1e-6);
            Assert.Equal(g, gates[2 * n + j], 1e-6);
            Assert.Equal(o, gates[3 * n + j], 1e-6);
            Assert.Equal(cell, c[j], 1e-5);
            Assert.Equal(o * Math.Tanh(cell), h[j], 1e-5);
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(32)]
    [InlineData(45)]
    public unsafe void TheFusedAdditionGivesTheSameBitsAsAddingFirst(int n)
    {
        // product blocks n apart, projection blocks 2n + 3 apart, as the small-batch path lays them out
        var random = new Random(n);
        float Next() => (float)(random.NextDouble() * 4 - 2);
        int stride = 2 * n + 3;
        var product = Enumerable.Range(0, 4 * n).Select(_ => Next()).ToArray();
        var projected = Enumerable.Range(0, 4 * stride).Select(_ => Next()).ToArray();
        var cPrev = Enumerable.Range(0, n).Select(_ => Next()).ToArray();
        var summed = new float[4 * n];
        for (int g = 0; g < 4; g++)
            for (int j = 0; j < n; j++) summed[g * n + j] = product[g * n + j] + projected[g * stride + j];
        var (c1, h1, c2, h2) = (new float[n], new float[n], new float[n], new float[n]);
        Squashing.LstmForward(summed, cPrev, c1, h1);
        fixed (float* p = product, q = projected, cp = cPrev, c = c2, h = h2)
            Squashing.LstmForward(n, p, n, q, stride, cp, c, h);
        Assert.Equal(summed, product);
        Assert.Equal(c1, c2);
        Assert.Equal(h1, h2);
    }
}
