using System.Numerics.Tensors;

namespace Recur;

public static partial class Functional
{
    /// <summary>
    /// Sums of embedding rows, one bag per row of <paramref name="ids"/>: for ids of shape [..., J] the result
    /// [..., dim] holds Σⱼ w[j] ⊙ weight[ids[..., j]], where w is <paramref name="positionWeights"/> [J, dim] (all
    /// ones when null, PyTorch's <c>EmbeddingBag(mode="sum")</c>). Ids equal to <paramref name="paddingIndex"/> add
    /// nothing, so bags of different lengths share one padded id array. Memory networks encode a sentence this way:
    /// as a bag of words, or with the position encoding of Sukhbaatar et al. 2015 as the weights. Gradients reach the
    /// used rows of <paramref name="weight"/> and, when it requires them, <paramref name="positionWeights"/>.
    /// </summary>
    public static Tensor EmbeddingBag(Tensor weight, ReadOnlySpan<int> ids, int[] idsShape,
        Tensor? positionWeights = null, int? paddingIndex = null)
    {
        if (weight.Rank != 2)
            throw new ArgumentException(
                $"EmbeddingBag: weight must be [vocab, dim], got {Shapes.Format(weight.Shape)}.");
        if (idsShape.Length < 1 || Shapes.Count(idsShape) != ids.Length)
            throw new ArgumentException(
                $"EmbeddingBag: {ids.Length} ids do not fill shape {Shapes.Format(idsShape)} (…, bag length).");
        int vocab = weight.Size(0), dim = weight.Size(1), length = idsShape[^1];
        if (positionWeights != null && (positionWeights.Rank != 2 || positionWeights.Size(0) != length
            || positionWeights.Size(1) != dim))
            throw new ArgumentException($"EmbeddingBag: position weights {Shapes.Format(positionWeights.Shape)} "
                + $"are not [{length}, {dim}] (bag length, embedding size).");
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab)
                throw new ArgumentException(
                    $"EmbeddingBag: id {ids[i]} at position {i} is outside the vocabulary of {vocab}.");
        int bags = length == 0 ? 0 : ids.Length / length;
        var output = Tensor.Zeros([.. idsShape[..^1], dim]);
        var copy = ids.ToArray();
        var w = weight.Span;
        var y = output.Span;
        var pw = positionWeights is null ? default : positionWeights.Span;
        for (int b = 0; b < bags; b++)
        {
            var row = y.Slice(b * dim, dim);
            for (int j = 0; j < length; j++)
            {
                int id = copy[b * length + j];
                if (id == paddingIndex) continue;
                var e = w.Slice(id * dim, dim);
                if (positionWeights is null) TensorPrimitives.Add(row, e, row);
                else TensorPrimitives.MultiplyAdd(e, pw.Slice(j * dim, dim), row, row);
            }
        }
        Tensor[] inputs = positionWeights is null ? [weight] : [weight, positionWeights];
        return Tensor.Result(output, inputs, g =>
        {
            var gy = g.Span;
            bool toWeight = weight.RequiresGrad, toPositions = positionWeights?.RequiresGrad == true;
            var gw = toWeight ? weight.GradSpan() : default;
            var gp = toPositions ? positionWeights!.GradSpan() : default;
            var wv = weight.Span;
            var pv = positionWeights is null ? default : positionWeights.Span;
            for (int b = 0; b < bags; b++)
            {
                var grad = gy.Slice(b * dim, dim);
                for (int j = 0; j < length; j++)
                {
                    int id = copy[b * length + j];
                    if (id == paddingIndex) continue;
                    if (toWeight)
                    {
                        var target = gw.Slice(id * dim, dim);
                        if (positionWeights is null) TensorPrimitives.Add(target, grad, target);
                        else TensorPrimitives.MultiplyAdd(grad, pv.Slice(j * dim, dim), target, target);
                    }
                    if (toPositions)
                    {
                        var target = gp.Slice(j * dim, dim);
                        TensorPrimitives.MultiplyAdd(grad, wv.Slice(id * dim, dim), target, target);
                    }
                }
            }
        });
    }
}
