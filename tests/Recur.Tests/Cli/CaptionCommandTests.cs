using System.IO.Compression;
using System.Text.Json;
using Recur.Tests.Captioning;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary><c>recur caption</c> end to end on generated "MNIST" files.</summary>
[Collection("cli")]
public sealed class CaptionCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-caption-cli-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>Writes the synthetic digits of <see cref="CaptionTaskTests.Synthetic"/> as the two MNIST test files
    /// and returns their folder.</summary>
    string WriteMnist()
    {
        string mnist = Path.Combine(folder, "mnist");
        Directory.CreateDirectory(mnist);
        var (images, labels) = CaptionTaskTests.SyntheticDigits();
        void Write(string name, byte[] header, byte[] body)
        {
            using var stream = new GZipStream(File.Create(Path.Combine(mnist, name)), CompressionLevel.Fastest);
            stream.Write(header);
            stream.Write(body);
        }
        Write("t10k-images-idx3-ubyte.gz", [0, 0, 8, 3, 0, 0, 0x27, 0x10, 0, 0, 0, 28, 0, 0, 0, 28], images);
        Write("t10k-labels-idx1-ubyte.gz", [0, 0, 8, 1, 0, 0, 0x27, 0x10], labels.Select(l => (byte)l).ToArray());
        return mnist;
    }

    static string Capture(Func<int> run, int expected = 0)
    {
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try { Assert.Equal(expected, run()); }
        finally { Console.SetOut(saved); }
        return output.ToString();
    }

    [Fact]
    public void TrainsEvaluatesAndDescribesPicturesWithTheirAttention()
    {
        string mnist = WriteMnist(), run = Path.Combine(folder, "run");
        Assert.Equal(0, Recur.Cli.RecurCommand.Run(["caption", "train", "--mnist", mnist, "--out", run,
            "--scenes", "64", "--max-digits", "2", "--channels", "2", "--hidden", "8", "--embed", "4", "--joint", "4",
            "--epochs", "1", "--batch", "32", "--threads", "1", "--teacher-forcing-end", "0.5"]));
        Assert.True(File.Exists(Path.Combine(run, "best", Checkpoint.ModelFile)));
        string plot = Path.Combine(folder, "scenes");
        var report = JsonDocument.Parse(Capture(() => Recur.Cli.RecurCommand.Run(["caption", "eval", "--model", run,
            "--mnist", mnist, "--scenes", "20", "--beam", "2", "--json", "--plot", plot])).Split('\n')
            .First(l => l.StartsWith('{'))).RootElement;
        Assert.Equal(20, report.GetProperty("scenes").GetInt32());
        Assert.InRange(report.GetProperty("exact_match").GetDouble(), 0, 1);
        Assert.InRange(report.GetProperty("attention_in_box").GetDouble(), 0, 1);
        Assert.True(File.Exists(plot + "-1.png"));
        // the run twice is an ensemble that says what the run alone says
        var twice = JsonDocument.Parse(Capture(() => Recur.Cli.RecurCommand.Run(["caption", "eval", "--model", run,
            "--model", run, "--mnist", mnist, "--scenes", "20", "--beam", "2", "--json"])).Split('\n')
            .First(l => l.StartsWith('{'))).RootElement;
        Assert.Equal(report.GetProperty("exact_match").GetDouble(), twice.GetProperty("exact_match").GetDouble());
        // a user's picture, dark ink on white, as PGM; and one that is no picture
        string pgm = Path.Combine(folder, "mine.pgm"), broken = Path.Combine(folder, "broken.png");
        var pixels = Enumerable.Repeat((byte)255, 40 * 60).ToArray();
        for (int r = 8; r < 32; r++) pixels[r * 60 + 20] = 0;
        File.WriteAllBytes(pgm, [.. "P5 60 40 255\n"u8.ToArray(), .. pixels]);
        string said = Capture(() => Recur.Cli.RecurCommand.Run(["caption", "run", "--model", run, pgm, "--plot",
            Path.Combine(folder, "mine")]));
        Assert.StartsWith($"{pgm}: ", said);
        Assert.True(File.Exists(Path.Combine(folder, "mine.png")));
        File.WriteAllText(broken, "not a picture");
        var (code, error) = RunSafetyTests.RunCapturingErrors("caption", "run", "--model", run, broken);
        Assert.Equal(2, code);
        Assert.Contains("broken.png", error);
    }

    [Fact]
    public void BadSettingsAreRefusedBeforeAnyWork()
    {
        string mnist = WriteMnist();
        var (code, error) = RunSafetyTests.RunCapturingErrors("caption", "train", "--mnist", mnist, "--out",
            Path.Combine(folder, "r"), "--max-digits", "9");
        Assert.Equal(2, code);
        Assert.Contains("--max-digits", error);
        Assert.False(Directory.Exists(Path.Combine(folder, "r")));
        (code, error) = RunSafetyTests.RunCapturingErrors("caption", "train", "--mnist", Path.Combine(folder, "none"),
            "--out", Path.Combine(folder, "r"));
        Assert.Equal(2, code);
        Assert.Contains("none", error);
        (code, error) = RunSafetyTests.RunCapturingErrors("caption", "eval", "--model", Path.Combine(folder, "nope"),
            "--mnist", mnist);
        Assert.Equal(2, code);
        Assert.Contains("nope", error);
    }
}
