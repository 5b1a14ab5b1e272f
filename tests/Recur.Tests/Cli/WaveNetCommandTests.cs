using System.Text.Json;
using Recur.Data;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary><c>recur wavenet</c> end to end on a small generated corpus.</summary>
[Collection("cli")]
public sealed class WaveNetCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-wavenet-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static readonly string[] Small = ["--residual", "4", "--gate-channels", "4", "--skip", "8", "--layers", "4",
        "--stacks", "1", "--crop", "64", "--valid-limit", "4", "--threads", "1"];

    [Fact]
    public void TrainsGeneratesAWavFileAndEvaluates()
    {
        string data = SpeechCommandTests.WriteCorpus(folder), run = Path.Combine(folder, "run");
        Assert.Equal(0, Recur.Cli.RecurCommand.Run(["wavenet", "train", "--data", data, "--out", run, "--epochs", "1",
            "--batch", "16", .. Small]));
        Assert.True(File.Exists(Path.Combine(run, "best", Checkpoint.ModelFile)));
        string wav = Path.Combine(folder, "seven.wav");
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, Recur.Cli.RecurCommand.Run(["wavenet", "generate", "--model", run, "--seconds", "0.05",
                "--condition", "seven", "--out", wav, "--compare-naive"]));
            Assert.Equal(0, Recur.Cli.RecurCommand.Run(["wavenet", "eval", "--model", run, "--data", data, "--json"]));
        }
        finally { Console.SetOut(saved); }
        var audio = Wav.Read(wav);
        Assert.Equal(8000, audio.SampleRate);
        Assert.Equal(400, audio.Frames);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("samples/s", lines[0]);
        Assert.Contains("faster", lines[1]);
        var report = JsonDocument.Parse(lines[2]).RootElement;
        Assert.Equal(100, report.GetProperty("recordings").GetInt32());
        Assert.True(report.GetProperty("bits_per_sample").GetDouble() > 0);
    }

    [Fact]
    public void AConditionedModelNeedsAKnownLabel()
    {
        string data = SpeechCommandTests.WriteCorpus(folder), run = Path.Combine(folder, "run");
        Assert.Equal(0, Recur.Cli.RecurCommand.Run(["wavenet", "train", "--data", data, "--out", run, "--epochs", "1",
            "--batch", "64", .. Small]));
        var (code, error) = RunSafetyTests.RunCapturingErrors("wavenet", "generate", "--model", run, "--out",
            Path.Combine(folder, "x.wav"));
        Assert.Equal(2, code);
        Assert.Contains("--condition", error);
        (code, error) = RunSafetyTests.RunCapturingErrors("wavenet", "generate", "--model", run, "--out",
            Path.Combine(folder, "x.wav"), "--condition", "eleven");
        Assert.Equal(2, code);
        Assert.Contains("not one of", error);
        Assert.False(File.Exists(Path.Combine(folder, "x.wav")));
        (code, error) = RunSafetyTests.RunCapturingErrors("wavenet", "train", "--out", Path.Combine(folder, "r2"));
        Assert.Equal(2, code);
        Assert.Contains("--data", error);
    }

    [Fact]
    public void TheLstmBaselineTrainsAndIsScoredButNotSampled()
    {
        string data = SpeechCommandTests.WriteCorpus(folder), run = Path.Combine(folder, "lstm");
        Assert.Equal(0, Recur.Cli.RecurCommand.Run(["wavenet", "train", "--data", data, "--out", run, "--epochs", "1",
            "--batch", "64", "--architecture", "lstm", "--hidden", "6", "--embed", "3", "--crop", "32",
            "--valid-limit", "2", "--threads", "1"]));
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, Recur.Cli.RecurCommand.Run(["wavenet", "eval", "--model", run, "--data", data, "--json"]));
        }
        finally { Console.SetOut(saved); }
        Assert.True(JsonDocument.Parse(output.ToString()).RootElement.GetProperty("bits_per_sample").GetDouble() > 0);
        var (code, error) = RunSafetyTests.RunCapturingErrors("wavenet", "generate", "--model", run, "--out",
            Path.Combine(folder, "x.wav"), "--condition", "1");
        Assert.Equal(2, code);
        Assert.Contains("baseline", error);
    }
}
