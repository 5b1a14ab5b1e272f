namespace Recur.Kernels;

/// <summary>
/// The log-gamma function and its derivative, the digamma function, in double precision, for the likelihoods of the
/// Student-t and negative binomial distributions. Both move the argument up by the recurrences Γ(x + 1) = x·Γ(x) and
/// ψ(x + 1) = ψ(x) + 1/x until it is at least 14 and then sum the first terms of Stirling's asymptotic series, whose
/// error there is below 1e-13.
/// </summary>
static class SpecialFunctions
{
    const double Shifted = 14;

    /// <summary>ln Γ(x) for x &gt; 0 (NaN otherwise).</summary>
    public static double LogGamma(double x)
    {
        if (!(x > 0)) return double.NaN;
        if (double.IsPositiveInfinity(x)) return x;
        double product = 1, offset = 0;
        while (x < Shifted)
        {
            product *= x;
            x += 1;
            // keep the product of the shifts in range: fold it into a logarithm before it underflows or overflows
            if (product < 1e-200 || product > 1e200) { offset += Math.Log(product); product = 1; }
        }
        double inverse = 1 / x, inverse2 = inverse * inverse;
        // Stirling: (x − ½)·ln x − x + ½·ln 2π + 1/(12x) − 1/(360x³) + 1/(1260x⁵) − 1/(1680x⁷)
        double series = inverse * (1.0 / 12 - inverse2 * (1.0 / 360 - inverse2 * (1.0 / 1260 - inverse2 / 1680)));
        return (x - 0.5) * Math.Log(x) - x + 0.5 * Math.Log(2 * Math.PI) + series - offset - Math.Log(product);
    }

    /// <summary>ψ(x) = d ln Γ(x)/dx for x &gt; 0 (NaN otherwise).</summary>
    public static double Digamma(double x)
    {
        if (!(x > 0)) return double.NaN;
        if (double.IsPositiveInfinity(x)) return x;
        double shift = 0;
        while (x < Shifted)
        {
            shift -= 1 / x;
            x += 1;
        }
        double inverse2 = 1 / (x * x);
        // ln x − 1/(2x) − 1/(12x²) + 1/(120x⁴) − 1/(252x⁶) + 1/(240x⁸)
        double series = inverse2 * (1.0 / 12 - inverse2 * (1.0 / 120 - inverse2 * (1.0 / 252 - inverse2 / 240)));
        return shift + Math.Log(x) - 0.5 / x - series;
    }
}
