using System.Text.RegularExpressions;

namespace Recur.Tests;

/// <summary>docs/guide.md's listings are the example projects, and the example projects run.</summary>
public sealed class GuideTests
{
    static string Repository() => SharedData.Repository();

    [Theory]
    [InlineData("GettingStarted")]
    [InlineData("MemoryNetworks")]
    [InlineData("Captioning")]
    [InlineData("Export")]
    [InlineData("CustomTask")]
    [InlineData("Forecasting")]
    [InlineData("LanguageModels")]
    public void TheGuideShowsEachExampleAsItIs(string example)
    {
        string root = Repository();
        string guide = File.ReadAllText(Path.Combine(root, "docs", "guide.md")).Replace("\r\n", "\n");
        string source = File.ReadAllText(Path.Combine(root, "examples", example, "Example.cs")).Replace("\r\n",
            "\n");
        string listing = Regex.Match(source, @"// guide:begin\n(.*?)\n// guide:end",
            RegexOptions.Singleline).Groups[1].Value;
        Assert.NotEmpty(listing);
        Assert.Contains(listing, guide);
    }

    [Fact]
    public async Task TheLanguageModelExampleLearnsTheRhymesAndServesThem()
    {
        var output = new StringWriter();
        var (bits, beam) = await LanguageModels.Example.Run(output);
        Assert.True(bits < 0.6, $"{bits} bits per character");
        Assert.Matches(@"^(cat|dog|cow|hen|pig|fox)s went to the (mill|well)\.", beam);
        Assert.Contains("served: after '3 little c' comes 'o'", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheMemoryNetworkExampleLearnsWhereEveryoneIsAndLooksAtTheLatestMove()
    {
        var output = new StringWriter();
        double accuracy = MemoryNetworks.Example.Run(output);
        Assert.True(accuracy >= 0.95, $"validation accuracy {accuracy}");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Where is Mary? kitchen", lines[1].Trim());
        Assert.StartsWith("hop 3: mary went to the kitchen", lines[4]);
    }

    [Fact]
    public void TheCaptioningExampleDescribesNewScenesOfHeldOutDrawings()
    {
        var output = new StringWriter();
        double accuracy = global::Captioning.Example.Run(output);
        Assert.True(accuracy >= 0.85, $"validation accuracy {accuracy}");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.All(lines[1..], line => Assert.Matches("^\"[a-z ]+\" \\(truth \"[a-z ]+\"\\): looked at x = ", line));
    }

    [Fact]
    public void TheForecastingExampleLearnsAcrossSeriesAndBeatsTheta()
    {
        var output = new StringWriter();
        var (network, esRnn, theta, coverage) = global::Forecasting.Example.Run(output);
        Assert.True(network < theta, $"network sMAPE {network}, Theta {theta}");
        Assert.True(esRnn < theta, $"ES-RNN sMAPE {esRnn}, Theta {theta}");
        // 2% noise on smooth series: a calibrated 95% interval holds most held-out quarters without being all-wide
        Assert.InRange(coverage, 0.8, 1.0);
        Assert.StartsWith("series 0: ETS(", output.ToString());
    }

    [Fact]
    public void TheCustomTaskExampleLearnsToContinueSineWaves()
    {
        var output = new StringWriter();
        double mse = global::CustomTask.Example.Run(output);
        Assert.True(mse < 0.02, $"validation MSE {mse}");
        Assert.StartsWith("best validation MSE", output.ToString());
    }

    [Fact]
    public void TheExportExampleRunsTheClassifierInOnnxRuntimeAsInRecurAndWritesAPyTorchProject()
    {
        string folder = Directory.CreateTempSubdirectory("recur-guide-export-").FullName;
        try
        {
            var output = new StringWriter();
            double difference = global::Export.Example.Run(output, folder);
            Assert.True(difference < 1e-5, $"ONNX Runtime and Recur differ by {difference}");
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("[5 3 9]: P(has 3) = 0.9", lines[0]);
            Assert.True(File.Exists(Path.Combine(folder, "torch", "model.py")));
            // int8 keeps the decisions: each text's probability within 0.05 of float's
            var int8 = lines.Single(l => l.StartsWith("int8 (encoder", StringComparison.Ordinal));
            var quantised = int8[(int8.IndexOf('=') + 1)..].Split(',').Select(v => double.Parse(v,
                System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            var floats = lines.Take(3).Select(l => double.Parse(l.Split(" = ")[1][..5],
                System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            for (int i = 0; i < 3; i++) Assert.True(Math.Abs(quantised[i] - floats[i]) < 0.05, int8);
            // saved in int8 and loaded back: the same numbers from fewer bytes
            var saved = lines.Single(l => l.StartsWith("saved in int8", StringComparison.Ordinal));
            Assert.EndsWith("reloaded, the same probabilities", saved.TrimEnd());
            Assert.True(new FileInfo(Path.Combine(folder, "int8.safetensors")).Length
                < 0.6 * new FileInfo(Path.Combine(folder, "float.safetensors")).Length, saved);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    [Trait("Category", "slow")] // trains a small classifier for a few seconds
    public void GettingStartedTrainsSavesLoadsAndPredicts()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"recur-guide-{Guid.NewGuid():N}");
        try
        {
            var output = new StringWriter();
            double accuracy = GettingStarted.Example.Run(output, folder);
            Assert.True(accuracy >= 0.9, $"validation accuracy {accuracy}");
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            double Positive(string line) => double.Parse(line[(line.LastIndexOf('=') + 1)..],
                System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Positive(lines[1]) > 0.5, lines[1]); // "the acting was superb"
            Assert.True(Positive(lines[2]) < 0.5, lines[2]); // "a boring plot"
            Assert.StartsWith("NBSVM validation accuracy", lines[3]);
            Assert.True(Directory.Exists(Path.Combine(folder, "best")));
        }
        finally { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
    }
}
