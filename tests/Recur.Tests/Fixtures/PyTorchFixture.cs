using System.Text.Json;
using Recur.Nn;

namespace Recur.Tests.Fixtures;

/// <summary>
/// A whole-network parity fixture written by a <c>make_*_fixtures.py</c> script: its JSON root, the PyTorch parameters
/// (<c>parameters.{name}.shape/value/grad</c>, named as Recur's state dict) loaded into a model, and every gradient
/// compared after the same loss.
/// </summary>
sealed class PyTorchFixture(JsonElement root)
{
    /// <summary>The fixture file <paramref name="name"/> copied beside the test binaries.</summary>
    public static PyTorchFixture Read(string name) => new(JsonDocument.Parse(File.ReadAllText(Path.Combine(
        AppContext.BaseDirectory, "Fixtures", name))).RootElement);

    /// <summary>The JSON root.</summary>
    public JsonElement Root { get; } = root;

    /// <summary>A JSON array of numbers as floats.</summary>
    public static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    /// <summary>A JSON array of integers.</summary>
    public static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    /// <summary>Loads PyTorch's parameter values into <paramref name="model"/>.</summary>
    public void LoadInto(Module model) => model.LoadStateDict(Root.GetProperty("parameters").EnumerateObject()
        .ToDictionary(p => p.Name, p => Tensor.FromArray(Floats(p.Value.GetProperty("value")),
            Ints(p.Value.GetProperty("shape")))));

    /// <summary>Every parameter gradient of <paramref name="model"/> (after a backward pass) against PyTorch's, within
    /// <see cref="Close.ParityTolerance"/>; a parameter without a gradient counts as zeros.</summary>
    public void AssertGradients(Module model)
    {
        var parameters = Root.GetProperty("parameters");
        foreach (var (name, parameter) in model.NamedParameters())
            Close.Values(Floats(parameters.GetProperty(name).GetProperty("grad")),
                parameter.Grad?.ToArray() ?? new float[parameter.Length], name, Close.ParityTolerance,
                Close.ParityTolerance);
    }
}
