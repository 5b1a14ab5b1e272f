namespace Recur.WaveNet;

/// <summary>
/// μ-law companding (ITU-T G.711's curve, μ = levels − 1): F(x) = sign(x) · ln(1 + μ|x|) / ln(1 + μ) maps a sample in
/// [−1, 1] to [−1, 1] with fine steps near zero, and the result is quantised to one of <c>levels</c> codes. WaveNet
/// predicts these codes with a softmax.
/// </summary>
public static class MuLaw
{
    /// <summary>The code of <paramref name="sample"/> (clamped to [−1, 1]) among <paramref name="levels"/>.</summary>
    public static int Encode(float sample, int levels = 256)
    {
        CheckLevels(levels);
        double mu = levels - 1, x = Math.Clamp((double)sample, -1, 1);
        double companded = Math.Sign(x) * Math.Log(1 + mu * Math.Abs(x)) / Math.Log(1 + mu);
        return (int)Math.Floor((companded + 1) / 2 * mu + 0.5);
    }

    /// <summary>The sample a code stands for (the inverse curve at the code's centre).</summary>
    public static float Decode(int code, int levels = 256)
    {
        CheckLevels(levels);
        if ((uint)code >= (uint)levels) throw new ArgumentOutOfRangeException(nameof(code),
            $"MuLaw: code {code} is outside 0..{levels - 1}.");
        double mu = levels - 1, y = 2.0 * code / mu - 1;
        return (float)(Math.Sign(y) * (Math.Pow(1 + mu, Math.Abs(y)) - 1) / mu);
    }

    /// <summary>The codes of a signal.</summary>
    public static int[] Encode(ReadOnlySpan<float> signal, int levels = 256)
    {
        var codes = new int[signal.Length];
        for (int i = 0; i < codes.Length; i++) codes[i] = Encode(signal[i], levels);
        return codes;
    }

    /// <summary>The signal of codes.</summary>
    public static float[] Decode(ReadOnlySpan<int> codes, int levels = 256)
    {
        var signal = new float[codes.Length];
        for (int i = 0; i < signal.Length; i++) signal[i] = Decode(codes[i], levels);
        return signal;
    }

    static void CheckLevels(int levels)
    {
        if (levels < 2) throw new ArgumentOutOfRangeException(nameof(levels), $"MuLaw: {levels} levels.");
    }
}
