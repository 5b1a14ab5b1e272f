namespace Recur.Data;

/// <summary>Loading audio for a model: WAV to mono at the model's sample rate.</summary>
public static class Audio
{
    /// <summary>
    /// Reads <paramref name="path"/> (any format <see cref="Wav"/> reads), averages the channels to mono and resamples
    /// to <paramref name="sampleRate"/> when the file's rate differs.
    /// </summary>
    public static float[] Load(string path, int sampleRate)
    {
        var audio = Wav.Read(path);
        var mono = audio.Mono();
        return audio.SampleRate == sampleRate ? mono : Resample(mono, audio.SampleRate, sampleRate);
    }

    /// <summary>
    /// Band-limited resampling from <paramref name="fromRate"/> to <paramref name="toRate"/> samples per second:
    /// each output sample is the input convolved with a Kaiser-windowed sinc (16 zero crossings each side, β = 8.6)
    /// whose cut-off is the lower of the two Nyquist frequencies, so downsampling does not alias. The output has
    /// ⌈n · toRate / fromRate⌉ samples; the signal is taken as zero outside its ends.
    /// </summary>
    public static float[] Resample(ReadOnlySpan<float> signal, int fromRate, int toRate)
    {
        if (fromRate < 1 || toRate < 1)
            throw new ArgumentException($"Audio.Resample: sample rates must be positive, got {fromRate} → {toRate}.");
        if (fromRate == toRate) return signal.ToArray();
        double ratio = (double)toRate / fromRate, cutoff = Math.Min(1.0, ratio);
        double halfWidth = ZeroCrossings / cutoff; // in input samples
        var output = new float[(int)Math.Ceiling(signal.Length * ratio)];
        for (int n = 0; n < output.Length; n++)
        {
            double t = n / ratio;
            int first = Math.Max(0, (int)Math.Ceiling(t - halfWidth));
            int last = Math.Min(signal.Length - 1, (int)Math.Floor(t + halfWidth));
            double sum = 0;
            for (int k = first; k <= last; k++)
            {
                double x = k - t;
                double arg = Math.PI * cutoff * x;
                double sinc = Math.Abs(arg) < 1e-12 ? 1 : Math.Sin(arg) / arg;
                sum += signal[k] * cutoff * sinc * Window(Math.Abs(x) / halfWidth);
            }
            output[n] = (float)sum;
        }
        return output;
    }

    /// <summary>
    /// Plays <paramref name="signal"/> (at <paramref name="sampleRate"/>) <paramref name="factor"/> times as fast —
    /// shorter and higher for a factor above 1, longer and lower below — by resampling; the speed perturbation of
    /// speech training (Ko et al. 2015 use 0.9, 1.0 and 1.1).
    /// </summary>
    public static float[] ChangeSpeed(ReadOnlySpan<float> signal, int sampleRate, double factor)
    {
        if (!(factor >= 0.5 && factor <= 2)) throw new ArgumentException(
            $"Audio.ChangeSpeed: a speed factor must be in [0.5, 2], got {factor}.");
        int from = (int)Math.Round(sampleRate * factor);
        return from == sampleRate ? signal.ToArray() : Resample(signal, from, sampleRate);
    }

    const int ZeroCrossings = 16, TableSize = 4096;
    const double Beta = 8.6;

    /// <summary>The Kaiser window at |u| ≤ 1 (u: offset over half-width), interpolated in a table.</summary>
    static double Window(double u)
    {
        if (u >= 1) return 0;
        double position = u * TableSize;
        int i = (int)position;
        return KaiserTable[i] + (position - i) * (KaiserTable[i + 1] - KaiserTable[i]);
    }

    static readonly double[] KaiserTable = Enumerable.Range(0, TableSize + 1)
        .Select(i => (double)i / TableSize)
        .Select(u => BesselI0(Beta * Math.Sqrt(Math.Max(0, 1 - u * u))) / BesselI0(Beta)).ToArray();

    /// <summary>The modified Bessel function of the first kind, order 0 (power series).</summary>
    static double BesselI0(double x)
    {
        double sum = 1, term = 1, quarter = x * x / 4;
        for (int k = 1; k < 200 && term > 1e-16 * sum; k++)
        {
            term *= quarter / ((double)k * k);
            sum += term;
        }
        return sum;
    }
}
