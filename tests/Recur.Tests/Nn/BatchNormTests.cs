using System.Numerics.Tensors;
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

/// <summary>
/// The batch-normalised LSTM as a fused cell of <see cref="RecurrentLayer"/> (<c>bn-lstm</c>): the torch equations'
/// fixture, finite differences in training and evaluation, and what the batch statistics must not see.
/// </summary>
public class FusedBatchNormLstmTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory,
        "Fixtures", "bn_lstm_pytorch.json"))).RootElement;

    static int Get(string name) => Root.GetProperty(name).GetInt32();

    static void Same(JsonElement expected, ReadOnlySpan<float> actual, string what) =>
        Close.Values(Floats(expected), actual, what, Close.ParityTolerance, Close.ParityTolerance);

    /// <summary>The fixture's names (one bias b, no shifts of ih and hh) in the fused layer's.</summary>
    static string Fused(string name) => name switch
    {
        "weight_ih" or "weight_hh" => name + "_l0",
        "bias" => "bn_ih_l0.bias",
        _ => name.Replace("bn_ih.", "bn_ih_l0.", StringComparison.Ordinal)
            .Replace("bn_hh.", "bn_hh_l0.", StringComparison.Ordinal)
            .Replace("bn_c.", "bn_c_l0.", StringComparison.Ordinal),
    };

    /// <summary>The cell without its noise on h_0 (which would make each training forward a different
    /// function).</summary>
    static RecurrentConfig Config(int input, int hidden, int steps, int layers = 1, bool bidirectional = false) =>
        RecurrentCells.Configure(CellKind.BnLstm, new RecurrentConfig(RecurrentMode.Lstm, input, hidden, layers,
            Bidirectional: bidirectional, BatchNormSteps: steps)) with
        { StateNoise = 0f };

    [Fact]
    public void MatchesTheTorchEquationsInTrainingAndEvaluation()
    {
        int t = Get("T"), b = Get("B"), i = Get("I");
        var layer = new RecurrentLayer(Config(i, Get("H"), Get("max_steps")), new RandomGenerator(1));
        var own = layer.StateDict();
        foreach (var p in Root.GetProperty("params").EnumerateObject()) Floats(p.Value).CopyTo(own[Fused(p.Name)].Span);
        own["bn_hh_l0.bias"].Zero();
        var x = Tensor.FromArray(Floats(Root.GetProperty("input")), t, b, i);
        x.RequiresGrad = true;
        var output = layer.Forward(x);
        Same(Root.GetProperty("output"), output.Output.Span, "output");
        Same(Root.GetProperty("h"), output.HiddenState.Span, "h_T");
        Same(Root.GetProperty("c"), output.CellState!.Span, "c_T");
        foreach (var s in Root.GetProperty("running").EnumerateObject())
            Same(s.Value, own[Fused(s.Name)].Span, s.Name);
        ((output.Output * Tensor.FromArray(Floats(Root.GetProperty("output_weights")), t, b, Get("H"))).Sum()
            + output.CellState!.Sum()).Backward();
        Same(Root.GetProperty("input_grad"), x.Grad!.Span, "input gradient");
        foreach (var p in Root.GetProperty("param_grads").EnumerateObject())
            Same(p.Value, own[Fused(p.Name)].Grad!.Span, $"gradient of {p.Name}");
        Same(Root.GetProperty("param_grads").GetProperty("bias"), own["bn_hh_l0.bias"].Grad!.Span, "gradient of β_hh");

        layer.Eval();
        var evaluated = layer.Forward(Tensor.FromArray(Floats(Root.GetProperty("eval_input")), t, b, i));
        Same(Root.GetProperty("eval_output"), evaluated.Output.Span, "evaluation output");
    }

    [Fact]
    public void MatchesTheComposedLayerWhereStepsOutnumberTheStatistics()
    {
        var random = new RandomGenerator(8);
        var composed = new BatchNormLstmLayer(3, 4, 2, random);
        var fused = new RecurrentLayer(Config(3, 4, 2), random);
        var theirs = composed.StateDict();
        var own = fused.StateDict();
        foreach (var (name, value) in theirs)
        {
            var span = value.Span;
            if (name.Contains("weight", StringComparison.Ordinal) || name.EndsWith("bias", StringComparison.Ordinal))
                for (int k = 0; k < span.Length; k++) span[k] = random.NextFloat() - 0.5f;
            span.CopyTo(own[Fused(name)].Span);
        }
        var x = Tensor.RandomNormal(random, [6, 5, 3]);
        for (int pass = 0; pass < 2; pass++)
        {
            var (expected, state) = composed.Forward(x);
            var actual = fused.Forward(x);
            Close.Values(expected.ToArray(), actual.Output.Span, "output", 1e-5, 1e-4);
            Close.Values(state[1].ToArray(), actual.CellState!.Span, "c_T", 1e-5, 1e-4);
            foreach (var (name, value) in theirs.Where(entry => entry.Key.Contains("running",
                StringComparison.Ordinal)))
                Close.Values(value.ToArray(), own[Fused(name)].Span, name, 1e-5, 1e-4);
            composed.Eval();
            fused.Eval();
        }
    }

    // several sequences run at every step: a step with one would read the running statistics, which every training
    // forward moves (the function would change between the finite differences' evaluations), and with two a
    // normalised column is ±1, a step function of their difference
    [Fact]
    public void StackWithLengthsAndStatesMatchesFiniteDifferencesInTraining() =>
        RecurrentGradientTests.CheckLayer(Config(3, 4, 3, layers: 2, bidirectional: true), steps: 5, batch: 6,
            lengths: [5, 2, 5, 4, 5, 3], initialStates: true, epsilon: 2e-3, training: true);

    [Fact]
    public void PerturbedBidirectionalLayerWithLengthsMatchesFiniteDifferencesInTraining() =>
        RecurrentGradientTests.CheckLayer(Config(3, 4, 3, bidirectional: true), steps: 5, batch: 6,
            lengths: [5, 2, 5, 4, 5, 3], initialStates: true, epsilon: 2e-3, perturb: true, training: true);

    [Fact]
    public void StackWithLengthsMatchesFiniteDifferencesInEvaluation() =>
        RecurrentGradientTests.CheckLayer(Config(3, 4, 3, layers: 2, bidirectional: true), steps: 5, batch: 3,
            lengths: [5, 2, 4], initialStates: true, epsilon: 2e-3, perturb: true);

    [Fact]
    public void PaddingPastALengthReachesNoOutputAndNoStatistic()
    {
        int[] lengths = [6, 3, 5, 2];
        var input = Tensor.RandomNormal(new RandomGenerator(4), [6, 4, 3]);
        var padded = input.Detach().Clone();
        for (int t = 0; t < 6; t++)
            for (int b = 0; b < 4; b++)
                if (t >= lengths[b])
                    for (int k = 0; k < 3; k++) padded.Span[(t * 4 + b) * 3 + k] = 100f + t + k;
        var results = new[] { input, padded }.Select(x =>
        {
            var layer = new RecurrentLayer(Config(3, 5, 6, bidirectional: true), new RandomGenerator(5));
            var output = layer.Forward(x, lengths: lengths);
            return (output, layer.StateDict());
        }).ToArray();
        Assert.Equal(results[0].output.Output.ToArray(), results[1].output.Output.ToArray());
        Assert.Equal(results[0].output.HiddenState.ToArray(), results[1].output.HiddenState.ToArray());
        foreach (var (name, value) in results[0].Item2)
            Assert.Equal(value.ToArray(), results[1].Item2[name].ToArray());
        // a row's output is zero past its length, and its final state is the one at its last step
        var outputs = results[0].output.Output;
        Assert.All(outputs.Select(0, 4).Select(0, 1).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(outputs.Select(0, 1).Select(0, 3).Slice(0, 0, 5).ToArray(),
            results[0].output.HiddenState.Select(0, 0).Select(0, 3).ToArray());
    }

    [Fact]
    public void ASingleSequenceInTrainingIsNormalisedByTheRunningStatistics()
    {
        var layer = new RecurrentLayer(Config(3, 4, 4), new RandomGenerator(6));
        layer.Forward(Tensor.RandomNormal(new RandomGenerator(7), [4, 8, 3])); // running statistics move
        var before = layer.StateDict().ToDictionary(entry => entry.Key, entry => entry.Value.ToArray());
        var one = Tensor.RandomNormal(new RandomGenerator(9), [4, 1, 3]);
        var training = layer.Forward(one).Output.ToArray();
        foreach (var (name, value) in layer.StateDict()) Assert.Equal(before[name], value.ToArray());
        layer.Eval();
        Assert.Equal(layer.Forward(one).Output.ToArray(), training);
    }

    [Fact]
    public void NoiseOnTheInitialStateKeepsTheGradientFiniteWhereEverySequenceStartsAlike()
    {
        // as sequential MNIST: 40 blank steps that every sequence shares, then ones that differ
        var random = new RandomGenerator(10);
        var input = Tensor.Zeros(48, 8, 1);
        for (int k = 40 * 8; k < input.Length; k++) input.Span[k] = random.NextFloat();
        double Norm(RecurrentConfig config)
        {
            var layer = new RecurrentLayer(config, new RandomGenerator(11));
            layer.Forward(input).HiddenState.Sum().Backward();
            return Math.Sqrt(layer.Parameters().Sum(p => (double)TensorPrimitives.SumOfSquares(p.Grad!.Span)));
        }
        var cell = RecurrentCells.Configure(CellKind.BnLstm, new RecurrentConfig(RecurrentMode.Lstm, 1, 6,
            BatchNormSteps: 48));
        Assert.Equal(RecurrentCells.DefaultStateNoise, cell.StateNoise);
        double noisy = Norm(cell), silent = Norm(cell with { StateNoise = 0f });
        Assert.True(double.IsFinite(noisy) && noisy < 1e3, $"with noise: |g| = {noisy:G3}");
        Assert.True(!double.IsFinite(silent) || silent > 1e6 * noisy, $"without: |g| = {silent:G3}");

        // the noise is for training only
        var layer = new RecurrentLayer(cell, new RandomGenerator(12));
        layer.Eval();
        Assert.Equal(layer.Forward(input).Output.ToArray(), layer.Forward(input).Output.ToArray());
    }
}
