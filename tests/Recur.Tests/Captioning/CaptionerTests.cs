using Recur.Autograd;
using Recur.Captioning;
using Recur.Nn.Recurrent;
using Recur.Text;

namespace Recur.Tests.Captioning;

public sealed class CaptionerTests
{
    public static TheoryData<CaptionDecoder, string, int> Decoders => new()
    {
        { CaptionDecoder.ShowTell, "lstm", 0 }, { CaptionDecoder.ShowTell, "gru", 1 },
        { CaptionDecoder.MRnn, "lstm", 0 }, { CaptionDecoder.MRnn, "gru", 0 }, { CaptionDecoder.Attention, "lstm", 0 },
        { CaptionDecoder.Attention, "gru", 0 }, { CaptionDecoder.Attention, "lstm", 2 },
    };

    [Theory]
    [MemberData(nameof(Decoders))]
    public void TheLossPassesAFiniteDifferenceCheckThroughDecoderAndConvolutions(CaptionDecoder decoder, string cell,
        int extraConvolutions)
    {
        var model = new Captioner(new CaptionerConfig(decoder, 8, Height: 16, Width: 24, Channels: 2, HiddenSize: 4,
            EmbeddingSize: 3, JointSize: 5, Cell: RecurrentCells.Parse(cell), ExtraConvolutions: extraConvolutions),
            new RandomGenerator(1));
        Assert.Equal(2 * (3 + extraConvolutions), model.NamedParameters().Count(p => p.Name.StartsWith("encoder.",
            StringComparison.Ordinal)));
        // ReLU and max pooling are piecewise linear, and a central difference across a kink is no derivative; with
        // convolutions this small some pre-activation lies within ε of one for many images. With positive images,
        // weights and biases every pre-activation is positive, where ReLU is smooth, and the derivatives of the whole
        // model are checked there.
        foreach (var (name, value) in model.NamedParameters())
            if (name.StartsWith("encoder.", StringComparison.Ordinal))
                foreach (ref float v in value.Span) v = name.EndsWith(".bias", StringComparison.Ordinal) ? 0.1f
                    : 0.2f * MathF.Abs(v);
        var images = Tensor.RandomUniform(new RandomGenerator(2), [2, 1, 16, 24]);
        int[][] captions = [[4, 5, 7], [6]];
        var result = GradientCheck.Compare(() => model.Loss(images, captions), model.Parameters().ToList(),
            epsilon: 1e-3);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void AnEnsembleDescribesByTheMeanOfItsModelsWordProbabilities()
    {
        CaptionerConfig Config(CaptionDecoder decoder, int words = 8) => new(decoder, words, Height: 16, Width: 24,
            Channels: 2, HiddenSize: 4, EmbeddingSize: 3, JointSize: 5);
        var a = new Captioner(Config(CaptionDecoder.Attention), new RandomGenerator(1));
        var b = new Captioner(Config(CaptionDecoder.Attention), new RandomGenerator(2));
        var c = new Captioner(Config(CaptionDecoder.MRnn), new RandomGenerator(3));
        var images = Tensor.RandomUniform(new RandomGenerator(4), [5, 1, 16, 24]);
        // a model with itself: the mean of equal probabilities is each, so it says what the model says, as likely
        var alone = a.Describe(images, beamWidth: 2, maxLength: 6);
        var twice = Captioner.Describe([a, a], images, beamWidth: 2, maxLength: 6);
        Assert.Contains(alone, d => d.Tokens.Length > 0);
        for (int i = 0; i < alone.Count; i++)
        {
            Assert.Equal(alone[i].Tokens, twice[i].Tokens);
            Assert.Equal(alone[i].LogProbability, twice[i].LogProbability, 4);
            for (int t = 0; t < alone[i].Attention.Length; t++)
                for (int cell = 0; cell < alone[i].Attention[t].Length; cell++)
                    Assert.Equal(alone[i].Attention[t][cell], twice[i].Attention[t][cell], 6);
        }
        // the members' order does not matter; the attention of two attention decoders is still a distribution
        var ab = Captioner.Describe([a, b, c], images, beamWidth: 3, maxLength: 6);
        var ba = Captioner.Describe([c, b, a], images, beamWidth: 3, maxLength: 6);
        Assert.Equal(ab.Select(d => d.Tokens), ba.Select(d => d.Tokens));
        Assert.Equal(ab.Select(d => d.LogProbability), ba.Select(d => d.LogProbability));
        foreach (var step in ab.SelectMany(d => d.Attention)) Assert.Equal(1, step.Sum(), 5);
        // a mean over different words is no mean
        var other = new Captioner(Config(CaptionDecoder.Attention, words: 9), new RandomGenerator(5));
        var error = Assert.Throws<ArgumentException>(() => Captioner.Describe([a, other], images));
        Assert.Contains("vocabulary", error.Message);
    }

    [Fact]
    public void ExtraConvolutionsAreSavedWhenThereAreAny()
    {
        var deeper = new CaptionerConfig(CaptionDecoder.Attention, 8, ExtraConvolutions: 2);
        Assert.Equal(2, deeper.ToJson()["extra_convolutions"]!.GetValue<int>());
        Assert.Equal(deeper, CaptionerConfig.FromJson(deeper.ToJson()));
        // a run from before the setting existed is written as it was
        Assert.False(new CaptionerConfig(CaptionDecoder.Attention, 8).ToJson().ContainsKey("extra_convolutions"));
        var negative = deeper.ToJson();
        negative["extra_convolutions"] = -1;
        Assert.Contains("extra convolutions", Assert.Throws<InvalidDataException>(() =>
            CaptionerConfig.FromJson(negative)).Message);
    }

    [Fact]
    public void BadInputIsRefusedWithItsShape()
    {
        var model = new Captioner(new CaptionerConfig(CaptionDecoder.Attention, 8, Height: 16, Width: 24,
            Channels: 2, HiddenSize: 4, EmbeddingSize: 3), new RandomGenerator(1));
        var error = Assert.Throws<ArgumentException>(() => model.Loss(Tensor.Zeros(2, 1, 16, 23), [[4], [5]]));
        Assert.Contains("[2, 1, 16, 23]", error.Message);
        error = Assert.Throws<ArgumentException>(() => model.Loss(Tensor.Zeros(2, 1, 16, 24), [[4], [8]]));
        Assert.Contains("outside", error.Message);
        Assert.Throws<ArgumentException>(() => model.Loss(Tensor.Zeros(2, 1, 16, 24), [[4]]));
        Assert.Throws<ArgumentException>(() => new CaptionerConfig(CaptionDecoder.MRnn, 8,
            Cell: CellKind.Rnn).Validate());
    }

    [Fact]
    public void TheDoublyStochasticTermIsZeroAtEvenCoverageAndGrowsWithRepeatedAttention()
    {
        // a model whose attention scores are all zero attends evenly: the regulariser adds nothing
        var config = new CaptionerConfig(CaptionDecoder.Attention, 8, Height: 16, Width: 24, Channels: 2,
            HiddenSize: 4, EmbeddingSize: 3, DoublyStochastic: 0);
        var plain = new Captioner(config, new RandomGenerator(1));
        var regularised = new Captioner(config with { DoublyStochastic = 5 }, new RandomGenerator(1));
        void Energy(float value)
        {
            foreach (var model in new[] { plain, regularised })
                model.StateDict()["attention_energy.weight"].Span.Fill(value);
        }
        Energy(0);
        var images = Tensor.RandomUniform(new RandomGenerator(2), [2, 1, 16, 24]);
        int[][] captions = [[4, 5, 7], [6]];
        Assert.Equal(plain.Loss(images, captions).Item(), regularised.Loss(images, captions).Item(), 5);
        // attention that is not even costs more
        Energy(3);
        Assert.True(regularised.Loss(images, captions).Item() > plain.Loss(images, captions).Item() + 1e-3);
    }

    [Fact]
    public void ScheduledSamplingFeedsTheModelsOwnGuesses()
    {
        var model = new Captioner(new CaptionerConfig(CaptionDecoder.ShowTell, 8, Height: 16, Width: 24,
            Channels: 2, HiddenSize: 4, EmbeddingSize: 3), new RandomGenerator(1));
        var images = Tensor.RandomUniform(new RandomGenerator(2), [2, 1, 16, 24]);
        int[][] captions = [[4, 5, 7, 4], [6, 6]];
        float forced = model.Loss(images, captions).Item();
        Assert.Equal(forced, model.Loss(images, captions, 1, new RandomGenerator(3)).Item());
        Assert.NotEqual(forced, model.Loss(images, captions, 0, new RandomGenerator(3)).Item());
        Assert.Throws<ArgumentException>(() => model.Loss(images, captions, 0.5));
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
            scenes.Select(s => s.Digits.Select(d => Tokenizers.Eos + 1 + d.Label).ToArray()).ToArray());
    }

