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

    /// <summary>
    /// The indices of the <paramref name="k"/> largest values (all of them when there are fewer), largest first and
    /// ties by index — what sorting the row in descending order would put first — from a bounded heap, so that taking
    /// the best few of a 50,000-word vocabulary costs one pass and not a sort. −0 ties with +0; NaN ranks below every
    /// number.
    /// </summary>
    public static int[] Top(ReadOnlySpan<float> values, int k)
    {
        int m = Math.Clamp(k, 0, values.Length);
        var heap = new ulong[m]; // a max-heap of keys: the worst of the best m on top
        for (int i = 0; i < m; i++) heap[i] = RankKey(values[i], i);
        for (int i = m / 2 - 1; i >= 0; i--) SiftDown(heap, i);
        for (int i = m; i < values.Length && m > 0; i++)
        {
            ulong key = RankKey(values[i], i);
            if (key >= heap[0]) continue;
            heap[0] = key;
            SiftDown(heap, 0);
        }
        Array.Sort(heap);
        var top = new int[m];
        for (int i = 0; i < m; i++) top[i] = (int)(uint)heap[i];
        return top;
    }

    /// <summary>A key that sorts larger values first and equal values by index: the value's bits mapped to an order
    /// that descends with it, above the index.</summary>
    static ulong RankKey(float value, int index)
    {
        if (value == 0) value = 0; // −0 ranks with +0
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint ascending = float.IsNaN(value) ? 0u : (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
        return (ulong)~ascending << 32 | (uint)index;
    }

    /// <summary>Restores the max-heap below <paramref name="i"/>.</summary>
    static void SiftDown(ulong[] heap, int i)
    {
        while (true)
        {
            int largest = i, left = 2 * i + 1, right = left + 1;
            if (left < heap.Length && heap[left] > heap[largest]) largest = left;
            if (right < heap.Length && heap[right] > heap[largest]) largest = right;
            if (largest == i) return;
            (heap[i], heap[largest]) = (heap[largest], heap[i]);
            i = largest;
        }
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
