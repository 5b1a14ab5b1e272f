using System.Text.Json;
using Recur.Data;

namespace Recur.Tests.Data;

/// <summary>Audio features against torch.stft and torchaudio's defaults (Fixtures/make_audio_fixtures.py).</summary>
public sealed class AudioFeaturesTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Fixtures", "audio_reference.json"))).RootElement;

    static double[] Doubles(string name) => Root.GetProperty(name).EnumerateArray().Select(v
        => v.GetDouble()).ToArray();

    static int Int(string name) => Root.GetProperty(name).GetInt32();

    static float[] Signal => Doubles("signal").Select(v => (float)v).ToArray();

    static void Close(double[] expected, float[,] actual, double absolute, double relative, string what)
    {
        var flat = actual.Cast<float>().ToArray();
        Assert.Equal(expected.Length, flat.Length);
        for (int i = 0; i < flat.Length; i++)
            Assert.True(Math.Abs(flat[i] - expected[i]) <= absolute + relative * Math.Abs(expected[i]),
                $"{what}[{i}]: {flat[i]} vs {expected[i]}");
    }

    [Fact]
    public void PowerSpectrogramMatchesTorchStft()
    {
        var power = AudioFeatures.PowerSpectrogram(Signal, Int("n_fft"), Int("hop"));
        var shape = Root.GetProperty("power_shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        Assert.Equal(shape, new[] { power.GetLength(0), power.GetLength(1) });
        Close(Doubles("power"), power, 1e-4, 1e-4, "power");
    }

    [Fact]
    public void FilterbankLogMelAndMfccMatchTheReference()
    {
        Close(Doubles("filterbank"), AudioFeatures.MelFilterbank(Int("sample_rate"), Int("n_fft"), Int("n_mels")), 1e-6,
            1e-6, "filterbank");
        Close(Doubles("log_mel"), AudioFeatures.LogMel(Signal, Int("sample_rate"), Int("n_fft"), Int("hop"),
            Int("n_mels")), 1e-4, 1e-4, "log-mel");
        Close(Doubles("mfcc"), AudioFeatures.Mfcc(Signal, Int("sample_rate"), Int("n_fft"), Int("hop"), Int("n_mels"),
            Int("n_mfcc")),
            1e-3, 1e-4, "mfcc");
    }

    [Fact]
    public void NormalisationGivesZeroMeanAndUnitDeviationPerFeature()
    {
        var features = AudioFeatures.LogMel(Signal, 8000, 256, 80, 20);
        AudioFeatures.Normalize(features);
        for (int c = 0; c < 20; c++)
        {
            var column = Enumerable.Range(0, features.GetLength(0)).Select(f => (double)features[f, c]).ToArray();
            Assert.Equal(0, column.Average(), 5);
            Assert.Equal(1, Math.Sqrt(column.Select(v => v * v).Average()), 4);
        }
        Assert.Throws<ArgumentException>(() => AudioFeatures.PowerSpectrogram(Signal, 200, 80)); // not a power of two
    }
}
