using Recur.Captioning;
using Recur.Optim;
using Recur.Text;
using Recur.Training;

namespace Recur.Tests.Captioning;

public sealed class CaptionTaskTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-caption-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    internal static DigitScenes Synthetic()
    {
        var (images, labels) = SyntheticDigits();
        return new DigitScenes(images, labels);
    }

    /// <summary>10,000 "digits" (28 × 28 bytes each, as MNIST stores them): a bar whose thickness and angle depend
    /// on the label.</summary>
    internal static (byte[] Images, int[] Labels) SyntheticDigits()
    {
        var labels = Enumerable.Range(0, 10_000).Select(i => i % 10).ToArray();
        var images = new byte[labels.Length * 784];
        for (int n = 0; n < labels.Length; n++)
            for (int r = 4; r < 24; r++)
                for (int c = 4; c < 24; c++)
                    if (Math.Abs(c - 14 - (r - 14) * (labels[n] % 5 - 2) / 4.0) < 1 + labels[n] / 5 * 2)
                        images[n * 784 + r * 28 + c] = 255;
        return (images, labels);
    }

    [Fact]
    public void EachSceneCanBeMadeAloneAndInAnyOrder()
    {
        var scenes = Synthetic();
        var all = scenes.Generate(20, seed: 5, maxDigits: 3);
        var alone = scenes.Scene(13, 5, maxDigits: 3);
        Assert.Equal(all[13].Caption, alone.Caption);
        Assert.Equal(all[13].Pixels.Cast<float>(), alone.Pixels.Cast<float>());
        Assert.NotEqual(all.Select(s => s.Caption), scenes.Generate(20, seed: 6, maxDigits: 3).Select(s => s.Caption));
    }

    [Fact]
    public void SceneSettingsTravelInTheConfigAndDistortionIsWrittenOnlyWhenUsed()
    {
        var augmented = new SceneSettings(CaptionStyle.Digits, 4, 0.1f, Rotation: 12, Shear: 0.25f);
        Assert.Equal(augmented, SceneSettings.FromJson(augmented.ToJson()));
        var plain = new SceneSettings(MaxDigits: 3).ToJson();
        Assert.False(plain.ContainsKey("rotation"));
        Assert.False(plain.ContainsKey("shear"));
        Assert.Equal(new SceneSettings(MaxDigits: 3), SceneSettings.FromJson(plain));
    }

    [Fact]
    public void VocabulariesAreFixedPerStyle()
    {
        var digits = new SceneSettings(CaptionStyle.Digits).Vocabulary();
        var relational = new SceneSettings(CaptionStyle.Relational).Vocabulary();
        Assert.Equal(Tokenizers.Specials.Count + 10, digits.VocabularySize);
        Assert.Equal(Tokenizers.Specials.Count + 16, relational.VocabularySize);
        Assert.Equal(digits.Encode("seven two"), new SceneSettings().Vocabulary().Encode("seven two"));
        Assert.Equal("a large seven left of an eight", relational.Decode(relational.Encode(
            "a large seven left of an eight")));
        Assert.DoesNotContain(Tokenizers.Unknown, relational.Encode("a small nine left of a zero"));
    }

    [Fact]
    public void AScoreCountsExactMatchesAndAttentionPeaksInsideTheNamedDigit()
    {
        var model = new Captioner(new CaptionerConfig(CaptionDecoder.Attention, 14, Width: 64, Channels: 1,
            HiddenSize: 4, EmbeddingSize: 2, JointSize: 2), new RandomGenerator(1));
        var (rows, columns) = model.Config.FeatureMap; // 8 × 8 cells of 8 × 8 pixels
        var scene = new DigitScene(new float[64, 64], [new PlacedDigit(7, 0, 0, 16, 28, 1f),
            new PlacedDigit(2, 1, 32, 16, 28, 1f)]);
        double[] Peak(int row, int column)
        {
            var map = new double[rows * columns];
            map[row * columns + column] = 1;
            return map;
        }
        var right = new Caption("seven two", ["seven", "two"], -1, [Peak(3, 1), Peak(3, 5), Peak(0, 0)]);
        var wrong = new Caption("seven one", ["seven", "one"], -1, [Peak(3, 5), Peak(3, 5), Peak(0, 0)]);
        var settings = new SceneSettings(MaxDigits: 2);
        var words = settings.Vocabulary();
        var report = TrainedCaptioner.Score([model], words, settings, [scene, scene], captions: [right, wrong]);
        Assert.Equal(0.5, report.ExactMatch);
        // named rightly: seven (twice) and two (once); inside the box: the first seven and the two
        Assert.Equal(2 / 3.0, report.AttentionInBox!.Value, 6);
        Assert.InRange(report.Bleu.Score, 0, 100);
    }

    [Fact]
    public void APictureBecomesACanvasOfInkInverted()
    {
        var paper = new float[10, 300];
        for (int r = 0; r < 10; r++)
            for (int c = 0; c < 300; c++) paper[r, c] = c < 160 ? 1f : 0f; // mostly white paper, black ink on the right
        var canvas = DigitScenes.Canvas(paper, 64, 160);
        Assert.Equal(64, canvas.GetLength(0));
        Assert.Equal(160, canvas.GetLength(1));
        // scaled by 160/300 (5 rows high), centred vertically, ink (the right half) is 1 after inversion
        Assert.Equal(1f, canvas[31, 100]);
        Assert.Equal(0f, canvas[31, 20]);
        Assert.Equal(0f, canvas[10, 100]);
        var small = new float[28, 28];
        small[14, 14] = 1; // white ink on black: kept as it is, not scaled
        var placed = DigitScenes.Canvas(small, 64, 160);
        Assert.Equal(1f, placed[18 + 14, 14]);
    }

    [Fact]
    public void ATrainedRunOpensAgainAndDescribesAsItDid()
    {
        var settings = new SceneSettings(MaxDigits: 2);
        var model = new Captioner(new CaptionerConfig(CaptionDecoder.Attention, settings.Vocabulary().VocabularySize,
            Width: settings.Width, Channels: 2, HiddenSize: 8, EmbeddingSize: 4, JointSize: 4),
            new RandomGenerator(2));
        var task = new CaptionTask(model, Synthetic(), settings, 64, seed: 3, batchSize: 16, validScenes: 8);
        string run = Path.Combine(folder, "run");
        var result = new Trainer<int[]>(task, new Adam(model.Parameters(), 1e-3f), new TrainerOptions
        {
            Epochs = 1, OutputDirectory = run, Metric = "accuracy",
        }).Fit();
        Assert.Equal(4, result.Steps);
        Assert.InRange(result.LastEvaluation!["accuracy"], 0, 1);
        var opened = TrainedCaptioner.Open(run);
        Assert.Equal(settings, opened.Scenes);
        var scenes = Synthetic().Generate(6, 9, test: true, maxDigits: 2);
        var images = CaptionTask.Images(scenes);
        Assert.Equal(new TrainedCaptioner(model, settings).Describe(images, beam: 2).Select(c => c.Text),
            opened.Describe(images, beam: 2).Select(c => c.Text));
        Assert.Throws<ArgumentException>(() => new CaptionTask(model, Synthetic(), settings with { MaxDigits = 3 },
            64, 3));
    }
}
