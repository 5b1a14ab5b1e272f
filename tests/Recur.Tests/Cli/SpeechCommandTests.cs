using Recur.Data;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary><c>recur speech</c> end to end on a small generated corpus in the Free Spoken Digit Dataset's
/// layout.</summary>
[Collection("cli")]
public sealed class SpeechCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-speech-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string Corpus() => WriteCorpus(folder);

    /// <summary>A small corpus in the Free Spoken Digit Dataset's layout: two speakers, a tone per digit, 11 takes
    /// each; returns its folder.</summary>
    internal static string WriteCorpus(string folder)
    {
        string data = Path.Combine(folder, "fsdd", "recordings");
        Directory.CreateDirectory(data);
        var random = new RandomGenerator(3);
        foreach (string speaker in new[] { "ann", "bob" })
            for (int digit = 0; digit < 10; digit++)
                for (int take = 0; take < 11; take++)
                {
                    double hz = 300 + 150 * digit;
                    var samples = Enumerable.Range(0, 1600).Select(i => (float)(0.4 * Math.Sin(2 * Math.PI * hz * i
                        / 8000) + 0.02 * random.NextNormal())).ToArray();
                    Wav.Write(Path.Combine(data, $"{digit}_{speaker}_{take}.wav"), new WavAudio(8000, 1, samples));
                }
        return Path.GetDirectoryName(data)!;
    }

    [Fact]
    public void TrainsEvaluatesAndTranscribesWithAFigure()
    {
        string data = Corpus(), run = Path.Combine(folder, "run");
        string[] small = ["--mels", "16", "--conv-layers", "1", "--conv-channels", "2", "--hidden", "8",
            "--layers", "1", "--threads", "1"];
        Assert.Equal(0, Recur.Cli.RecurCommand.Run(["speech", "train", "--data", data, "--out", run, "--epochs", "1",
            "--batch", "16", .. small]));
        Assert.True(File.Exists(Path.Combine(run, "best", Checkpoint.ModelFile)));

        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, Recur.Cli.RecurCommand.Run(["speech", "eval", "--model", run, "--data", data, "--json"]));
            Assert.Equal(0, Recur.Cli.RecurCommand.Run(["speech", "eval", "--model", run, "--data", data, "--task",
                "connected", "--utterances", "8", "--beam", "3", "--json"]));
            string wav = Path.Combine(data, "recordings", "4_bob_0.wav");
            Assert.Equal(0, Recur.Cli.RecurCommand.Run(["speech", "transcribe", "--model", run, "--plot",
                Path.Combine(folder, "figure"), wav]));
        }
        finally { Console.SetOut(saved); }
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("\"utterances\":100", lines[0]);
        Assert.Contains("\"utterances\":2", lines[1]);
        Assert.StartsWith(Path.Combine(data, "recordings", "4_bob_0.wav") + "\t", lines[2]);
        Assert.True(new FileInfo(Path.Combine(folder, "figure.png")).Length > 1000);
    }

    [Fact]
    public void BadAudioAndMissingDataGetClearErrors()
    {
        string notWav = Path.Combine(folder, "notes.wav");
        File.WriteAllText(notWav, "not audio");
        string run = Path.Combine(folder, "run");
        var (code, error) = RunSafetyTests.RunCapturingErrors("speech", "train", "--data", Path.Combine(folder, "none"),
            "--out", run);
        Assert.Equal(2, code);
        Assert.Contains("no such folder", error);
        Assert.False(Directory.Exists(run));

        string data = Corpus();
        string[] small = ["--mels", "16", "--conv-layers", "1", "--conv-channels", "2", "--hidden", "4", "--layers",
            "1", "--epochs", "1", "--threads", "1"];
        Assert.Equal(0, Recur.Cli.RecurCommand.Run(["speech", "train", "--data", data, "--out", run, .. small]));
        (code, error) = RunSafetyTests.RunCapturingErrors("speech", "transcribe", "--model", run, notWav);
        Assert.Equal(1, code);
        Assert.Contains("notes.wav", error);
        Assert.Contains("not a WAV file", error);
        (code, error) = RunSafetyTests.RunCapturingErrors("speech", "train", "--data", data, "--out",
            Path.Combine(folder, "r2"), "--test-speakers", "ann");
        Assert.Equal(2, code);
        Assert.Contains("--split speaker", error);
    }

    [Fact]
    public void GlobalNormalisationIsSavedWithTheModelAndUsedByEval()
    {
        string data = Corpus(), run = Path.Combine(folder, "global");
        Assert.Equal(0, Recur.Cli.RecurCommand.Run(["speech", "train", "--data", data, "--out", run, "--epochs", "1",
            "--normalize", "global", "--mels", "16", "--conv-layers", "1", "--conv-channels", "2", "--hidden", "4",
            "--layers", "1", "--threads", "1"]));
        var config = Checkpoint.ReadConfig(Checkpoint.Locate(run));
        Assert.Equal("global", (string?)config["normalization"]);
        Assert.Equal(16, config["band_mean"]!.AsArray().Count);
        Assert.Equal(0, Recur.Cli.RecurCommand.Run(["speech", "eval", "--model", run, "--data", data, "--json"]));
    }
}
