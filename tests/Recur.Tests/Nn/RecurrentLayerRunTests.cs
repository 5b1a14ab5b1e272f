using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Tests.Nn;

/// <summary><c>recur layer run</c>'s evaluation on PyTorch state dicts saved as safetensors
/// (Fixtures/layer_run).</summary>
public class RecurrentLayerRunTests
{
    static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "layer_run", name);

    [Theory]
    [InlineData("lstm_bidirectional_lengths_states")]
    [InlineData("gru_batch_first")]
    [InlineData("rnn_tanh_states")]
    [InlineData("lstm_proj_bidirectional_states")]
    public void MatchesPyTorchOnItsOwnStateDict(string name)
    {
        string folder = Folder(name);
        var (config, lengths) = RecurrentLayerRun.ParseConfig(File.ReadAllText(Path.Combine(folder, "cfg.json")),
            "cfg.json");
        var result = RecurrentLayerRun.Evaluate(config, lengths,
            SafeTensors.Load(Path.Combine(folder, "weights.safetensors")),
            SafeTensors.Load(Path.Combine(folder, "input.safetensors")),
            SafeTensors.Load(Path.Combine(folder, "grad_output.safetensors")));
        var expected = SafeTensors.Load(Path.Combine(folder, "expected.safetensors"));
        Assert.Equal(expected.Keys.Order(), result.Keys.Order());
        foreach (var (key, value) in expected)
        {
            Assert.Equal(value.ShapeArray(), result[key].ShapeArray());
            var e = value.ToArray();
            var a = result[key].ToArray();
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(e[i] - a[i]) <= 1e-5 + 1e-5 * Math.Abs(e[i]),
                    $"{name} {key}[{i}]: Recur {a[i]:G9}, PyTorch {e[i]:G9}");
        }
    }

    [Fact]
    public void WithoutGradOutputsOnlyOutputsAreReturned()
    {
        string folder = Folder("gru_batch_first");
        var (config, lengths) = RecurrentLayerRun.ParseConfig(File.ReadAllText(Path.Combine(folder, "cfg.json")),
            "cfg.json");
        var result = RecurrentLayerRun.Evaluate(config, lengths, SafeTensors.Load(Path.Combine(folder,
            "weights.safetensors")),
            SafeTensors.Load(Path.Combine(folder, "input.safetensors")), null);
        Assert.Equal(["h_n", "output"], result.Keys.Order());
    }

    [Theory]
    [InlineData("""{"mode":"LSTM","input_size":3}""", "'input_size' and 'hidden_size' are required")]
    [InlineData("""{"mode":"LSTMX","input_size":3,"hidden_size":4}""", "mode 'LSTMX'")]
    [InlineData("""{"mode":"LSTM","input_size":3,"hidden_size":4,"proj_size":4}""", "projSize must be")]
    [InlineData("""{"mode":"GRU","input_size":3,"hidden_size":4,"proj_size":2}""", "projSize must be")]
    [InlineData("""{"mode":"GRU","input_size":3,"hidden_size":4,"num_layer":2}""", "unknown key 'num_layer'")]
    [InlineData("""{"mode":"GRU","input_size":"3","hidden_size":4}""", "'input_size' has the wrong type")]
    [InlineData("""{"mode":"GRU","input_size":3,"hidden_size":0}""", "hiddenSize must be positive")]
    [InlineData("""[1, 2]""", "expected a JSON object")]
    public void BadConfigurationsNameTheFileAndKey(string json, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => RecurrentLayerRun.ParseConfig(json, "my-cfg.json"));
        Assert.StartsWith("my-cfg.json: ", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void AStateDictOfTheWrongShapeIsRefusedByName()
    {
        string folder = Folder("gru_batch_first");
        var weights = SafeTensors.Load(Path.Combine(folder, "weights.safetensors"));
        var config = new RecurrentConfig(RecurrentMode.Gru, 3, 6, BatchFirst: true);
        var ex = Assert.Throws<ArgumentException>(() => RecurrentLayerRun.Evaluate(config, null, weights,
            SafeTensors.Load(Path.Combine(folder, "input.safetensors")), null));
        Assert.Contains("weight_ih_l0", ex.Message);
        Assert.Contains("[15, 3]", ex.Message);
    }
}
