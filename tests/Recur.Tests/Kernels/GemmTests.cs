using Recur.Kernels;

namespace Recur.Tests.Kernels;

public class GemmTests
{
    static readonly int[] OddSizes = [0, 1, 7, 33, 129];

    public static TheoryData<GemmIsa> Paths()
    {
        var data = new TheoryData<GemmIsa>();
        foreach (var isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2, GemmIsa.Portable })
            if (Gemm.IsSupported(isa)) data.Add(isa);
        return data;
    }

    /// <summary>C = (accumulate ? C : 0) + op(A)·op(B) + bias, summed in double.</summary>
    static float[] Reference(bool ta, bool tb, int m, int n, int k, float[] a, int lda, float[] b, int ldb,
        float[] c, int ldc, bool accumulate, float[]? bias)
    {
        var result = (float[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * ldc + j] : 0;
                if (bias != null) sum += bias[j];
                for (int p = 0; p < k; p++)
                    sum += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                result[i * ldc + j] = (float)sum;
            }
        return result;
    }

    static float[] Random(int length, int seed)
    {
        var random = new System.Random(seed);
        var values = new float[length];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    static void CheckOne(GemmIsa isa, bool ta, bool tb, int m, int n, int k, bool accumulate, bool withBias,
        int threads, int pad)
    {
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        var a = Random(Math.Max(1, (ta ? k : m) * lda), 1);
        var b = Random(Math.Max(1, (tb ? n : k) * ldb), 2);
        var c = Random(Math.Max(1, m * ldc), 3);
        var bias = withBias ? Random(Math.Max(n, 1), 4) : null;
        var expected = Reference(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias);
        Gemm.Multiply(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias, threads, isa);
        for (int i = 0; i < c.Length; i++)
        {
            float tolerance = 1e-5f * (k + 2);
            Assert.True(Math.Abs(c[i] - expected[i]) <= tolerance,
                $"{isa} ta={ta} tb={tb} m={m} n={n} k={k} acc={accumulate} bias={withBias} threads={threads}: " +
                $"C[{i}] = {c[i]}, expected {expected[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void MatchesReferenceOnOddShapesAndAllForms(GemmIsa isa)
    {
        foreach (int m in OddSizes)
            foreach (int n in OddSizes)
                foreach (int k in OddSizes)
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                            CheckOne(isa, ta, tb, m, n, k, accumulate: (m + n + k) % 2 == 0, withBias: (m + k) % 3 == 0,
                                threads: 1, pad: (n % 2) * 3);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void EpilogueBiasAndAccumulate(GemmIsa isa)
    {
        foreach (bool accumulate in new[] { false, true })
            foreach (bool bias in new[] { false, true })
                CheckOne(isa, false, true, 37, 45, 300, accumulate, bias, threads: 1, pad: 0);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void LargerThanOneBlockInEveryDimensionAndThreaded(GemmIsa isa)
    {
        // Crosses Kc (256), Mc and several Nr panels; threaded splits by columns and by rows.
        CheckOne(isa, false, false, 200, 530, 520, accumulate: true, withBias: true, threads: 2, pad: 1);
        CheckOne(isa, true, false, 300, 40, 300, accumulate: false, withBias: false, threads: 2, pad: 0);
        CheckOne(isa, false, true, 64, 1100, 70, accumulate: false, withBias: true, threads: 3, pad: 0);
    }

    [Fact]
    public void RowsOfAShortLastPanelHaveTheBitsOfAWholeTile()
    {
        // AVX-512's kernel (12 × 32 tiles) has 4- and 8-row partial tiles: 27–32 rows end in a panel of 3–8 rows
        // that takes one, 36 rows fill three whole tiles; the shared rows must agree exactly, with and without bias
        // and accumulation, whole and partial column panels. (The other kernels run short panels row by row, in
        // another order.)
        var isa = GemmIsa.Avx512;
        if (!Gemm.IsSupported(isa)) return;
        foreach (int m in new[] { 27, 28, 29, 30, 31, 32 })
            foreach (int n in new[] { 64, 50 })
                foreach (bool accumulate in new[] { false, true })
                {
                    var a = Random(36 * 300, 1);
                    var b = Random(300 * n, 2);
                    var bias = Random(n, 4);
                    var whole = Random(36 * n, 3);
                    var shorter = whole[..(m * n)];
                    Gemm.Multiply(false, false, 36, n, 300, a, 300, b, n, whole, n, accumulate, bias, 1, isa);
                    Gemm.Multiply(false, false, m, n, 300, a, 300, b, n, shorter, n, accumulate, bias, 1, isa);
                    Assert.Equal(whole[..(m * n)], shorter);
                }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void PrepackedRightOperandMatchesReference(GemmIsa isa)
    {
        foreach (int m in new[] { 1, 2, 5, 13, 64 })
            foreach (int n in new[] { 1, 33, 300 })
                foreach (int k in new[] { 0, 7, 300 })
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                        {
                            int lda = ta ? m : k, ldb = tb ? k : n;
                            var a = Random(Math.Max(1, (ta ? k : m) * lda), 1);
                            var b = Random(Math.Max(1, (tb ? n : k) * ldb), 2);
                            var c = Random(m * n, 3);
                            var bias = Random(n, 4);
                            bool accumulate = (m + n) % 2 == 0;
                            var expected = Reference(ta, tb, m, n, k, a, lda, b, ldb, c, n, accumulate, bias);
                            using var packed = Gemm.Pack(tb, k, n, b, ldb, isa);
                            Gemm.Multiply(ta, m, a, lda, packed, c, n, accumulate, bias, threads: 2);
                            for (int i = 0; i < c.Length; i++)
                                Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-5f * (k + 2),
                                    $"{isa} packed m={m} n={n} k={k} ta={ta} tb={tb}: C[{i}] = {c[i]}, "
                                        + $"expected {expected[i]}");
                        }
    }

    [Fact]
    public void DisposedPackedMatrixIsRefused()
    {
        var packed = Gemm.Pack(false, 2, 2, new float[4], 2);
        packed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Gemm.Multiply(false, 1, new float[2], 2, packed, new float[2], 2));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void LongDepthIntoASmallProductMatchesReferenceWhateverTheThreads(GemmIsa isa)
    {
        // A·Bᵀ with a long k into a small C, as a weight gradient is: partial tiles, a tail of k past the last
        // depth block, several depth blocks
        (int M, int N, int K)[] shapes = [(4, 4, 512), (7, 10, 1003), (64, 64, 2000), (13, 128, 4100), (128, 5, 600)];
        foreach (var (m, n, k) in shapes)
            foreach (bool accumulate in new[] { false, true })
                CheckOne(isa, false, true, m, n, k, accumulate, withBias: false, threads: accumulate ? 3 : 1, pad: 1);
        var a = Random(70 * 3000, 7);
        var b = Random(66 * 3000, 8);
        var one = new float[70 * 66];
        var three = new float[70 * 66];
        Gemm.Multiply(false, true, 70, 66, 3000, a, 3000, b, 3000, one, 66, threads: 1, isa: isa);
        Gemm.Multiply(false, true, 70, 66, 3000, a, 3000, b, 3000, three, 66, threads: 3, isa: isa);
        Assert.Equal(one, three);
    }

    [Fact]
    public void ResultDoesNotDependOnThreadCount()
    {
        int m = 150, n = 700, k = 600;
        var a = Random(m * k, 5);
        var b = Random(k * n, 6);
        var c1 = new float[m * n];
        var c2 = new float[m * n];
        Gemm.Multiply(false, false, m, n, k, a, k, b, n, c1, n, threads: 1);
        Gemm.Multiply(false, false, m, n, k, a, k, b, n, c2, n, threads: 2);
        Assert.Equal(c1, c2);
    }

    [Fact]
    public void TooSmallBuffersAreRejectedWithTheirSizes()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(false, false, 4, 4, 4, new float[15], 4, new float[16], 4, new float[16], 4));
        Assert.Contains("A is 4×4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(false, false, 4, 4, 4, new float[16], 3, new float[16], 4, new float[16], 4));
        Assert.Contains("leading dimension of A", ex.Message);
        ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(false, false, 4, 4, 4, new float[16], 4, new float[16], 4, new float[16], 4,
                bias: new float[3]));
        Assert.Contains("bias has 3", ex.Message);
    }
}
