using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Data;
using Recur.Decoding;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Speech;

/// <summary>How a speech recogniser's features are normalised.</summary>
[JsonConverter(typeof(LowerCaseEnumConverter<FeatureNormalization>))]
public enum FeatureNormalization
{
    /// <summary>Each band to mean 0 and variance 1 over the utterance itself (loudness and channel matter
    /// less).</summary>
    Utterance,
    /// <summary>Each band by the mean and standard deviation of the training audio, saved with the model.</summary>
    Global,
}

/// <summary>How the features of an utterance are computed from its samples.</summary>
/// <param name="SampleRate">Samples per second the model hears (audio at other rates is resampled).</param>
/// <param name="NFft">FFT size of a frame (a power of two; 256 at 8 kHz is 32 ms).</param>
/// <param name="Hop">Samples between frames (80 at 8 kHz is 10 ms).</param>
/// <param name="NMels">Mel bands of the log-mel filterbank.</param>
/// <param name="Normalization">Per utterance, or global with <paramref name="Statistics"/>.</param>
/// <param name="Statistics">Per band mean and standard deviation of the training audio (global normalisation).</param>
public sealed record SpeechFeatureConfig(int SampleRate = 8000, int NFft = 256, int Hop = 80, int NMels = 40,
    FeatureNormalization Normalization = FeatureNormalization.Utterance, BandStatistics? Statistics = null)
{
    /// <summary>
    /// Log-mel features [frames, NMels] of <paramref name="signal"/>, normalised per band over the utterance or by the
    /// saved global statistics. A signal shorter than half a frame is padded with zeros.
    /// </summary>
    public float[,] Compute(ReadOnlySpan<float> signal)
    {
        var features = LogMel(signal);
        if (Normalization == FeatureNormalization.Utterance)
        {
            AudioFeatures.Normalize(features);
            return features;
        }
        var statistics = Statistics ?? throw new InvalidOperationException(
            "SpeechFeatureConfig: global normalisation without statistics; use WithGlobalStatistics first.");
        if (statistics.Mean.Count != NMels || statistics.Std.Count != NMels)
            throw new InvalidOperationException($"SpeechFeatureConfig: statistics of {statistics.Mean.Count} bands for "
                + $"{NMels} mel bands.");
        for (int t = 0; t < features.GetLength(0); t++)
            for (int m = 0; m < NMels; m++) features[t, m] = (features[t, m] - statistics.Mean[m]) / statistics.Std[m];
        return features;
    }

    float[,] LogMel(ReadOnlySpan<float> signal)
    {
        int minimum = NFft / 2 + 1;
        float[] padded = signal.Length >= minimum ? signal.ToArray()
            : [.. signal, .. new float[minimum - signal.Length]];
        return AudioFeatures.LogMel(padded, SampleRate, NFft, Hop, NMels);
    }

    /// <summary>
    /// This configuration with global normalisation by the per-band mean and standard deviation of the log-mel frames
    /// of <paramref name="signals"/> (the training audio).
    /// </summary>
    public SpeechFeatureConfig WithGlobalStatistics(IEnumerable<float[]> signals)
    {
        var sum = new double[NMels];
        var square = new double[NMels];
        long frames = 0;
        foreach (var signal in signals)
        {
            var features = LogMel(signal);
            for (int t = 0; t < features.GetLength(0); t++, frames++)
                for (int m = 0; m < NMels; m++)
                {
                    sum[m] += features[t, m];
                    square[m] += (double)features[t, m] * features[t, m];
                }
        }
        if (frames == 0) throw new ArgumentException("SpeechFeatureConfig: no audio to take statistics from.");
        var mean = sum.Select(v => (float)(v / frames)).ToArray();
        var std = square.Select((v, m) => (float)Math.Max(Math.Sqrt(Math.Max(v / frames - mean[m] * (double)mean[m],
            0)), 1e-4)).ToArray();
        return this with { Normalization = FeatureNormalization.Global, Statistics = new(mean, std) };
    }
}

/// <summary>Per-band mean and standard deviation of log-mel features (compared by value).</summary>
/// <param name="Mean">Mean of each band.</param>
/// <param name="Std">Standard deviation of each band.</param>
public sealed record BandStatistics(IReadOnlyList<float> Mean, IReadOnlyList<float> Std)
{
    /// <inheritdoc/>
    public bool Equals(BandStatistics? other) => other is not null && Mean.SequenceEqual(other.Mean)
        && Std.SequenceEqual(other.Std);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Mean.Count, Mean.FirstOrDefault(), Std.FirstOrDefault());
}

