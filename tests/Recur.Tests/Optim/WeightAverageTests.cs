using Recur.Optim;

namespace Recur.Tests.Optim;

public class WeightAverageTests
{
    static readonly float[][] Trajectory = [[1f, -2f, 0.5f], [3f, 0f, 0.25f], [-1f, 4f, 2f], [0.5f, 1f, -3f], [2f, 2f,
        2f]];

    static void Set(Tensor p, float[] values) => values.CopyTo(p.Span);

    static float[] Averaged(WeightAverage average, Tensor p)
    {
        average.Swap();
        var values = p.ToArray();
        average.Swap();
        return values;
    }

    [Fact]
    public void ExponentialAverageCopiesFirstThenMovesByOneMinusDecay()
    {
        var p = Tensor.FromArray([9f, 9f, 9f], 3);
        var average = new WeightAverage([p], AveragingOptions.Exponential(0.75));
        var expected = new double[3];
        for (int k = 0; k < Trajectory.Length; k++)
        {
            Set(p, Trajectory[k]);
            average.Update(epoch: k);
            for (int j = 0; j < 3; j++) expected[j] = k == 0 ? Trajectory[0][j]
                : 0.75 * expected[j] + 0.25 * Trajectory[k][j];
            Assert.Equal(expected, Averaged(average, p).Select(v => (double)v), (a, b) => Math.Abs(a - b) < 1e-6);
            Assert.Equal(Trajectory[k], p.ToArray()); // the training weights are untouched
        }
        Assert.Equal(Trajectory.Length, average.Count);
    }

    [Fact]
    public void UniformAverageIsTheMeanOfTheWeightsFromItsStartEpoch()
    {
        var p = Tensor.FromArray([0f, 0f, 0f], 3);
        var average = new WeightAverage([p], AveragingOptions.Uniform(startEpoch: 2));
        int[] epochs = [0, 1, 2, 2, 3];
        for (int k = 0; k < Trajectory.Length; k++)
        {
            Set(p, Trajectory[k]);
            average.Update(epochs[k]);
            var counted = Trajectory.Take(k + 1).Where((_, i) => epochs[i] >= 2).ToArray();
            var expected = counted.Length == 0 ? Trajectory[k] : Enumerable.Range(0,
                3).Select(j => counted.Average(w => w[j])).ToArray();
            Assert.Equal(expected, Averaged(average, p), (a, b) => Math.Abs(a - b) < 1e-6f);
            Assert.Equal(counted.Length, average.Count);
        }
    }

    [Fact]
    public void NonMonotonicAverageStartsWhenValidationIsWorseThanTheBestBeforeThePatienceWindow()
    {
        var p = Tensor.FromArray([0f, 0f, 0f], 3);
        var average = new WeightAverage([p], AveragingOptions.NonMonotonic(patience: 2));
        // 3.5 and 3.2 are worse than the latest best (3) but not than the best before the last two results
        double[] losses = [5, 4, 3, 3.5, 3.2, 4.5];
        for (int k = 0; k < losses.Length; k++)
        {
            Set(p, Trajectory[k % Trajectory.Length]);
            average.Update(k);
            Assert.Equal(0, average.Count); // until the trigger the average follows the weights
            Assert.Equal(p.ToArray(), Averaged(average, p));
            Assert.Equal(k == losses.Length - 1, average.Observe(losses[k], lowerIsBetter: true));
        }
        Assert.True(average.Triggered);
        Assert.False(average.Observe(9, lowerIsBetter: true)); // it fires once
        Set(p, Trajectory[1]);
        average.Update(6);
        Set(p, Trajectory[2]);
        average.Update(7);
        Assert.Equal(2, average.Count);
        Assert.Equal([1f, 2f, 1.125f], Averaged(average, p));
        // accuracy: higher is better, and a NaN counts as worse
        var accuracy = new WeightAverage([p], AveragingOptions.NonMonotonic(1));
        Assert.False(accuracy.Observe(0.5, lowerIsBetter: false));
        Assert.False(accuracy.Observe(0.7, lowerIsBetter: false));
        Assert.False(accuracy.Observe(0.6, lowerIsBetter: false));
        Assert.True(accuracy.Observe(double.NaN, lowerIsBetter: false));
        Assert.Equal("non-monotonic, patience 1", accuracy.Options.ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => AveragingOptions.NonMonotonic(0));
    }

    [Fact]
    public void SwapExchangesBitwiseAndStoredAndRestoreRoundTrip()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var b = Tensor.FromArray([0.1f, 0.2f], 2);
        var average = new WeightAverage([a, b], AveragingOptions.Exponential(0.5));
        average.Update(0);
        Set(a, [5f, 6f, 7f, 8f]);
        Set(b, [0.3f, 0.4f]);
        average.Update(0); // average: a (3, 4, 5, 6), b (0.2, 0.3)
        average.Swap();
        Assert.True(average.Swapped);
        Assert.Equal([3f, 4f, 5f, 6f], a.ToArray());
        Assert.Equal([5f, 6f, 7f, 8f], average.Stored()[0].ToArray()); // the training weights wait beside them
        Assert.Throws<InvalidOperationException>(() => average.Update(0));
        average.Swap();
        Assert.Equal([5f, 6f, 7f, 8f], a.ToArray());
        Assert.Equal([0.3f, 0.4f], b.ToArray());

        var stored = average.Stored();
        Assert.Equal([2, 2], stored[0].Shape.ToArray());
        var copy = new WeightAverage([a, b], AveragingOptions.Exponential(0.5));
        copy.Restore(stored, average.Count);
        Assert.Equal(2, copy.Count);
        Assert.Equal(Averaged(average, a), Averaged(copy, a));
        Assert.Equal(Averaged(average, b), Averaged(copy, b));
        Assert.Throws<ArgumentException>(() => copy.Restore([stored[1], stored[0]], 2));
    }

    [Fact]
    public void InvalidSettingsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AveragingOptions.Exponential(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => AveragingOptions.Exponential(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AveragingOptions.Uniform(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightAverage([Tensor.Zeros(2)],
            new AveragingOptions(AveragingKind.Exponential, 1.5)));
        Assert.Throws<ArgumentException>(() => new WeightAverage([], AveragingOptions.Exponential(0.9)));
    }
}
