namespace Recur.Autograd;

/// <summary>The largest disagreement found by <see cref="GradientCheck.Compare"/>.</summary>
/// <param name="MaxError">max |analytic − numeric| / (atol + rtol·|numeric|) over all checked entries; ≤ 1
/// passes.</param>
/// <param name="Where">The input and element of the worst entry, with both values.</param>
public sealed record GradientCheckResult(double MaxError, string Where)
{
    /// <summary>True when every entry agreed within tolerance.</summary>
    public bool Passed => MaxError <= 1.0;
}

/// <summary>
/// Finite-difference gradient checking: compares the analytic gradient from <see cref="Tensor.Backward"/> with central
/// differences (f(x+ε) − f(x−ε)) / 2ε of the scalar L = Σ w ⊙ f(inputs), where w is a fixed random projection so
/// that every output element contributes. The projection and differences are accumulated in double precision.
/// </summary>
public static class GradientCheck
{
    /// <summary>Compares analytic and numeric gradients of <paramref name="function"/> with respect to each
    /// input.</summary>
    public static GradientCheckResult Compare(Func<Tensor> function, IReadOnlyList<Tensor> inputs,
        double epsilon = 1e-2, double absoluteTolerance = 1e-3, double relativeTolerance = 1e-2, ulong seed = 1)
    {
        foreach (var input in inputs)
        {
            input.RequiresGrad = true;
            input.Grad = null;
        }
        var output = function();
        var random = new RandomGenerator(seed);
        var projection = Tensor.RandomUniform(random, output.ShapeArray(), -1f, 1f);
        (output * projection).Sum().Backward();

        double worst = 0;
        string where = "no entries";
        for (int n = 0; n < inputs.Count; n++)
        {
            var input = inputs[n];
            var analytic = input.Grad?.ToArray() ?? new float[input.Length];
            for (int i = 0; i < input.Length; i++)
            {
                float original = input.Span[i];
                input.Span[i] = original + (float)epsilon;
                double plus = Project(function, projection);
                input.Span[i] = original - (float)epsilon;
                double minus = Project(function, projection);
                input.Span[i] = original;
                double numeric = (plus - minus) / (2 * epsilon);
                double error = Math.Abs(analytic[i] - numeric) / (absoluteTolerance
                    + relativeTolerance * Math.Abs(numeric));
                if (error > worst || double.IsNaN(error))
                {
                    worst = double.IsNaN(error) ? double.PositiveInfinity : error;
                    where = $"input {n} {input}, element {i}: analytic {analytic[i]:G6}, numeric {numeric:G6}";
                }
            }
        }
        return new GradientCheckResult(worst, where);
    }

    static double Project(Func<Tensor> function, Tensor projection)
    {
        using var _ = GradMode.NoGrad();
        var output = function();
        double sum = 0;
        var values = output.Span;
        var weights = projection.Span;
        for (int i = 0; i < values.Length; i++) sum += (double)values[i] * weights[i];
        return sum;
    }
}
