namespace Recur.Training;

/// <summary>Orders examples into mini-batches for <see cref="ITrainingTask{TBatch}.Batches"/>.</summary>
public static class Batching
{
    /// <summary>All indices 0…count−1 shuffled, cut into batches of <paramref name="batchSize"/> (the last may be
    /// smaller).</summary>
    public static IEnumerable<int[]> Shuffled(int count, int batchSize, RandomGenerator shuffle)
    {
        Check(count, batchSize);
        var order = Enumerable.Range(0, count).ToArray();
        shuffle.Shuffle(order.AsSpan());
        for (int i = 0; i < count; i += batchSize) yield return order[i..Math.Min(count, i + batchSize)];
    }

    /// <summary>
    /// Bucketing by length for variable-length data: examples are shuffled, then sorted by length within pools of
    /// <paramref name="poolBatches"/> batches, cut into batches of similar lengths (little padding), and the batches
    /// are shuffled again so that lengths do not drift over an epoch. Every example appears exactly once.
    /// </summary>
    public static IEnumerable<int[]> BucketedByLength(IReadOnlyList<int> lengths, int batchSize,
        RandomGenerator shuffle, int poolBatches = 50)
    {
        Check(lengths.Count, batchSize);
        if (poolBatches < 1) throw new ArgumentOutOfRangeException(nameof(poolBatches), poolBatches,
            "must be positive");
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        shuffle.Shuffle(order.AsSpan());
        var batches = new List<int[]>();
        int pool = batchSize * poolBatches;
        for (int start = 0; start < order.Length; start += pool)
        {
            // a stable sort keeps the shuffled order among equal lengths
            var sorted = order[start..Math.Min(order.Length, start + pool)].OrderBy(i => lengths[i]).ToArray();
            for (int i = 0; i < sorted.Length; i += batchSize) batches.Add(sorted[i..Math.Min(sorted.Length,
                i + batchSize)]);
        }
        var batchOrder = batches.ToArray();
        shuffle.Shuffle(batchOrder.AsSpan());
        return batchOrder;
    }

    static void Check(int count, int batchSize)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "must be non-negative");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
            "batch size must be positive");
    }
}
