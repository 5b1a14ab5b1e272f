using Recur.Kernels;

namespace Recur.Tests.Kernels;

public sealed class ScoresTests
{
    /// <summary>What sorting the whole row descending, ties by index, puts first (NaN last, −0 equal to +0).</summary>
    static int[] Sorted(float[] values, int k) => Enumerable.Range(0, values.Length)
        .OrderByDescending(i => values[i]).ThenBy(i => i).Take(k).ToArray();

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 7, 3)]
    [InlineData(3, 100, 100)]
    [InlineData(4, 100, 250)]
    [InlineData(5, 5_000, 40)]
    [InlineData(6, 5_000, 700)]
    public void TopTakesWhatSortingTheWholeRowWouldPutFirst(int seed, int n, int k)
    {
        var random = new RandomGenerator((ulong)seed);
        // few distinct values, so that ties are common; a zero of each sign, a NaN and both infinities among them
        var values = Enumerable.Range(0, n).Select(_ => MathF.Round(random.NextNormal() * 3) / 2).ToArray();
        if (n >= 7)
            (values[0], values[1], values[2], values[3], values[4]) =
                (-0f, 0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity);
        Assert.Equal(Sorted(values, k), Scores.Top(values, k));
    }

    [Fact]
    public void TopOfNothingOrNoneIsEmpty()
    {
        Assert.Empty(Scores.Top([], 3));
        Assert.Empty(Scores.Top([1f, 2f], 0));
        Assert.Equal([2, 0, 1], Scores.Top([1f, 0.5f, 3f], 10));
    }
}
