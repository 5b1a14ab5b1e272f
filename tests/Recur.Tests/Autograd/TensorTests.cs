using Recur.Autograd;

namespace Recur.Tests.Autograd;

public class TensorTests
{
    [Fact]
    public void ALargeSumIsTheSameOnAnyThreadCountAndItsGradientReachesEveryElement()
    {
        // 20 chunks of 65,536 and a short one: summed by the workers, the chunks' sums added in order
        var random = new RandomGenerator(3);
        var x = Tensor.RandomNormal(random, [21 * 65_536 - 100]);
        double reference = 0;
        foreach (float v in x.Span) reference += v;
        float[] sums = new float[3];
        for (int threads = 1; threads <= 3; threads++)
        {
            using var _ = Recur.Kernels.Parallelism.Limit(threads);
            var leaf = x.Clone();
            leaf.RequiresGrad = true;
            var sum = leaf.Sum();
            sums[threads - 1] = sum.Item();
            (sum * 2.5f).Backward();
            Assert.All(leaf.Grad!.Span.ToArray(), g => Assert.Equal(2.5f, g));
            (leaf.Sum() * 0.5f).Backward(); // a second contribution adds to the first
            Assert.All(leaf.Grad!.Span.ToArray(), g => Assert.Equal(3f, g));
        }
        Assert.Equal(sums[0], sums[1]);
        Assert.Equal(sums[0], sums[2]);
        Assert.True(Math.Abs(sums[0] - reference) <= 1e-6 * x.Length, $"{sums[0]} against {reference}");
    }

    [Fact]
    public void ShapeErrorsNameTheOpAndBothShapes()
    {
        var a = Tensor.Zeros(2, 3);
        var b = Tensor.Zeros(4, 3);
        var ex = Assert.Throws<ArgumentException>(() => a + b);
        Assert.Contains("Add", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 3]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => a.MatMul(b));
        Assert.Contains("MatMul", ex.Message);
        Assert.Contains("[4, 3]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => a.Reshape(5, -1));
        Assert.Contains("Reshape", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Tensor.FromArray([1f, 2f, 3f], 2, 2));
        Assert.Contains("[2, 2]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(Tensor.Zeros(2, 3), [0, 5]));
        Assert.Contains("target 5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Functional.Embedding(Tensor.Zeros(3, 2), [3], [1]));
        Assert.Contains("id 3", ex.Message);
    }

    [Fact]
    public void TimeStepSliceIsAViewAndCloneIsACopy()
    {
        var sequence = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), 3, 2, 2);
        var step = sequence.Select(0, 1);
        Assert.Equal([2, 2], step.ShapeArray());
        Assert.Equal([4f, 5f, 6f, 7f], step.ToArray());
        step.Span[0] = 100f;
        Assert.Equal(100f, sequence.Span[4]);
        var copy = sequence.Clone();
        copy.Span[4] = -1f;
        Assert.Equal(100f, sequence.Span[4]);
    }

    [Fact]
    public void GradientsAccumulateUntilZeroed()
    {
        var w = Tensor.FromArray([1f, 2f], 2);
        w.RequiresGrad = true;
        (w * 3f).Sum().Backward();
        (w * 3f).Sum().Backward();
        Assert.Equal([6f, 6f], w.Grad!.ToArray());
        w.Grad.Zero();
        (w * w).Sum().Backward();
        Assert.Equal([2f, 4f], w.Grad.ToArray());
    }

    [Fact]
    public void AGradientHandedOnBySumsIsNeverSharedBetweenTwoTensors()
    {
        // a sum hands its output's gradient to one input instead of copying it; the other input, a later
        // contribution or an in-place change must never see that storage through another tensor
        var x = Tensor.FromArray([1f, 2f], 2);
        var y = Tensor.FromArray([3f, 4f], 2);
        x.RequiresGrad = y.RequiresGrad = true;
        var w = x + y + x;
        (w * Tensor.FromArray([1f, 10f], 2)).Sum().Backward();
        Assert.Equal([2f, 20f], x.Grad!.ToArray());
        Assert.Equal([1f, 10f], y.Grad!.ToArray());
        Assert.NotSame(x.Grad, y.Grad);
        x.Grad.Span[0] = 100f;
        Assert.Equal([1f, 10f], y.Grad.ToArray());
        ((x + y) * 2f).Sum().Backward();
        Assert.Equal([102f, 22f], x.Grad.ToArray());
        Assert.Equal([3f, 12f], y.Grad.ToArray());
        // the same tensor on both sides, a broadcast side and a difference
        var v = Tensor.FromArray([1f, 2f], 2);
        var s = Tensor.FromArray([5f], 1);
        v.RequiresGrad = s.RequiresGrad = true;
        ((v + v) + s - v).Sum().Backward();
        Assert.Equal([1f, 1f], v.Grad!.ToArray());
        Assert.Equal([2f], s.Grad!.ToArray());
    }

