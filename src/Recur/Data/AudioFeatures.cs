using System.Numerics;

namespace Recur.Data;

/// <summary>
/// Speech features from a mono signal, computed as <c>torch.stft</c> and torchaudio do by default: frames of
/// <c>nFft</c> samples every <c>hop</c> samples under a periodic Hann window, the signal reflect-padded by nFft/2 at
/// both
/// ends (centred frames); the power spectrum |X|²; a triangular mel filterbank on the HTK mel scale; the log of the
/// mel energies (floored); MFCCs as the orthonormal DCT-II of the log-mel energies. Results are [frames, features].
/// The FFT is FftSharp's.
/// </summary>
public static class AudioFeatures
{
    /// <summary>The power spectrogram [frames, nFft/2 + 1]; <paramref name="nFft"/> must be a power of two.</summary>
    public static float[,] PowerSpectrogram(ReadOnlySpan<float> signal, int nFft, int hop)
    {
        if (nFft < 2 || (nFft & (nFft - 1)) != 0) throw new ArgumentException(
            $"AudioFeatures: nFft must be a power of two, got {nFft}.");
        if (hop < 1) throw new ArgumentException($"AudioFeatures: hop must be positive, got {hop}.");
        int half = nFft / 2;
        if (signal.Length <= half) throw new ArgumentException($"AudioFeatures: a signal of {signal.Length} samples is "
            + $"too short for nFft {nFft} (reflect padding needs more than {half}).");
        // reflect padding: x[−k] = x[k], x[n−1+k] = x[n−1−k]
        var padded = new float[signal.Length + nFft];
        for (int i = 0; i < padded.Length; i++)
        {
            int j = i - half;
            if (j < 0) j = -j;
            if (j >= signal.Length) j = 2 * (signal.Length - 1) - j;
            padded[i] = signal[j];
        }
        int frames = 1 + signal.Length / hop;
        var window = new double[nFft];
        for (int i = 0; i < nFft; i++) window[i] = 0.5 - 0.5 * Math.Cos(2 * Math.PI * i / nFft); // periodic Hann
        var power = new float[frames, half + 1];
        var buffer = new Complex[nFft];
        for (int f = 0; f < frames; f++)
        {
            for (int i = 0; i < nFft; i++) buffer[i] = new Complex(padded[f * hop + i] * window[i], 0);
            FftSharp.FFT.Forward(buffer);
            for (int k = 0; k <= half; k++) power[f, k] = (float)(buffer[k].Real * buffer[k].Real
                + buffer[k].Imaginary * buffer[k].Imaginary);
        }
        return power;
    }

    /// <summary>HTK mel scale: 2595 · log10(1 + f / 700).</summary>
    public static double HzToMel(double hz) => 2595 * Math.Log10(1 + hz / 700);

    /// <summary>The inverse of <see cref="HzToMel"/>.</summary>
    public static double MelToHz(double mel) => 700 * (Math.Pow(10, mel / 2595) - 1);

    /// <summary>
    /// Triangular filters [nFft/2 + 1, nMels] with centres equally spaced in mel between <paramref name="fMin"/> and
    /// <paramref name="fMax"/> (default: half the sample rate), unnormalised, as torchaudio's <c>melscale_fbanks</c>.
    /// </summary>
    public static float[,] MelFilterbank(int sampleRate, int nFft, int nMels, double fMin = 0, double? fMax = null)
    {
        double top = fMax ?? sampleRate / 2.0;
        if (nMels < 1 || !(fMin >= 0 && fMin < top) || top > sampleRate / 2.0)
            throw new ArgumentException($"AudioFeatures: {nMels} mel bands between {fMin} and {top} Hz do not fit a "
                + $"sample rate of {sampleRate}.");
        int bins = nFft / 2 + 1;
        var points = new double[nMels + 2];
        double low = HzToMel(fMin), high = HzToMel(top);
        for (int m = 0; m < points.Length; m++) points[m] = MelToHz(low + (high - low) * m / (nMels + 1));
        var bank = new float[bins, nMels];
        for (int k = 0; k < bins; k++)
        {
            double hz = (double)k * sampleRate / nFft;
            for (int m = 0; m < nMels; m++)
            {
                double rising = (hz - points[m]) / (points[m + 1] - points[m]);
                double falling = (points[m + 2] - hz) / (points[m + 2] - points[m + 1]);
                bank[k, m] = (float)Math.Max(0, Math.Min(rising, falling));
            }
        }
        return bank;
    }

    /// <summary>log(max(mel energy, <paramref name="floor"/>)) [frames, nMels].</summary>
    public static float[,] LogMel(ReadOnlySpan<float> signal, int sampleRate, int nFft, int hop, int nMels,
        double floor = 1e-10)
    {
        var power = PowerSpectrogram(signal, nFft, hop);
        var bank = MelFilterbank(sampleRate, nFft, nMels);
        int frames = power.GetLength(0), bins = power.GetLength(1);
        var result = new float[frames, nMels];
        for (int f = 0; f < frames; f++)
            for (int m = 0; m < nMels; m++)
            {
                double sum = 0;
                for (int k = 0; k < bins; k++) sum += power[f, k] * bank[k, m];
                result[f, m] = (float)Math.Log(Math.Max(sum, floor));
            }
        return result;
    }

    /// <summary>The first <paramref name="nMfcc"/> coefficients of the orthonormal DCT-II of the log-mel
    /// energies.</summary>
    public static float[,] Mfcc(ReadOnlySpan<float> signal, int sampleRate, int nFft, int hop, int nMels, int nMfcc)
    {
        if (nMfcc < 1 || nMfcc > nMels) throw new ArgumentException(
            $"AudioFeatures: {nMfcc} MFCCs from {nMels} mel bands.");
        var logMel = LogMel(signal, sampleRate, nFft, hop, nMels);
        int frames = logMel.GetLength(0);
        var result = new float[frames, nMfcc];
        for (int f = 0; f < frames; f++)
            for (int c = 0; c < nMfcc; c++)
            {
                double sum = 0;
                for (int m = 0; m < nMels; m++) sum += logMel[f, m] * Math.Cos(Math.PI / nMels * (m + 0.5) * c);
                result[f, c] = (float)(sum * Math.Sqrt((c == 0 ? 1.0 : 2.0) / nMels));
            }
        return result;
    }

    /// <summary>Per-utterance normalisation in place: each feature column to mean 0 and standard deviation 1.</summary>
    public static void Normalize(float[,] features)
    {
        int frames = features.GetLength(0), columns = features.GetLength(1);
        for (int c = 0; c < columns; c++)
        {
            double mean = 0, square = 0;
            for (int f = 0; f < frames; f++) mean += features[f, c];
            mean /= Math.Max(frames, 1);
            for (int f = 0; f < frames; f++) square += (features[f, c] - mean) * (features[f, c] - mean);
            double std = Math.Sqrt(square / Math.Max(frames, 1));
            for (int f = 0; f < frames; f++) features[f, c] = (float)((features[f, c] - mean) / (std > 1e-8 ? std : 1));
        }
    }
}
