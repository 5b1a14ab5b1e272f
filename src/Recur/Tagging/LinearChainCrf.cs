using Recur.Nn;

namespace Recur.Tagging;

/// <summary>
/// A linear-chain conditional random field over tag sequences (Lafferty et al. 2001; on top of a BiLSTM as in Huang et
/// al. 2015 and Lample et al. 2016). The score of tags y for emissions e is start[y₀] + Σₜ e[t, yₜ] + Σₜ trans[yₜ₋₁,
/// yₜ] + end[y_last]; the loss is the negative log-likelihood log Z − score(gold), with log Z from the forward
/// algorithm and its gradient from forward–backward marginals, all in double precision in one tape node. Decoding is
/// Viterbi. Transitions that a tag scheme forbids (<see cref="TagSchemes.Allowed"/>) get a fixed −10⁴ added, so that
/// neither training nor decoding puts weight on an ill-formed sequence. Parameters are named as pytorch-crf's:
/// <c>transitions</c> [K, K] (from, to), <c>start_transitions</c> [K], <c>end_transitions</c> [K].
/// </summary>
public sealed class LinearChainCrf : Module
{
    const double Forbidden = -1e4;
    readonly double[] penalty, startPenalty, endPenalty;

    /// <summary>Number of tags K.</summary>
    public int TagCount { get; }

    /// <summary>Transition scores [K, K] from row tag to column tag.</summary>
    public Tensor Transitions { get; }

    /// <summary>Scores of starting with each tag [K].</summary>
    public Tensor StartTransitions { get; }

    /// <summary>Scores of ending with each tag [K].</summary>
    public Tensor EndTransitions { get; }

    /// <summary>
    /// Creates the CRF with scores uniform in ±0.1. <paramref name="allowed"/>(from, to) says whether a move is
    /// possible (null stands for the start or the end); without it every move is.
    /// </summary>
    public LinearChainCrf(int tags, RandomGenerator random, Func<int?, int?, bool>? allowed = null)
    {
        if (tags < 1) throw new ArgumentException($"LinearChainCrf: need at least one tag, got {tags}.");
        TagCount = tags;
        Transitions = RegisterParameter("transitions", Tensor.RandomUniform(random, [tags, tags], -0.1f, 0.1f));
        StartTransitions = RegisterParameter("start_transitions", Tensor.RandomUniform(random, [tags], -0.1f, 0.1f));
        EndTransitions = RegisterParameter("end_transitions", Tensor.RandomUniform(random, [tags], -0.1f, 0.1f));
        penalty = new double[tags * tags];
        startPenalty = new double[tags];
        endPenalty = new double[tags];
        if (allowed is null) return;
        for (int i = 0; i < tags; i++)
        {
            if (!allowed(null, i)) startPenalty[i] = Forbidden;
            if (!allowed(i, null)) endPenalty[i] = Forbidden;
            for (int j = 0; j < tags; j++) if (!allowed(i, j)) penalty[i * tags + j] = Forbidden;
        }
    }

    /// <summary>
    /// The scores decoding uses: the transition, start and end scores with the forbidden moves' penalty (−1e4) added.
    /// </summary>
    internal (float[] Transitions, float[] Start, float[] End) DecodingScores()
    {
        static float[] Add(Tensor scores, double[] penalties) =>
            scores.ToArray().Select((s, i) => (float)(s + penalties[i])).ToArray();
        return (Add(Transitions, penalty), Add(StartTransitions, startPenalty), Add(EndTransitions, endPenalty));
    }

    /// <summary>For tag names in <paramref name="scheme"/>: forbids the moves no well-formed sequence makes.</summary>
    public static Func<int?, int?, bool> Constraints(IReadOnlyList<string> tagNames, TagScheme scheme) =>
        (from, to) => TagSchemes.Allowed(from is int f ? tagNames[f] : null, to is int t ? tagNames[t] : null, scheme);

    void Check(Tensor emissions, int[] lengths)
    {
        if (emissions.Rank != 3 || emissions.Size(2) != TagCount)
            throw new ArgumentException(
                $"LinearChainCrf: emissions {Shapes.Format(emissions.Shape)} are not [T, B, {TagCount}].");
        if (lengths.Length != emissions.Size(1)) throw new ArgumentException(
            $"LinearChainCrf: {lengths.Length} lengths for a batch of {emissions.Size(1)}.");
        foreach (int length in lengths)
            if (length < 1
                || length > emissions.Size(0)) throw new ArgumentException(
                $"LinearChainCrf: length {length} is outside [1, {emissions.Size(0)}].");
    }

    static double LogSumExp(ReadOnlySpan<double> values) => Kernels.Scores.LogSumExp(values);