/// <summary>Settings of a <see cref="SpeechRecognizer"/>.</summary>
/// <param name="Features">How features are computed (part of the model: a saved model computes them the same
/// way).</param>
/// <param name="Characters">The characters of the output alphabet (the blank is class 0).</param>
/// <param name="ConvLayers">2-D convolutions over (frequency × time), 1–3. The first strides 2 in both, the others 2 in
/// frequency only, so the recurrent layers see half the frames.</param>
/// <param name="ConvChannels">Filters of each convolution.</param>
/// <param name="Cell">Recurrent cell of the encoder.</param>
/// <param name="HiddenSize">Units per direction.</param>
/// <param name="NumLayers">Stacked recurrent layers.</param>
/// <param name="Bidirectional">Read the utterance both ways (the whole utterance is known before decoding).</param>
/// <param name="Dropout">Dropout between recurrent layers and before the output layer.</param>
public sealed record SpeechRecognizerConfig(SpeechFeatureConfig Features,
    string Characters = " 'abcdefghijklmnopqrstuvwxyz",
    int ConvLayers = 2, int ConvChannels = 32, CellKind Cell = CellKind.Gru, int HiddenSize = 128, int NumLayers = 2,
    bool Bidirectional = true, float Dropout = 0.1f)
{
    /// <summary>Kernel (frequency, time) of every convolution.</summary>
    public static (int H, int W) Kernel => (9, 5);

    /// <summary>Stride (frequency, time) of convolution <paramref name="layer"/>.</summary>
    public static (int H, int W) Stride(int layer) => layer == 0 ? (2, 2) : (2, 1);

    /// <summary>Frames the recurrent layers see for an utterance of <paramref name="frames"/> feature frames.</summary>
    public int OutputFrames(int frames)
    {
        for (int l = 0; l < ConvLayers; l++) frames = FramesAfter(frames, l);
        return frames;
    }

    /// <summary>Frames out of convolution <paramref name="layer"/> for <paramref name="frames"/> in.</summary>
    internal static int FramesAfter(int frames, int layer) => (frames + 2 * (Kernel.W / 2) - Kernel.W) / Stride(layer).W
        + 1;

    /// <summary>Frequency rows after the convolutions.</summary>
    public int OutputBands
    {
        get
        {
            int bands = Features.NMels;
            for (int l = 0; l < ConvLayers; l++) bands = (bands + 2 * (Kernel.H / 2) - Kernel.H) / Stride(l).H + 1;
            return bands;
        }
    }

    /// <summary>The encoder's configuration.</summary>
    public RecurrentConfig Encoder => RecurrentCells.Configure(Cell, new(RecurrentCells.Mode(Cell),
        ConvChannels * OutputBands, HiddenSize, NumLayers, Dropout: NumLayers > 1 ? Dropout : 0f,
        Bidirectional: Bidirectional));

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (ConvLayers is < 1 or > 3) throw new ArgumentException(
            $"SpeechRecognizer: convLayers must be 1–3, got {ConvLayers}.");
        if (ConvChannels < 1 || HiddenSize < 1 || NumLayers < 1)
            throw new ArgumentException("SpeechRecognizer: convChannels, hiddenSize and numLayers must be positive.");
        if (Dropout is < 0 or >= 1) throw new ArgumentException(
            $"SpeechRecognizer: dropout must be in [0, 1), got {Dropout}.");
        if (Features.Normalization == FeatureNormalization.Global && (Features.Statistics is not { } st
            || st.Mean.Count != Features.NMels || st.Std.Count != Features.NMels || st.Std.Any(v => !(v > 0))))
            throw new ArgumentException("SpeechRecognizer: global normalisation needs a positive mean and standard "
                + $"deviation for each of the {Features.NMels} bands.");
        if (Features.NMels < 8) throw new ArgumentException(
            $"SpeechRecognizer: at least 8 mel bands, got {Features.NMels}.");
        _ = new SpeechAlphabet(Characters);
    }

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(new SpeechRecognizerFile(Features.SampleRate, Features.NFft,
        Features.Hop, Features.NMels, Characters, ConvLayers, ConvChannels, Cell, HiddenSize, NumLayers, Bidirectional,
        Dropout, Features.Normalization, Features.Statistics?.Mean.ToArray(), Features.Statistics?.Std.ToArray()),
        SpeechJson.Default.SpeechRecognizerFile, "speech_recognizer");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static SpeechRecognizerConfig FromJson(JsonObject json)
    {
        SpeechRecognizerConfig? config = null;
        ConfigJson.Read(json, SpeechJson.Default.SpeechRecognizerFile, "speech_recognizer", file =>
        {
            BandStatistics? statistics = file.BandMean is { } mean && file.BandStd is { } std ? new(mean, std) : null;
            config = new SpeechRecognizerConfig(new SpeechFeatureConfig(file.SampleRate, file.NFft, file.Hop,
                    file.NMels, file.Normalization, statistics), file.Characters, file.ConvLayers, file.ConvChannels,
                file.Cell, file.HiddenSize, file.NumLayers, file.Bidirectional, file.Dropout);
            config.Validate();
        });
        return config!;
    }
}

