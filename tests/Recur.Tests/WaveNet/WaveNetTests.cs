using System.Text.Json;
using Recur.Autograd;
using Recur.Tests.Fixtures;
using Recur.WaveNet;

namespace Recur.Tests.WaveNet;

public sealed class MuLawTests
{
    [Theory]
    [InlineData(256)]
    [InlineData(16)]
    public void EveryCodeRoundTripsExactlyAndTheCurveIsMonotonic(int levels)
    {
        for (int q = 0; q < levels; q++) Assert.Equal(q, MuLaw.Encode(MuLaw.Decode(q, levels), levels));
        for (int q = 1; q < levels; q++) Assert.True(MuLaw.Decode(q, levels) > MuLaw.Decode(q - 1, levels));
        Assert.Equal(0, MuLaw.Encode(-1f, levels));
        Assert.Equal(levels - 1, MuLaw.Encode(1f, levels));
        Assert.Equal(levels - 1, MuLaw.Encode(7f, levels)); // clamped
    }

    [Fact]
    public void StepsAreFineNearZeroAndCoarseNearFullScale()
    {
        Assert.Equal(128, MuLaw.Encode(0f));
        double nearZero = MuLaw.Decode(129) - MuLaw.Decode(128), nearOne = MuLaw.Decode(255) - MuLaw.Decode(254);
        Assert.True(nearOne > 100 * nearZero, $"{nearZero:G3} vs {nearOne:G3}");
        var signal = Enumerable.Range(0, 1000).Select(i => (float)Math.Sin(i * 0.01) * 0.8f).ToArray();
        var back = MuLaw.Decode(MuLaw.Encode(signal));
        Assert.True(signal.Zip(back).Max(p => Math.Abs(p.First - p.Second)) < 0.02);
        Assert.Throws<ArgumentOutOfRangeException>(() => MuLaw.Decode(256));
    }
}

public sealed class WaveNetModelTests
{
    static WaveNetConfig Tiny(int global = 0, int local = 0) => new(Levels: 8, ResidualChannels: 3,
        DilationChannels: 2, SkipChannels: 4, LayersPerStack: 3, Stacks: 2, GlobalConditions: global,
        LocalChannels: local);

    static int[] Codes(int length, ulong seed, int levels = 8)
    {
        var random = new RandomGenerator(seed);
        return Enumerable.Range(0, length).Select(_ => random.NextInt(levels)).ToArray();
    }

    [Fact]
    public void TheLastOutputSeesExactlyTheReceptiveField()
    {
        var model = new WaveNetModel(Tiny(), new RandomGenerator(1));
        foreach (var p in model.Parameters()) // large weights, so that the farthest input's effect survives rounding
            for (int i = 0; i < p.Length; i++) p.Span[i] *= 4;
        int field = model.Config.ReceptiveField;
        Assert.Equal(15, field); // 1 + 2 · (1 + 2 + 4)
        var codes = Codes(40, 2);
        float Last(int[] c)
        {
            using var _ = GradMode.NoGrad();
            var logits = model.Forward([c]).ToArray(); // [1, 8, 40]
            return logits[40 - 1] + logits[3 * 40 + 39];
        }
        float reference = Last(codes);
        var inside = (int[])codes.Clone();
        inside[40 - field] = (inside[40 - field] + 1) % 8;
        Assert.NotEqual(reference, Last(inside));
        var outside = (int[])codes.Clone();
        outside[40 - field - 1] = (outside[40 - field - 1] + 1) % 8;
        Assert.Equal(reference, Last(outside));
        var future = model.Forward([codes]).ToArray();
        var changed = (int[])codes.Clone();
        changed[30] = (changed[30] + 3) % 8;
        var after = model.Forward([changed]).ToArray();
        for (int k = 0; k < 8; k++)
            for (int t = 0; t < 30; t++) Assert.Equal(future[k * 40 + t], after[k * 40 + t]); // causal
    }

