using Recur.Autograd;

namespace Recur.Tests.Autograd;

/// <summary>A finite-difference check of every differentiable op, including broadcasting edge cases.</summary>
public class GradientCheckTests
{
    static Tensor Normal(ulong seed, params int[] shape) => Tensor.RandomNormal(new RandomGenerator(seed), shape);

    internal static Tensor Uniform(ulong seed, float low, float high, params int[] shape) =>
        Tensor.RandomUniform(new RandomGenerator(seed), shape, low, high);

    internal static void Check(Func<Tensor> function, params Tensor[] inputs)
    {
        var result = GradientCheck.Compare(function, inputs);
        Assert.True(result.Passed, $"gradient mismatch (error {result.MaxError:G3}× tolerance): {result.Where}");
    }

    [Fact]
    public void GatedTanhMatchesItsCompositionAndFiniteDifferences()
    {
        var a = Normal(41, 2, 6, 5);
        Check(() => Functional.GatedTanh(a), a);
        using var _ = GradMode.NoGrad();
        var composed = (a.Slice(1, 0, 3).Tanh() * a.Slice(1, 3, 3).Sigmoid()).ToArray();
        var fused = Functional.GatedTanh(a).ToArray();
        for (int i = 0; i < fused.Length; i++) Assert.Equal(composed[i], fused[i], 6);
        Assert.Throws<ArgumentException>(() => Functional.GatedTanh(Normal(1, 2, 5, 3)));
    }

    [Fact]
    public void GatedTanhGradientIsWrittenThenAddedAsItsCompositionsOnEveryVectorWidth()
    {
        // 59 values a half: three 16-wide vectors, one 8-wide and three single values
        var a = Normal(43, 3, 2, 59);
        var weights = Normal(44, 3, 1, 59);
        var composedInput = Tensor.FromArray(a.ToArray(), 3, 2, 59);
        composedInput.RequiresGrad = true;
        a.RequiresGrad = true;
        for (int pass = 1; pass <= 2; pass++)
        {
            // the second pass adds to the leaf's gradient: the fused backward's accumulating branch
            (Functional.GatedTanh(a) * weights).Sum().Backward();
            (composedInput.Slice(1, 0, 1).Tanh() * composedInput.Slice(1, 1, 1).Sigmoid() * weights).Sum().Backward();
            var fused = a.Grad!.ToArray();
            var composed = composedInput.Grad!.ToArray();
            for (int i = 0; i < fused.Length; i++) Assert.Equal(composed[i], fused[i], 5);
        }
    }

    [Fact]
    public void AbsPassesFiniteDifferencesAwayFromZeroAndHasGradientZeroAtZero()
    {
        // |x| ≥ 0.1 keeps the finite differences off the kink
        var x = Uniform(63, 0.1f, 2f, 3, 4) * Tensor.FromArray([1f, -1f, 1f, -1f], 4);
        Check(() => x.Abs(), x);
        var zero = Tensor.FromArray([0f, -3f], 2);
        zero.RequiresGrad = true;
        zero.Abs().Sum().Backward();
        Assert.Equal([0f, -1f], zero.Grad!.ToArray());
    }

    [Fact]
    public void SqrtAndSoftplusPassFiniteDifferencesAndSoftplusDoesNotOverflow()
    {
        var positive = Uniform(61, 0.2f, 3f, 3, 4);
        Check(() => positive.Sqrt(), positive);
        var x = Normal(62, 3, 4) * 3f;
        Check(() => x.Softplus(), x);
        using var _ = GradMode.NoGrad();
        Assert.Equal(2f, Tensor.FromArray([4f], 1).Sqrt().Item(), 6);
        var extremes = Tensor.FromArray([-200f, 0f, 200f], 3).Softplus().ToArray();
        Assert.Equal(0f, extremes[0], 6);
        Assert.Equal(MathF.Log(2f), extremes[1], 6);
        Assert.Equal(200f, extremes[2], 3);
    }

