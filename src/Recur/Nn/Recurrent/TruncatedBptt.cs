using Recur.Autograd;

namespace Recur.Nn.Recurrent;

/// <summary>
/// Truncated backpropagation through time over a long time-major stream [T, B, in], BPTT(k1, k2) in the notation of
/// Williams &amp; Peng (1990): every <c>k1</c> new steps, the layer runs over the last <c>k2</c> steps from the state
/// at their start (detached, so no gradient flows further back), the loss of the newest k1 outputs is back-propagated
/// through those k2 steps, and a callback (clip, optimizer step, zero gradients) runs. With k1 = k2 this is the usual
/// chunked training with the state carried across chunks. The state carries over between calls until
/// <see cref="Reset"/>; a window does not reach back into an earlier call's steps.
/// </summary>
public sealed class TruncatedBptt
{
    readonly RecurrentLayer layer;
    Tensor? hidden, cell;

    /// <summary>Steps between updates.</summary>
    public int K1 { get; }

    /// <summary>Steps each update back-propagates through (≥ k1).</summary>
    public int K2 { get; }

    /// <summary>Creates the schedule for <paramref name="layer"/> (time-major, without variable lengths).</summary>
    public TruncatedBptt(RecurrentLayer layer, int k1, int k2)
    {
        if (k1 < 1 || k2 < k1) throw new ArgumentException($"TruncatedBptt: need 1 ≤ k1 ≤ k2, got k1={k1}, k2={k2}.");
        if (layer.Config.BatchFirst) throw new ArgumentException(
            "TruncatedBptt: the layer must be time-major (batchFirst: false).");
        (this.layer, K1, K2) = (layer, k1, k2);
    }

    /// <summary>The state carried into the next call (detached), or null at the start.</summary>
    public (Tensor? Hidden, Tensor? Cell) State => (hidden, cell);

    /// <summary>Forgets the carried state (start of a new stream).</summary>
    public void Reset() => (hidden, cell) = (null, null);

    /// <summary>
    /// Runs the schedule over <paramref name="sequence"/>. <paramref name="lossOf"/> receives the outputs of the newest
    /// steps [k, B, D·H] and the stream time of the first of them, and returns a scalar loss;
    /// <paramref name="afterBackward"/> runs after each backward. Returns the mean of the window losses.
    /// </summary>
    public float Run(Tensor sequence, Func<Tensor, int, Tensor> lossOf, Action? afterBackward = null)
    {
        int steps = sequence.Size(0);
        var (startHidden, startCell) = (hidden, cell); // state at windowStart
        int windowStart = 0, previousEnd = 0;
        double totalLoss = 0;
        int windows = 0;
        while (previousEnd < steps)
        {
            int end = Math.Min(previousEnd + K1, steps);
            // k1 = k2 is plain chunking (a short last chunk stays short); otherwise the window reaches back k2 steps
            int start = K1 == K2 ? previousEnd : Math.Max(0, end - K2);
            if (start > windowStart)
                (startHidden, startCell) = Advance(sequence, windowStart, start, startHidden, startCell);
            windowStart = start;
            var output = layer.Forward(sequence.Slice(0, start, end - start), startHidden, startCell);
            var loss = lossOf(output.Output.Slice(0, previousEnd - start, end - previousEnd), previousEnd);
            if (!loss.RequiresGrad || loss.Length != 1)
                throw new InvalidOperationException(
                    "TruncatedBptt: the loss must be a scalar that depends on the outputs.");
            float value = loss.Item();
            if (!float.IsFinite(value))
                throw new ArithmeticException(
                    $"TruncatedBptt: the loss is {value} in the window ending at step {end}.");
            loss.Backward();
            afterBackward?.Invoke();
            totalLoss += value;
            windows++;
            if (K1 == K2 || end == steps)
            {
                // the next window starts where this one ended (k1 = k2) or there is none: take the final state as is
                (startHidden, startCell) = (output.HiddenState.Detach(), output.CellState?.Detach());
                windowStart = end;
            }
            previousEnd = end;
        }
        (hidden, cell) = (startHidden, startCell); // the state at the end of the sequence
        return (float)(totalLoss / Math.Max(windows, 1));
    }

    /// <summary>The state after running from <paramref name="from"/> to <paramref name="to"/>, without
    /// gradients.</summary>
    (Tensor?, Tensor?) Advance(Tensor sequence, int from, int to, Tensor? h, Tensor? c)
    {
        using var _ = GradMode.NoGrad();
        var output = layer.Forward(sequence.Slice(0, from, to - from), h, c);
        return (output.HiddenState, output.CellState);
    }
}
