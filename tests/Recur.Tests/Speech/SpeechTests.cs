using Recur.Autograd;
using Recur.Data;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Speech;
using Recur.Training;

namespace Recur.Tests.Speech;

public sealed class SpeechAlphabetTests
{
    [Fact]
    public void EncodesLowerCasedTextAndDecodesSkippingBlanks()
    {
        var alphabet = SpeechAlphabet.English;
        Assert.Equal(29, alphabet.Classes);
        var labels = alphabet.Encode("Don't go");
        Assert.DoesNotContain(SpeechAlphabet.Blank, labels);
        Assert.Equal("don't go", alphabet.Decode(labels));
        Assert.Equal("ab", alphabet.Decode([0, alphabet.Encode("a")[0], 0, 0, alphabet.Encode("b")[0]]));
    }

    [Fact]
    public void RefusesCharactersOutsideTheAlphabetNamingThem()
    {
        var e = Assert.Throws<ArgumentException>(() => SpeechAlphabet.English.Encode("route 66"));
        Assert.Contains("'6' at position 6", e.Message);
        Assert.Throws<ArgumentException>(() => new SpeechAlphabet("abca"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpeechAlphabet.English.Decode([29]));
    }
}

public sealed class ResampleTests
{
    static float[] Sine(double hz, int rate, int count) =>
        Enumerable.Range(0, count).Select(i => (float)Math.Sin(2 * Math.PI * hz * i / rate)).ToArray();

    [Theory]
    [InlineData(16000, 8000)]
    [InlineData(8000, 16000)]
    [InlineData(44100, 8000)]
    [InlineData(8000, 11025)]
    public void ATonBelowBothNyquistsKeepsItsShape(int from, int to)
    {
        var input = Sine(440, from, from / 2); // half a second
        var output = Audio.Resample(input, from, to);
        Assert.Equal((int)Math.Ceiling(input.Length * (double)to / from), output.Length);
        var expected = Sine(440, to, output.Length);
        double worst = 0;
        for (int i = output.Length / 8; i < output.Length * 7 / 8; i++) // away from the zero-padded ends
            worst = Math.Max(worst, Math.Abs(output[i] - expected[i]));
        Assert.True(worst < 2e-3, $"largest error {worst:G3}");
    }

    [Fact]
    public void DownsamplingRemovesWhatTheNewRateCannotHold()
    {
        var input = Sine(6000, 16000, 8000); // above the 4 kHz Nyquist of 8 kHz
        var output = Audio.Resample(input, 16000, 8000);
        double rms = Math.Sqrt(output.Skip(500).Take(3000).Average(v => v * v));
        Assert.True(rms < 0.01, $"aliased energy left: rms {rms:G3}");
        Assert.Equal(input, Audio.Resample(input, 16000, 16000));
        Assert.Throws<ArgumentException>(() => Audio.Resample(input, 0, 8000));
    }
}

public sealed class SpokenDigitsTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-fsdd-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    void Write(string name, int samples = 800, int rate = 8000)
    {
        var random = new RandomGenerator((ulong)name.GetHashCode(StringComparison.Ordinal) & 0xffff);
        Wav.Write(Path.Combine(folder, name), new WavAudio(rate, 1,
            Enumerable.Range(0, samples).Select(_ => 0.1f * random.NextNormal()).ToArray()));
    }

    void WriteCorpus(string[] speakers, int takes)
    {
        foreach (string speaker in speakers)
            for (int digit = 0; digit < 10; digit++)
                for (int take = 0; take < takes; take++) Write($"{digit}_{speaker}_{take}.wav");
    }