    [Fact]
    public void NoGradRecordsNothingAndDetachStopsGradients()
    {
        var w = Tensor.FromArray([1f, 2f], 2);
        w.RequiresGrad = true;
        using (GradMode.NoGrad())
        {
            var y = w * 2f;
            Assert.False(y.RequiresGrad);
            Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        }
        var detached = (w * 2f).Detach();
        Assert.False(detached.RequiresGrad);
        var z = (w * detached).Sum();
        z.Backward();
        Assert.Equal([2f, 4f], w.Grad!.ToArray()); // d(w·c)/dw = c = 2w, not 4w
    }

    [Fact]
    public void BackwardNeedsAScalarOrAnExplicitGradient()
    {
        var w = Tensor.Ones(3);
        w.RequiresGrad = true;
        var y = w * 2f;
        Assert.Throws<InvalidOperationException>(() => y.Backward());
        y.Backward(Tensor.FromArray([1f, 0f, 2f], 3));
        Assert.Equal([2f, 0f, 4f], w.Grad!.ToArray());
    }

    [Fact]
    public void SeededRandomTensorsRepeat()
    {
        var a = Tensor.RandomNormal(new RandomGenerator(42), [100]);
        var b = Tensor.RandomNormal(new RandomGenerator(42), [100]);
        var c = Tensor.RandomNormal(new RandomGenerator(43), [100]);
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.NotEqual(a.ToArray(), c.ToArray());
        var normal = Tensor.RandomNormal(new RandomGenerator(1), [20000]).ToArray();
        Assert.InRange(normal.Average(), -0.03, 0.03);
        Assert.InRange(normal.Select(v => v * v).Average(), 0.95, 1.05);
        var uniform = Tensor.RandomUniform(new RandomGenerator(1), [20000], -2f, 2f).ToArray();
        Assert.True(uniform.All(v => v >= -2f && v < 2f));
    }

    [Fact]
    public void LossValuesMatchTheirDefinitions()
    {
        // cross-entropy of logits [0, ln 3] for class 1: −log(3/4)
        var logits = Tensor.FromArray([0f, MathF.Log(3f)], 1, 2);
        Assert.Equal(-Math.Log(0.75), Losses.CrossEntropy(logits, [1]).Item(), 5);
        // with smoothing 0.2: 0.8·(−log ¾) + 0.1·(−log ¼ − log ¾)
        double smoothed = 0.8 * -Math.Log(0.75) + 0.1 * (-Math.Log(0.25) - Math.Log(0.75));
        Assert.Equal(smoothed, Losses.CrossEntropy(logits, [1], labelSmoothing: 0.2f).Item(), 5);
        // ignored rows do not count in the mean
        var two = Tensor.FromArray([0f, MathF.Log(3f), 5f, 0f], 2, 2);
        Assert.Equal(-Math.Log(0.75), Losses.CrossEntropy(two, [1, -100]).Item(), 5);
        Assert.Equal(2.5f, Losses.MeanSquaredError(Tensor.FromArray([1f, 2f], 2), Tensor.FromArray([0f, 4f],
            2)).Item());
        // BCE of logit 0 is log 2 whatever the target
        Assert.Equal(Math.Log(2), Losses.BinaryCrossEntropyWithLogits(Tensor.Zeros(3), Tensor.FromArray([0f, 1f, 0.5f],
            3)).Item(), 5);
    }

    [Fact]
    public void SoftmaxIsStableForLargeLogits()
    {
        var x = Tensor.FromArray([1000f, 1000f, -1000f], 3);
        Assert.Equal([0.5f, 0.5f, 0f], x.Softmax().ToArray());
        var log = x.LogSoftmax().ToArray();
        Assert.Equal(-MathF.Log(2f), log[0], 5);
        Assert.True(float.IsFinite(log[2]));
    }
}