    [Fact]
    public void EmbeddingBagSumsWeightedRowsSkipsPaddingAndPassesFiniteDifferences()
    {
        var weight = Normal(51, 6, 4);
        var positions = Normal(52, 3, 4);
        int[] ids = [1, 2, 0, 5, 5, 3, 0, 0, 0, 4, 1, 2]; // [2, 2, 3]; id 0 pads
        int[] shape = [2, 2, 3];
        Check(() => Functional.EmbeddingBag(weight, ids, shape, positions, paddingIndex: 0), weight, positions);
        Check(() => Functional.EmbeddingBag(weight, ids, shape), weight);
        using var _ = GradMode.NoGrad();
        var bag = Functional.EmbeddingBag(weight, ids, shape, positions, paddingIndex: 0);
        Assert.Equal([2, 2, 4], bag.Shape.ToArray());
        var rows = Functional.Embedding(weight, ids, [4, 3]);
        for (int b = 0; b < 4; b++)
            for (int d = 0; d < 4; d++)
            {
                float expected = 0;
                for (int j = 0; j < 3; j++)
                    if (ids[b * 3 + j] != 0) expected += positions.Span[j * 4 + d] * rows.Span[(b * 3 + j) * 4 + d];
                Assert.Equal(expected, bag.Span[b * 4 + d], 5);
            }
        Assert.All(bag.ToArray()[8..12], v => Assert.Equal(0f, v)); // an all-padding bag is zero
        Assert.Throws<ArgumentException>(() => Functional.EmbeddingBag(weight, ids, shape, Normal(1, 2, 4)));
        Assert.Throws<ArgumentException>(() => Functional.EmbeddingBag(weight, [9, 1], [2]));
    }

    [Fact]
    public void SwappingTheLastTwoAxesIsATransposeOfEveryMatrixAndItsGradientAccumulates()
    {
        var x = Normal(43, 3, 37, 45); // larger than one 32 × 32 tile, not a multiple of it
        var y = x.Permute(0, 2, 1);
        Assert.Equal([3, 45, 37], y.Shape.ToArray());
        for (int b = 0; b < 3; b++)
            for (int r = 0; r < 37; r++)
                for (int c = 0; c < 45; c++) Assert.Equal(x.Span[(b * 37 + r) * 45 + c], y.Span[(b * 45 + c) * 37 + r]);
        var w = Normal(45, 2, 5, 3);
        Check(() => w.Permute(0, 2, 1).Permute(0, 2, 1) * w, w); // the gradient flows back through both transposes
    }

    public static TheoryData<int[], int[]> BroadcastPairs() => new()
    {
        { [3, 4], [3, 4] },
        { [3, 4], [4] },        // row bias
        { [3, 4], [3, 1] },     // column broadcast
        { [2, 3, 4], [3, 1] },  // middle and leading axes
        { [1, 4], [3, 1] },     // both sides broadcast
        { [2, 1, 4], [1, 3, 1] },
        { [3, 4], [] },         // rank-0
        { [], [2, 2] },
        { [0, 4], [4] },        // empty
    };

    [Theory]
    [MemberData(nameof(BroadcastPairs))]
    public void AddSubtractMultiply(int[] shapeA, int[] shapeB)
    {
        var a = Normal(1, shapeA);
        var b = Normal(2, shapeB);
        Check(() => a + b, a, b);
        Check(() => a - b, a, b);
        Check(() => a * b, a, b);
    }

    [Theory]
    [MemberData(nameof(BroadcastPairs))]
    public void Divide(int[] shapeA, int[] shapeB)
    {
        var a = Normal(3, shapeA);
        var b = Uniform(4, 0.5f, 2f, shapeB);
        Check(() => a / b, a, b);
    }

    [Fact]
    public void UnaryOps()
    {
        var x = Normal(5, 3, 5);
        Check(() => -x, x);
        Check(() => x.Exp(), x);
        Check(() => x.Tanh(), x);
        Check(() => x.Sigmoid(), x);
        var positive = Uniform(6, 0.5f, 3f, 3, 5);
        Check(() => positive.Log(), positive);
        // keep relu inputs away from the kink so central differences are exact
        var awayFromZero = Normal(7, 4, 6);
        foreach (ref float v in awayFromZero.Span) v += v >= 0 ? 0.1f : -0.1f;
        Check(() => awayFromZero.Relu(), awayFromZero);
    }

    [Fact]
    public void ReluGradientIsWrittenThenAddedOnEveryVectorWidthAndIsZeroAtZeroAndNaN()
    {
        // 27 values: one 16-wide vector, one 8-wide and three single values; 0 and NaN take no gradient
        var values = Normal(9, 27).ToArray();
        values[3] = 0f;
        values[20] = float.NaN;
        values[26] = -0f;
        var x = Tensor.FromArray(values, 27);
        x.RequiresGrad = true;
        var weights = Normal(10, 27);
        for (int pass = 1; pass <= 2; pass++)
        {
            // the second pass adds to the leaf's gradient
            (x.Relu() * weights).Sum().Backward();
            var grad = x.Grad!.ToArray();
            for (int i = 0; i < 27; i++)
                Assert.Equal(values[i] > 0f ? pass * weights.Span[i] : 0f, grad[i], 6);
        }
    }