    [Fact]
    public void ListsAndSplitsOfficiallyAndBySpeaker()
    {
        WriteCorpus(["ann", "bob", "cy"], 12);
        var all = SpokenDigits.List(folder);
        Assert.Equal(360, all.Count);
        Assert.Equal("seven", all.First(r => r.Digit == 7).Transcript);
        var (train, test) = SpokenDigits.Split(all, SpeechSplit.Official);
        Assert.All(test, r => Assert.InRange(r.Take, 0, 4));
        Assert.Equal(150, test.Count);
        Assert.Equal(210, train.Count);
        var (_, bySpeaker) = SpokenDigits.Split(all, SpeechSplit.Speaker);
        Assert.Equal(["bob", "cy"], SpokenDigits.Speakers(bySpeaker));
        var (_, chosen) = SpokenDigits.Split(all, SpeechSplit.Speaker, ["ann"]);
        Assert.Equal(["ann"], SpokenDigits.Speakers(chosen));
        Assert.Contains("no recordings of speaker 'dan'", Assert.Throws<ArgumentException>(
            () => SpokenDigits.Split(all, SpeechSplit.Speaker, ["dan"])).Message);

        var corpus = SpokenDigitCorpus.Load(folder, new SpeechFeatureConfig(), SpeechSplit.Official);
        Assert.All(corpus.Validation, r => Assert.InRange(r.Take, 5, 9));
        Assert.Equal(210, corpus.Train.Count + corpus.Validation.Count);
        Assert.Empty(corpus.Train.Intersect(corpus.Validation));
    }

    [Fact]
    public void AFileNamedOtherwiseIsAnErrorNamingIt()
    {
        Write("0_ann_0.wav");
        Write("hello.wav");
        var e = Assert.Throws<InvalidDataException>(() => SpokenDigits.List(folder));
        Assert.Contains("hello.wav", e.Message);
    }

    [Fact]
    public void RecordingsAtAnotherRateAreResampledToTheModels()
    {
        WriteCorpus(["ann", "bob"], 12);
        File.Delete(Path.Combine(folder, "3_ann_7.wav"));
        Write("3_ann_7.wav", samples: 1600, rate: 16000);
        var corpus = SpokenDigitCorpus.Load(folder, new SpeechFeatureConfig(), SpeechSplit.Official);
        Assert.Equal(800, corpus.Signal(corpus.Validation.Single(r => r.Path.EndsWith("3_ann_7.wav",
            StringComparison.Ordinal))).Length);
    }

    [Fact]
    public void ConnectedDigitsAreSeededAndSayWhatTheyJoin()
    {
        var pool = Enumerable.Range(0, 10).Select(d => (Enumerable.Repeat(0.1f * (d + 1), 400).ToArray(), d)).ToList();
        var a = SpokenDigits.Connected(pool, 20, 8000, new RandomGenerator(5));
        var b = SpokenDigits.Connected(pool, 20, 8000, new RandomGenerator(5));
        Assert.Equal(a.Select(u => u.Transcript), b.Select(u => u.Transcript));
        Assert.Equal(a[3].Signal, b[3].Signal);
        foreach (var (signal, transcript) in a)
        {
            var words = transcript.Split(' ');
            Assert.InRange(words.Length, 2, 7);
            Assert.All(words, w => Assert.Contains(w, SpokenDigits.Words));
            // each digit is 400 samples, each gap 400–2,400
            Assert.InRange(signal.Length, 400 * words.Length + 400 * (words.Length - 1),
                400 * words.Length + 2400 * (words.Length - 1));
        }
    }
}

public sealed class SpecAugmentTests
{
    [Fact]
    public void MasksWholeBandsAndSpansWithinTheirLimitsAndLeavesTheInputAlone()
    {
        var features = new float[100, 40];
        for (int t = 0; t < 100; t++)
            for (int m = 0; m < 40; m++) features[t, m] = 1 + t + m;
        var augment = new SpecAugment(FrequencyMasks: 1, FrequencyWidth: 6, TimeMasks: 1, TimeWidth: 8);
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var masked = augment.Apply(features, new RandomGenerator(seed));
            Assert.Equal(masked, augment.Apply(features, new RandomGenerator(seed)));
            int zeroBands = Enumerable.Range(0, 40).Count(m => Enumerable.Range(0, 100).All(t => masked[t, m] == 0));
            int zeroFrames = Enumerable.Range(0, 100).Count(t => Enumerable.Range(0, 40).All(m => masked[t, m] == 0));
            Assert.InRange(zeroBands, 0, 6);
            Assert.InRange(zeroFrames, 0, 8);
            int zeros = 0;
            foreach (float v in masked) if (v == 0) zeros++;
            Assert.Equal(zeroBands * 100 + zeroFrames * 40 - zeroBands * zeroFrames, zeros); // nothing else touched
        }
        Assert.Equal(1f, features[0, 0]);
        // a span is never more than a fifth of a short utterance
        var ones = new float[10, 40];
        for (int t = 0; t < 10; t++)
            for (int m = 0; m < 40; m++) ones[t, m] = 1;
        var shortOne = augment.Apply(ones, new RandomGenerator(3));
        Assert.True(Enumerable.Range(0, 10).Count(t => Enumerable.Range(0, 40).All(m => shortOne[t, m] == 0)) <= 2);
    }
}

