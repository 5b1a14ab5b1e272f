using Recur.Cli;
using Recur.Energy;
using Recur.Tests.Figures;

namespace Recur.Tests.Cli;

[Collection("cli")]
public sealed class HopfieldCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-hopfield-cli-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string At(string name) => Path.Combine(folder, name);

    [Fact]
    public void StoreThenRecallGlyphsWritesTheStepsAsPictures()
    {
        File.WriteAllText(At("glyphs.txt"), "#...#\n.#.#.\n..#..\n.#.#.\n#...#\n\n..#..\n..#..\n#####\n..#..\n..#..\n\n"
            + "#####\n#...#\n#...#\n#...#\n#####\n");
        Assert.Equal(0, RecurCommand.Run("hopfield", "store", "--patterns", At("glyphs.txt"), "--rule", "storkey",
            "--out", At("net.safetensors")));
        var (network, patterns, metadata) = HopfieldNetwork.Load(At("net.safetensors"));
        Assert.Equal((25, 3, "5"), (network.Size, patterns.Count, metadata["width"]));
        Assert.Equal(0, RecurCommand.Run("hopfield", "recall", "--network", At("net.safetensors"), "--pattern", "2",
            "--noise", "0.12", "--plot", At("recall")));
        FigureFiles.AssertPng(At("recall.png"));
        FigureFiles.AssertSvg(At("recall.svg"), "stored", "cue", "sweep 1", "Hopfield recall of pattern 2");
        Assert.Equal(0, RecurCommand.Run("hopfield", "recall", "--network", At("net.safetensors"), "--erase", "0.4",
            "--update", "sync", "--plot", At("partial")));
        FigureFiles.AssertPng(At("partial.png"));
    }

    [Fact]
    public void CapacityRunsAndBadInputIsReported()
    {
        Assert.Equal(0, RecurCommand.Run("hopfield", "capacity", "--neurons", "60", "--points", "6", "--max-load",
            "0.3", "--probes", "5", "--trials", "1", "--plot", At("capacity")));
        FigureFiles.AssertSvg(At("capacity.svg"), "hebbian", "storkey", "half recalled");
        File.WriteAllText(At("bad.txt"), "#.?\n");
        Assert.Equal(1, RecurCommand.Run("hopfield", "store", "--patterns", At("bad.txt"), "--out",
            At("bad.safetensors")));
        Assert.False(File.Exists(At("bad.safetensors")));
        Assert.Equal(2, RecurCommand.Run("hopfield", "store", "--out", At("none.safetensors")));
        Assert.Equal(1, RecurCommand.Run("hopfield", "recall", "--network", At("missing.safetensors")));
    }
}