    [Fact]
    public void ScalarArithmetic()
    {
        var x = Normal(8, 2, 3);
        Check(() => x * 3f + 1f, x);
        Check(() => 2f * x / 4f - 1f, x);
    }

    [Fact]
    public void Reductions()
    {
        var x = Normal(9, 2, 3, 4);
        Check(() => x.Sum(), x);
        Check(() => x.Mean(), x);
        for (int axis = -3; axis < 3; axis++)
        {
            int a = axis;
            Check(() => x.Sum(a), x);
            Check(() => x.Mean(a, keepDim: true), x);
        }
        Check(() => x.Sum([0, 2]), x);
        Check(() => x.Mean([1, 2], keepDim: true), x);
    }

    [Fact]
    public void MaxOverAnAxis()
    {
        // values 0.1 apart in a shuffled order: the maximum is unique and stays put under the finite-difference step
        var values = Enumerable.Range(0, 60).Select(i => 0.1f * i - 3f).ToArray();
        new RandomGenerator(19).Shuffle<float>(values);
        var x = Tensor.FromArray(values, 3, 4, 5);
        for (int axis = -3; axis < 3; axis++)
        {
            int a = axis;
            Check(() => x.Max(a), x);
            Check(() => x.Max(a, keepDim: true) * 2f, x);
        }
        var m = Tensor.FromArray([1f, 5f, 2f, 7f, 3f, 7f], 2, 3).Max(1);
        Assert.Equal([5f, 7f], m.ToArray());
        var y = Tensor.FromArray([1f, 5f, 5f], 3);
        y.RequiresGrad = true;
        y.Max(0).Backward();
        Assert.Equal([0f, 1f, 0f], y.Grad!.ToArray()); // ties: the first maximum takes the gradient
    }

    [Fact]
    public void SoftmaxAndLogSoftmaxOnEveryAxis()
    {
        var x = Normal(10, 2, 3, 4);
        for (int axis = 0; axis < 3; axis++)
        {
            int a = axis;
            Check(() => x.Softmax(a), x);
            Check(() => x.LogSoftmax(a), x);
        }
    }

