using Recur.Cli;
using Recur.Energy;
using Recur.Tests.Figures;

namespace Recur.Tests.Cli;

[Collection("cli")]
public sealed class RbmCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-rbm-cli-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [SharedDataFact("mnist")]
    public void TrainsOnMnistThenSamplesAndDrawsFilters()
    {
        string run = Path.Combine(folder, "run");
        Assert.Equal(0, RecurCommand.Run("rbm", "train", "--mnist", SharedData.Folder("mnist"), "--hidden", "16",
            "--epochs", "1",
            "--ais-steps", "20", "--ais-runs", "5", "--out", run, "--threads", "1"));
        var (rbm, _) = RestrictedBoltzmannMachine.Load(Path.Combine(run, "rbm.safetensors"));
        Assert.Equal((784, 16), (rbm.Visible, rbm.Hidden));
        FigureFiles.AssertPng(Path.Combine(run, "filters.png"));
        Assert.Contains("\"type\":\"ais\"", File.ReadAllText(Path.Combine(run, "metrics.jsonl")));
        Assert.Equal(0, RecurCommand.Run("rbm", "sample", "--model", run, "--samples", "4", "--gibbs", "10", "--out",
            Path.Combine(folder, "samples")));
        var (width, height) = FigureFiles.AssertPng(Path.Combine(folder, "samples.png"));
        Assert.True(width > height);
        FigureFiles.AssertSvg(Path.Combine(folder, "samples.svg"), "4 samples after 10 Gibbs steps");
        FigureFiles.AssertSvg(Path.Combine(folder, "samples-filters.svg"), "16 learned filters");
    }

    [Fact]
    public void MissingDataAndModelsAreReported()
    {
        Assert.Equal(2, RecurCommand.Run("rbm", "train", "--mnist", Path.Combine(folder, "nowhere"), "--out",
            Path.Combine(folder, "x")));
        Assert.Equal(1, RecurCommand.Run("rbm", "sample", "--model", Path.Combine(folder, "nowhere")));
        Assert.Equal(2, RecurCommand.Run("rbm", "train", "--hidden", "0", "--out", Path.Combine(folder, "x")));
    }
}
