using System.Numerics.Tensors;

namespace Recur.Kernels;

/// <summary>
/// Normalising one row to zero mean and unit (biased) variance, and the gradient back through it: the maths that
/// <c>Functional.LayerNorm</c> and the layer-normalised recurrent cells share.
/// </summary>
internal static class Normalization
{
    /// <summary>PyTorch's default ε of <c>layer_norm</c>.</summary>
    public const float Epsilon = 1e-5f;

    /// <summary>x̂ = (x − mean)/√(var + ε) into <paramref name="normalized"/>; returns 1/√(var + ε).</summary>
    public static float Normalize(ReadOnlySpan<float> x, Span<float> normalized, float eps = Epsilon)
    {
        int n = x.Length;
        float mean = TensorPrimitives.Sum(x) / n;
        TensorPrimitives.Subtract(x, mean, normalized);
        float inverseStd = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(normalized[..n]) / n + eps);
        TensorPrimitives.Multiply(normalized[..n], inverseStd, normalized);
        return inverseStd;
    }

    /// <summary>
    /// dx = rstd·(d − mean(d) − x̂·mean(d ⊙ x̂)) for d = ∂L/∂x̂; written to <paramref name="dx"/>, or added to it with
    /// <paramref name="accumulate"/>. <paramref name="dx"/> may alias the raw input but not x̂ or d.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> normalized, float inverseStd, ReadOnlySpan<float> dNormalized,
        Span<float> dx, bool accumulate = false)
    {
        int n = normalized.Length;
        float meanD = TensorPrimitives.Sum(dNormalized) / n;
        float meanDx = TensorPrimitives.Dot(dNormalized, normalized) / n;
        if (accumulate)
        {
            for (int i = 0; i < n; i++) dx[i] += inverseStd * (dNormalized[i] - meanD - normalized[i] * meanDx);
            return;
        }
        // rstd·d − rstd·mean(d) − rstd·mean(d ⊙ x̂)·x̂, in vectorised passes
        var result = dx[..n];
        TensorPrimitives.Subtract(dNormalized, meanD, result);
        TensorPrimitives.MultiplyAdd(normalized, -meanDx, result, result);
        TensorPrimitives.Multiply(result, inverseStd, result);
    }
}