public sealed class FeatureNormalizationTests
{
    static float[] Chirp(int seed) => Enumerable.Range(0, 4000).Select(i => (float)(0.3 * Math.Sin(i * (0.05 + 0.01
        * seed + 1e-5 * i)) + 0.01 * Math.Sin(i * 1.3))).ToArray();

    [Fact]
    public void GlobalStatisticsMakeTheTrainingAudioZeroMeanUnitVarianceAndTravelWithTheModel()
    {
        var signals = Enumerable.Range(0, 4).Select(Chirp).ToArray();
        var features = new SpeechFeatureConfig(NMels: 16).WithGlobalStatistics(signals);
        Assert.Equal(FeatureNormalization.Global, features.Normalization);
        var all = signals.Select(s => features.Compute(s)).ToArray();
        for (int m = 0; m < 16; m++)
        {
            var band = all.SelectMany(f => Enumerable.Range(0, f.GetLength(0)).Select(t => (double)f[t, m])).ToArray();
            double mean = band.Average(), variance = band.Select(v => (v - mean) * (v - mean)).Average();
            Assert.Equal(0, mean, 3);
            Assert.Equal(1, variance, 2);
        }
        // unlike per-utterance normalisation, one utterance alone keeps its offset from the others
        var alone = features.Compute(signals[0]);
        Assert.NotEqual(0, Enumerable.Range(0, alone.GetLength(0)).Average(t => alone[t, 3]), 2);
        var config = new SpeechRecognizerConfig(features, "ab", 1, 2, CellKind.Gru, 4, 1, true, 0f);
        Assert.Equal(config, SpeechRecognizerConfig.FromJson(config.ToJson()));
        Assert.Throws<ArgumentException>(() => new SpeechRecognizer(config with
        {
            Features = features with { Statistics = null },
        }, new RandomGenerator(1)));
        Assert.Throws<InvalidOperationException>(() => (features with { Statistics = null }).Compute(signals[0]));
    }
}

public sealed class SpeechRecognizerTests
{
    static readonly SpeechFeatureConfig Small = new(8000, 64, 32, 16);

    static SpeechRecognizerConfig Tiny(int convLayers = 2) => new(Small, "ab", convLayers, 3, CellKind.Gru, 6, 1, true,
        0f);

    static float[,] Features(int frames, ulong seed)
    {
        var random = new RandomGenerator(seed);
        var f = new float[frames, 16];
        for (int t = 0; t < frames; t++)
            for (int m = 0; m < 16; m++) f[t, m] = random.NextNormal();
        return f;
    }

    [Fact]
    public void OutputsOneDistributionPerConvolvedFrame()
    {
        var model = new SpeechRecognizer(Tiny(), new RandomGenerator(1));
        var (logProbs, lengths) = model.Forward([Features(20, 1), Features(13, 2)]);
        Assert.Equal([10, 7], lengths);
        Assert.Equal([10, 2, 3], logProbs.Shape);
        Assert.Equal(10, model.Config.OutputFrames(20));
        var values = logProbs.ToArray();
        for (int row = 0; row < 20; row++)
            Assert.Equal(1.0, Enumerable.Range(0, 3).Sum(c => Math.Exp(values[row * 3 + c])), 4);
        Assert.Contains("[5, 12]", Assert.Throws<ArgumentException>(() => model.Forward([new float[5, 12]])).Message);
    }