/// <summary>
/// <c>config.json</c> of a speech recogniser: its settings with the feature settings spelt out beside them (files
/// written before global normalisation existed have no normalisation or band statistics).
/// </summary>
sealed record SpeechRecognizerFile(int SampleRate, int NFft, int Hop, int NMels, string Characters, int ConvLayers,
    int ConvChannels, CellKind Cell, int HiddenSize, int NumLayers, bool Bidirectional, float Dropout,
    FeatureNormalization Normalization = FeatureNormalization.Utterance, float[]? BandMean = null,
    float[]? BandStd = null);

/// <summary>The settings records of <c>Recur.Speech</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(SpeechRecognizerFile))]
sealed partial class SpeechJson : JsonSerializerContext;

/// <summary>
/// Speech to characters in the style of Deep Speech 2 (Amodei et al. 2016): 2-D convolutions with ReLU over the log-mel
/// spectrogram (frequency × time) → stacked bidirectional recurrent layers over the convolved frames → dropout →
/// linear → log-softmax over the characters and the CTC blank, trained with <see cref="Losses.Ctc"/>. Utterances of a
/// batch may differ in length: the recurrent layers stop at each one's frames.
/// </summary>
public sealed class SpeechRecognizer : Module
{
    readonly Conv2d[] convolutions;
    readonly RecurrentLayer encoder;
    readonly Linear head;
    readonly RandomGenerator dropoutRandom;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public SpeechRecognizerConfig Config { get; }

    /// <summary>The output alphabet.</summary>
    public SpeechAlphabet Alphabet { get; }

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public SpeechRecognizer(SpeechRecognizerConfig config, RandomGenerator random)
    {
        config.Validate();
        Config = config;
        Alphabet = new SpeechAlphabet(config.Characters);
        var k = SpeechRecognizerConfig.Kernel;
        convolutions = new Conv2d[config.ConvLayers];
        for (int l = 0; l < config.ConvLayers; l++)
            convolutions[l] = RegisterModule($"conv{l}", new Conv2d(l == 0 ? 1 : config.ConvChannels,
                config.ConvChannels, k, random, stride: SpeechRecognizerConfig.Stride(l), padding: (k.H / 2, k.W / 2)));
        encoder = RegisterModule("encoder", new RecurrentLayer(config.Encoder, random));
        head = RegisterModule("head", new Linear(config.HiddenSize * (config.Bidirectional ? 2 : 1),
            Alphabet.Classes, random));
        dropoutRandom = RegisterRandom("dropout", random.Fork());
    }

