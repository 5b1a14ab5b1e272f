namespace Recur.Tests;

/// <summary>Element-wise closeness assertions: |expected − actual| ≤ absolute + relative·|expected| at every
/// index.</summary>
static class Close
{
    /// <summary>The tolerance of every PyTorch parity fixture (float32, absolute + relative).</summary>
    public const double ParityTolerance = 1e-5;

    public static void Values(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what, double absolute,
        double relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= absolute + relative * Math.Abs(expected[i]),
                $"{what}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9}");
    }

    /// <summary>A PyTorch fixture tensor against Recur's: same shape, values within
    /// <see cref="ParityTolerance"/>.</summary>
    public static void Parity(Tensor expected, Tensor? actual, string what)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.ShapeArray(), actual!.ShapeArray());
        Values(expected.Span, actual.Span, what, ParityTolerance, ParityTolerance);
    }
}
