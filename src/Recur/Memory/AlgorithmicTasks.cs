namespace Recur.Memory;

/// <summary>A batch of a sequence task: inputs [T, B, inputs], targets [T', B, outputs] and the step where the
/// targets begin (the outputs before it are not scored).</summary>
/// <param name="Inputs">[T, B, inputs].</param>
/// <param name="Targets">[T − <paramref name="AnswerStart"/>, B, outputs], each 0 or 1.</param>
/// <param name="AnswerStart">The first output step that is scored.</param>
public sealed record SequenceBatch(Tensor Inputs, Tensor Targets, int AnswerStart)
{
    /// <summary>Mean number of wrong bits per sequence when <paramref name="logits"/> [T', B, outputs] (the answer
    /// steps) are thresholded at 0 — the measure of Graves et al. (2014).</summary>
    public double BitErrors(Tensor logits)
    {
        if (!logits.Shape.SequenceEqual(Targets.Shape))
            throw new ArgumentException($"SequenceBatch: logits {Shapes.Format(logits.Shape)} and targets "
                + $"{Shapes.Format(Targets.Shape)} differ.");
        var l = logits.Span;
        var y = Targets.Span;
        int wrong = 0;
        for (int i = 0; i < l.Length; i++) wrong += (l[i] > 0) != (y[i] > 0.5f) ? 1 : 0;
        return (double)wrong / Targets.Size(1);
    }
}

/// <summary>The algorithmic tasks of the Neural Turing Machine paper (Graves, Wayne &amp; Danihelka 2014).</summary>
public enum AlgorithmicTask
{
    /// <summary>
    /// Copy: a sequence of random binary vectors, a delimiter on a channel of its own, then as many blank steps during
    /// which the network must reproduce the sequence. Its length is the number of vectors.
    /// </summary>
    Copy,

    /// <summary>
    /// Associative recall: items of three random binary vectors, each after a delimiter; then a query item between two
    /// query delimiters (a second extra channel), and the network must answer with the item that followed the query in
    /// the list. Its length is the number of items.
    /// </summary>
    AssociativeRecall,
}

/// <summary>Batches of the <see cref="AlgorithmicTask"/>s, generated from a seed.</summary>
public static class AlgorithmicTasks
{
    /// <summary>Vectors per item of associative recall.</summary>
    public const int ItemLength = 3;

    /// <summary>Input channels of <paramref name="task"/> with vectors of <paramref name="bits"/> bits: the bits and
    /// one delimiter channel (copy) or two (recall).</summary>
    public static int Inputs(AlgorithmicTask task, int bits) => bits + (task == AlgorithmicTask.Copy ? 1 : 2);

    /// <summary>Bits per vector unless told otherwise: 8 for copy, 6 for recall, as in the paper.</summary>
    public static int DefaultBits(AlgorithmicTask task) => task == AlgorithmicTask.Copy ? 8 : 6;

    /// <summary>The shortest length of <paramref name="task"/>: one vector, or two items.</summary>
    public static int MinLength(AlgorithmicTask task) => task == AlgorithmicTask.Copy ? 1 : 2;

    /// <summary><paramref name="batch"/> sequences of <paramref name="task"/> at <paramref name="length"/>.</summary>
    public static SequenceBatch Batch(AlgorithmicTask task, RandomGenerator random, int length, int batch, int bits)
        => task == AlgorithmicTask.Copy ? Copy(random, length, batch, bits)
            : AssociativeRecall(random, length, batch, bits);

    /// <summary>
    /// <paramref name="batch"/> copy sequences of <paramref name="length"/> random vectors of <paramref name="bits"/>
    /// bits: inputs [2·length + 1, B, bits + 1] (the last channel is the delimiter), targets [length, B, bits] for the
    /// steps after the delimiter.
    /// </summary>
    public static SequenceBatch Copy(RandomGenerator random, int length, int batch, int bits = 8)
    {
        Check(length, 1, batch, bits);
        int steps = 2 * length + 1, channels = bits + 1;
        var inputs = new float[steps * batch * channels];
        var targets = new float[length * batch * bits];
        for (int t = 0; t < length; t++)
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < bits; k++)
                {
                    float bit = random.NextInt(2);
                    inputs[(t * batch + b) * channels + k] = bit;
                    targets[(t * batch + b) * bits + k] = bit;
                }
        for (int b = 0; b < batch; b++) inputs[(length * batch + b) * channels + bits] = 1; // the delimiter
        return new(Tensor.FromArray(inputs, steps, batch, channels), Tensor.FromArray(targets, length, batch, bits),
            length + 1);
    }

    /// <summary>
    /// <paramref name="batch"/> associative-recall sequences of <paramref name="items"/> items (at least 2) of
    /// <see cref="ItemLength"/> vectors: each item follows a step on delimiter channel <paramref name="bits"/>; then
    /// the query — a random item other than the last — between two steps on channel <paramref name="bits"/> + 1; then
    /// <see cref="ItemLength"/> blank steps for the answer, the item after the query. Inputs
    /// [items·(L + 1) + L + 2 + L, B, bits + 2], targets [L, B, bits].
    /// </summary>
    public static SequenceBatch AssociativeRecall(RandomGenerator random, int items, int batch, int bits = 6)
    {
        Check(items, 2, batch, bits);
        const int L = ItemLength;
        int channels = bits + 2, answerStart = items * (L + 1) + L + 2, steps = answerStart + L;
        var inputs = new float[steps * batch * channels];
        var targets = new float[L * batch * bits];
        var item = new float[items, L, bits];
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < items; i++)
                for (int v = 0; v < L; v++)
                    for (int k = 0; k < bits; k++) item[i, v, k] = random.NextInt(2);
            void Put(int step, int channel, float value) => inputs[(step * batch + b) * channels + channel] = value;
            for (int i = 0; i < items; i++)
            {
                Put(i * (L + 1), bits, 1);
                for (int v = 0; v < L; v++)
                    for (int k = 0; k < bits; k++) Put(i * (L + 1) + 1 + v, k, item[i, v, k]);
            }
            int query = random.NextInt(items - 1), start = items * (L + 1);
            Put(start, bits + 1, 1);
            for (int v = 0; v < L; v++)
                for (int k = 0; k < bits; k++)
                {
                    Put(start + 1 + v, k, item[query, v, k]);
                    targets[(v * batch + b) * bits + k] = item[query + 1, v, k];
                }
            Put(start + L + 1, bits + 1, 1);
        }
        return new(Tensor.FromArray(inputs, steps, batch, channels), Tensor.FromArray(targets, L, batch, bits),
            answerStart);
    }

    static void Check(int length, int minimum, int batch, int bits)
    {
        if (length < minimum || batch < 1 || bits < 1)
            throw new ArgumentException($"AlgorithmicTasks: length at least {minimum}, batch and bits positive; got "
                + $"{length}, {batch}, {bits}.");
    }
}
