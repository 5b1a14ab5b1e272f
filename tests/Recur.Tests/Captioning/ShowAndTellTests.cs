using Recur.Autograd;
using Recur.Captioning;

namespace Recur.Tests.Captioning;

public sealed class ShowAndTellTests
{
    [Fact]
    public void TheLossPassesAFiniteDifferenceCheckThroughDecoderAndConvolutions()
    {
        var model = new ShowAndTell(new ShowAndTellConfig(6, Height: 8, Width: 16, Channels: 2, HiddenSize: 4,
            EmbeddingSize: 3), new RandomGenerator(1));
        var images = Tensor.RandomUniform(new RandomGenerator(2), [2, 1, 8, 16]);
        int[][] captions = [[3, 4, 5], [5]];
        var result = GradientCheck.Compare(() => model.Loss(images, captions), model.Parameters().ToList(),
            epsilon: 1e-3);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
        Assert.Throws<ArgumentException>(() => model.Loss(Tensor.Zeros(2, 1, 8, 15), captions));
    }

    /// <summary>Three "digits" a small network tells apart at any place and scale: a vertical bar (0), a horizontal
    /// bar (1) and a filled square (2).</summary>
    static DigitScenes Shapes()
    {
        var labels = Enumerable.Range(0, 10_000).Select(i => i % 3).ToArray();
        var images = new byte[labels.Length * 784];
        for (int n = 0; n < labels.Length; n++)
            for (int r = 4; r < 24; r++)
                for (int c = 4; c < 24; c++)
                {
                    bool ink = labels[n] switch { 0 => c is >= 11 and < 17, 1 => r is >= 11 and < 17, _ => true };
                    if (ink) images[n * 784 + r * 28 + c] = 255;
                }
        return new DigitScenes(images, labels);
    }

    static (Tensor Images, int[][] Captions) Batch(IReadOnlyList<DigitScene> scenes)
    {
        int h = scenes[0].Pixels.GetLength(0), w = scenes[0].Pixels.GetLength(1);
        var pixels = scenes.SelectMany(s => s.Pixels.Cast<float>()).ToArray();
        return (Tensor.FromArray(pixels, scenes.Count, 1, h, w),
            scenes.Select(s => s.Digits.Select(d => 3 + d.Label).ToArray()).ToArray());
    }

    [Fact]
    public void ItLearnsToNameTheShapesOfAScene()
    {
        var scenes = Shapes();
        var train = scenes.Generate(512, 1, maxDigits: 2);
        var test = scenes.Generate(100, 2, test: true, maxDigits: 2);
        var model = new ShowAndTell(new ShowAndTellConfig(6, Width: 64, Channels: 8, HiddenSize: 48,
            EmbeddingSize: 8), new RandomGenerator(3));
        var optimizer = new Recur.Optim.Adam(model.Parameters(), 3e-3f);
        for (int epoch = 0; epoch < 20; epoch++)
            for (int start = 0; start < train.Count; start += 32)
            {
                var (images, captions) = Batch(train.Skip(start).Take(32).ToArray());
                optimizer.ZeroGrad();
                model.Loss(images, captions).Backward();
                optimizer.Step();
            }
        var (testImages, expected) = Batch(test);
        var said = model.Greedy(testImages, maxLength: 4);
        double exact = said.Where((s, i) => s.SequenceEqual(expected[i])).Count() / (double)test.Count;
        Assert.True(exact > 0.9, $"exact match {exact:P0}");
    }
}
