namespace Recur.Kernels;

/// <summary>
/// Small helpers on rows of scores that decoders, taggers, energy models and metrics share: the best index, and
/// log-sum-exp / log-softmax computed stably (the maximum is subtracted first, the sum is kept in double precision).
/// </summary>
public static class Scores
{
    /// <summary>The index of the largest value (the first of ties); 0 for an empty row.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>Turns scores into log-probabilities in place.</summary>
    public static void LogSoftmax(Span<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (float v in row) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in row) sum += Math.Exp(v - max);
        float log = max + (float)Math.Log(sum);
        for (int i = 0; i < row.Length; i++) row[i] -= log;
    }

    /// <summary>log Σ exp(values); −∞ when the row is empty or every value is −∞.</summary>
    public static double LogSumExp(ReadOnlySpan<double> values)
    {
        double max = double.NegativeInfinity;
        foreach (double v in values) if (v > max) max = v;
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (double v in values) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
