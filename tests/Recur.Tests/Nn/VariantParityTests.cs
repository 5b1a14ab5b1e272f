using System.Text.Json;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Nn;

/// <summary>The composed variants against PyTorch (fixtures from Fixtures/make_variant_fixtures.py).</summary>
public class VariantParityTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory,
        "Fixtures", "variants_pytorch.json"))).RootElement;

    public static TheoryData<string> Cases() => [.. Root.GetProperty("cases").EnumerateArray().Select(c
        => c.GetProperty("name").GetString()!)];

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    static ComposedRecurrentLayer Create(string name, int input, int hidden) => name switch
    {
        "peephole" => new LstmVariantLayer(input, hidden, new RandomGenerator(1), peephole: true),
        "projection" => new LstmVariantLayer(input, hidden, new RandomGenerator(1), projSize: 2),
        "cho_gru" => new ChoGruLayer(input, hidden, new RandomGenerator(1)),
        "leaky" => new LeakyRnnLayer(input, hidden, 0.6f, new RandomGenerator(1)),
        "ln_lstm" => new LayerNormRecurrentLayer(input, hidden, new RandomGenerator(1)),
        "ln_gru" => new LayerNormRecurrentLayer(input, hidden, new RandomGenerator(1), gru: true),
        "jordan" => new JordanLayer(input, hidden, 2, new RandomGenerator(1)),
        _ => throw new ArgumentException(name),
    };

    static void AssertClose(float[] expected, ReadOnlySpan<float> actual, string what) =>
        Close.Values(expected, actual, what, Close.ParityTolerance, Close.ParityTolerance);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var c = Root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int t = Root.GetProperty("T").GetInt32(), b = Root.GetProperty("B").GetInt32(),
            i = Root.GetProperty("I").GetInt32(), h = Root.GetProperty("H").GetInt32();
        var layer = Create(name, i, h);
        var own = layer.StateDict();
        var given = c.GetProperty("params").EnumerateObject().ToDictionary(p => p.Name, p => Floats(p.Value));
        Assert.Equal(given.Keys.Order(), own.Keys.Order());
        foreach (var (key, values) in given) values.CopyTo(own[key].Span);
        var x = Tensor.FromArray(Floats(c.GetProperty("input")), t, b, i);
        x.RequiresGrad = true;
        var (output, state) = layer.Forward(x);
        AssertClose(Floats(c.GetProperty("output")), output.Span, "output");
        var states = c.GetProperty("state").EnumerateArray().Select(Floats).ToArray();
        for (int s = 0; s < states.Length; s++) AssertClose(states[s], state[s].Span, $"state {s}");
        var weights = Tensor.FromArray(Floats(c.GetProperty("output_weights")), output.ShapeArray());
        (output * weights).Sum().Backward();
        AssertClose(Floats(c.GetProperty("input_grad")), x.Grad!.Span, "input gradient");
        foreach (var p in c.GetProperty("param_grads").EnumerateObject())
            AssertClose(Floats(p.Value), own[p.Name].Grad!.Span, $"gradient of {p.Name}");
    }

    [Theory]
    [InlineData("peephole")]
    [InlineData("leaky")]
    [InlineData("ln_lstm")]
    [InlineData("ln_gru")]
    [InlineData("cho_gru")]
    [InlineData("jordan")]
    public void FusedVariantMatchesPyTorch(string name)
    {
        // the same fixture as the tape-composed layer, run by the fused kernel (names get PyTorch's _l0)
        var c = Root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int t = Root.GetProperty("T").GetInt32(), b = Root.GetProperty("B").GetInt32(),
            i = Root.GetProperty("I").GetInt32(), h = Root.GetProperty("H").GetInt32();
        var config = name switch
        {
            "peephole" => new RecurrentConfig(RecurrentMode.Lstm, i, h, Peephole: true),
            "ln_lstm" => new RecurrentConfig(RecurrentMode.Lstm, i, h, LayerNorm: true),
            "ln_gru" => new RecurrentConfig(RecurrentMode.Gru, i, h, LayerNorm: true),
            "cho_gru" => new RecurrentConfig(RecurrentMode.Gru, i, h, ResetAfter: false),
            "jordan" => new RecurrentConfig(RecurrentMode.RnnTanh, i, h, ProjSize: 2), // the fixture's two outputs
            _ => new RecurrentConfig(RecurrentMode.RnnTanh, i, h, Leak: 0.6f), // the fixture's fixed leak
        };
        var layer = new RecurrentLayer(config, new RandomGenerator(1));
        var own = layer.StateDict();
        Func<string, string> names = name == "jordan" ? RecurrentGradientTests.JordanNames
            : RecurrentGradientTests.Stacked;
        var given = c.GetProperty("params").EnumerateObject().ToDictionary(p => names(p.Name), p => Floats(p.Value));
        if (name == "jordan") own["bias_hh_l0"].Zero(); // Jordan's hidden units have one bias, b_ih
        Assert.Equal(given.Keys.Order(), own.Keys.Where(key => given.ContainsKey(key) || name != "jordan").Order());
        foreach (var (key, values) in given) values.CopyTo(own[key].Span);
        var x = Tensor.FromArray(Floats(c.GetProperty("input")), t, b, i);
        x.RequiresGrad = true;
        var result = layer.Forward(x);
        AssertClose(Floats(c.GetProperty("output")), result.Output.Span, "output");
        var states = c.GetProperty("state").EnumerateArray().Select(Floats).ToArray();
        AssertClose(states[0], result.HiddenState.Span, "h_n");
        if (states.Length > 1) AssertClose(states[1], result.CellState!.Span, "c_n");
        var weights = Tensor.FromArray(Floats(c.GetProperty("output_weights")), result.Output.ShapeArray());
        (result.Output * weights).Sum().Backward();
        AssertClose(Floats(c.GetProperty("input_grad")), x.Grad!.Span, "input gradient");
        foreach (var p in c.GetProperty("param_grads").EnumerateObject())
            AssertClose(Floats(p.Value), own[names(p.Name)].Grad!.Span,
                $"gradient of {p.Name}");
    }
}
