using Recur.Kernels;
using Recur.Optim;

namespace Recur.Tests.Optim;

public class OptimizerTests
{
    static Tensor Parameter(float[] values, float[] grad)
    {
        var p = Tensor.FromArray(values, values.Length);
        p.RequiresGrad = true;
        p.Grad = Tensor.FromArray(grad, grad.Length);
        return p;
    }

    [Fact]
    public void AdamFollowsPyTorchsRuleForTwoSteps()
    {
        var p = Parameter([1f], [0.5f]);
        var adam = new Adam([p], learningRate: 0.1f);
        adam.Step();
        // step 1: m = .05, v = .00025, p −= 0.1/(1−.9) · m / (√v/√(1−.999) + 1e−8) = 0.1
        Assert.Equal(0.9f, p.Span[0], 6);
        p.Grad!.Span[0] = -1f;
        adam.Step();
        double m = 0.9 * 0.05 + 0.1 * -1, v = 0.999 * 0.00025 + 0.001 * 1;
        double expected = 0.9 - 0.1 / (1 - 0.81) * m / (Math.Sqrt(v) / Math.Sqrt(1 - 0.999 * 0.999) + 1e-8);
        Assert.Equal(expected, p.Span[0], 5);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.01f)]
    public void AdamGivesEveryElementTheSameBitsInTheVectorLoopAndTheTail(float weightDecay)
    {
        // equal elements must stay equal whether a vector lane or the scalar tail updates them
        int n = 3 * System.Numerics.Vector<float>.Count + 3;
        var p = Parameter(Enumerable.Repeat(0.7f, n).ToArray(), Enumerable.Repeat(-0.3f, n).ToArray());
        var adam = new Adam([p], learningRate: 0.05f, weightDecay: weightDecay);
        var random = new RandomGenerator(4);
        for (int step = 0; step < 5; step++)
        {
            adam.Step();
            p.Grad!.Span.Fill(random.NextFloat() - 0.5f);
        }
        Assert.NotEqual(0.7f, p.Span[0]);
        for (int i = 1; i < n; i++) Assert.Equal(BitConverter.SingleToInt32Bits(p.Span[0]),
            BitConverter.SingleToInt32Bits(p.Span[i]));
    }

    [Fact]
    public void SgdMomentumAndNesterov()
    {
        var plain = Parameter([1f], [2f]);
        new Sgd([plain], 0.1f, weightDecay: 0.5f).Step();
        Assert.Equal(1f - 0.1f * (2f + 0.5f), plain.Span[0], 6);

        var p = Parameter([0f], [1f]);
        var sgd = new Sgd([p], 0.1f, momentum: 0.9f);
        sgd.Step(); // buffer = 1
        sgd.Step(); // buffer = 1.9
        Assert.Equal(-0.1f - 0.19f, p.Span[0], 6);

        var n = Parameter([0f], [1f]);
        var nesterov = new Sgd([n], 0.1f, momentum: 0.9f, nesterov: true);
        nesterov.Step(); // g + 0.9·1 = 1.9
        nesterov.Step(); // g + 0.9·1.9 = 2.71
        Assert.Equal(-0.19f - 0.271f, n.Span[0], 6);
    }

    [Fact]
    public void ClipByNormScalesTogetherAndReturnsThePreClipNorm()
    {
        var a = Parameter([0f], [3f]);
        var b = Parameter([0f], [4f]);
        float norm = GradientClipping.ClipByNorm([a, b], 1f);
        Assert.Equal(5f, norm, 5);
        Assert.Equal(0.6f, a.Grad!.Span[0], 5);
        Assert.Equal(0.8f, b.Grad!.Span[0], 5);
        // below the bound nothing changes
        Assert.Equal(1f, GradientClipping.ClipByNorm([a, b], 10f), 5);
        Assert.Equal(0.6f, a.Grad.Span[0], 5);
        var c = Parameter([0f, 0f], [float.NaN, 1f]);
        Assert.True(float.IsNaN(GradientClipping.ClipByNorm([c], 1f)));
    }

    [Fact]
    public void ClipByValueClamps()
    {
        var a = Parameter([0f, 0f, 0f], [-3f, 0.2f, 9f]);
        GradientClipping.ClipByValue([a], 0.5f);
        Assert.Equal([-0.5f, 0.2f, 0.5f], a.Grad!.ToArray());
    }

    /// <summary>Trains a small recurrent net for a few steps; returns its final weights.</summary>
    static float[] TrainBriefly(ulong seed, int threads)
    {
        using var limit = Parallelism.Limit(threads);
        var random = new RandomGenerator(seed);
        var w = Tensor.RandomUniform(random, [96, 8], -0.3f, 0.3f);
        var u = Tensor.RandomUniform(random, [96, 96], -0.1f, 0.1f);
        var v = Tensor.RandomUniform(random, [3, 96], -0.1f, 0.1f);
        Tensor[] parameters = [w, u, v];
        foreach (var p in parameters) p.RequiresGrad = true;
        var adam = new Adam(parameters, 1e-2f);
        for (int step = 0; step < 5; step++)
        {
            var x = Tensor.RandomNormal(random, [6, 300, 8]);
            var h = Tensor.Zeros(300, 96);
            for (int t = 0; t < 6; t++)
                h = (Functional.Linear(x.Select(0, t), w) + Functional.Linear(h, u)).Tanh();
            var hidden = Functional.Dropout(h, 0.2f, true, random);
            var targets = Enumerable.Range(0, 300).Select(i => random.NextInt(3)).ToArray();
            var loss = Losses.CrossEntropy(Functional.Linear(hidden, v), targets);
            adam.ZeroGrad();
            loss.Backward();
            adam.Step();
        }
        return [.. w.ToArray(), .. u.ToArray(), .. v.ToArray()];
    }

    [Fact]
    public void SameSeedGivesBitIdenticalTrainingForAnyThreadCount()
    {
        var first = TrainBriefly(7, threads: 2);
        Assert.Equal(first, TrainBriefly(7, threads: 2));
        Assert.Equal(first, TrainBriefly(7, threads: 1));
        Assert.NotEqual(first, TrainBriefly(8, threads: 2));
    }
}