    [Fact]
    public void MatMulAllForms()
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                var a = Normal(11, ta ? [4, 3] : [3, 4]);
                var b = Normal(12, tb ? [5, 4] : [4, 5]);
                bool transposeA = ta, transposeB = tb;
                Check(() => a.MatMul(b, transposeA, transposeB), a, b);
                var batchA = Normal(13, ta ? [2, 4, 3] : [2, 3, 4]);
                var batchB = Normal(14, tb ? [2, 5, 4] : [2, 4, 5]);
                Check(() => batchA.MatMul(batchB, transposeA, transposeB), batchA, batchB);
            }
        var x = Normal(15, 2, 3, 4);
        var shared = Normal(16, 4, 5);
        Check(() => x.MatMul(shared), x, shared);
    }

    [Fact]
    public void Linear()
    {
        var x = Normal(17, 2, 3, 4);
        var w = Normal(18, 5, 4);
        var b = Normal(19, 5);
        Check(() => Functional.Linear(x, w, b), x, w, b);
        Check(() => Functional.Linear(x, w), x, w);
    }

    [Fact]
    public void ShapeOps()
    {
        var x = Normal(20, 2, 3, 4);
        Check(() => x.Reshape(6, -1), x);
        Check(() => x.Transpose(0, 2), x);
        Check(() => x.Permute(1, 2, 0), x);
        Check(() => x.Slice(0, 1, 1), x);
        Check(() => x.Slice(2, 1, 2), x);
        Check(() => x.Select(1, 2), x);
        var parts = new Func<Tensor>[] { () => x.Split([1, 3], 2)[0], () => x.Split([1, 3], 2)[1] };
        foreach (var part in parts) Check(part, x);
        var y = Normal(21, 2, 5, 4);
        Check(() => Tensor.Concat([x, y, x], 1), x, y);
        var z = Normal(22, 2, 3, 4);
        Check(() => Tensor.Stack([x, z], 1), x, z);
        Check(() => Tensor.Stack([x, z], 3), x, z);
    }

    [Fact]
    public void IndexSelectAndGather()
    {
        var x = Normal(23, 3, 4, 2);
        Check(() => x.IndexSelect(1, [3, 0, 3, 1]), x);
        Check(() => x.IndexSelect(0, [2, 2]), x);
        int[] index = [0, 3, 3, 1, 2, 2, 0, 0, 1, 1, 3, 2];
        Check(() => x.Gather(1, index, [3, 2, 2]), x);
    }

    [Fact]
    public void EmbeddingTouchesOnlyUsedRows()
    {
        var weight = Normal(24, 6, 3);
        int[] ids = [4, 1, 4, 0];
        Check(() => Functional.Embedding(weight, ids, [2, 2]), weight);
        weight.Grad = null;
        Functional.Embedding(weight, ids, [2, 2]).Sum().Backward();
        var grad = weight.Grad!.ToArray();
        for (int row = 0; row < 6; row++)
        {
            float expected = ids.Count(id => id == row);
            for (int d = 0; d < 3; d++) Assert.Equal(expected, grad[row * 3 + d]);
        }
    }

    [Fact]
    public void DropoutWithFixedSeed()
    {
        var x = Normal(25, 4, 5);
        Check(() => Functional.Dropout(x, 0.3f, training: true, new RandomGenerator(7)), x);
    }

    [Fact]
    public void VariationalDropoutSharesItsMaskOverTime()
    {
        var x = Normal(29, 5, 3, 4);
        Check(() => Functional.VariationalDropout(x, 0.4f, training: true, new RandomGenerator(8)), x);
        var y = Functional.VariationalDropout(Tensor.Ones(5, 3, 4), 0.4f, training: true,
            new RandomGenerator(8)).ToArray();
        for (int t = 1; t < 5; t++) Assert.Equal(y[..12], y[(t * 12)..((t + 1) * 12)]);
        Assert.Contains(0f, y);
        Assert.Contains(1f / 0.6f, y);
        Assert.Same(x, Functional.VariationalDropout(x, 0.4f, training: false, new RandomGenerator(8)));
    }

    [Fact]
    public void EmbeddingDropoutDropsWholeWords()
    {
        int[] ids = [3, 1, 3, 0, 2, 1];
        var x = Normal(31, 3, 2, 4);
        Check(() => Functional.EmbeddingDropout(x, ids, 5, 0.5f, training: true, new RandomGenerator(9)), x);
        var y = Functional.EmbeddingDropout(Tensor.Ones(3, 2, 4), ids, 5, 0.5f, training: true,
            new RandomGenerator(9)).ToArray();
        // every occurrence of a word has the same factor, on all of its features: 0 or 1/(1 − p)
        for (int i = 0; i < ids.Length; i++)
            for (int j = 0; j < ids.Length; j++)
                if (ids[i] == ids[j]) Assert.Equal(y[(i * 4)..((i + 1) * 4)], y[(j * 4)..((j + 1) * 4)]);
        Assert.All(y, v => Assert.True(v is 0f or 2f));
        Assert.Equal(4, ids.Distinct().Count(id => y[Array.IndexOf(ids, id) * 4] == 0f)
            + ids.Distinct().Count(id => y[Array.IndexOf(ids, id) * 4] == 2f));
        Assert.Same(x, Functional.EmbeddingDropout(x, ids, 5, 0.5f, training: false, new RandomGenerator(9)));
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(
            () => Functional.EmbeddingDropout(x, [3, 1, 3, 0, 2, 7], 5, 0.5f, true, new RandomGenerator(9))).Message);
        Assert.Contains("6 ids", Assert.Throws<ArgumentException>(
            () => Functional.EmbeddingDropout(Normal(1, 3, 4), ids, 5, 0.5f, true, new RandomGenerator(9))).Message);
    }

    [Fact]
    public void LayerNormWithAndWithoutAffine()
    {
        var x = Normal(26, 3, 6);
        var gamma = Uniform(27, 0.5f, 1.5f, 6);
        var beta = Normal(28, 6);
        Check(() => Functional.LayerNorm(x, gamma, beta), x, gamma, beta);
        Check(() => Functional.LayerNorm(x, null, null), x);
    }

    [Fact]
    public void BatchNormInTrainingAndEvaluation()
    {
        foreach (int[] shape in new[] { new[] { 5, 3 }, [4, 3, 2] })
        {
            var x = Normal(30, shape);
            var gamma = Uniform(31, 0.5f, 1.5f, 3);
            var beta = Normal(32, 3);
            // training normalises with the batch's own statistics: every input moves every output of its channel
            Check(() => Functional.BatchNorm(x, null, null, gamma, beta, training: true), x, gamma, beta);
            Check(() => Functional.BatchNorm(x, null, null, null, null, training: true), x);
            var mean = Normal(33, 3);
            var variance = Uniform(34, 0.5f, 2f, 3);
            Check(() => Functional.BatchNorm(x, mean, variance, gamma, beta, training: false), x, gamma, beta);
        }
    }

    [Fact]
    public void CrossEntropyWithIgnoreIndexMaskAndSmoothing()
    {
        var logits = Normal(29, 5, 4);
        int[] targets = [1, 0, -100, 3, 2];
        Check(() => Losses.CrossEntropy(logits, targets), logits);
        Check(() => Losses.CrossEntropy(logits, targets, mask: [1f, 0.5f, 1f, 0f, 2f]), logits);
        Check(() => Losses.CrossEntropy(logits, targets, labelSmoothing: 0.1f), logits);
        var sequence = Normal(30, 2, 3, 4);
        Check(() => Losses.CrossEntropy(sequence, [0, 1, 2, 3, 0, 1]), sequence);
    }

    [Fact]
    public void LinearCrossEntropyMatchesFiniteDifferencesAndTheComposedOps()
    {
        var x = Normal(41, 7, 5);
        var w = Normal(42, 6, 5);
        var b = Normal(43, 6);
        int[] targets = [1, 0, -100, 5, 2, 3, 4];
        float[] mask = [1f, 0.5f, 1f, 0f, 2f, 1f, 1f];
        // chunks of 3 rows: the last chunk is partial; ignored and zero-weight rows sit inside chunks
        Check(() => Losses.LinearCrossEntropy(x, w, b, targets, chunkRows: 3), x, w, b);
        Check(() => Losses.LinearCrossEntropy(x, w, null, targets, mask: mask, chunkRows: 2), x, w);
        foreach (int chunk in new[] { 1, 3, 7, 100 })
        {
            var fused = Loss((xx, ww, bb) => Losses.LinearCrossEntropy(xx, ww, bb, targets, mask: mask,
                chunkRows: chunk));
            var composed = Loss((xx, ww, bb) => Losses.CrossEntropy(Functional.Linear(xx, ww, bb), targets,
                mask: mask));
            Assert.Equal(composed.Value, fused.Value, 5);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < composed.Grads[i].Length; j++) Assert.Equal(composed.Grads[i][j],
                    fused.Grads[i][j], 5);
        }
        float withGradients = Loss((xx, ww, bb) => Losses.LinearCrossEntropy(xx, ww, bb, targets)).Value;
        using (GradMode.NoGrad()) Assert.Equal(withGradients, Losses.LinearCrossEntropy(x, w, b, targets).Item(), 6);
        Assert.Throws<ArgumentException>(() => Losses.LinearCrossEntropy(x, Normal(44, 6, 4), b, targets));
        Assert.Throws<ArgumentException>(() => Losses.LinearCrossEntropy(x, w, b, [1, 2]));
        Assert.Throws<ArgumentException>(() => Losses.LinearCrossEntropy(x, w, b, [1, 0, 9, 5, 2, 3, 4]));

        (float Value, float[][] Grads) Loss(Func<Tensor, Tensor, Tensor, Tensor> f)
        {
            var leaves = new[] { x, w,
                b }.Select(t => { var copy = t.Detach(); copy.RequiresGrad = true; return copy; }).ToArray();
            var loss = f(leaves[0], leaves[1], leaves[2]);
            loss.Backward();
            return (loss.Item(), leaves.Select(l => l.Grad!.ToArray()).ToArray());
        }
    }

    [Fact]
    public void LinearCrossEntropyOnThreadedProductsMatchesTheComposedOpsAndRepeatsItsBits()
    {
        // 700 rows × 64 features × 100 classes: chunks of 256 rows (the last partial) whose products are split over
        // one, two or three threads
        var x = Normal(45, 700, 64);
        var w = Normal(46, 100, 64);
        var b = Normal(47, 100);
        var targets = Enumerable.Range(0, 700).Select(i => i % 7 == 3 ? -100 : i * 37 % 100).ToArray();
        var composed = Gradients(() => Losses.CrossEntropy(Functional.Linear(x, w, b), targets), 1);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var fused = Gradients(() => Losses.LinearCrossEntropy(x, w, b, targets), threads);
            Assert.Equal(composed.Value, fused.Value, 5);
            for (int i = 0; i < 3; i++)
                Close.Values(composed.Grads[i], fused.Grads[i], $"gradient {i} with {threads} threads", 1e-4, 1e-5);
            Assert.Equal(fused.Grads[1], Gradients(() => Losses.LinearCrossEntropy(x, w, b, targets), threads)
                .Grads[1]);
        }

        (float Value, float[][] Grads) Gradients(Func<Tensor> loss, int threads)
        {
            using var limit = Recur.Kernels.Parallelism.Limit(threads);
            foreach (var t in new[] { x, w, b }) { t.RequiresGrad = true; t.Grad = null; }
            var value = loss();
            value.Backward();
            return (value.Item(), new[] { x, w, b }.Select(t => t.Grad!.ToArray()).ToArray());
        }
    }

    [Fact]
    public void MeanSquaredErrorAndBinaryCrossEntropy()
    {
        var prediction = Normal(31, 3, 4);
        var target = Normal(32, 3, 4);
        Check(() => Losses.MeanSquaredError(prediction, target), prediction, target);
        var logits = Normal(33, 3, 4);
        var probabilities = Uniform(34, 0f, 1f, 3, 4);
        Check(() => Losses.BinaryCrossEntropyWithLogits(logits, probabilities), logits, probabilities);
        // pinball: piecewise linear, so the finite differences hold away from the kink at prediction = target
        foreach (float quantile in new[] { 0.1f, 0.5f, 0.9f })
            Check(() => Losses.Pinball(prediction, target, quantile), prediction, target);
        Check(() => Losses.Pinball(prediction, target, [0.5f, 0.025f, 0.975f, 0.3f]), prediction, target);
    }

    [Fact]
    public void PinballLossIsTheQuantileLoss()
    {
        // u = target − prediction = [2, −1]: τ = 0.9 gives (0.9·2 + 0.1·1) / 2 = 0.95
        var loss = Losses.Pinball(Tensor.FromArray([1f, 3f], 2), Tensor.FromArray([3f, 2f], 2), 0.9f);
        Assert.Equal(0.95f, loss.Item(), 6);
        // τ = ½ is half the mean absolute error
        Assert.Equal(0.75f, Losses.Pinball(Tensor.FromArray([1f, 3f], 2), Tensor.FromArray([3f, 2f], 2)).Item(), 6);
        Assert.Throws<ArgumentException>(() => Losses.Pinball(Tensor.FromArray([1f], 1), Tensor.FromArray([1f], 1),
            1f));
        // a quantile per column: [τ = 0.9 on u = 2, τ = 0.1 on u = −1] = (1.8 + 0.9) / 2
        Assert.Equal(1.35f, Losses.Pinball(Tensor.FromArray([1f, 3f], 1, 2), Tensor.FromArray([3f, 2f], 1, 2),
            [0.9f, 0.1f]).Item(), 6);
        Assert.Throws<ArgumentException>(() => Losses.Pinball(Tensor.FromArray([1f, 3f], 1, 2),
            Tensor.FromArray([3f, 2f], 1, 2), [0.9f, 0.1f, 0.5f]));
    }

    [Fact]
    public void ComposedGraphWithSharedSubexpressions()
    {
        // a small Elman step used twice: exercises fan-out and accumulation through the tape
        var x = Normal(35, 2, 3);
        var w = Normal(36, 4, 3);
        var u = Normal(37, 4, 4);
        Check(() =>
        {
            var h1 = Functional.Linear(x, w).Tanh();
            var h2 = (Functional.Linear(x, w) + Functional.Linear(h1, u)).Tanh();
            return h1 * h2 + h2;
        }, x, w, u);
    }
}

public class GradientCheckerSelfTest
{
    [Fact]
    public void AWrongBackwardIsCaught()
    {
        var x = Tensor.RandomNormal(new RandomGenerator(1), [3, 3]);
        // y = x², with a backward that forgets the factor 2
        Tensor Square()
        {
            var output = Tensor.FromArray(x.ToArray().Select(v => v * v).ToArray(), 3, 3);
            return Tensor.Result(output, x, g => Tensor.AddProduct(x.GradSpan(), g.Span, x.Span));
        }
        var result = GradientCheck.Compare(Square, [x]);
        Assert.False(result.Passed);
        Assert.Contains("element", result.Where);
    }
}
