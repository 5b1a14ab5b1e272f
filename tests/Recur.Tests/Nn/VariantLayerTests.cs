using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Nn;

/// <summary>The composed recurrent variants: finite-difference gradients, and agreement with the fused layers where the
/// forms coincide.</summary>
public class VariantLayerTests
{
    public static TheoryData<string> Variants() => ["peephole", "projection", "peephole_projection", "cho_gru",
        "leaky", "ln_lstm", "ln_gru", "jordan"];

    static ComposedRecurrentLayer Create(string name, RandomGenerator random) => name switch
    {
        "peephole" => new LstmVariantLayer(3, 4, random, peephole: true),
        "projection" => new LstmVariantLayer(3, 4, random, projSize: 2),
        "peephole_projection" => new LstmVariantLayer(3, 4, random, peephole: true, projSize: 3),
        "cho_gru" => new ChoGruLayer(3, 4, random),
        "leaky" => new LeakyRnnLayer(3, 4, 0.7f, random),
        "ln_lstm" => new LayerNormRecurrentLayer(3, 4, random),
        "ln_gru" => new LayerNormRecurrentLayer(3, 4, random, gru: true),
        "jordan" => new JordanLayer(3, 4, 2, random),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var random = new RandomGenerator(31);
        var layer = Create(name, random);
        // move the layer-norm gains and shifts off their initial 1 and 0 so that their gradients are exercised in
        // general position
        foreach (var p in layer.Parameters()) Init.Uniform(p, random, -0.6f, 0.6f);
        var input = Tensor.RandomNormal(random, [4, 2, 3]);
        var result = GradientCheck.Compare(() =>
        {
            var (output, state) = layer.Forward(input);
            return Tensor.Concat([output.Reshape(-1), .. state.Select(s => s.Reshape(-1))], 0);
        }, [input, .. layer.Parameters()], epsilon: 1e-2);
        Assert.True(result.Passed, $"{name}: error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    static void CopyInto(RecurrentLayer fused, ComposedRecurrentLayer variant)
    {
        var v = variant.StateDict();
        var f = fused.StateDict();
        foreach (var (name, target) in new[] { ("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
            ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0") })
            f[target].Span.CopyTo(v[name].Span);
    }

    static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-5,
            $"[{i}] {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void WithoutOptionsTheLstmVariantIsTheFusedLstm()
    {
        var fused = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 3, 5), new RandomGenerator(1));
        var variant = new LstmVariantLayer(3, 5, new RandomGenerator(2));
        CopyInto(fused, variant);
        var x = Tensor.RandomNormal(new RandomGenerator(3), [6, 2, 3]);
        var expected = fused.Forward(x);
        var (output, state) = variant.Forward(x);
        AssertClose(expected.Output.ToArray(), output.ToArray());
        AssertClose(expected.CellState!.ToArray(), state[1].ToArray());
    }

    [Fact]
    public void ALeakOfZeroIsTheElmanRnn()
    {
        var fused = new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 3, 5), new RandomGenerator(1));
        var variant = new LeakyRnnLayer(3, 5, 0f, new RandomGenerator(2));
        CopyInto(fused, variant);
        var x = Tensor.RandomNormal(new RandomGenerator(3), [6, 2, 3]);
        AssertClose(fused.Forward(x).Output.ToArray(), variant.Forward(x).Output.ToArray());
    }

    [Fact]
    public void LeakyUnitsMoveOnlyPartWayToTheirTarget()
    {
        var layer = new LeakyRnnLayer(1, 3, 0.9f, new RandomGenerator(4));
        var x = Tensor.RandomNormal(new RandomGenerator(5), [2, 1, 1]);
        var h0 = Tensor.FromArray([0.5f, -0.5f, 0.2f], 1, 3);
        var (output, _) = layer.Forward(x, [h0]);
        for (int j = 0; j < 3; j++) Assert.True(Math.Abs(output.Span[j] - h0.Span[j]) <= 0.1f * (1f
            + Math.Abs(h0.Span[j])) + 1e-6f);
    }

    [Fact]
    public void ChoGruAppliesTheResetGateBeforeTheRecurrentProduct()
    {
        // one unit, one step, by hand: n = tanh(w_in x + b_in + w_hn (r h) + b_hn)
        var layer = new ChoGruLayer(1, 1, new RandomGenerator(6));
        var p = layer.StateDict();
        float[] wi = p["weight_ih"].ToArray(), bi = p["bias_ih"].ToArray(), wh = p["weight_hh"].ToArray(),
            bh = p["bias_hh"].ToArray();
        float x = 0.8f, h = -0.6f;
        static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
        double r = Sigmoid(wi[0] * x + bi[0] + wh[0] * h + bh[0]), z = Sigmoid(wi[1] * x + bi[1] + wh[1] * h + bh[1]);
        double n = Math.Tanh(wi[2] * x + bi[2] + wh[2] * (r * h) + bh[2]);
        var (output, _) = layer.Forward(Tensor.FromArray([x], 1, 1, 1), [Tensor.FromArray([h], 1, 1)]);
        Assert.Equal((1 - z) * n + z * h, output.Span[0], 5);
    }

    [Fact]
    public void LayerNormMakesTheLayerBlindToTheScaleOfItsWeights()
    {
        var layer = new LayerNormRecurrentLayer(3, 4, new RandomGenerator(7));
        var x = Tensor.RandomNormal(new RandomGenerator(8), [5, 2, 3]);
        var before = layer.Forward(x).Output.ToArray();
        foreach (var (name, value) in layer.NamedParameters().Where(p => p.Name.StartsWith("weight_")))
            for (int i = 0; i < value.Length; i++) value.Span[i] *= 3f;
        var after = layer.Forward(x).Output.ToArray();
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) < 1e-4,
            $"[{i}] {before[i]} vs {after[i]}");
    }

    [Fact]
    public void JordanFeedsBackTheOutput()
    {
        var layer = new JordanLayer(2, 3, 1, new RandomGenerator(9));
        var x = Tensor.RandomNormal(new RandomGenerator(10), [3, 1, 2]);
        var (output, state) = layer.Forward(x);
        Assert.Equal(output.Select(0, 2).ToArray(), state[0].ToArray());
        var (shifted, _) = layer.Forward(x, [Tensor.FromArray([5f], 1, 1)]);
        Assert.NotEqual(output.Select(0, 0).ToArray(), shifted.Select(0,
            0).ToArray()); // the initial output reaches step 0
    }

    [Fact]
    public void ProjectionShapesFollowPyTorch()
    {
        var layer = new LstmVariantLayer(3, 6, new RandomGenerator(11), projSize: 2);
        var names = layer.StateDict().ToDictionary(p => p.Key, p => Shapes.Format(p.Value.Shape));
        Assert.Equal("[24, 2]", names["weight_hh"]);
        Assert.Equal("[2, 6]", names["weight_hr"]);
        var (output, state) = layer.Forward(Tensor.RandomNormal(new RandomGenerator(12), [4, 3, 3]));
        Assert.Equal([4, 3, 2], output.ShapeArray());
        Assert.Equal([3, 6], state[1].ShapeArray());
        Assert.Throws<ArgumentException>(() => new LstmVariantLayer(3, 6, new RandomGenerator(1), projSize: 6));
    }
}
