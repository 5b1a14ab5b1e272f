namespace Recur.Tests.Core;

/// <summary>The generator's Gamma and Poisson variates: their moments, and that a seed repeats them.</summary>
public sealed class RandomGeneratorTests
{
    [Theory]
    [InlineData(0.3)]
    [InlineData(1.0)]
    [InlineData(4.5)]
    [InlineData(60.0)]
    public void GammaVariatesHaveTheShapeAsMeanAndVariance(double shape)
    {
        var random = new RandomGenerator(3);
        const int n = 200_000;
        double sum = 0, squares = 0;
        for (int i = 0; i < n; i++)
        {
            double x = random.NextGamma(shape);
            Assert.True(x >= 0);
            sum += x;
            squares += x * x;
        }
        double mean = sum / n, variance = squares / n - mean * mean;
        // five standard errors of the mean (√(shape/n)) and a 3% band on the variance
        Assert.InRange(mean, shape - 5 * Math.Sqrt(shape / n), shape + 5 * Math.Sqrt(shape / n));
        Assert.InRange(variance, 0.97 * shape, 1.03 * shape);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(2.5)]
    [InlineData(9.99)]
    [InlineData(10.0)]
    [InlineData(37.0)]
    [InlineData(5000.0)]
    public void PoissonVariatesHaveTheMeanAsMeanAndVariance(double mean)
    {
        var random = new RandomGenerator(4);
        const int n = 200_000;
        double sum = 0, squares = 0;
        long zeros = 0;
        for (int i = 0; i < n; i++)
        {
            long k = random.NextPoisson(mean);
            Assert.True(k >= 0);
            if (k == 0) zeros++;
            sum += k;
            squares += (double)k * k;
        }
        double m = sum / n, variance = squares / n - m * m;
        Assert.InRange(m, mean - 5 * Math.Sqrt(mean / n) - 1e-12, mean + 5 * Math.Sqrt(mean / n) + 1e-12);
        Assert.InRange(variance, 0.97 * mean - 1e-12, 1.03 * mean + 1e-12);
        // P(0) = e^−mean
        double p0 = Math.Exp(-mean);
        Assert.InRange((double)zeros / n, p0 - 5 * Math.Sqrt(p0 * (1 - p0) / n) - 1e-12,
            p0 + 5 * Math.Sqrt(p0 * (1 - p0) / n) + 1e-12);
    }

    [Fact]
    public void ASeedRepeatsTheVariatesAndBadParametersAreRefused()
    {
        var a = new RandomGenerator(9);
        var b = new RandomGenerator(9);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(a.NextGamma(0.5 + i), b.NextGamma(0.5 + i));
            Assert.Equal(a.NextPoisson(i * 3), b.NextPoisson(i * 3));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => a.NextGamma(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.NextPoisson(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.NextPoisson(double.NaN));
    }
}
