namespace Recur.Nn;

/// <summary>
/// A lookup table of <c>weight</c> [count, dim] as <c>torch.nn.Embedding</c>, initialised N(0, 1); the optional padding
/// index row starts at zero and receives no gradient.
/// </summary>
public sealed class Embedding : Module
{
    /// <summary>The table [count, dim].</summary>
    public Tensor Weight { get; }

    /// <summary>The row that stays zero, or null.</summary>
    public int? PaddingIndex { get; }

    /// <summary>Creates the table.</summary>
    public Embedding(int count, int dimension, RandomGenerator random, int? paddingIndex = null)
    {
        if (count < 1
            || dimension < 1) throw new ArgumentException(
            $"Embedding: sizes must be positive, got count={count}, dim={dimension}.");
        if (paddingIndex is int p && (p < 0
            || p >= count)) throw new ArgumentException($"Embedding: padding index {p} is outside [0, {count}).");
        Weight = RegisterParameter("weight", Tensor.RandomNormal(random, [count, dimension]));
        PaddingIndex = paddingIndex;
        if (paddingIndex is int pad) Weight.Span.Slice(pad * dimension, dimension).Clear();
    }

    /// <summary>Looks up <paramref name="indices"/> (shape <paramref name="shape"/>) → [..shape, dim].</summary>
    public Tensor Forward(ReadOnlySpan<int> indices, params int[] shape) => Functional.Embedding(Weight, indices,
        shape, PaddingIndex);
}