    [Theory]
    [InlineData(CaptionDecoder.ShowTell)]
    [InlineData(CaptionDecoder.MRnn)]
    [InlineData(CaptionDecoder.Attention)]
    public void ItLearnsToNameTheShapesOfAScene(CaptionDecoder decoder)
    {
        var scenes = Shapes();
        var train = scenes.Generate(512, 1, maxDigits: 2);
        var test = scenes.Generate(400, 2, test: true, maxDigits: 2);
        var model = new Captioner(new CaptionerConfig(decoder, Tokenizers.Eos + 4, Width: 72, Channels: 6,
            HiddenSize: 48, EmbeddingSize: 8, JointSize: 24, Cell: CellKind.Gru), new RandomGenerator(3));
        var optimizer = new Recur.Optim.Adam(model.Parameters(), 3e-3f);
        // attention first learns where to look, then what it sees: it gets half as many passes again (after 20 it read
        // 86% of the 400 test scenes, after 30 96%)
        int epochs = decoder == CaptionDecoder.Attention ? 30 : 20;
        for (int epoch = 0; epoch < epochs; epoch++)
            for (int start = 0; start < train.Count; start += 32)
            {
                var (images, captions) = Batch(train.Skip(start).Take(32).ToArray());
                optimizer.ZeroGrad();
                model.Loss(images, captions).Backward();
                optimizer.Step();
            }
        var (testImages, expected) = Batch(test);
        var greedy = model.Describe(testImages, maxLength: 4);
        double exact = greedy.Where((s, i) => s.Tokens.SequenceEqual(expected[i])).Count() / (double)test.Count;
        Assert.True(exact > 0.9, $"{decoder}: exact match {exact:P0}");
        var beam = model.Describe(testImages, beamWidth: 3, maxLength: 4);
        double beamExact = beam.Where((s, i) => s.Tokens.SequenceEqual(expected[i])).Count() / (double)test.Count;
        Assert.True(beamExact >= exact - 0.02, $"{decoder}: beam {beamExact:P0}, greedy {exact:P0}");
        if (decoder == CaptionDecoder.Attention)
            Assert.All(greedy, s => Assert.All(s.Attention, a => Assert.Equal(1.0, a.Sum(), 4)));
        else Assert.All(greedy, s => Assert.Empty(s.Attention));
    }
}
