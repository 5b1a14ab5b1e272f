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

    /// <summary>Every digit a vertical bar, columns 13–14 and rows 4–23 of its 28 × 28 box.</summary>
    static DigitScenes Bars()
    {
        var labels = Enumerable.Range(0, 10_000).Select(i => i % 10).ToArray();
        var images = new byte[labels.Length * 28 * 28];
        for (int n = 0; n < labels.Length; n++)
            for (int r = 4; r < 24; r++) images[n * 784 + r * 28 + 13] = images[n * 784 + r * 28 + 14] = 255;
        return new DigitScenes(images, labels);
    }

    /// <summary>How far right the bottom of the digit's ink lies of its top: the ink-weighted mean column of the
    /// box's lower third minus that of its upper third; and the ink in the box.</summary>
    static (float Lean, float Ink) Lean(DigitScene scene)
    {
        var d = scene.Digits[0];
        float Centre(int from, int to)
        {
            float sum = 0, weight = 0;
            for (int r = from; r < to; r++)
                for (int c = d.X; c < d.X + d.Size; c++) (sum, weight) = (sum + c * scene.Pixels[r, c],
                    weight + scene.Pixels[r, c]);
            return sum / weight;
        }
        float ink = 0;
        foreach (float v in scene.Pixels) ink += v;
        return (Centre(d.Y + 2 * d.Size / 3, d.Y + d.Size) - Centre(d.Y, d.Y + d.Size / 3), ink / (d.Scale * d.Scale));
    }

    [Fact]
    public void RotationAndShearTiltTheDigitsByBoundedRandomAmountsAndKeepTheirInk()
    {
        var bars = Bars();
        var upright = bars.Generate(40, 3, maxDigits: 1).Select(Lean).ToList();
        Assert.All(upright, l => Assert.InRange(l.Lean, -0.01f, 0.01f));
        Assert.Equal(bars.Generate(5, 3).Select(s => s.Pixels.Cast<float>()),
            bars.Generate(5, 3, rotation: 0, shear: 0).Select(s => s.Pixels.Cast<float>()));
        float meanInk = upright.Average(l => l.Ink);
        foreach (var (rotation, shear) in new[] { (20f, 0f), (0f, 0.4f) })
        {
            var tilted = bars.Generate(40, 3, maxDigits: 1, rotation: rotation, shear: shear).Select(Lean).ToList();
            // the bar's centres a third of the box apart: a rotation by θ leans tan θ per row, the shear s
            float most = 1.05f * 2f / 3 * 0.8f * 28 * MathF.Max(MathF.Tan(rotation * MathF.PI / 180), shear);
            Assert.All(tilted, l => Assert.InRange(MathF.Abs(l.Lean), 0, most));
            Assert.Contains(tilted, l => l.Lean > most / 3); // leaning both ways
            Assert.Contains(tilted, l => l.Lean < -most / 3);
            Assert.All(tilted, l => Assert.InRange(l.Ink, 0.9f * meanInk, 1.1f * meanInk));
        }
        Assert.Throws<ArgumentException>(() => bars.Generate(5, 1, rotation: 50));
        Assert.Throws<ArgumentException>(() => bars.Generate(5, 1, shear: -0.1f));
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
