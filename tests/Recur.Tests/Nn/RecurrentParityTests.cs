using System.Text.Json;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Nn;

/// <summary>
/// Outputs, final states and all gradients against PyTorch for the configurations recorded by
/// Fixtures/make_recurrent_fixtures.py (Debian's python3-torch), within 1e-5 absolute + 1e-5 relative.
/// </summary>
public class RecurrentParityTests
{
    sealed record Case(string Name, RecurrentConfig Config, int[]? Lengths, Dictionary<string, Tensor> Tensors);

    static readonly Lazy<Case[]> Cases = new(Load);

    static Case[] Load()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures",
            "recurrent_pytorch.json")));
        var cases = new List<Case>();
        foreach (var c in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            var config = c.GetProperty("config");
            var mode = config.GetProperty("mode").GetString() switch
            {
                "RNN_TANH" => RecurrentMode.RnnTanh,
                "RNN_RELU" => RecurrentMode.RnnRelu,
                "LSTM" => RecurrentMode.Lstm,
                "GRU" => RecurrentMode.Gru,
                var other => throw new InvalidDataException(other),
            };
            var recurrentConfig = new RecurrentConfig(mode, config.GetProperty("input_size").GetInt32(),
                config.GetProperty("hidden_size").GetInt32(),
                config.GetProperty("num_layers").GetInt32(), config.GetProperty("bias").GetBoolean(),
                    config.GetProperty("batch_first").GetBoolean(),
                0f, config.GetProperty("bidirectional").GetBoolean(),
                ProjSize: config.TryGetProperty("proj_size", out var proj) ? proj.GetInt32() : 0);
            var lengths = c.GetProperty("lengths").ValueKind == JsonValueKind.Null ? null
                : c.GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var tensors = new Dictionary<string, Tensor>();
            foreach (var t in c.GetProperty("tensors").EnumerateObject())
                tensors[t.Name] = Tensor.FromArray(t.Value.GetProperty("data").EnumerateArray().Select(e
                    => e.GetSingle()).ToArray(),
                    t.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
            cases.Add(new Case(c.GetProperty("name").GetString()!, recurrentConfig, lengths, tensors));
        }
        return cases.ToArray();
    }

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Value) data.Add(c.Name);
        return data;
    }

    [Fact]
    public void FixturesCoverAtLeast24Configurations() => Assert.True(Cases.Value.Length >= 24);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesPyTorch(string name)
    {
        var c = Cases.Value.Single(x => x.Name == name);
        var t = c.Tensors;
        var layer = new RecurrentLayer(c.Config, new RandomGenerator(0));
        layer.LoadStateDict(t.Where(kv => kv.Key.StartsWith("weight.")).ToDictionary(kv => kv.Key["weight.".Length..],
            kv => kv.Value));
        var input = t["input"];
        input.RequiresGrad = true;
        var h0 = t.GetValueOrDefault("h0");
        var c0 = t.GetValueOrDefault("c0");
        if (h0 != null) h0.RequiresGrad = true;
        if (c0 != null) c0.RequiresGrad = true;

        var result = layer.Forward(input, h0, c0, c.Lengths);
        Close.Parity(t["output"], result.Output, "output");
        Close.Parity(t["h_n"], result.HiddenState, "h_n");
        if (t.TryGetValue("c_n", out var cN)) Close.Parity(cN, result.CellState, "c_n");

        var loss = (result.Output * t["g_output"]).Sum() + (result.HiddenState * t["g_h"]).Sum();
        if (result.CellState != null) loss = loss + (result.CellState * t["g_c"]).Sum();
        loss.Backward();
        Close.Parity(t["grad.input"], input.Grad, "grad.input");
        if (h0 != null) Close.Parity(t["grad.h0"], h0.Grad, "grad.h0");
        if (c0 != null) Close.Parity(t["grad.c0"], c0.Grad, "grad.c0");
        foreach (var (parameterName, parameter) in layer.NamedParameters())
            Close.Parity(t["grad." + parameterName], parameter.Grad, "grad." + parameterName);
    }
}

/// <summary>Single-step cells against torch.nn.RNNCell/LSTMCell/GRUCell over three steps (same fixture file).</summary>
public class RecurrentCellParityTests
{
    static Dictionary<string, Tensor> Load(string mode)
    {
        using var document
            = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures",
            "recurrent_pytorch.json")));
        var cell = document.RootElement.GetProperty("cells").EnumerateArray().Single(c
            => c.GetProperty("mode").GetString() == mode);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var t in cell.GetProperty("tensors").EnumerateObject())
            tensors[t.Name] = Tensor.FromArray(t.Value.GetProperty("data").EnumerateArray().Select(e
                => e.GetSingle()).ToArray(),
                t.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        return tensors;
    }

    [Theory]
    [InlineData("RNN_TANH", RecurrentMode.RnnTanh)]
    [InlineData("RNN_RELU", RecurrentMode.RnnRelu)]
    [InlineData("LSTM", RecurrentMode.Lstm)]
    [InlineData("GRU", RecurrentMode.Gru)]
    public void StepByStepMatchesPyTorch(string name, RecurrentMode mode)
    {
        var t = Load(name);
        var input = t["input"];
        int steps = input.Size(0);
        var cell = new RecurrentCell(mode, input.Size(2), t["h0"].Size(1), new RandomGenerator(0));
        cell.LoadStateDict(t.Where(kv => kv.Key.StartsWith("weight.")).ToDictionary(kv => kv.Key["weight.".Length..],
            kv => kv.Value));
        var h0 = t["h0"];
        var c0 = t.GetValueOrDefault("c0");
        foreach (var x in new[] { input, h0, c0 }) if (x != null) x.RequiresGrad = true;
        Tensor h = h0;
        Tensor? c = c0;
        Tensor? loss = null;
        var hiddens = new List<Tensor>();
        var cells = new List<Tensor>();
        for (int step = 0; step < steps; step++)
        {
            (h, c) = cell.Forward(input.Select(0, step), h, c);
            var term = (h * t["g_h"].Select(0, step)).Sum();
            if (c != null) { term = term + (c * t["g_c"].Select(0, step)).Sum(); cells.Add(c); }
            loss = loss is null ? term : loss + term;
            hiddens.Add(h);
        }
        Close.Parity(t["hidden"], Tensor.Stack(hiddens), "hidden");
        if (c0 != null) Close.Parity(t["cell"], Tensor.Stack(cells), "cell");
        loss!.Backward();
        Close.Parity(t["grad.input"], input.Grad, "grad.input");
        Close.Parity(t["grad.h0"], h0.Grad, "grad.h0");
        if (c0 != null) Close.Parity(t["grad.c0"], c0.Grad, "grad.c0");
        foreach (var (parameterName, parameter) in cell.NamedParameters())
            Close.Parity(t["grad." + parameterName], parameter.Grad, "grad." + parameterName);
    }
}
