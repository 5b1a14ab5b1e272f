namespace Recur.Memory;

/// <summary>A batch of a sequence task: inputs [T, B, inputs], targets [T', B, outputs] and the step where the
/// targets begin (the outputs before it are not scored).</summary>
/// <param name="Inputs">[T, B, inputs].</param>
/// <param name="Targets">[T − <paramref name="AnswerStart"/>, B, outputs], each 0 or 1.</param>
/// <param name="AnswerStart">The first output step that is scored.</param>
public sealed record SequenceBatch(Tensor Inputs, Tensor Targets, int AnswerStart);

/// <summary>
/// The copy task of Graves et al. (2014): a sequence of random binary vectors, then a delimiter on a channel of its
/// own, then as many blank steps during which the network must reproduce the sequence. Trained on lengths 1–20 and
/// tested on longer ones, it shows whether a network has learned an algorithm (write, then read back in order) or only
/// the lengths it saw.
/// </summary>
public static class CopyTask
{
    /// <summary>
    /// <paramref name="batch"/> sequences of <paramref name="length"/> random vectors of <paramref name="bits"/> bits:
    /// inputs [2·length + 1, B, bits + 1] (the last channel is the delimiter), targets [length, B, bits] for the steps
    /// after the delimiter.
    /// </summary>
    public static SequenceBatch Batch(RandomGenerator random, int length, int batch, int bits = 8)
    {
        if (length < 1 || batch < 1 || bits < 1)
            throw new ArgumentException($"CopyTask: length, batch and bits must be positive, got {length}, {batch}, "
                + $"{bits}.");
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

    /// <summary>Mean number of wrong bits per sequence when <paramref name="logits"/> [T', B, bits] (the answer steps)
    /// are thresholded at 0 — the measure of Graves et al.</summary>
    public static double BitErrors(Tensor logits, Tensor targets)
    {
        if (!logits.Shape.SequenceEqual(targets.Shape))
            throw new ArgumentException($"CopyTask: logits {ShapeUtil.Format(logits.Shape)} and targets "
                + $"{ShapeUtil.Format(targets.Shape)} differ.");
        var l = logits.Span;
        var y = targets.Span;
        int wrong = 0;
        for (int i = 0; i < l.Length; i++) wrong += (l[i] > 0) != (y[i] > 0.5f) ? 1 : 0;
        return (double)wrong / targets.Size(1);
    }
}
