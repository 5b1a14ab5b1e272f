using Recur.Kernels;

namespace Recur.Tests.Kernels;

/// <summary>
/// The GEMM behind the implicit (unfold-free) convolutions: its right operand's rows start anywhere in one buffer,
/// as k×n rows or as the n×k rows of a transposed operand, against a double-precision reference.
/// </summary>
public class ImplicitOperandTests
{
    static float[] Random(int length, int seed)
    {
        var random = new System.Random(seed);
        var values = new float[length];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    /// <summary>Overlapping, shifted row starts into one buffer, as a dilated convolution's taps read its
    /// input.</summary>
    static int[] ShiftedRows(int rows, int span, int shift) =>
        Enumerable.Range(0, rows).Select(r => (r % 5) * span + (r / 5) * shift).ToArray();

    /// <summary>(C or 0) + rowBias + A·B entry by entry in double, A and B read through <paramref name="a"/>(i, q)
    /// and <paramref name="b"/>(q, j).</summary>
    static float[] Reference(int m, int n, int k, float[]? c, float[]? rowBias, Func<int, int, float> a,
        Func<int, int, float> b)
    {
        var expected = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = (c?[i * n + j] ?? 0) + (rowBias?[i] ?? 0);
                for (int q = 0; q < k; q++) sum += (double)a(i, q) * b(q, j);
                expected[i * n + j] = (float)sum;
            }
        return expected;
    }

    static void Check(float[] c, float[] expected, int k, string path = "")
    {
        for (int i = 0; i < c.Length; i++)
            Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-5f * (k + 2),
                $"{path} C[{i}] = {c[i]}, expected {expected[i]}");
    }

    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(13, 37, 10, true, true)]
    [InlineData(13, 37, 0, false, true)]
    [InlineData(64, 700, 300, false, true)] // crosses the depth block (256) and several column panels
    [InlineData(128, 4000, 128, true, false)]
    [InlineData(20, 64, 9, true, true)]  // a whole 12-row tile and a whole 8-row one, each adding the row bias
    [InlineData(2, 96, 5, false, true)]  // thin: the row bias added row by row, whole width
    [InlineData(30, 70, 6, true, true)]  // every tile kind at the right edge, where the row bias is added on storing
    public void GemmWithRowStartsMatchesReference(int m, int n, int k, bool accumulate, bool withRowBias)
    {
        foreach (var isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2, GemmIsa.Portable })
            if (Gemm.IsSupported(isa)) CheckRowStarts(m, n, k, accumulate, withRowBias, isa);
    }

    static void CheckRowStarts(int m, int n, int k, bool accumulate, bool withRowBias, GemmIsa isa)
    {
        var starts = ShiftedRows(k, n + 7, 3);
        int length = starts.DefaultIfEmpty(0).Max() + n + 2;
        var a = Random(Math.Max(1, m * k), 1);
        var b = Random(length, 2);
        var c = Random(m * n, 3);
        var rowBias = withRowBias ? Random(m, 7) : null;
        var expected = Reference(m, n, k, accumulate ? c : null, rowBias, (i, q) => a[i * k + q],
            (q, j) => b[starts[q] + j]);
        Gemm.MultiplyRows(m, n, k, a, k, b, starts, c, n, accumulate, threads: 2, rowBias: rowBias, isa: isa);
        Check(c, expected, k, isa.ToString());
    }

    [Theory]
    [InlineData(1, 1, 0, false)]
    [InlineData(1, 1, 5, true)]
    [InlineData(5, 7, 33, false)]  // edges of the 4×4 transposes in the packing, and a short tail
    [InlineData(64, 64, 2000, true)] // several depth blocks (256)
    [InlineData(3, 130, 1031, false)]
    public void TransposedRowsMatchReference(int m, int n, int k, bool accumulate)
    {
        int lda = k + 3;
        var starts = ShiftedRows(n, k + 11, 2);
        var a = Random(Math.Max(1, m * lda), 4);
        var b = Random(starts.Max() + k + 1, 5);
        var c = Random(m * n, 6);
        var expected = Reference(m, n, k, accumulate ? c : null, null, (i, q) => a[i * lda + q],
            (q, j) => b[starts[j] + q]);
        Gemm.MultiplyRows(m, n, k, a, lda, b, starts, c, n, accumulate, threads: 2, transposeB: true);
        Check(c, expected, k);
    }

    [Fact]
    public void RowsRunningPastTheBufferAreRefusedBeforeAnyWork()
    {
        var c = new float[4];
        var error = Assert.Throws<ArgumentException>(() =>
            Gemm.MultiplyRows(2, 2, 2, new float[4], 2, new float[5], [0, 4], c, 2));
        Assert.Contains("runs past its 5 values", error.Message);
        error = Assert.Throws<ArgumentException>(() =>
            Gemm.MultiplyRows(2, 2, 3, new float[6], 3, new float[5], [0, 3], c, 2, transposeB: true));
        Assert.Contains("runs past its 5 values", error.Message);
        Assert.Equal(new float[4], c);
    }
}
