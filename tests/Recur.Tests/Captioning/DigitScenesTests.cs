using Recur.Captioning;

namespace Recur.Tests.Captioning;

public sealed class DigitScenesTests
{
    /// <summary>10,000 synthetic "digits": the same filled square for every one, its label the index mod
    /// 10.</summary>
    static DigitScenes Synthetic()
    {
        var labels = Enumerable.Range(0, 10_000).Select(i => i % 10).ToArray();
        var images = new byte[labels.Length * 28 * 28];
        for (int n = 0; n < labels.Length; n++)
            for (int r = 4; r < 24; r++)
                for (int c = 4; c < 24; c++) images[n * 784 + r * 28 + c] = 255;
        return new DigitScenes(images, labels);
    }

    [Fact]
    public void ScenesAreDeterministicInTheSeedAndDescribeTheirDigitsFromLeftToRight()
    {
        var scenes = Synthetic();
        var a = scenes.Generate(50, seed: 3);
        var b = scenes.Generate(50, seed: 3);
        Assert.Equal(a.Select(s => s.Caption), b.Select(s => s.Caption));
        Assert.Equal(a[7].Pixels.Cast<float>(), b[7].Pixels.Cast<float>());
        Assert.NotEqual(a.Select(s => s.Caption), scenes.Generate(50, seed: 4).Select(s => s.Caption));
        foreach (var scene in a)
        {
            Assert.InRange(scene.Digits.Count, 1, 5);
            Assert.Equal(DigitScenes.Height, scene.Pixels.GetLength(0));
            Assert.Equal(5 * DigitScenes.WidthPerDigit + 8, scene.Pixels.GetLength(1));
            Assert.Equal(string.Join(' ', scene.Digits.Select(d => DigitScenes.Names[d.Label])), scene.Caption);
            for (int i = 1; i < scene.Digits.Count; i++) // left to right, overlapping a little at most
                Assert.True(scene.Digits[i].X + scene.Digits[i].Size / 2 >= scene.Digits[i - 1].X
                    + scene.Digits[i - 1].Size / 2);
            foreach (var d in scene.Digits)
            {
                Assert.InRange(d.Scale, 0.8f, 1.2f);
                Assert.InRange(d.X, 0, scene.Pixels.GetLength(1) - d.Size);
                Assert.InRange(d.Y, 0, DigitScenes.Height - d.Size);
                Assert.Equal(d.Source % 10, d.Label);
                Assert.True(scene.Pixels[d.Y + d.Size / 2, d.X + d.Size / 2] > 0.9f); // the square's centre is ink
            }
            Assert.All(scene.Pixels.Cast<float>(), v => Assert.InRange(v, 0f, 1f));
        }
        Assert.Contains(a, s => s.Digits.Count == 5);
        Assert.Contains(a, s => s.Digits.Count == 1);
    }

    [Fact]
    public void TrainingAndTestScenesNeverShareAHandwrittenDigit()
    {
        var scenes = Synthetic();
        Assert.All(scenes.Generate(200, 1).SelectMany(s => s.Digits), d => Assert.True(d.Source < 8000));
        Assert.All(scenes.Generate(200, 1, test: true).SelectMany(s => s.Digits), d => Assert.True(d.Source >= 8000));
    }

    [Fact]
    public void RelationalCaptionsNameSizesRelationsAndArticles()
    {
        var scene = new DigitScene(new float[1, 1], [new PlacedDigit(7, 0, 0, 0, 24, 0.85f),
            new PlacedDigit(8, 1, 30, 0, 33, 1.15f), new PlacedDigit(2, 2, 60, 0, 28, 1f)]);
        Assert.Equal("seven eight two", scene.Caption);
        Assert.Equal("a small seven left of a large eight left of a two", scene.RelationalCaption);
        var eight = new DigitScene(new float[1, 1], [new PlacedDigit(8, 0, 0, 0, 28, 1f)]);
        Assert.Equal("an eight", eight.RelationalCaption);
    }

    [Fact]
    public void NoiseStaysInRangeAndBadSettingsAreRefused()
    {
        var scenes = Synthetic();
        var noisy = scenes.Generate(5, 2, noise: 0.2f);
        Assert.All(noisy.SelectMany(s => s.Pixels.Cast<float>()), v => Assert.InRange(v, 0f, 1f));
        Assert.Contains(noisy[0].Pixels.Cast<float>(), v => v is > 0f and < 0.9f);
        Assert.Throws<ArgumentException>(() => scenes.Generate(0, 1));
        Assert.Throws<ArgumentException>(() => scenes.Generate(5, 1, maxDigits: 9));
        Assert.Throws<ArgumentException>(() => new DigitScenes(new byte[10], [1]));
    }

    [SharedDataFact("mnist")]
    public void RealMnistScenesHaveInkWhereTheirDigitsAre()
    {
        var scenes = DigitScenes.Load(SharedData.Folder("mnist"));
        foreach (var scene in scenes.Generate(20, 5, test: true))
            foreach (var d in scene.Digits)
            {
                float ink = 0;
                for (int r = d.Y; r < d.Y + d.Size; r++)
                    for (int c = d.X; c < d.X + d.Size; c++) ink += scene.Pixels[r, c];
                Assert.True(ink > 0.05f * d.Size * d.Size, $"digit {d.Label} at {d.X} holds ink {ink}");
            }
    }
}
