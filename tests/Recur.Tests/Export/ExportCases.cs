using Recur.Classification;
using Recur.Forecasting;
using Recur.Memory;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Speech;
using Recur.Tagging;
using Recur.WaveNet;

namespace Recur.Tests.Export;

/// <summary>A tagger and its three sentences, with the time-major arrays both export formats are fed.</summary>
/// <param name="Words">[steps·batch] word ids, 0 past each sentence.</param>
/// <param name="Characters">[steps·batch·Longest] character ids of each position's word.</param>
/// <param name="CharLengths">[steps·batch] characters of each position's word (0 at padding).</param>
/// <param name="Casing">[steps·batch] casing classes.</param>
sealed record TaggerCase(SequenceTagger Model, EncodedSentence[] Sentences, int[] Lengths, int Steps, int Longest,
    int[] Words, int[] Characters, int[] CharLengths, int[] Casing);

/// <summary>A forecaster trained briefly, the history it forecasts from and its own forecast.</summary>
/// <param name="Covariates">[needed·k] the covariates over the history, time-major.</param>
sealed record ForecasterCase(Forecaster Model, double[] History, float[] Covariates, double[] Expected);

/// <summary>A small WaveNet, the codes (and the label and local sequence, when it has them) it reads, and its
/// logits.</summary>
/// <param name="Codes">[batch·steps] μ-law codes, batch-major.</param>
sealed record WaveNetCase(WaveNetModel Model, int Batch, int Steps, int[] Codes, int[]? Conditions, Tensor? Local,
    Tensor Expected);

/// <summary>A small memory network, a padded batch of three questions and its output on them.</summary>
sealed record MemoryNetworkCase(MemoryNetwork Model, PaddedStories Padded, MemoryNetworkOutput Expected);

/// <summary>A small speech recogniser in evaluation mode, three utterances of 17, 9 and 12 frames of 12 mels, the
/// padded [batch, 1, mels, frames] input, and its log-probabilities and output lengths.</summary>
sealed record SpeechCase(SpeechRecognizer Model, int[] Frames, int Longest, float[] Input, Tensor Expected,
    int[] Lengths);

/// <summary>The models and inputs the ONNX and PyTorch export tests both run.</summary>
static class ExportCases
{
    /// <summary>
    /// A two-layer classifier in evaluation mode and four texts of lengths 6, 2, 4 and 1, time-major.
    /// </summary>
    public static (TextClassifier Model, int[][] Texts, int[] Ids, int[] Lengths, int Steps) Classifier(
        Pooling pooling, string cell, bool bidirectional)
    {
        var model = new TextClassifier(new TextClassifierConfig(30, 5, 4, 3, RecurrentCells.Parse(cell), NumLayers: 2,
            Bidirectional: bidirectional, Pooling: pooling), new RandomGenerator(3));
        model.Eval();
        var random = new RandomGenerator(4);
        var texts = new[] { 6, 2, 4, 1 }.Select(n => Enumerable.Range(0, n).Select(_ => 1 + random.NextInt(29))
            .ToArray()).ToArray();
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(texts, 30, "test");
        return (model, texts, ids, lengths, steps);
    }

    /// <summary>
    /// A classifier in evaluation mode that reads by <paramref name="segmentation"/> (sentences end at id 2, at most 4
    /// tokens; a budget of 13 tokens), four texts of one to four segments (one over the budget), and the texts cut as
    /// it reads them, time-major.
    /// </summary>
    public static (TextClassifier Model, int[][] Texts, SegmentedTexts Cut, int[] Ids, int[] Lengths, int Steps)
        SegmentedClassifier(Segmentation segmentation, Pooling pooling, string cell)
    {
        var model = new TextClassifier(new TextClassifierConfig(14, 4, 5, 3, Pooling: pooling,
            Cell: RecurrentCells.Parse(cell))
        {
            Segmentation = segmentation, SegmentLength = 4, SentenceEnds = [2], MaxTokens = 13,
        }, new RandomGenerator(21));
        model.Eval();
        int[][] texts = [[3, 4, 2, 5, 6, 7, 8, 9, 2, 10], [11, 12], [5, 2, 6, 2, 7, 8, 2, 9, 10, 11, 12, 13, 3, 4, 5],
            [13, 3, 4, 5, 6]];
        var cut = model.Segmented(texts);
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(cut.Segments, 14, "test");
        return (model, texts, cut, ids, lengths, steps);
    }

