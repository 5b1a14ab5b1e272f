using Recur.Classification;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;

namespace Recur.Tests.Core;

/// <summary>
/// The mistakes that would otherwise pass silently are refused with a message that says what to do, and the
/// library's own calls for them (loading part of a state, predicting) work as PyTorch users expect.
/// </summary>
public sealed class SilentMistakeTests
{
    [Fact]
    public void ASecondBackwardThroughTheSameGraphThrowsUnlessTheGraphIsRetained()
    {
        var w = Tensor.FromArray([2f], 1);
        w.RequiresGrad = true;
        var loss = (w * w).Sum();
        loss.Backward();
        Assert.Equal(4f, w.Grad!.Span[0]);
        var error = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("back-propagated already", error.Message);
        Assert.Equal(4f, w.Grad!.Span[0]); // nothing was added twice

        w.Grad = null;
        var retained = (w * w).Sum();
        retained.Backward(retainGraph: true);
        retained.Backward();
        Assert.Equal(8f, w.Grad!.Span[0]); // asked for: both passes add
    }

    [Fact]
    public void ClippingBeforeAnyGradientThrows()
    {
        var linear = new Linear(3, 2, new RandomGenerator(1));
        var error = Assert.Throws<InvalidOperationException>(
            () => GradientClipping.ClipByNorm(linear.Parameters(), 1f));
        Assert.Contains("call Backward() on the loss first", error.Message);
    }

    [Fact]
    public void ThePaddingIdInsideASequenceIsRefusedWithItsPosition()
    {
        var error = Assert.Throws<ArgumentException>(() => RaggedBatch.TimeMajor([[3, 4], [5, 0, 6]], 10, "model"));
        Assert.Contains("token 1 of sequence 1 is id 0", error.Message);
    }

    [Fact]
    public void LoadStateDictLoadsASubmoduleOutOfAWholeStateAndReportsWhatDidNotMatch()
    {
        var whole = new SequenceModel(new SequenceModelConfig(CellKind.Gru, 3, 4, 2), new RandomGenerator(1));
        var head = new Linear(4, 2, new RandomGenerator(2));
        var result = head.LoadStateDict(whole.StateDict(), prefix: "head.");
        Assert.Empty(result.Missing);
        Assert.Empty(result.Unexpected);
        Assert.Equal(whole.Head.Weight.ToArray(), head.Weight.ToArray());

        var partial = new Dictionary<string, Tensor> { ["weight"] = Tensor.Zeros(2, 4), ["extra"] = Tensor.Zeros(1) };
        Assert.Throws<ArgumentException>(() => head.LoadStateDict(partial));
        var loose = head.LoadStateDict(partial, strict: false);
        Assert.Equal(["bias"], loose.Missing);
        Assert.Equal(["extra"], loose.Unexpected);
        Assert.All(head.Weight.ToArray(), v => Assert.Equal(0f, v));
        var wrongShape = new Dictionary<string, Tensor> { ["weight"] = Tensor.Zeros(4, 2) };
        Assert.Contains("has shape [4, 2]", Assert.Throws<ArgumentException>(
            () => head.LoadStateDict(wrongShape, strict: false)).Message);
    }

    [Fact]
    public void AModuleSavesItsWeightsAndLoadsThemBackNamingTheFileOnAMismatch()
    {
        string path = Path.Combine(Path.GetTempPath(), $"recur-module-{Guid.NewGuid():N}.safetensors");
        try
        {
            var model = new SequenceModel(new SequenceModelConfig(CellKind.Lstm, 3, 4, 2), new RandomGenerator(1));
            model.Save(path);
            var copy = new SequenceModel(new SequenceModelConfig(CellKind.Lstm, 3, 4, 2), new RandomGenerator(2));
            var result = copy.Load(path);
            Assert.Empty(result.Missing);
            var input = Tensor.RandomNormal(new RandomGenerator(3), [5, 2, 3]);
            Assert.Equal(model.Forward(input).ToArray(), copy.Forward(input).ToArray());
            var wider = new SequenceModel(new SequenceModelConfig(CellKind.Lstm, 3, 6, 2), new RandomGenerator(2));
            var error = Assert.Throws<ArgumentException>(() => wider.Load(path));
            Assert.StartsWith(path, error.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AClassifierPredictsTheMostProbableClassOfEachText()
    {
        var model = new TextClassifier(new TextClassifierConfig(12, 4, 3, 3), new RandomGenerator(3));
        int[][] texts = [[1, 2, 3], [4], [5, 6, 7, 8, 9]];
        var probabilities = model.PredictProbabilities(texts, batchSize: 2);
        Assert.All(probabilities, p => Assert.Equal(1.0, p.Sum(), 5));
        Assert.Equal(probabilities.Select(p => Array.IndexOf(p, p.Max())), model.Predict(texts));
        Assert.True(model.Training); // evaluation mode only while predicting
    }
}

/// <summary>The comparison and selection helpers a user of tensors reaches for.</summary>
public sealed class TensorHelperTests
{
    [Fact]
    public void ArgMaxFindsTheFirstMaximumAlongAnyAxis()
    {
        var x = Tensor.FromArray([1f, 5f, 5f, -2f, 0f, 7f], 2, 3);
        Assert.Equal([1, 2], x.ArgMax(-1));
        Assert.Equal([0, 0, 1], x.ArgMax(0));
        Assert.Equal([2], Tensor.FromArray([0f, 1f, float.NaN], 3).ArgMax(0));
    }

    [Fact]
    public void AllCloseAndMaxAbsDifferenceCompareAsPyTorchDoes()
    {
        var a = Tensor.FromArray([1f, 100f], 2);
        var b = Tensor.FromArray([1f + 5e-6f, 100.0005f], 2);
        Assert.True(a.AllClose(b));
        Assert.False(a.AllClose(Tensor.FromArray([1.001f, 100f], 2)));
        Assert.Equal(0.0005f, a.MaxAbsDifference(b), 4);
        Assert.True(float.IsNaN(a.MaxAbsDifference(Tensor.FromArray([float.NaN, 100f], 2))));
        Assert.False(a.AllClose(Tensor.FromArray([float.NaN, 100f], 2)));
        Assert.Throws<ArgumentException>(() => a.AllClose(Tensor.Zeros(3)));
    }
}