    [Fact]
    public void LossGradientsMatchFiniteDifferencesWithBothConditionings()
    {
        var model = new WaveNetModel(Tiny(global: 2, local: 2), new RandomGenerator(3));
        var local = Tensor.RandomNormal(new RandomGenerator(4), [2, 2, 9]);
        var codes = new[] { Codes(9, 5), Codes(9, 6) };
        var result = GradientCheck.Compare(() => model.Loss(codes, [1, 0], local), model.Parameters().ToList(),
            epsilon: 1e-3);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void MatchesTheSameNetworkInPyTorch()
    {
        var fixture = PyTorchFixture.Read("wavenet_pytorch.json");
        var root = fixture.Root;
        var c = root.GetProperty("config");
        var config = new WaveNetConfig(c.GetProperty("levels").GetInt32(), c.GetProperty("residual_channels")
            .GetInt32(), c.GetProperty("dilation_channels").GetInt32(), c.GetProperty("skip_channels").GetInt32(),
            c.GetProperty("layers_per_stack").GetInt32(), c.GetProperty("stacks").GetInt32(),
            c.GetProperty("global_conditions").GetInt32(), c.GetProperty("local_channels").GetInt32());
        var model = new WaveNetModel(config, new RandomGenerator(0));
        fixture.LoadInto(model);
        var codes = root.GetProperty("codes").EnumerateArray().Select(PyTorchFixture.Ints).ToArray();
        var labels = PyTorchFixture.Ints(root.GetProperty("labels"));
        var local = Tensor.FromArray(PyTorchFixture.Floats(root.GetProperty("local")),
            PyTorchFixture.Ints(root.GetProperty("local_shape")));
        using (GradMode.NoGrad())
        {
            var logits = model.Forward(codes.Select(x => x[..^1]).ToArray(), labels, local.Slice(2, 0, 11));
            Close.Values(PyTorchFixture.Floats(root.GetProperty("logits")), logits.ToArray(), "logits",
                Close.ParityTolerance, Close.ParityTolerance);
        }
        var loss = model.Loss(codes, labels, local);
        Assert.Equal(root.GetProperty("loss").GetDouble(), loss.Item(), 5);
        loss.Backward();
        fixture.AssertGradients(model);
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0f)]
    [InlineData(0.7f)]
    public void FastGenerationGivesExactlyTheSamplesOfNaiveRecomputation(float temperature)
    {
        var model = new WaveNetModel(Tiny(global: 3), new RandomGenerator(7));
        model.Eval();
        int[] prime = [4, 5, 3];
        var fast = new WaveNetGenerator(model, condition: 2).Generate(120, new RandomGenerator(9), temperature, prime);
        var naive = WaveNetGenerator.GenerateNaive(model, 120, new RandomGenerator(9), temperature, prime,
            condition: 2);
        Assert.Equal(naive, fast);
        Assert.True(fast.Distinct().Count() > (temperature == 0 ? 0 : 2));
        var other = new WaveNetGenerator(model, condition: 0).Generate(120, new RandomGenerator(9), temperature, prime);
        if (temperature > 0) Assert.NotEqual(fast, other); // the label matters
    }

    [Fact]
    public void BadInputsAreRefusedWithTheirShapes()
    {
        var model = new WaveNetModel(Tiny(global: 2), new RandomGenerator(1));
        Assert.Contains("give one per sequence", Assert.Throws<ArgumentException>(() => model.Forward([Codes(5, 1)]))
            .Message);
        Assert.Contains("label 5", Assert.Throws<ArgumentException>(() => model.Forward([Codes(5, 1)], [5])).Message);
        Assert.Contains("code 9", Assert.Throws<ArgumentException>(() => model.Forward([[1, 9]], [0])).Message);
        Assert.Contains("crop them", Assert.Throws<ArgumentException>(() => model.Forward([[1, 2], [1]], [0, 1]))
            .Message);
        Assert.Throws<ArgumentException>(() => new WaveNetGenerator(model));
        var json = model.Config.ToJson();
        Assert.Equal(model.Config, WaveNetConfig.FromJson(json));
        json["architecture"] = "lstm";
        Assert.Throws<InvalidDataException>(() => WaveNetConfig.FromJson(json));
    }

    [Fact]
    public void TheSampleLstmBaselineIsGradientCheckedAndConditioned()
    {
        var model = new SampleLstm(new SampleLstmConfig(Levels: 8, EmbeddingSize: 3, HiddenSize: 4,
            GlobalConditions: 2), new RandomGenerator(2));
        var codes = new[] { Codes(7, 3), Codes(7, 4) };
        var result = GradientCheck.Compare(() => model.Loss(codes, [0, 1]), model.Parameters().ToList(),
            epsilon: 1e-3);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
        using var _ = GradMode.NoGrad();
        Assert.NotEqual(model.Loss(codes, [0, 1]).Item(), model.Loss(codes, [1, 0]).Item());
        Assert.Throws<ArgumentException>(() => model.Loss(codes));
        Assert.Equal(model.Config, SampleLstmConfig.FromJson(model.Config.ToJson()));
    }
}
