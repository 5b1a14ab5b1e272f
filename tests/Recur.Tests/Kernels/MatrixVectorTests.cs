using Recur.Kernels;

namespace Recur.Tests.Kernels;

public class MatrixVectorTests
{
    static float[] Random(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 7, 2)]
    [InlineData(4, 16, 1)]
    [InlineData(9, 33, 3)]
    [InlineData(13, 256, 4)]
    [InlineData(6, 70, 1)]
    public unsafe void RowDotsEqualDotProductsInDouble(int rows, int k, int batch)
    {
        int ldw = k + 3, ldx = k + 1, ldy = rows + 2; // leading dimensions wider than the rows
        var w = Random(rows * ldw, 1);
        var x = Random(batch * ldx, 2);
        var y = new float[batch * ldy];
        fixed (float* pw = w, px = x, py = y) MatrixVector.RowDots(pw, ldw, rows, k, px, ldx, batch, py, ldy);
        for (int b = 0; b < batch; b++)
            for (int r = 0; r < rows; r++)
            {
                double sum = 0;
                for (int i = 0; i < k; i++) sum += (double)w[r * ldw + i] * x[b * ldx + i];
                Assert.True(Math.Abs(sum - y[b * ldy + r]) <= 1e-5 * Math.Sqrt(k),
                    $"b={b} r={r}: {y[b * ldy + r]} vs {sum}");
            }
        for (int b = 0; b < batch; b++)
            for (int r = rows; r < ldy; r++) Assert.Equal(0f, y[b * ldy + r]); // nothing written past the rows
    }

    [Fact]
    public unsafe void ARowsResultDoesNotDependOnTheRowsItIsGroupedWith()
    {
        // splitting the rows across threads regroups them; every row must come out bit for bit the same
        const int rows = 23, k = 45;
        var w = Random(rows * k, 3);
        var x = Random(k, 4);
        var all = new float[rows];
        fixed (float* pw = w, px = x, py = all) MatrixVector.RowDots(pw, k, rows, k, px, k, 1, py, rows);
        foreach (int start in new[] { 1, 2, 3, 5, 22 })
        {
            var part = new float[rows - start];
            fixed (float* pw = w, px = x, py = part)
                MatrixVector.RowDots(pw + start * k, k, rows - start, k, px, k, 1, py, rows - start);
            Assert.Equal(all[start..], part);
        }
    }
}