    /// <summary>log Z of each sequence of the batch, by the forward algorithm (no gradient).</summary>
    public double[] LogPartition(Tensor emissions, int[] lengths)
    {
        Check(emissions, lengths);
        int batch = emissions.Size(1);
        var result = new double[batch];
        for (int b = 0; b < batch; b++) result[b] = Forward(emissions, b, lengths[b], null);
        return result;
    }

    /// <summary>
    /// P(tag j at step t | emissions) of each batch entry, by the forward–backward algorithm (no gradient): [b][t][j]
    /// over each entry's length, every row summing to 1. These are the tagger's per-token confidences, which the
    /// Viterbi path (<see cref="Decode"/>) alone does not give.
    /// </summary>
    public double[][][] Marginals(Tensor emissions, int[] lengths)
    {
        Check(emissions, lengths);
        int batch = emissions.Size(1), k = TagCount;
        var result = new double[batch][][];
        var terms = new double[k];
        for (int b = 0; b < batch; b++)
        {
            int length = lengths[b];
            var alpha = new double[length * k];
            double logZ = Forward(emissions, b, length, alpha);
            var beta = Backward(emissions, b, length, terms);
            result[b] = new double[length][];
            for (int t = 0; t < length; t++)
            {
                var row = result[b][t] = new double[k];
                for (int j = 0; j < k; j++) row[j] = Math.Exp(alpha[t * k + j] + beta[t * k + j] - logZ);
            }
        }
        return result;
    }