    /// <summary>A BIOES tagger in evaluation mode and three sentences of 4, 1 and 3 words.</summary>
    public static TaggerCase Tagger(bool crf, bool chars, int casing, int layers, float dropout)
    {
        string[] tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER"];
        var config = new SequenceTaggerConfig(30, 20, tags, TagScheme.Bioes, crf, chars, WordEmbeddingSize: 6,
            CharEmbeddingSize: 4, CharHiddenSize: 3, HiddenSize: 5, Dropout: dropout, CasingEmbeddingSize: casing,
                NumLayers: layers);
        var model = new SequenceTagger(config, new RandomGenerator(21));
        model.Eval();
        var random = new RandomGenerator(22);
        var sentences = new[] { 4, 1, 3 }.Select(n => new EncodedSentence(
            Enumerable.Range(0, n).Select(_ => 1 + random.NextInt(29)).ToArray(),
            Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, 1 + random.NextInt(5))
                .Select(_ => 1 + random.NextInt(19)).ToArray()).ToArray(),
            Enumerable.Range(0, n).Select(_ => 1 + random.NextInt(Recur.Tagging.Casing.Count - 1)).ToArray()))
            .ToArray();
        int steps = 4, batch = 3, longest = sentences.Max(s => s.Chars.Max(c => c.Length));
        var words = new int[steps * batch];
        var characters = new int[steps * batch * longest];
        var charLengths = new int[steps * batch];
        var classes = new int[steps * batch];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < sentences[b].Words.Length; t++)
            {
                int at = t * batch + b;
                (words[at], classes[at]) = (sentences[b].Words[t], sentences[b].Casing![t]);
                charLengths[at] = sentences[b].Chars[t].Length;
                sentences[b].Chars[t].CopyTo(characters, at * longest);
            }
        return new TaggerCase(model, sentences, sentences.Select(s => s.Words.Length).ToArray(), steps, longest,
            words, characters, charLengths, classes);
    }

    /// <summary>
    /// A forecaster (window 8, horizon 5) trained for two epochs on a positive seasonal series with a trend (and
    /// covariates that follow it), with its forecast from the series' last window + lag values.
    /// </summary>
    public static ForecasterCase Forecaster(string network, ScalingKind scaling, bool log, int lag, int covariates)
    {
        var series = Enumerable.Range(0, 80).Select(t => 50 + 0.5 * t + 10 * Math.Sin(t * Math.PI / 3)).ToArray();
        var extra = Enumerable.Range(0, covariates).Select(c => series.Select((v, t) => v * (c + 1)
            + Math.Cos(t + c)).ToArray()).ToArray();
        var forecaster = new Forecaster(new ForecasterOptions(Window: 8, Horizon: 5, Model: network, HiddenSize: 6,
            Scaling: scaling, Log: log, DifferenceLag: lag, Epochs: 2, Covariates: covariates));
        forecaster.Fit(series, covariates: covariates > 0 ? extra : null);
        int needed = 8 + lag;
        var recent = extra.Select(c => c[^needed..]).ToArray();
        var history = series[^needed..];
        var expected = forecaster.Forecast(history, 5, covariates > 0 ? recent : null);
        var values = Enumerable.Range(0, needed).SelectMany(t => recent.Select(c => (float)c[t])).ToArray();
        return new ForecasterCase(forecaster, history, values, expected);
    }

    /// <summary>A two-stack WaveNet of 16 levels on two sequences of 21 codes, with <paramref name="labels"/> global
    /// conditions and <paramref name="localChannels"/> local channels (none when 0).</summary>
    public static WaveNetCase WaveNet(int labels, int localChannels)
    {
        var config = new WaveNetConfig(Levels: 16, ResidualChannels: 4, DilationChannels: 3, SkipChannels: 5,
            LayersPerStack: 3, Stacks: 2, GlobalConditions: labels, LocalChannels: localChannels);
        var model = new WaveNetModel(config, new RandomGenerator(7));
        var random = new RandomGenerator(8);
        int batch = 2, steps = 21;
        var codes = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, steps)
            .Select(_ => random.NextInt(config.Levels)).ToArray()).ToArray();
        int[]? conditions = labels > 0 ? [labels - 1, 0] : null;
        var local = localChannels > 0 ? Tensor.RandomNormal(random, [batch, localChannels, steps]) : null;
        using var _ = Recur.Autograd.GradMode.NoGrad();
        return new(model, batch, steps, [.. codes.SelectMany(c => c)], conditions, local,
            model.Forward(codes, conditions, local));
    }

    /// <summary>A three-hop memory network of 12 words on three stories of 3, 1 and 6 sentences (memory of
    /// 5).</summary>
    public static MemoryNetworkCase MemoryNetwork(SentenceEncoding encoding, bool temporal, bool emptySlots,
        bool linearStart)
    {
        var config = new MemoryNetworkConfig(12, 4, 6, 3, 5, encoding, temporal, RandomTimeNoise: false,
            EmptySlots: emptySlots);
        var model = new MemoryNetwork(config, new RandomGenerator(5)) { LinearStart = linearStart };
        EncodedQuestion[] batch =
        [
            new([[3, 4, 5], [6, 7], [8, 9, 10, 11]], [2, 3], 4, 1),
            new([[1, 2, 3, 4]], [5, 6, 7], 8, 1),
            new([[9], [10, 11], [3], [4, 5], [6], [7, 8]], [9, 10, 11, 1], 2, 1),
        ];
        var padded = model.Pad(batch);
        using var _ = Recur.Autograd.GradMode.NoGrad();
        return new(model, padded, model.Forward(padded));
    }

    /// <summary>A speech recogniser of <paramref name="convLayers"/> convolutions and a two-layer encoder on three
    /// utterances of different lengths.</summary>
    public static SpeechCase Speech(int convLayers, string cell, bool bidirectional)
    {
        var config = new SpeechRecognizerConfig(new SpeechFeatureConfig(NMels: 12), "ab c", convLayers, 3,
            RecurrentCells.Parse(cell), 5,
            2, bidirectional);
        var model = new SpeechRecognizer(config, new RandomGenerator(3));
        model.Eval();
        var random = new RandomGenerator(4);
        int[] frames = [17, 9, 12];
        var features = frames.Select(n =>
        {
            var f = new float[n, 12];
            for (int t = 0; t < n; t++) for (int m = 0; m < 12; m++) f[t, m] = random.NextNormal();
            return f;
        }).ToList();
        int longest = frames.Max(), batch = frames.Length;
        var input = new float[batch * 12 * longest]; // [B, 1, mels, frames], zero past each utterance
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < frames[b]; t++)
                for (int m = 0; m < 12; m++) input[(b * 12 + m) * longest + t] = features[b][t, m];
        using var _ = Recur.Autograd.GradMode.NoGrad();
        var (expected, lengths) = model.Forward(features);
        return new(model, frames, longest, input, expected, lengths);
    }
}
