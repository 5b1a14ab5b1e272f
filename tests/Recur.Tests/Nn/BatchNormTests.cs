using System.Text.Json;
using Recur.Nn;
using Recur.Nn.Recurrent;
using static Recur.Tests.Fixtures.PyTorchFixture;

namespace Recur.Tests.Nn;

/// <summary>BatchNorm1d against torch.nn.BatchNorm1d (Fixtures/make_batchnorm_fixtures.py).</summary>
public class BatchNormTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory,
        "Fixtures", "batchnorm_pytorch.json"))).RootElement;

    public static TheoryData<string> Cases() =>
        [.. Root.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];

    static void Same(JsonElement expected, ReadOnlySpan<float> actual, string what) =>
        Close.Values(Floats(expected), actual, what, Close.ParityTolerance, Close.ParityTolerance);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorchInTrainingAndEvaluation(string name)
    {
        var c = Root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int[] shape = Ints(c.GetProperty("shape"));
        var bn = new BatchNorm1d(shape[1], momentum: (float)c.GetProperty("momentum").GetDouble());
        Floats(c.GetProperty("weight")).CopyTo(bn.Weight!.Span);
        Floats(c.GetProperty("bias")).CopyTo(bn.Bias!.Span);
        var train = c.GetProperty("train");
        Same(train.GetProperty("y1"), bn.Forward(Tensor.FromArray(Floats(train.GetProperty("x1")), shape)).Span, "y1");
        var x2 = Tensor.FromArray(Floats(train.GetProperty("x2")), shape);
        x2.RequiresGrad = true;
        var y2 = bn.Forward(x2);
        Same(train.GetProperty("y2"), y2.Span, "y2");
        Same(train.GetProperty("running_mean"), bn.RunningMean.Span, "running_mean");
        Same(train.GetProperty("running_var"), bn.RunningVar.Span, "running_var");
        (y2 * Tensor.FromArray(Floats(train.GetProperty("g2")), shape)).Sum().Backward();
        Same(train.GetProperty("x2_grad"), x2.Grad!.Span, "input gradient");
        Same(train.GetProperty("weight_grad"), bn.Weight.Grad!.Span, "weight gradient");
        Same(train.GetProperty("bias_grad"), bn.Bias.Grad!.Span, "bias gradient");

        bn.Weight.Grad = null;
        bn.Bias.Grad = null;
        bn.Eval();
        var evaluation = c.GetProperty("eval");
        var x3 = Tensor.FromArray(Floats(evaluation.GetProperty("x3")), shape);
        x3.RequiresGrad = true;
        var y3 = bn.Forward(x3);
        Same(evaluation.GetProperty("y3"), y3.Span, "y3");
        (y3 * Tensor.FromArray(Floats(evaluation.GetProperty("g3")), shape)).Sum().Backward();
        Same(evaluation.GetProperty("x3_grad"), x3.Grad!.Span, "evaluation input gradient");
        Same(evaluation.GetProperty("weight_grad"), bn.Weight.Grad!.Span, "evaluation weight gradient");
        // evaluation leaves the running statistics alone
        Same(train.GetProperty("running_mean"), bn.RunningMean.Span, "running_mean after evaluation");
    }

    [Fact]
    public void RunningStatisticsAreStateButNotParameters()
    {
        var bn = new BatchNorm1d(4);
        Assert.Equal(["weight", "bias"], bn.NamedParameters().Select(p => p.Name));
        Assert.Equal(["bias", "running_mean", "running_var", "weight"], bn.StateDict().Keys.Order());
        bn.Forward(Tensor.RandomNormal(new RandomGenerator(1), [8, 4]));
        var copy = new BatchNorm1d(4);
        copy.LoadStateDict(bn.StateDict());
        Assert.Equal(bn.RunningVar.ToArray(), copy.RunningVar.ToArray());
        Assert.NotEqual(new float[4], copy.RunningMean.ToArray());
    }

    [Fact]
    public void BadShapesAndASingleValuePerChannelAreRefusedClearly()
    {
        var bn = new BatchNorm1d(3);
        Assert.Contains("[N, C] or [N, C, L]", Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(3)))
            .Message);
        Assert.Contains("3 entries for 4 channels",
            Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(2, 4))).Message);
        Assert.Contains("more than one value", Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(1, 3)))
            .Message);
    }
}

