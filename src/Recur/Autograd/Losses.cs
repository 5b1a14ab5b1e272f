using System.Numerics.Tensors;

namespace Recur;

/// <summary>Loss functions, each reduced to a mean as PyTorch's default <c>reduction='mean'</c>.</summary>
public static partial class Losses
{
    /// <summary>
    /// Cross-entropy of <paramref name="logits"/> [..., classes] against class indices (one per row), as
    /// <c>torch.nn.functional.cross_entropy</c>: rows whose target is <paramref name="ignoreIndex"/> do not count;
    /// <paramref name="mask"/> (one weight per row, e.g. 0 for padding) weights rows; with label smoothing ε the
    /// target distribution is (1−ε)·onehot + ε/classes. The result is Σ wᵢ·lossᵢ / Σ wᵢ (0 when no row counts).
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> targets, int ignoreIndex = -100,
        ReadOnlySpan<float> mask = default, float labelSmoothing = 0f)
    {
        if (logits.Rank < 1) throw new ArgumentException("CrossEntropy: logits must have a class axis.");
        int classes = logits.Size(-1);
        int rows = classes == 0 ? 0 : logits.Length / classes;
        if (targets.Length != rows)
            throw new ArgumentException(
                $"CrossEntropy: {targets.Length} targets for logits {Shapes.Format(logits.Shape)} ({rows} rows).");
        if (!mask.IsEmpty && mask.Length != rows)
            throw new ArgumentException($"CrossEntropy: mask has {mask.Length} entries for {rows} rows.");
        if (labelSmoothing < 0f || labelSmoothing > 1f)
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing,
                "CrossEntropy: label smoothing must be in [0, 1].");
        var weights = new float[rows];
        var target = targets.ToArray();
        for (int r = 0; r < rows; r++)
        {
            if (target[r] == ignoreIndex) continue;
            if ((uint)target[r] >= (uint)classes)
                throw new ArgumentException(
                    $"CrossEntropy: target {target[r]} in row {r} is not a class index in [0, {classes}).");
            weights[r] = mask.IsEmpty ? 1f : mask[r];
        }
        double total = 0;
        foreach (float w in weights) total += w;
        var logProbabilities = StorageAllocator.Allocate(logits.Length, clear: false);
        Tensor.SoftmaxKernel(logits.Span, logProbabilities, [rows, classes], 1, log: true);
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            if (weights[r] == 0f) continue;
            var row = logProbabilities.AsSpan(r * classes, classes);
            double rowLoss = -(1 - labelSmoothing) * row[target[r]];
            if (labelSmoothing > 0f) rowLoss -= labelSmoothing / classes * TensorPrimitives.Sum(row);
            loss += weights[r] * rowLoss;
        }
        float scale = total > 0 ? (float)(1.0 / total) : 0f;
        var output = Tensor.Scalar((float)(loss * scale));
        return Tensor.Result(output, logits, g =>
        {
            // d/dlogits = w/Σw · (softmax − target distribution)
            var gx = logits.GradSpan();
            float seed = g.Span[0] * scale;
            var probabilities = new float[classes];
            for (int r = 0; r < rows; r++)
            {
                if (weights[r] == 0f) continue;
                float factor = seed * weights[r];
                var dst = gx.Slice(r * classes, classes);
                TensorPrimitives.Exp(logProbabilities.AsSpan(r * classes, classes), probabilities);
                TensorPrimitives.MultiplyAdd(probabilities, factor, dst, dst);
                if (labelSmoothing > 0f) TensorPrimitives.Add(dst, -factor * labelSmoothing / classes, dst);
                dst[target[r]] -= factor * (1f - labelSmoothing);
            }
        });
    }

    /// <summary>
    /// <c>CrossEntropy(Linear(input, weight, bias), targets, ignoreIndex, mask)</c> without the [rows, classes] logits:
    /// rows go through the output layer <paramref name="chunkRows"/> at a time into one reused buffer, and when a
    /// gradient is wanted each chunk's logit gradient (softmax − onehot, weighted) is turned at once into its share of
    /// the input, weight and bias gradients, which the backward scales by the incoming gradient. The weight is packed
    /// for the GEMM once per call. For large vocabularies (word-level decoders and language models) this saves three
    /// [rows, classes] arrays per step and their page faults.
    /// </summary>
    public static Tensor LinearCrossEntropy(Tensor input, Tensor weight, Tensor? bias, ReadOnlySpan<int> targets,
        int ignoreIndex = -100, ReadOnlySpan<float> mask = default, int chunkRows = 256)
    {
        if (weight.Rank != 2 || input.Rank < 1 || input.Size(-1) != weight.Size(1))
            throw new ArgumentException($"LinearCrossEntropy: input {Shapes.Format(input.Shape)} does not fit "
                + $"weight {Shapes.Format(weight.Shape)} ([classes, in]).");
        int classes = weight.Size(0), features = weight.Size(1);
        if (bias != null && (bias.Rank != 1 || bias.Length != classes))
            throw new ArgumentException(
                $"LinearCrossEntropy: bias {Shapes.Format(bias.Shape)} does not match {classes} classes.");
        int rows = features == 0 ? 0 : input.Length / features;
        if (targets.Length != rows)
            throw new ArgumentException($"LinearCrossEntropy: {targets.Length} targets for "
                + $"input {Shapes.Format(input.Shape)} ({rows} rows).");
        if (!mask.IsEmpty && mask.Length != rows)
            throw new ArgumentException($"LinearCrossEntropy: mask has {mask.Length} entries for {rows} rows.");
        if (chunkRows < 1) throw new ArgumentOutOfRangeException(nameof(chunkRows), chunkRows,
            "LinearCrossEntropy: chunks need at least one row.");
        var weights = new float[rows];
        var target = targets.ToArray();
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            if (target[r] == ignoreIndex) continue;
            if ((uint)target[r] >= (uint)classes)
                throw new ArgumentException(
                    $"LinearCrossEntropy: target {target[r]} in row {r} is not a class index in [0, {classes}).");
            weights[r] = mask.IsEmpty ? 1f : mask[r];
            total += weights[r];
        }
        float scale = total > 0 ? (float)(1.0 / total) : 0f;
        bool gradient = Autograd.GradMode.IsEnabled && (input.RequiresGrad || weight.RequiresGrad
            || bias is { RequiresGrad: true });
        // every row of the input gradient is written by its chunk's product, so it starts uninitialised
        float[]? inputGrad = gradient && input.RequiresGrad ? StorageAllocator.Allocate(input.Length, clear: false)
            : null;
        float[]? weightGrad = gradient && weight.RequiresGrad ? new float[weight.Length] : null;
        float[]? biasGrad = gradient && bias is { RequiresGrad: true } ? new float[classes] : null;
        int chunk = Math.Max(1, Math.Min(chunkRows, rows));
        var logits = StorageAllocator.Allocate(chunk * classes);
        using var packedForward = Kernels.Gemm.Pack(true, features, classes, weight.Span, features);
        using var packedBackward = inputGrad != null ? Kernels.Gemm.Pack(false, classes, features, weight.Span,
            features) : null;
        double loss = 0;
        for (int start = 0; start < rows; start += chunk)
        {
            int count = Math.Min(chunk, rows - start);
            var block = logits.AsSpan(0, count * classes);
            var x = input.Span.Slice(start * features, count * features);
            Kernels.Gemm.Multiply(false, count, x, features, packedForward, block, classes,
                bias: bias is null ? default : bias.Span);
            for (int r = 0; r < count; r++)
            {
                var row = block.Slice(r * classes, classes);
                float w = weights[start + r];
                if (w == 0f) { row.Clear(); continue; } // no loss and no gradient from this row
                int t = target[start + r];
                float max = TensorPrimitives.Max(row), chosen = row[t];
                TensorPrimitives.Subtract(row, max, row);
                TensorPrimitives.Exp(row, row);
                float sum = TensorPrimitives.Sum(row);
                loss -= w * ((double)chosen - max - Math.Log(sum));
                if (!gradient) continue;
                // d loss / d logits of this row, before the incoming gradient: w/Σw · (softmax − onehot)
                TensorPrimitives.Multiply(row, w * scale / sum, row);
                row[t] -= w * scale;
            }
            if (!gradient) continue;
            if (inputGrad != null) Kernels.Gemm.Multiply(false, count, block, classes, packedBackward!,
                inputGrad.AsSpan(start * features, count * features), features);
            if (weightGrad != null) Kernels.Gemm.Multiply(true, false, classes, features, count, block, classes, x,
                features, weightGrad, features, accumulate: true);
            if (biasGrad != null) for (int r = 0; r < count; r++) TensorPrimitives.Add(biasGrad,
                block.Slice(r * classes, classes), biasGrad);
        }
        var output = Tensor.Scalar((float)(loss * scale));
        return Tensor.Result(output, bias is null ? [input, weight] : [input, weight, bias], g =>
        {
            float seed = g.Span[0];
            if (inputGrad != null)
            {
                var dx = input.GradToWrite(out bool accumulate).Span;
                var local = inputGrad.AsSpan(0, input.Length);
                if (accumulate) TensorPrimitives.MultiplyAdd(local, seed, dx, dx);
                else TensorPrimitives.Multiply(local, seed, dx);
            }
            if (weightGrad != null) TensorPrimitives.MultiplyAdd(weightGrad, seed, weight.GradSpan(),
                weight.GradSpan());
            if (biasGrad != null) TensorPrimitives.MultiplyAdd(biasGrad, seed, bias!.GradSpan(), bias.GradSpan());
        });
    }

    /// <summary>Mean squared error between equally shaped tensors.</summary>
    public static Tensor MeanSquaredError(Tensor prediction, Tensor target)
    {
        if (!prediction.Shape.SequenceEqual(target.Shape))
            throw new ArgumentException($"MeanSquaredError: prediction {Shapes.Format(prediction.Shape)} and "
                + $"target {Shapes.Format(target.Shape)} differ.");
        var difference = new float[prediction.Length];
        TensorPrimitives.Subtract(prediction.Span, target.Span, difference);
        int n = Math.Max(prediction.Length, 1);
        var output = Tensor.Scalar(TensorPrimitives.SumOfSquares(difference) / n);
        return Tensor.Result(output, [prediction, target], g =>
        {
            float factor = 2f * g.Span[0] / n;
            if (prediction.RequiresGrad) TensorPrimitives.MultiplyAdd(difference, factor, prediction.GradSpan(),
                prediction.GradSpan());
            if (target.RequiresGrad) TensorPrimitives.MultiplyAdd(difference, -factor, target.GradSpan(),
                target.GradSpan());
        });
    }

    /// <summary>
    /// Pinball (quantile) loss, mean over elements: with u = target − prediction, ρ_τ(u) = max(τ·u, (τ − 1)·u). Its
    /// minimiser is the τ-quantile of the target; τ = ½ gives half the mean absolute error (the median). The loss of
    /// quantile forecasts (Koenker &amp; Bassett 1978; ES-RNN, Smyl 2020). At u = 0 the gradient taken is that of u
    /// &gt; 0.
    /// </summary>
    public static Tensor Pinball(Tensor prediction, Tensor target, float quantile = 0.5f) =>
        Pinball(prediction, target, [quantile]);

    /// <summary>
    /// Pinball loss with a quantile per position of the last dimension (repeating over the leading ones), so that one
    /// head can forecast several quantiles at once — e.g. columns [median ×H, 2.5% ×H, 97.5% ×H] against the targets
    /// repeated three times. Mean over all elements.
    /// </summary>
    public static Tensor Pinball(Tensor prediction, Tensor target, ReadOnlySpan<float> quantiles)
    {
        if (!prediction.Shape.SequenceEqual(target.Shape))
            throw new ArgumentException($"Pinball: prediction {Shapes.Format(prediction.Shape)} and target "
                + $"{Shapes.Format(target.Shape)} differ.");
        int columns = prediction.Shape.Length == 0 ? 1 : prediction.Shape[^1];
        if (quantiles.Length != 1 && quantiles.Length != columns)
            throw new ArgumentException($"Pinball: {quantiles.Length} quantiles for a last dimension of {columns}.");
        foreach (float q in quantiles)
            if (!(q > 0 && q < 1)) throw new ArgumentException($"Pinball: quantile {q} is not in (0, 1).");
        ReadOnlySpan<float> p = prediction.Span, t = target.Span;
        // the derivative of the loss in the prediction: −τ where the target is above it, 1 − τ where below
        var slope = new float[p.Length];
        double loss = 0;
        for (int i = 0; i < p.Length; i++)
        {
            float quantile = quantiles[quantiles.Length == 1 ? 0 : i % columns];
            float u = t[i] - p[i];
            loss += u >= 0 ? quantile * u : (quantile - 1) * u;
            slope[i] = u >= 0 ? -quantile : 1 - quantile;
        }
        int n = Math.Max(p.Length, 1);
        var output = Tensor.Scalar((float)(loss / n));
        return Tensor.Result(output, [prediction, target], g =>
        {
            float factor = g.Span[0] / n;
            if (prediction.RequiresGrad)
                TensorPrimitives.MultiplyAdd(slope, factor, prediction.GradSpan(), prediction.GradSpan());
            if (target.RequiresGrad) TensorPrimitives.MultiplyAdd(slope, -factor, target.GradSpan(), target.GradSpan());
        });
    }

    /// <summary>
    /// Binary cross-entropy on logits, mean over elements, computed stably as max(x,0) − x·t + log(1 + e^−|x|)
    /// (<c>torch.nn.functional.binary_cross_entropy_with_logits</c>). Targets are probabilities in [0, 1].
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor targets)
    {
        if (!logits.Shape.SequenceEqual(targets.Shape))
            throw new ArgumentException($"BinaryCrossEntropyWithLogits: logits {Shapes.Format(logits.Shape)} and "
                + $"targets {Shapes.Format(targets.Shape)} differ.");
        ReadOnlySpan<float> x = logits.Span, t = targets.Span;
        double loss = 0;
        for (int i = 0; i < x.Length; i++)
            loss += Math.Max(x[i], 0f) - x[i] * t[i] + Math.Log(1 + Math.Exp(-Math.Abs(x[i])));
        int n = Math.Max(x.Length, 1);
        var output = Tensor.Scalar((float)(loss / n));
        return Tensor.Result(output, [logits, targets], g =>
        {
            float factor = g.Span[0] / n;
            ReadOnlySpan<float> xv = logits.Span, tv = targets.Span;
            if (logits.RequiresGrad)
            {
                var gx = logits.GradSpan();
                for (int i = 0; i < gx.Length; i++) gx[i] += factor * (1f / (1f + MathF.Exp(-xv[i])) - tv[i]);
            }
            if (targets.RequiresGrad)
            {
                var gt = targets.GradSpan();
                for (int i = 0; i < gt.Length; i++) gt[i] -= factor * xv[i];
            }
        });
    }
}