    [Fact]
    public void ALongerBatchMateNeverChangesAnUtterancesOutput()
    {
        var model = new SpeechRecognizer(Tiny(3), new RandomGenerator(2));
        model.Eval();
        var shortOne = Features(11, 3);
        var (alone, lengths) = model.Forward([shortOne]);
        var (together, _) = model.Forward([Features(30, 4), shortOne]);
        var a = alone.ToArray();
        var t = together.ToArray();
        for (int step = 0; step < lengths[0]; step++)
            for (int c = 0; c < 3; c++) Assert.Equal(a[step * 3 + c], t[(step * 2 + 1) * 3 + c], 5);
    }

    [Fact]
    public void TheCtcLossGradientMatchesFiniteDifferencesThroughTheWholeModel()
    {
        var model = new SpeechRecognizer(Tiny(), new RandomGenerator(3));
        var batch = new[] { Features(12, 5), Features(9, 6) };
        var result = GradientCheck.Compare(() => model.Loss(batch, ["ab", "b"]), model.Parameters().ToList(),
            epsilon: 1e-3);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void ConfigRoundTripsThroughJsonAndBadSettingsAreRefused()
    {
        var config = Tiny();
        Assert.Equal(config, SpeechRecognizerConfig.FromJson(config.ToJson()));
        Assert.Throws<ArgumentException>(() => new SpeechRecognizer(config with { ConvLayers = 4 },
            new RandomGenerator(1)));
        var json = config.ToJson();
        json["architecture"] = "text_classifier";
        Assert.Throws<InvalidDataException>(() => SpeechRecognizerConfig.FromJson(json));
    }

    /// <summary>"Speech" of two tones: a is 500 Hz, b is 1,500 Hz, 60 ms each with 30 ms of silence between.</summary>
    static SpeechExample Tones(string text, RandomGenerator random)
    {
        var samples = new List<float>();
        foreach (char c in text)
        {
            double hz = c == 'a' ? 500 : 1500;
            samples.AddRange(Enumerable.Range(0, 480).Select(i => (float)(0.5 * Math.Sin(2 * Math.PI * hz * i / 8000)
                + 0.01 * random.NextNormal())));
            samples.AddRange(Enumerable.Range(0, 240).Select(_ => 0.01f * random.NextNormal()));
        }
        return new(Small.Compute(samples.ToArray()), text);
    }

    static List<SpeechExample> ToneSet(int count, RandomGenerator random) => Enumerable.Range(0, count)
        .Select(_ => Tones(new string(Enumerable.Range(0, 1 + random.NextInt(3))
            .Select(_ => random.NextInt(2) == 0 ? 'a' : 'b').ToArray()), random)).ToList();

    [Fact]
    public void LearnsToTranscribeTonesWithCtc()
    {
        var random = new RandomGenerator(7);
        var train = ToneSet(160, random);
        var valid = ToneSet(40, random);
        var model = new SpeechRecognizer(Tiny(1) with { ConvChannels = 4, HiddenSize = 16 }, new RandomGenerator(8));
        var task = new SpeechTask(model, train, valid, batchSize: 16, augment: new SpecAugment(1, 2, 1, 2));
        var result = new Trainer<SpeechExample[]>(task, new Adam(model.Parameters(), 1e-2f),
            new TrainerOptions { Epochs = 60, ClipNorm = 5f, Metric = "wer" }).Fit();
        var report = SpeechTask.Report(model, valid);
        Assert.True(report.Accuracy >= 0.9, $"accuracy {report.Accuracy:P1}, CER {report.CharacterErrorRate:P1}");
        Assert.True(result.Steps > 0);
        var beam = SpeechTask.Report(model, valid, beamWidth: 4);
        Assert.True(beam.Accuracy >= report.Accuracy - 0.05, $"beam {beam.Accuracy:P1}, greedy {report.Accuracy:P1}");
    }
}
