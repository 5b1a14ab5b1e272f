using Recur.Kernels;

namespace Recur.Tests.Kernels;

public class QuantizedMatrixTests
{
    static float[] Random(int n, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
    }

    [Fact]
    public void RowsKeepTheirOwnScaleAndRoundToTheNearestStep()
    {
        float[] w = [0.5f, -1f, 0.25f, /* row 1: */ 254f, 1f, -127f];
        var q = QuantizedMatrix.Quantize(w, 2, 3);
        Assert.Equal(1f / 127f, q.Scales[0], 1e-9f);
        Assert.Equal(2f, q.Scales[1]);
        Assert.Equal(-1f, q.Dequantized(0, 1), 1e-6f);
        Assert.Equal(254f, q.Dequantized(1, 0));
        Assert.Equal(0f, q.Dequantized(1, 1)); // 1 / 2 = 0.5 rounds half to even: 0
        Assert.Equal(-128f, q.Dequantized(1, 2)); // −63.5 → −64
        Assert.Equal(QuantizedMatrix.Alignment, q.Stride);
    }

    [Fact]
    public void AWeightThatIsNotFiniteIsRefusedWithItsRow()
    {
        var ex = Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize([1f, 2f, float.NaN, 0f], 2, 2));
        Assert.Contains("row 1", ex.Message);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(5, 31, 2)]
    [InlineData(9, 64, 1)]
    [InlineData(13, 100, 4)]
    [InlineData(8, 256, 3)]
    [InlineData(70, 130, 2)] // four tiles of the AVX-512 path and six rows after them
    public unsafe void RowDotsAreTheExactIntegerSumsScaled(int rows, int k, int batch)
    {
        var w = Random(rows * k, 1);
        var q = QuantizedMatrix.Quantize(w, rows, k);
        var x = Random(batch * k, 2, scale: 3f);
        var bytes = new byte[batch * q.Stride];
        var scales = new float[batch];
        for (int b = 0; b < batch; b++)
            scales[b] = q.QuantizeVector(x.AsSpan(b * k, k), bytes.AsSpan(b * q.Stride, q.Stride));
        var y = new float[batch * rows];
        fixed (byte* px = bytes)
        fixed (float* ps = scales, py = y)
            q.RowDots(0, rows, px, q.Stride, ps, batch, py, rows);
        for (int b = 0; b < batch; b++)
            for (int r = 0; r < rows; r++)
            {
                long sum = 0;
                for (int i = 0; i < k; i++)
                    sum += (long)Math.Round(q.Dequantized(r, i) / q.Scales[r])
                        * (bytes[b * q.Stride + i] - QuantizedMatrix.VectorLevels);
                Assert.Equal(q.Scales[r] * scales[b] * sum, y[b * rows + r]);
                // and the whole is close to the float product: 8-bit weights and 7-bit vectors keep about two
                // decimal digits
                double exact = 0;
                for (int i = 0; i < k; i++) exact += (double)w[r * k + i] * x[b * k + i];
                Assert.True(Math.Abs(exact - y[b * rows + r]) <= 0.02 * Math.Sqrt(k) * 3,
                    $"{exact} vs {y[b * rows + r]}");
            }
    }

    [Fact]
    public unsafe void EveryPathGivesTheSameBits()
    {
        const int rows = 11, k = 77;
        var q = QuantizedMatrix.Quantize(Random(rows * k, 3), rows, k);
        var x = Random(2 * k, 4);
        var bytes = new byte[2 * q.Stride];
        var scales = new float[2];
        for (int b = 0; b < 2; b++)
            scales[b] = q.QuantizeVector(x.AsSpan(b * k, k), bytes.AsSpan(b * q.Stride, q.Stride));
        float[] Products()
        {
            var y = new float[2 * rows];
            fixed (byte* px = bytes)
            fixed (float* ps = scales, py = y)
                q.RowDots(0, rows, px, q.Stride, ps, 2, py, rows);
            return y;
        }
        var fast = Products();
        foreach (var path in Enum.GetValues<IntegerPath>())
            using (QuantizedMatrix.AtMost(path))
                Assert.Equal(fast, Products());
    }

    [Theory]
    [InlineData(0, 150)]
    [InlineData(3, 100)]
    [InlineData(16, 64)]
    [InlineData(17, 80)]
    [InlineData(70, 11)]
    public unsafe void AnyRangeOfRowsGivesThoseRowsOfTheWholeProductOnEveryPath(int row0, int rows)
    {
        // ranges that begin and end inside the AVX-512 path's 16-row tiles, span several or none
        const int all = 150, k = 200, batch = 3;
        var q = QuantizedMatrix.Quantize(Random(all * k, 5), all, k);
        var x = Random(batch * k, 6);
        var bytes = new byte[batch * q.Stride];
        var scales = new float[batch];
        for (int b = 0; b < batch; b++)
            scales[b] = q.QuantizeVector(x.AsSpan(b * k, k), bytes.AsSpan(b * q.Stride, q.Stride));
        float[] Products(int from, int count)
        {
            var y = new float[batch * count];
            fixed (byte* px = bytes)
            fixed (float* ps = scales, py = y)
                q.RowDots(from, count, px, q.Stride, ps, batch, py, count);
            return y;
        }
        var whole = Products(0, all);
        var expected = Enumerable.Range(0, batch)
            .SelectMany(b => whole.AsSpan(b * all + row0, rows).ToArray()).ToArray();
        foreach (var path in Enum.GetValues<IntegerPath>())
            using (QuantizedMatrix.AtMost(path))
                Assert.Equal(expected, Products(row0, rows));
    }

    [Fact]
    public unsafe void ExtremeValuesSumExactlyOnEveryPath()
    {
        // every product ±127·64 and every stored vector byte 0 or 128: a pair of products 128·127 is the most a
        // 16-bit partial sum of the vpmaddubsw paths must hold
        const int rows = 70, k = 96;
        var w = Enumerable.Range(0, rows * k).Select(i => (i / k) % 2 == 0 ? 1f : (i % 3 == 0 ? -1f : 1f)).ToArray();
        var q = QuantizedMatrix.Quantize(w, rows, k);
        var x = Enumerable.Range(0, k).Select(i => i % 5 == 0 ? -2f : 2f).ToArray();
        var bytes = new byte[q.Stride];
        var scale = new float[1];
        scale[0] = q.QuantizeVector(x, bytes);
        float[] Products()
        {
            var y = new float[rows];
            fixed (byte* px = bytes)
            fixed (float* ps = scale, py = y)
                q.RowDots(0, rows, px, q.Stride, ps, 1, py, rows);
            return y;
        }
        var fast = Products();
        for (int r = 0; r < rows; r++)
        {
            long sum = 0;
            for (int i = 0; i < k; i++)
                sum += 127L * Math.Sign(w[r * k + i]) * QuantizedMatrix.VectorLevels * Math.Sign(x[i]);
            Assert.Equal(q.Scales[r] * scale[0] * sum, fast[r]);
        }
        foreach (var path in Enum.GetValues<IntegerPath>())
            using (QuantizedMatrix.AtMost(path))
                Assert.Equal(fast, Products());
    }

    [Fact]
    public void AVectorWithNaNGetsANaNScaleAndAZeroVectorScaleOne()
    {
        var q = QuantizedMatrix.Quantize(Random(40, 5), 1, 40);
        var bytes = new byte[q.Stride * 2];
        var x = new float[40];
        Assert.Equal(1f, q.QuantizeVector(x, bytes));
        Assert.All(bytes.Take(q.Stride), b => Assert.Equal(QuantizedMatrix.VectorLevels, b));
        x[3] = float.NaN;
        Assert.True(float.IsNaN(q.QuantizeVector(x, bytes)));
    }

    [Fact]
    public void TheVectorPathRoundsAsTheScalarPath()
    {
        // 64 values take the vector path, the 3 after them the scalar one: the same value must give the same byte
        var q = QuantizedMatrix.Quantize(new float[67], 1, 67);
        var x = new float[67];
        for (int i = 0; i < 64; i++) x[i] = (i % 32 - 16) * 0.5f;
        x[0] = QuantizedMatrix.VectorLevels; // scale 1: every value k + 0.5 is a tie
        x[64] = x[1]; x[65] = x[2]; x[66] = x[3];
        var bytes = new byte[q.Stride];
        q.QuantizeVector(x, bytes);
        Assert.Equal(bytes[1], bytes[64]);
        Assert.Equal(bytes[2], bytes[65]);
        Assert.Equal(bytes[3], bytes[66]);
        for (int i = 1; i < 64; i++) Assert.Equal((int)MathF.Round(x[i]) + QuantizedMatrix.VectorLevels, bytes[i]);
    }
}
