using System.Numerics.Tensors;

namespace Recur.Optim;

/// <summary>Gradient clipping, applied between <c>Backward()</c> and <c>Step()</c>.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients together so that their global L2 norm is at most <paramref name="maxNorm"/>
    /// (as <c>torch.nn.utils.clip_grad_norm_</c>, scale = maxNorm / (norm + 1e-6)). Returns the norm before clipping,
    /// which is NaN or ∞ when some gradient is not finite.
    /// </summary>
    public static float ClipByNorm(IEnumerable<Tensor> parameters, float maxNorm)
    {
        if (!(maxNorm > 0f)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm,
            "max norm must be positive");
        var given = parameters.ToArray();
        var grads = given.Select(p => p.Grad).OfType<Tensor>().ToArray();
        if (given.Length > 0 && grads.Length == 0)
            throw new InvalidOperationException($"ClipByNorm: none of the {given.Length} parameters has a gradient "
                + "yet; call Backward() on the loss first.");
        float norm = NormOf(grads);
        float scale = maxNorm / (norm + 1e-6f);
        if (scale < 1f)
            foreach (var g in grads) TensorPrimitives.Multiply(g.Span, scale, g.Span);
        return norm;
    }

    /// <summary>The L2 norm of all gradients together (0 when there are none; NaN or ∞ when some gradient is not
    /// finite).</summary>
    public static float GlobalNorm(IEnumerable<Tensor> parameters) => NormOf(parameters.Select(p
        => p.Grad).OfType<Tensor>());

    static float NormOf(IEnumerable<Tensor> gradients)
    {
        double sumSquares = 0;
        foreach (var g in gradients)
        {
            var span = g.Span;
            for (int start = 0; start < span.Length; start += 4096)
            {
                // float partial sums over short blocks, accumulated in double: accurate for millions of elements
                sumSquares += TensorPrimitives.SumOfSquares(span.Slice(start, Math.Min(4096, span.Length - start)));
            }
        }
        return (float)Math.Sqrt(sumSquares);
    }

    /// <summary>Clamps every gradient element to [−<paramref name="clipValue"/>,
    /// <paramref name="clipValue"/>].</summary>
    public static void ClipByValue(IEnumerable<Tensor> parameters, float clipValue)
    {
        if (!(clipValue >= 0f)) throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue,
            "clip value must be non-negative");
        foreach (var g in parameters.Select(p => p.Grad).OfType<Tensor>())
            TensorPrimitives.Clamp(g.Span, -clipValue, clipValue, g.Span);
    }
}