    /// <summary>
    /// Log-probabilities [T′, B, classes] over the characters and blank for a batch of feature matrices
    /// [frames, NMels] (each at least one frame), with each utterance's T′ (frames after the convolutions).
    /// </summary>
    public (Tensor LogProbs, int[] Lengths) Forward(IReadOnlyList<float[,]> features)
    {
        if (features.Count == 0) throw new ArgumentException("SpeechRecognizer: an empty batch.");
        int bands = Config.Features.NMels, batch = features.Count;
        int frames = 0;
        for (int b = 0; b < batch; b++)
        {
            if (features[b].GetLength(1) != bands || features[b].GetLength(0) < 1)
                throw new ArgumentException($"SpeechRecognizer: utterance {b} has features [{features[b].GetLength(
                    0)}, "
                    + $"{features[b].GetLength(1)}]; the model needs [frames ≥ 1, {bands}].");
            frames = Math.Max(frames, features[b].GetLength(0));
        }
        var input = new float[batch * bands * frames]; // [B, 1, bands, frames], zero past each utterance
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < features[b].GetLength(0); t++)
                for (int m = 0; m < bands; m++) input[(b * bands + m) * frames + t] = features[b][t, m];
        var x = Tensor.FromArray(input, batch, 1, bands, frames);
        var lengths = features.Select(f => f.GetLength(0)).ToArray();
        for (int l = 0; l < convolutions.Length; l++)
        {
            x = convolutions[l].Forward(x).Relu();
            lengths = lengths.Select(n => SpeechRecognizerConfig.FramesAfter(n, l)).ToArray();
            // frames past an utterance's end are zeroed, so a batch-mate's length never changes its output
            if (lengths.Any(n => n < x.Size(3))) x = x * FrameMask(lengths, x.Size(3));
        }
        int channels = x.Size(1), rows = x.Size(2), steps = x.Size(3);
        var sequence = x.Permute(3, 0, 1, 2).Reshape(steps, batch, channels * rows);
        var encoded = encoder.Forward(sequence, lengths: lengths).Output;
        var logits = head.Forward(Functional.Dropout(encoded, Config.Dropout, Training, dropoutRandom));
        return (logits.LogSoftmax(2), lengths);
    }

    /// <summary>[B, 1, 1, T]: 1 within each utterance's frames, 0 past them.</summary>
    static Tensor FrameMask(int[] lengths, int steps)
    {
        var mask = new float[lengths.Length * steps];
        for (int b = 0; b < lengths.Length; b++) mask.AsSpan(b * steps, lengths[b]).Fill(1f);
        return Tensor.FromArray(mask, lengths.Length, 1, 1, steps);
    }

    /// <summary>The mean CTC loss (per target character, as PyTorch's <c>mean</c>) of a batch.</summary>
    public Tensor Loss(IReadOnlyList<float[,]> features, IReadOnlyList<string> transcripts)
    {
        var (logProbs, lengths) = Forward(features);
        return Loss(logProbs, lengths, transcripts);
    }

    /// <summary>The mean CTC loss of log-probabilities <see cref="Forward"/> returned.</summary>
    internal Tensor Loss(Tensor logProbs, int[] lengths, IReadOnlyList<string> transcripts) => Losses.Ctc(logProbs,
        transcripts.Select(Alphabet.Encode).ToArray(), lengths, SpeechAlphabet.Blank, zeroInfinity: true);

    /// <summary>
    /// Per-frame character probabilities [T′][classes] of one utterance (evaluation mode, no gradient): what
    /// <c>--plot</c> draws under the spectrogram.
    /// </summary>
    public float[][] FrameProbabilities(float[,] features)
    {
        using var _ = Evaluating();
        var (logProbs, lengths) = Forward([features]);
        var values = logProbs.ToArray();
        int classes = Alphabet.Classes;
        return Enumerable.Range(0, lengths[0])
            .Select(t => values.AsSpan(t * classes, classes).ToArray().Select(MathF.Exp).ToArray()).ToArray();
    }

    /// <summary>
    /// Transcripts of utterances given as feature matrices, decoded greedily (<paramref name="beamWidth"/> ≤ 1) or by
    /// CTC prefix beam search (with a character language model when <paramref name="fusion"/> is given), in batches of
    /// <paramref name="batchSize"/>, in evaluation mode.
    /// </summary>
    public string[] Transcribe(IReadOnlyList<float[,]> features, int beamWidth = 1, int batchSize = 64,
        LanguageModelFusion? fusion = null)
    {
        using var _ = Evaluating();
        var result = new string[features.Count];
        for (int start = 0; start < features.Count; start += batchSize)
        {
            var chunk = features.Skip(start).Take(batchSize).ToArray();
            var (logProbs, lengths) = Forward(chunk);
            Decode(logProbs, lengths, beamWidth, fusion).CopyTo(result, start);
        }
        return result;
    }

    /// <summary>The transcripts of log-probabilities [T′, B, classes] <see cref="Forward"/> returned.</summary>
    internal string[] Decode(Tensor logProbs, int[] lengths, int beamWidth, LanguageModelFusion? fusion)
    {
        int classes = Alphabet.Classes, batch = lengths.Length;
        var values = logProbs.ToArray();
        var result = new string[batch];
        for (int b = 0; b < batch; b++)
        {
            var utterance = new float[lengths[b] * classes]; // [T, classes] of this utterance
            for (int t = 0; t < lengths[b]; t++)
                values.AsSpan((t * batch + b) * classes, classes).CopyTo(utterance.AsSpan(t * classes));
            var best = beamWidth <= 1
                ? CtcDecoder.Greedy(utterance, lengths[b], classes, SpeechAlphabet.Blank)
                : CtcDecoder.Beam(utterance, lengths[b], classes, beamWidth, SpeechAlphabet.Blank, fusion)[0];
            result[b] = Alphabet.Decode(best.Labels);
        }
        return result;
    }

    /// <summary>Transcribes WAV files (any rate and channel count; resampled to the model's rate).</summary>
    public string[] TranscribeFiles(IReadOnlyList<string> paths, int beamWidth = 1,
        LanguageModelFusion? fusion = null) =>
        Transcribe(paths.Select(p => Config.Features.Compute(Audio.Load(p, Config.Features.SampleRate))).ToArray(),
            beamWidth, fusion: fusion);
}
