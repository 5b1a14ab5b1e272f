using Recur.Kernels;

namespace Recur;

/// <summary>Negative log-likelihoods of distributions whose parameters a network predicts (DeepAR's
/// heads).</summary>
public static partial class Losses
{
    /// <summary>
    /// Gaussian negative log-likelihood as <c>torch.nn.functional.gaussian_nll_loss</c>: ½·(ln v + (x − t)²/v) per
    /// element, plus ½·ln 2π when <paramref name="full"/>, where v is <paramref name="variance"/> clamped below at
    /// <paramref name="eps"/> (the clamp, as in PyTorch, does not stop the gradient). Reduced to Σ wᵢ·lᵢ / Σ wᵢ with
    /// <paramref name="mask"/> (one weight per element; all ones by default) — the mean when unmasked.
    /// </summary>
    public static Tensor GaussianNll(Tensor input, Tensor target, Tensor variance, bool full = false,
        float eps = 1e-6f, ReadOnlySpan<float> mask = default)
    {
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "GaussianNll: eps must be positive.");
        Check("GaussianNll", [input, target, variance], ["input", "target", "variance"], mask);
        for (int i = 0; i < variance.Length; i++)
            if (!(variance.Span[i] >= 0)) throw new ArgumentException(
                $"GaussianNll: variance {variance.Span[i]} at element {i} of {Shapes.Format(variance.Shape)} is "
                + "negative or not a number.");
        double constant = full ? 0.5 * Math.Log(2 * Math.PI) : 0;
        return ElementwiseNll([input, target, variance], mask, (i, d) =>
        {
            double x = input.Span[i], t = target.Span[i], v = Math.Max(variance.Span[i], eps), u = x - t;
            d[0] = u / v;
            d[1] = -u / v;
            d[2] = 0.5 * (1 / v - u * u / (v * v));
            return 0.5 * (Math.Log(v) + u * u / v) + constant;
        });
    }

    /// <summary>
    /// Negative log-likelihood of <paramref name="target"/> under Student's t distribution with location μ, scale σ
    /// &gt; 0 and ν &gt; 0 degrees of freedom (each a tensor of the target's shape; the log-density of
    /// <c>torch.distributions.StudentT(df, loc, scale)</c>): −ln Γ((ν+1)/2) + ln Γ(ν/2) + ½·ln(νπ) + ln σ + (ν+1)/2 ·
    /// ln(1 + y²/ν), y = (t − μ)/σ. Heavier tails than the Gaussian make it robust to outliers (a DeepAR likelihood,
    /// Salinas et al. 2020). Reduced to Σ wᵢ·lᵢ / Σ wᵢ over <paramref name="mask"/> (the mean when unmasked).
    /// </summary>
    public static Tensor StudentTNll(Tensor location, Tensor scale, Tensor degreesOfFreedom, Tensor target,
        ReadOnlySpan<float> mask = default)
    {
        Check("StudentTNll", [location, scale, degreesOfFreedom, target], ["location", "scale",
            "degreesOfFreedom", "target"], mask);
        Positive("StudentTNll", scale, "scale");
        Positive("StudentTNll", degreesOfFreedom, "degreesOfFreedom");
        return ElementwiseNll([location, scale, degreesOfFreedom, target], mask, (i, d) =>
        {
            double mu = location.Span[i], sigma = scale.Span[i], nu = degreesOfFreedom.Span[i];
            double y = (target.Span[i] - mu) / sigma, y2 = y * y, ratio = (nu + 1) / (nu + y2);
            d[0] = -ratio * y / sigma;
            d[1] = (1 - ratio * y2) / sigma;
            d[2] = 0.5 * (SpecialFunctions.Digamma(nu / 2) - SpecialFunctions.Digamma((nu + 1) / 2) + 1 / nu
                + Math.Log(1 + y2 / nu) - ratio * y2 / nu);
            d[3] = -d[0];
            return SpecialFunctions.LogGamma(nu / 2) - SpecialFunctions.LogGamma((nu + 1) / 2)
                + 0.5 * Math.Log(nu * Math.PI) + Math.Log(sigma) + (nu + 1) / 2 * Math.Log(1 + y2 / nu);
        });
    }

    /// <summary>
    /// Negative log-likelihood of counts <paramref name="target"/> (≥ 0) under the negative binomial distribution
    /// with mean μ &gt; 0 and dispersion α &gt; 0 (variance μ + α·μ²), DeepAR's likelihood for count data: with r =
    /// 1/α, −ln Γ(t + r) + ln Γ(t + 1) + ln Γ(r) − r·ln(r/(r + μ)) − t·ln(μ/(r + μ)); the same as
    /// <c>torch.distributions.NegativeBinomial(total_count=r, probs=μ/(r + μ))</c>. The targets get no gradient.
    /// Reduced to Σ wᵢ·lᵢ / Σ wᵢ over <paramref name="mask"/> (the mean when unmasked).
    /// </summary>
    public static Tensor NegativeBinomialNll(Tensor mean, Tensor dispersion, Tensor target,
        ReadOnlySpan<float> mask = default)
    {
        Check("NegativeBinomialNll", [mean, dispersion, target], ["mean", "dispersion", "target"], mask);
        Positive("NegativeBinomialNll", mean, "mean");
        Positive("NegativeBinomialNll", dispersion, "dispersion");
        for (int i = 0; i < target.Length; i++)
            if (!(target.Span[i] >= 0) || !float.IsFinite(target.Span[i])) throw new ArgumentException(
                $"NegativeBinomialNll: target {target.Span[i]} at element {i} of {Shapes.Format(target.Shape)} is "
                + "not a count (≥ 0).");
        return ElementwiseNll([mean, dispersion], mask, (i, d) =>
        {
            double mu = mean.Span[i], alpha = dispersion.Span[i], t = target.Span[i], r = 1 / alpha;
            d[0] = -(t / mu - (r + t) / (r + mu));
            // ∂/∂r of the log-likelihood, then dr/dα = −r²
            double dr = SpecialFunctions.Digamma(t + r) - SpecialFunctions.Digamma(r) + Math.Log(r / (r + mu))
                + (mu - t) / (r + mu);
            d[1] = dr * r * r;
            return -SpecialFunctions.LogGamma(t + r) + SpecialFunctions.LogGamma(t + 1) + SpecialFunctions.LogGamma(r)
                - r * Math.Log(r / (r + mu)) - t * Math.Log(mu / (r + mu));
        });
    }

    static void Check(string name, Tensor[] tensors, string[] names, ReadOnlySpan<float> mask)
    {
        for (int k = 1; k < tensors.Length; k++)
            if (!tensors[k].Shape.SequenceEqual(tensors[0].Shape))
                throw new ArgumentException($"{name}: {names[k]} {Shapes.Format(tensors[k].Shape)} and {names[0]} "
                    + $"{Shapes.Format(tensors[0].Shape)} differ.");
        if (!mask.IsEmpty && mask.Length != tensors[0].Length)
            throw new ArgumentException($"{name}: mask has {mask.Length} weights for {tensors[0].Length} elements.");
    }

    static void Positive(string name, Tensor tensor, string what)
    {
        var span = tensor.Span;
        for (int i = 0; i < span.Length; i++)
            if (!(span[i] > 0) || !float.IsFinite(span[i])) throw new ArgumentException(
                $"{name}: {what} {span[i]} at element {i} of {Shapes.Format(tensor.Shape)} is not positive and "
                + "finite.");
    }

    /// <summary>
    /// Σ wᵢ·lᵢ / Σ wᵢ of the element losses <paramref name="element"/> gives (writing ∂lᵢ/∂ of each of
    /// <paramref name="inputs"/> at element i), and its backward pass from those partials.
    /// </summary>
    static Tensor ElementwiseNll(Tensor[] inputs, ReadOnlySpan<float> mask, Func<int, double[], double> element)
    {
        int n = inputs[0].Length;
        var partials = new float[inputs.Length][];
        for (int k = 0; k < inputs.Length; k++) partials[k] = new float[n];
        var d = new double[inputs.Length];
        double loss = 0, total = 0;
        for (int i = 0; i < n; i++)
        {
            float w = mask.IsEmpty ? 1f : mask[i];
            total += w;
            if (w == 0f) continue;
            loss += w * element(i, d);
            for (int k = 0; k < inputs.Length; k++) partials[k][i] = (float)(w * d[k]);
        }
        float scale = total > 0 ? (float)(1 / total) : 0f;
        return Tensor.Result(Tensor.Scalar((float)(loss * scale)), inputs, g =>
        {
            float factor = g.Span[0] * scale;
            for (int k = 0; k < inputs.Length; k++)
            {
                if (!inputs[k].RequiresGrad) continue;
                var grad = inputs[k].GradSpan();
                for (int i = 0; i < n; i++) grad[i] += factor * partials[k][i];
            }
        });
    }
}
