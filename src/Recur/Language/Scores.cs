namespace Recur.Language;

/// <summary>Small helpers over rows of scores that decoding (sampling, beam search, tagging) shares.</summary>
internal static class Scores
{
    /// <summary>The index of the largest value (the first of ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>Turns scores into log-probabilities in place (log-sum-exp in double precision).</summary>
    public static void LogSoftmax(Span<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (float v in row) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in row) sum += Math.Exp(v - max);
        float log = max + (float)Math.Log(sum);
        for (int i = 0; i < row.Length; i++) row[i] -= log;
    }
}
