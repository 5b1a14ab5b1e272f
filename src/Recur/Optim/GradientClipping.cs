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
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToArray();
        double sumSquares = 0;
        foreach (var g in grads) sumSquares += TensorPrimitives.SumOfSquares(g.Span);
        float norm = (float)Math.Sqrt(sumSquares);
        float scale = maxNorm / (norm + 1e-6f);
        if (scale < 1f)
            foreach (var g in grads) TensorPrimitives.Multiply(g.Span, scale, g.Span);
        return norm;
    }

    /// <summary>Clamps every gradient element to [−<paramref name="clipValue"/>, <paramref name="clipValue"/>].</summary>
    public static void ClipByValue(IEnumerable<Tensor> parameters, float clipValue)
    {
        if (!(clipValue >= 0f)) throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "clip value must be non-negative");
        foreach (var g in parameters.Select(p => p.Grad).OfType<Tensor>())
            TensorPrimitives.Clamp(g.Span, -clipValue, clipValue, g.Span);
    }
}
