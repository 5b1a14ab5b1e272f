using Recur.Figures;

namespace Recur.Tests.Figures;

public sealed class ChartsTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-charts-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void LinesWritePngAndSvgWithEverySeriesInTheLegend()
    {
        double[] x = [0, 1, 2, 3];
        var files = Charts.Lines(Path.Combine(folder, "sub", "lines"), "Losses", "step", "loss",
            [new Series("alpha run", x, [1, 0.5, 0.25, 0.125]), new Series("beta run", x, [1, 0.9, 0.8, 0.7])],
            logY: true, references: [(0.167, "baseline")]);
        Assert.Equal(Path.Combine(folder, "sub", "lines.png"), files.Png);
        Assert.Equal((Charts.Width, Charts.Height), FigureFiles.AssertPng(files.Png));
        FigureFiles.AssertSvg(files.Svg, "alpha run", "beta run", "baseline", "Losses", "loss (log scale)");
        FigureFiles.AssertNoTemporaries(folder);
    }

    [Fact]
    public void AnExtensionInThePathIsReplacedAndSeriesMustMatch()
    {
        var files = Charts.Lines(Path.Combine(folder, "named.png"), "t", "x", "y", [new Series("s", [0, 1], [2, 3])]);
        Assert.EndsWith("named.svg", files.Svg);
        var e = Assert.Throws<ArgumentException>(() => Charts.Lines(Path.Combine(folder, "bad"), "t", "x", "y",
            [new Series("broken", [0, 1], [1])]));
        Assert.Contains("broken", e.Message);
    }

    [Fact]
    public void HeatmapAndImageGridWriteValidFiles()
    {
        var values = new double[3, 40];
        for (int r = 0; r < 3; r++) for (int c = 0; c < 40; c++) values[r, c] = Math.Sin(r + c / 5.0);
        var map = Charts.Heatmap(Path.Combine(folder, "map"), "Forget gate", values, "time step t", "unit",
            Enumerable.Range(0, 40).Select(i => $"c{i}").ToArray(), ["u0", "u1", "u2"], diverging: true);
        FigureFiles.AssertPng(map.Png);
        FigureFiles.AssertSvg(map.Svg, "Forget gate", "u1", "c0");
        Assert.Throws<ArgumentException>(() => Charts.Heatmap(Path.Combine(folder, "x"), "t", values, "x", "y", ["too",
            "few"]));

        var images = Enumerable.Range(0, 5).Select(k => Enumerable.Range(0,
            12).Select(i => (float)((i + k) % 2)).ToArray()).ToArray();
        var grid = Charts.ImageGrid(Path.Combine(folder, "grid"), "Patterns", images, 3, 4, columns: 3, captions: ["a",
            "b", "c", "d", "e"]);
        FigureFiles.AssertPng(grid.Png);
        FigureFiles.AssertSvg(grid.Svg, "Patterns", "a", "c");
        Assert.Throws<ArgumentException>(() => Charts.ImageGrid(Path.Combine(folder, "y"), "t", [new float[5]], 3, 4,
            1));
    }
}
