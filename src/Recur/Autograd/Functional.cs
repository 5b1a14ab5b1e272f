using System.Numerics.Tensors;
using Recur.Kernels;

namespace Recur;

/// <summary>Neural-network operations with parameters passed in: linear maps, embeddings, dropout, layer
/// norm.</summary>
public static partial class Functional
{
    /// <summary>
    /// <c>y = x·Wᵀ + b</c> with PyTorch's layout: <paramref name="weight"/> is [out, in], <paramref name="bias"/> is
    /// [out] or null, <paramref name="input"/> is [..., in]. The bias is added inside the GEMM.
    /// </summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2 || input.Rank < 1 || input.Size(-1) != weight.Size(1))
            throw new ArgumentException($"Linear: input {Shapes.Format(input.Shape)} does not fit "
                + $"weight {Shapes.Format(weight.Shape)} ([out, in]).");
        int outFeatures = weight.Size(0), inFeatures = weight.Size(1);
        if (bias != null && (bias.Rank != 1 || bias.Length != outFeatures))
            throw new ArgumentException(
                $"Linear: bias {Shapes.Format(bias.Shape)} does not match {outFeatures} output features.");
        int rows = Shapes.Count(input.Shape[..^1]);
        var outShape = input.ShapeArray();
        outShape[^1] = outFeatures;
        var output = Tensor.Zeros(outShape);
        Gemm.Multiply(false, true, rows, outFeatures, inFeatures, input.Span, inFeatures, weight.Span, inFeatures,
            output.Span, outFeatures, bias: bias is null ? default : bias.Span);
        return Tensor.Result(output, bias is null ? [input, weight] : [input, weight, bias], g =>
        {
            if (input.RequiresGrad)
                Gemm.Multiply(false, false, rows, inFeatures, outFeatures, g.Span, outFeatures, weight.Span, inFeatures,
                    input.GradSpan(), inFeatures, accumulate: true);
            if (weight.RequiresGrad)
                Gemm.Multiply(true, false, outFeatures, inFeatures, rows, g.Span, outFeatures, input.Span, inFeatures,
                    weight.GradSpan(), inFeatures, accumulate: true);
            if (bias is { RequiresGrad: true })
            {
                var gb = bias.GradSpan();
                for (int r = 0; r < rows; r++) TensorPrimitives.Add(gb, g.Span.Slice(r * outFeatures, outFeatures), gb);
            }
        });
    }

    /// <summary>
    /// Rows of <paramref name="weight"/> [vocab, dim] for each id: output shape is <paramref name="idsShape"/> + [dim].
    /// The backward adds into the used rows only, and never into row <paramref name="paddingIndex"/> (PyTorch's
    /// padding_idx).
    /// </summary>
    public static Tensor Embedding(Tensor weight, ReadOnlySpan<int> ids, int[] idsShape, int? paddingIndex = null)
    {
        if (weight.Rank != 2) throw new ArgumentException(
            $"Embedding: weight must be [vocab, dim], got {Shapes.Format(weight.Shape)}.");
        if (Shapes.Count(idsShape) != ids.Length)
            throw new ArgumentException($"Embedding: {ids.Length} ids do not fill shape {Shapes.Format(idsShape)}.");
        int vocab = weight.Size(0), dim = weight.Size(1);
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab)
                throw new ArgumentException(
                    $"Embedding: id {ids[i]} at position {i} is outside the vocabulary of {vocab}.");
        var output = Tensor.Zeros([.. idsShape, dim]);
        var copy = ids.ToArray();
        for (int i = 0; i < copy.Length; i++) weight.Span.Slice(copy[i] * dim, dim).CopyTo(output.Span.Slice(i * dim,
            dim));
        return Tensor.Result(output, weight, g =>
        {
            var gw = weight.GradSpan();
            for (int i = 0; i < copy.Length; i++)
            {
                if (copy[i] == paddingIndex) continue;
                var row = gw.Slice(copy[i] * dim, dim);
                TensorPrimitives.Add(row, g.Span.Slice(i * dim, dim), row);
            }
        });
    }

    /// <summary>
    /// Inverted dropout: in training, zeroes each element with probability <paramref name="p"/> (drawn from
    /// <paramref name="random"/>) and scales the rest by 1/(1−p); otherwise returns the input unchanged.
    /// </summary>
    public static Tensor Dropout(Tensor input, float p, bool training, RandomGenerator random)
    {
        if (p < 0f || p >= 1f) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must be in [0, 1).");
        if (!training || p == 0f) return input;
        var mask = StorageAllocator.Allocate(input.Length, clear: false);
        float scale = 1f / (1f - p);
        for (int i = 0; i < mask.Length; i++) mask[i] = random.NextFloat() >= p ? scale : 0f;
        return Masked(input, mask);
    }

    /// <summary>input ⊙ mask, elementwise, with the gradient mask ⊙ g (the dropouts' shared tail).</summary>
    static Tensor Masked(Tensor input, float[] mask)
    {
        var output = Tensor.Uninitialized(input.ShapeArray());
        TensorPrimitives.Multiply(input.Span, mask, output.Span);
        return Tensor.Result(output, input, g => Tensor.AddProduct(input.GradSpan(), g.Span, mask));
    }

    /// <summary>
    /// Variational (locked) dropout for time-major sequences [T, ...] (Gal &amp; Ghahramani 2016): one mask per
    /// sequence and feature, drawn from <paramref name="random"/>, shared by every step, so a dropped feature stays
    /// dropped for the whole sequence; kept values are scaled by 1/(1−p). Outside training the input is returned
    /// unchanged.
    /// </summary>
    public static Tensor VariationalDropout(Tensor input, float p, bool training, RandomGenerator random)
    {
        if (p < 0f || p >= 1f) throw new ArgumentOutOfRangeException(nameof(p), p,
            "VariationalDropout: p must be in [0, 1).");
        if (input.Rank < 2) throw new ArgumentException(
            $"VariationalDropout: expected a sequence [T, ...], got {Shapes.Format(input.Shape)}.");
        if (!training || p == 0f) return input;
        int steps = input.Size(0), width = steps == 0 ? 0 : input.Length / steps;
        var step = new float[width];
        float scale = 1f / (1f - p);
        for (int i = 0; i < width; i++) step[i] = random.NextFloat() >= p ? scale : 0f;
        var mask = StorageAllocator.Allocate(input.Length, clear: false);
        for (int t = 0; t < steps; t++) step.CopyTo(mask.AsSpan(t * width, width));
        return Masked(input, mask);
    }

    /// <summary>
    /// Embedding dropout (Gal &amp; Ghahramani 2016; the <c>dropoute</c> of Merity et al. 2018's AWD-LSTM): in
    /// training, drops whole words — each of the <paramref name="vocabularySize"/> rows of the embedding table is
    /// zeroed with probability <paramref name="p"/> for this call, the rest scaled by 1/(1 − p) — so every occurrence
    /// of a dropped word in the batch reads zeros. <paramref name="embedded"/> [..., E] holds the vectors of
    /// <paramref name="ids"/> (one id per vector, in order); outside training it is returned unchanged.
    /// </summary>
    public static Tensor EmbeddingDropout(Tensor embedded, ReadOnlySpan<int> ids, int vocabularySize, float p,
        bool training, RandomGenerator random)
    {
        if (p < 0f || p >= 1f) throw new ArgumentOutOfRangeException(nameof(p), p,
            "EmbeddingDropout: p must be in [0, 1).");
        int width = ids.Length == 0 ? 0 : embedded.Length / ids.Length;
        if (embedded.Rank < 1 || width * ids.Length != embedded.Length || ids.Length > 0 && width != embedded.Size(-1))
            throw new ArgumentException($"EmbeddingDropout: {ids.Length} ids for embedded vectors "
                + $"{Shapes.Format(embedded.Shape)}.");
        if (!training || p == 0f) return embedded;
        var rows = new float[vocabularySize];
        float scale = 1f / (1f - p);
        for (int i = 0; i < rows.Length; i++) rows[i] = random.NextFloat() >= p ? scale : 0f;
        var mask = StorageAllocator.Allocate(embedded.Length, clear: false);
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)vocabularySize) throw new ArgumentException(
                $"EmbeddingDropout: id {ids[i]} at position {i} is outside the vocabulary of {vocabularySize}.");
            mask.AsSpan(i * width, width).Fill(rows[ids[i]]);
        }
        return Masked(embedded, mask);
    }

    /// <summary>
    /// Layer normalisation over the last axis (Ba et al. 2016): (x − mean)/√(var + eps)·γ + β with the biased variance,
    /// as <c>torch.nn.functional.layer_norm</c>. <paramref name="gamma"/> and <paramref name="beta"/> are [features] or
    /// null.
    /// </summary>
    public static Tensor LayerNorm(Tensor input, Tensor? gamma, Tensor? beta, float eps = 1e-5f)
    {
        int features = input.Size(-1);
        if (gamma != null && gamma.Length != features || beta != null && beta.Length != features)
            throw new ArgumentException(
                $"LayerNorm: γ/β must have {features} entries for input {Shapes.Format(input.Shape)}.");
        int rows = features == 0 ? 0 : input.Length / features;
        var output = Tensor.Zeros(input.ShapeArray());
        var normalized = new float[input.Length];
        var inverseStd = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            var x = input.Span.Slice(r * features, features);
            var xhat = normalized.AsSpan(r * features, features);
            inverseStd[r] = Normalization.Normalize(x, xhat, eps);
            var y = output.Span.Slice(r * features, features);
            if (gamma != null) TensorPrimitives.Multiply(xhat, gamma.Span, y); else xhat.CopyTo(y);
            if (beta != null) TensorPrimitives.Add(y, beta.Span, y);
        }
        Tensor[] inputs = gamma is null ? beta is null ? [input] : [input, beta] : beta is null ? [input,
            gamma] : [input, gamma, beta];
        return Tensor.Result(output, inputs, g =>
        {
            var gy = new float[features];
            for (int r = 0; r < rows; r++)
            {
                var grow = g.Span.Slice(r * features, features);
                var xhat = normalized.AsSpan(r * features, features);
                if (gamma is { RequiresGrad: true }) Tensor.AddProduct(gamma.GradSpan(), grow, xhat);
                if (beta is { RequiresGrad: true }) { var gb = beta.GradSpan(); TensorPrimitives.Add(gb, grow, gb); }
                if (!input.RequiresGrad) continue;
                // through x̂ with ĝ = g⊙γ
                if (gamma != null) TensorPrimitives.Multiply(grow, gamma.Span, gy); else grow.CopyTo(gy);
                Normalization.Backward(xhat, inverseStd[r], gy, input.GradSpan().Slice(r * features, features),
                    accumulate: true);
            }
        });
    }

    /// <summary>
    /// Batch normalisation (Ioffe &amp; Szegedy 2015) as <c>torch.nn.functional.batch_norm</c>: <paramref
    /// name="input"/> is [N, C] or [N, C, L], each channel normalised over N (and L). In training the batch's
    /// statistics are used (biased variance) and, when given, <paramref name="runningMean"/> and <paramref
    /// name="runningVar"/> [C] move towards them by <paramref name="momentum"/> (the variance unbiased, as PyTorch); in
    /// evaluation the running statistics are used. <paramref name="weight"/> (γ) and <paramref name="bias"/> (β) are
    /// [C] or null.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, float momentum = 0.1f, float eps = 1e-5f)
    {
        if (input.Rank is not (2 or 3))
            throw new ArgumentException(
                $"BatchNorm: input {Shapes.Format(input.Shape)} is not [N, C] or [N, C, L].");
        int n = input.Size(0), channels = input.Size(1), length = input.Rank == 3 ? input.Size(2) : 1;
        foreach (var (what, t) in new[] { ("weight", weight), ("bias", bias), ("running mean", runningMean),
            ("running variance", runningVar) })
            if (t != null && t.Length != channels)
                throw new ArgumentException($"BatchNorm: {what} has {t.Length} entries for {channels} channels "
                    + $"(input {Shapes.Format(input.Shape)}).");
        if (!training && (runningMean is null || runningVar is null))
            throw new ArgumentException("BatchNorm: evaluation needs running statistics.");
        int count = n * length;
        if (training && count < 2)
            throw new ArgumentException($"BatchNorm: training needs more than one value per channel, got input "
                + $"{Shapes.Format(input.Shape)}.");
        var output = Tensor.Zeros(input.ShapeArray());
        var normalized = new float[input.Length]; // x̂, laid out as the input
        var inverseStd = new float[channels];
        var column = new float[count];
        var columnHat = new float[count];
        var x = input.Span;
        for (int c = 0; c < channels; c++)
        {
            Gather(x, column, c, channels, length);
            if (training)
            {
                inverseStd[c] = Normalization.Normalize(column, columnHat, eps);
                if (runningMean != null && runningVar != null)
                {
                    float mean = TensorPrimitives.Sum(column) / count;
                    float variance = 1f / (inverseStd[c] * inverseStd[c]) - eps;
                    runningMean.Span[c] = (1f - momentum) * runningMean.Span[c] + momentum * mean;
                    runningVar.Span[c] = (1f - momentum) * runningVar.Span[c]
                        + momentum * variance * count / (count - 1);
                }
            }
            else
            {
                inverseStd[c] = 1f / MathF.Sqrt(runningVar!.Span[c] + eps);
                TensorPrimitives.Subtract(column, runningMean!.Span[c], columnHat);
                TensorPrimitives.Multiply(columnHat, inverseStd[c], columnHat);
            }
            Scatter(columnHat, normalized, c, channels, length);
            TensorPrimitives.Multiply(columnHat, weight?.Span[c] ?? 1f, column);
            TensorPrimitives.Add(column, bias?.Span[c] ?? 0f, column);
            Scatter(column, output.Span, c, channels, length);
        }
        Tensor[] inputs = [input, .. weight is null ? Array.Empty<Tensor>() : [weight],
            .. bias is null ? Array.Empty<Tensor>() : [bias]];
        return Tensor.Result(output, inputs, g =>
        {
            var gradient = new float[count];
            var hat = new float[count];
            var dx = new float[count];
            for (int c = 0; c < channels; c++)
            {
                Gather(g.Span, gradient, c, channels, length);
                Gather(normalized, hat, c, channels, length);
                if (weight is { RequiresGrad: true }) weight.GradSpan()[c] += TensorPrimitives.Dot(gradient, hat);
                if (bias is { RequiresGrad: true }) bias.GradSpan()[c] += TensorPrimitives.Sum(gradient);
                if (!input.RequiresGrad) continue;
                TensorPrimitives.Multiply(gradient, weight?.Span[c] ?? 1f, gradient);
                if (training) Normalization.Backward(hat, inverseStd[c], gradient, dx);
                else TensorPrimitives.Multiply(gradient, inverseStd[c], dx); // the statistics are constants
                Scatter(dx, input.GradSpan(), c, channels, length, accumulate: true);
            }
        });
    }

    /// <summary>Channel <paramref name="c"/> of an [N, C, L] tensor as one contiguous run of N·L values.</summary>
    static void Gather(ReadOnlySpan<float> source, Span<float> column, int c, int channels, int length)
    {
        for (int i = 0, rows = column.Length / length; i < rows; i++)
            source.Slice((i * channels + c) * length, length).CopyTo(column.Slice(i * length, length));
    }

    /// <summary>The inverse of <see cref="Gather"/>; with <paramref name="accumulate"/>, adds instead of
    /// copying.</summary>
    static void Scatter(ReadOnlySpan<float> column, Span<float> destination, int c, int channels, int length,
        bool accumulate = false)
    {
        for (int i = 0, rows = column.Length / length; i < rows; i++)
        {
            var source = column.Slice(i * length, length);
            var target = destination.Slice((i * channels + c) * length, length);
            if (accumulate) TensorPrimitives.Add(target, source, target);
            else source.CopyTo(target);
        }
    }
}