/// <summary>The batch-normalised LSTM against its equations written in torch
/// (Fixtures/make_bn_lstm_fixtures.py).</summary>
public class BatchNormLstmTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory,
        "Fixtures", "bn_lstm_pytorch.json"))).RootElement;

    static void Same(JsonElement expected, ReadOnlySpan<float> actual, string what) =>
        Close.Values(Floats(expected), actual, what, Close.ParityTolerance, Close.ParityTolerance);

    static int Get(string name) => Root.GetProperty(name).GetInt32();

    static BatchNormLstmLayer Layer() => new(Get("I"), Get("H"), Get("max_steps"), new RandomGenerator(1),
        (float)Root.GetProperty("momentum").GetDouble());

    [Fact]
    public void MatchesTheTorchEquationsInTrainingAndEvaluation()
    {
        var layer = Layer();
        var own = layer.StateDict();
        foreach (var p in Root.GetProperty("params").EnumerateObject()) Floats(p.Value).CopyTo(own[p.Name].Span);
        int t = Get("T"), b = Get("B"), i = Get("I");
        var x = Tensor.FromArray(Floats(Root.GetProperty("input")), t, b, i);
        x.RequiresGrad = true;
        var (output, state) = layer.Forward(x);
        Same(Root.GetProperty("output"), output.Span, "output");
        Same(Root.GetProperty("h"), state[0].Span, "h_T");
        Same(Root.GetProperty("c"), state[1].Span, "c_T");
        foreach (var s in Root.GetProperty("running").EnumerateObject()) Same(s.Value, own[s.Name].Span, s.Name);
        ((output * Tensor.FromArray(Floats(Root.GetProperty("output_weights")), output.ShapeArray())).Sum()
            + state[1].Sum()).Backward();
        Same(Root.GetProperty("input_grad"), x.Grad!.Span, "input gradient");
        foreach (var p in Root.GetProperty("param_grads").EnumerateObject())
            Same(p.Value, own[p.Name].Grad!.Span, $"gradient of {p.Name}");

        layer.Eval();
        var (evaluated, _) = layer.Forward(Tensor.FromArray(Floats(Root.GetProperty("eval_input")), t, b, i));
        Same(Root.GetProperty("eval_output"), evaluated.Span, "evaluation output");
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var random = new RandomGenerator(6);
        var layer = new BatchNormLstmLayer(3, 3, 2, random);
        foreach (var p in layer.Parameters())
        {
            var span = p.Span;
            for (int k = 0; k < span.Length; k++) span[k] += (random.NextFloat() - 0.5f) * 0.8f;
        }
        var x = Tensor.RandomNormal(random, [4, 5, 3]);
        var inputs = new List<Tensor> { x };
        inputs.AddRange(layer.Parameters());
        var result = Recur.Autograd.GradientCheck.Compare(() =>
        {
            var (output, state) = layer.Forward(x);
            return Tensor.Concat([output.Reshape(-1), state[1].Reshape(-1)], 0);
        }, inputs, epsilon: 2e-3);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void GainsStartAtOneTenthAndStepsBeyondTheLastShareItsStatistics()
    {
        var layer = Layer();
        Assert.All(layer.StateDict()["bn_hh.weight"].ToArray(), v => Assert.Equal(0.1f, v));
        layer.Forward(Tensor.RandomNormal(new RandomGenerator(2), [2, 4, Get("I")]));
        var means = layer.StateDict()["bn_ih.running_mean"].ToArray();
        int width = 4 * Get("H");
        Assert.Contains(means[..width], v => v != 0f); // step 0 moved
        Assert.All(means[(2 * width)..], v => Assert.Equal(0f, v)); // step 2 (the shared last) not reached yet
    }
}
