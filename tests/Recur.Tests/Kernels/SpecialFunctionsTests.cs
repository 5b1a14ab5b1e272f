using Recur.Kernels;

namespace Recur.Tests.Kernels;

/// <summary>ln Γ and ψ against exact values and each other.</summary>
public sealed class SpecialFunctionsTests
{
    [Theory]
    [InlineData(1.0, 0.0)]
    [InlineData(2.0, 0.0)]
    [InlineData(0.5, 0.57236494292470008)] // ln √π
    [InlineData(10.0, 12.801827480081469)] // ln 9!
    [InlineData(1e-8, 18.420680738180209)] // ≈ −ln x − γx
    [InlineData(171.5, 709.14316303092820)]
    public void LogGammaHasKnownValues(double x, double expected) =>
        Assert.Equal(expected, SpecialFunctions.LogGamma(x), 1e-12 * Math.Max(1, Math.Abs(expected)));

    [Fact]
    public void DigammaHasKnownValuesAndIsTheDerivativeOfLogGamma()
    {
        const double euler = 0.57721566490153286;
        Assert.Equal(-euler, SpecialFunctions.Digamma(1), 1e-12);
        Assert.Equal(-euler - 2 * Math.Log(2), SpecialFunctions.Digamma(0.5), 1e-12);
        Assert.Equal(1 - euler + 0.5 + 1.0 / 3, SpecialFunctions.Digamma(4), 1e-12);
        foreach (double x in new[] { 0.05, 0.7, 3.3, 7.9, 8.1, 55.0, 1e4 })
        {
            double h = 1e-5 * x;
            double slope = (SpecialFunctions.LogGamma(x + h) - SpecialFunctions.LogGamma(x - h)) / (2 * h);
            Assert.Equal(slope, SpecialFunctions.Digamma(x), 1e-6 * Math.Max(1, Math.Abs(slope)));
        }
        Assert.True(double.IsNaN(SpecialFunctions.LogGamma(0)));
        Assert.True(double.IsNaN(SpecialFunctions.Digamma(-1)));
    }
}
