using Recur.Kernels;

namespace Recur;

/// <summary>How a loss over a batch is reduced, as PyTorch's <c>reduction</c> argument.</summary>
public enum LossReduction
{
    /// <summary>PyTorch's <c>mean</c> (for CTC: each loss divided by its target length, then the batch mean).</summary>
    Mean,
    /// <summary>The sum over the batch.</summary>
    Sum,
    /// <summary>One loss per batch element, [B].</summary>
    None,
}

public static partial class Losses
{
    /// <summary>
    /// Connectionist temporal classification (Graves et al. 2006), as <c>torch.nn.functional.ctc_loss</c>:
    /// −log p(target | input), summed over every alignment of the target to the input steps that inserts blanks and
    /// repeats labels. <paramref name="logProbs"/> [T, B, C] are log-probabilities (log-softmax output);
    /// <paramref name="targets"/> holds each element's labels (none of them the blank); <paramref name="inputLengths"/>
    /// the steps of each element that count. Forward and backward run in log space in double precision. A target that
    /// cannot be aligned (too long for its input) has an infinite loss; <paramref name="zeroInfinity"/> makes that loss
    /// and its gradient 0. The gradient is the exact derivative with respect to <paramref name="logProbs"/>.
    /// </summary>
    public static Tensor Ctc(Tensor logProbs, IReadOnlyList<int[]> targets, int[] inputLengths, int blank = 0,
        LossReduction reduction = LossReduction.Mean, bool zeroInfinity = false)
    {
        if (logProbs.Rank != 3) throw new ArgumentException($"Ctc: log-probabilities {Shapes.Format(
            logProbs.Shape)} are not [T, B, C].");
        int steps = logProbs.Size(0), batch = logProbs.Size(1), classes = logProbs.Size(2);
        if (targets.Count != batch || inputLengths.Length != batch)
            throw new ArgumentException(
                $"Ctc: {targets.Count} targets and {inputLengths.Length} input lengths for a batch of {batch}.");
        if ((uint)blank >= (uint)classes) throw new ArgumentException(
            $"Ctc: blank {blank} is not one of the {classes} classes.");
        for (int b = 0; b < batch; b++)
        {
            if (inputLengths[b] < 0 || inputLengths[b] > steps)
                throw new ArgumentException(
                    $"Ctc: input length {inputLengths[b]} of element {b} is outside [0, {steps}].");
            foreach (int label in targets[b])
                if ((uint)label >= (uint)classes || label == blank)
                    throw new ArgumentException($"Ctc: target {b} holds label {label}: labels are in [0, {classes}) "
                        + $"and not the blank {blank}.");
        }
        var lp = logProbs.Span;
        var losses = new double[batch];
        var posteriors = new double[batch][]; // [T_b · C]: the probability that the alignment emits class k at step t
        for (int b = 0; b < batch; b++)
            (losses[b], posteriors[b]) = ForwardBackward(lp, steps, batch, classes, b, inputLengths[b], targets[b],
                blank);
        var scale = new double[batch];
        for (int b = 0; b < batch; b++)
        {
            bool infinite = double.IsPositiveInfinity(losses[b]);
            if (infinite && zeroInfinity) losses[b] = 0;
            scale[b] = infinite && zeroInfinity ? 0 : reduction switch
            {
                LossReduction.Mean => 1.0 / (Math.Max(targets[b].Length, 1) * batch),
                _ => 1.0,
            };
        }
        Tensor output = reduction == LossReduction.None
            ? Tensor.FromArray(losses.Select(l => (float)l).ToArray(), batch)
            : Tensor.Scalar((float)losses.Select((l, b) => reduction == LossReduction.Mean ? l * scale[b] : l).Sum());
        return Tensor.Result(output, logProbs, g =>
        {
            if (!logProbs.RequiresGrad) return;
            var grad = logProbs.GradSpan();
            for (int b = 0; b < batch; b++)
            {
                // ∂(−log p)/∂ log y_t(k) = −posterior_t(k); an infinite loss has no usable gradient
                double factor = (reduction == LossReduction.None ? g.Span[b] : g.Span[0]) * scale[b];
                if (factor == 0 || double.IsPositiveInfinity(losses[b])) continue;
                var posterior = posteriors[b];
                for (int t = 0; t < inputLengths[b]; t++)
                    for (int k = 0; k < classes; k++) grad[(t * batch + b) * classes
                        + k] -= (float)(factor * posterior[t * classes + k]);
            }
        });
    }

    /// <summary>−log p(target) and the posterior of every (step, class) for one batch element, in log space.</summary>
    static (double Loss, double[] Posterior) ForwardBackward(ReadOnlySpan<float> lp, int steps, int batch, int classes,
        int b, int length, int[] target, int blank)
    {
        int states = 2 * target.Length + 1;
        var posterior = new double[length * classes];
        if (length == 0) return (target.Length == 0 ? 0 : double.PositiveInfinity, posterior);
        int Label(int s) => s % 2 == 0 ? blank : target[s / 2];
        int At(int t, int k) => (t * batch + b) * classes + k;
        // a label may skip the blank before it unless it repeats the label two states back
        bool CanSkip(int s) => s >= 2 && s % 2 == 1 && target[s / 2] != target[s / 2 - 1];
        var alpha = new double[length * states];
        var beta = new double[length * states];
        alpha.AsSpan().Fill(double.NegativeInfinity);
        beta.AsSpan().Fill(double.NegativeInfinity);
        alpha[0] = lp[At(0, blank)];
        if (states > 1) alpha[1] = lp[At(0, Label(1))];
        Span<double> terms = stackalloc double[3];
        for (int t = 1; t < length; t++)
            for (int s = 0; s < states; s++)
            {
                int n = 0;
                terms[n++] = alpha[(t - 1) * states + s];
                if (s >= 1) terms[n++] = alpha[(t - 1) * states + s - 1];
                if (CanSkip(s)) terms[n++] = alpha[(t - 1) * states + s - 2];
                alpha[t * states + s] = Scores.LogSumExp(terms[..n]) + lp[At(t, Label(s))];
            }
        int last = (length - 1) * states;
        double logP = states > 1 ? Scores.LogSumExp([alpha[last + states - 1], alpha[last + states - 2]]) : alpha[last];
        if (double.IsNegativeInfinity(logP)) return (double.PositiveInfinity, posterior);
        beta[last + states - 1] = lp[At(length - 1, Label(states - 1))];
        if (states > 1) beta[last + states - 2] = lp[At(length - 1, Label(states - 2))];
        for (int t = length - 2; t >= 0; t--)
            for (int s = 0; s < states; s++)
            {
                int n = 0;
                terms[n++] = beta[(t + 1) * states + s];
                if (s + 1 < states) terms[n++] = beta[(t + 1) * states + s + 1];
                if (s + 2 < states && CanSkip(s + 2)) terms[n++] = beta[(t + 1) * states + s + 2];
                beta[t * states + s] = Scores.LogSumExp(terms[..n]) + lp[At(t, Label(s))];
            }
        // α_t(s)·β_t(s)/y_t(l'_s) sums the paths through state s at step t
        for (int t = 0; t < length; t++)
            for (int s = 0; s < states; s++)
            {
                double log = alpha[t * states + s] + beta[t * states + s] - lp[At(t, Label(s))] - logP;
                if (!double.IsNegativeInfinity(log)) posterior[t * classes + Label(s)] += Math.Exp(log);
            }
        return (-logP, posterior);
    }
}