    /// <summary>
    /// The backward algorithm for sequence <paramref name="b"/>: β [length, K], β_t(i) = log Σ_j exp(trans(i, j) +
    /// e_{t+1}(j) + β_{t+1}(j)) and β_{T−1}(i) the end score; <paramref name="terms"/> is scratch of K values.
    /// </summary>
    double[] Backward(Tensor emissions, int b, int length, double[] terms)
    {
        int k = TagCount, batch = emissions.Size(1);
        var e = emissions.Span;
        var trans = Transitions.Span;
        var beta = new double[length * k];
        for (int i = 0; i < k; i++) beta[(length - 1) * k + i] = EndTransitions.Span[i] + endPenalty[i];
        for (int t = length - 2; t >= 0; t--)
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++)
                    terms[j] = trans[i * k + j] + penalty[i * k + j] + e[((t + 1) * batch + b) * k + j]
                        + beta[(t + 1) * k + j];
                beta[t * k + i] = LogSumExp(terms);
            }
        return beta;
    }

    /// <summary>The forward algorithm for sequence <paramref name="b"/>; fills α [length, K] when given.</summary>
    double Forward(Tensor emissions, int b, int length, double[]? alpha)
    {
        int k = TagCount, batch = emissions.Size(1);
        var e = emissions.Span;
        var trans = Transitions.Span;
        alpha ??= new double[length * k];
        for (int j = 0; j < k; j++) alpha[j] = StartTransitions.Span[j] + startPenalty[j] + e[b * k + j];
        var terms = new double[k];
        for (int t = 1; t < length; t++)
            for (int j = 0; j < k; j++)
            {
                for (int i = 0; i < k; i++) terms[i] = alpha[(t - 1) * k + i] + trans[i * k + j] + penalty[i * k + j];
                alpha[t * k + j] = LogSumExp(terms) + e[(t * batch + b) * k + j];
            }
        for (int j = 0; j < k; j++) terms[j] = alpha[(length - 1) * k + j] + EndTransitions.Span[j] + endPenalty[j];
        return LogSumExp(terms);
    }

    /// <summary>
    /// Mean over the batch of −log p(tags | emissions): <paramref name="emissions"/> [T, B, K] (time-major),
    /// <paramref name="tags"/>[t·B + b] the gold tags, <paramref name="lengths"/> each sequence's length (steps past it
    /// are ignored).
    /// </summary>
    public Tensor NegativeLogLikelihood(Tensor emissions, ReadOnlySpan<int> tags, int[] lengths)
    {
        Check(emissions, lengths);
        int steps = emissions.Size(0), batch = emissions.Size(1), k = TagCount;
        if (tags.Length != steps
            * batch) throw new ArgumentException(
            $"LinearChainCrf: {tags.Length} tags for emissions {Shapes.Format(emissions.Shape)}.");
        var gold = tags.ToArray();
        var e = emissions.Span;
        var trans = Transitions.Span;
        // gradients of the summed loss, filled in the forward pass and scaled by the upstream gradient later
        var dEmissions = new float[emissions.Length];
        var dTransitions = new double[k * k];
        var dStart = new double[k];
        var dEnd = new double[k];
        double total = 0;
        var terms = new double[k];
        for (int b = 0; b < batch; b++)
        {
            int length = lengths[b];
            for (int t = 0; t < length; t++)
                if ((uint)gold[t * batch
                    + b] >= (uint)k) throw new ArgumentException(
                    $"LinearChainCrf: tag {gold[t * batch + b]} at step {t} of sequence {b} is not in [0, {k}).");
            var alpha = new double[length * k];
            double logZ = Forward(emissions, b, length, alpha);
            var beta = Backward(emissions, b, length, terms);
            // score of the gold path
            int first = gold[b], last = gold[(length - 1) * batch + b];
            double score = StartTransitions.Span[first] + startPenalty[first] + EndTransitions.Span[last]
                + endPenalty[last];
            for (int t = 0; t < length; t++)
            {
                int y = gold[t * batch + b];
                score += e[(t * batch + b) * k + y];
                if (t > 0) score += trans[gold[(t - 1) * batch + b] * k + y] + penalty[gold[(t - 1) * batch + b] * k
                    + y];
            }
            total += logZ - score;
            // marginals − gold indicators
            for (int t = 0; t < length; t++)
                for (int j = 0; j < k; j++)
                    dEmissions[(t * batch + b) * k + j] = (float)Math.Exp(alpha[t * k + j] + beta[t * k + j] - logZ);
            for (int j = 0; j < k; j++)
            {
                dStart[j] += dEmissions[b * k + j];
                dEnd[j] += dEmissions[((length - 1) * batch + b) * k + j];
            }
            for (int t = 1; t < length; t++)
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++)
                        dTransitions[i * k + j] += Math.Exp(alpha[(t - 1) * k + i] + trans[i * k + j] + penalty[i * k
                            + j] + e[(t * batch + b) * k + j] + beta[t * k + j] - logZ);
            for (int t = 0; t < length; t++)
            {
                int y = gold[t * batch + b];
                dEmissions[(t * batch + b) * k + y] -= 1f;
                if (t > 0) dTransitions[gold[(t - 1) * batch + b] * k + y] -= 1;
            }
            dStart[first] -= 1;
            dEnd[last] -= 1;
        }
        var output = Tensor.Scalar((float)(total / batch));
        return Tensor.Result(output, [emissions, Transitions, StartTransitions, EndTransitions], g =>
        {
            float scale = g.Span[0] / batch;
            var scaled = new float[dEmissions.Length];
            for (int i = 0; i < scaled.Length; i++) scaled[i] = dEmissions[i] * scale;
            emissions.AccumulateGrad(scaled);
            Transitions.AccumulateGrad(dTransitions.Select(v => (float)(v * scale)).ToArray());
            StartTransitions.AccumulateGrad(dStart.Select(v => (float)(v * scale)).ToArray());
            EndTransitions.AccumulateGrad(dEnd.Select(v => (float)(v * scale)).ToArray());
        });
    }

    /// <summary>The most likely tag sequence of each batch entry (Viterbi), of its length.</summary>
    public int[][] Decode(Tensor emissions, int[] lengths)
    {
        Check(emissions, lengths);
        int batch = emissions.Size(1), k = TagCount;
        var e = emissions.Span;
        var trans = Transitions.Span;
        var result = new int[batch][];
        for (int b = 0; b < batch; b++)
        {
            int length = lengths[b];
            var delta = new double[k];
            var next = new double[k];
            var backPointers = new int[length * k];
            for (int j = 0; j < k; j++) delta[j] = StartTransitions.Span[j] + startPenalty[j] + e[b * k + j];
            for (int t = 1; t < length; t++)
            {
                for (int j = 0; j < k; j++)
                {
                    int best = 0;
                    double bestScore = double.NegativeInfinity;
                    for (int i = 0; i < k; i++)
                    {
                        double s = delta[i] + trans[i * k + j] + penalty[i * k + j];
                        if (s > bestScore) (bestScore, best) = (s, i);
                    }
                    next[j] = bestScore + e[(t * batch + b) * k + j];
                    backPointers[t * k + j] = best;
                }
                (delta, next) = (next, delta);
            }
            int tag = 0;
            double top = double.NegativeInfinity;
            for (int j = 0; j < k; j++)
            {
                double s = delta[j] + EndTransitions.Span[j] + endPenalty[j];
                if (s > top) (top, tag) = (s, j);
            }
            var path = new int[length];
            for (int t = length - 1; t >= 0; t--)
            {
                path[t] = tag;
                tag = backPointers[t * k + tag];
            }
            result[b] = path;
        }
        return result;
    }
}
