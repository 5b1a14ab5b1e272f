using Recur.Kernels;

namespace Recur.Decoding;

/// <summary>One decoded label sequence and its log-probability under the decoder's search.</summary>
/// <param name="Labels">The labels, blanks and repeats collapsed.</param>
/// <param name="LogProbability">Greedy: the log-probability of the best path; beam: of the label sequence (all its
/// paths).</param>
public sealed record CtcHypothesis(int[] Labels, double LogProbability);

/// <summary>
/// Turns per-step log-probabilities [T, C] of a CTC model into label sequences: the best path collapsed (greedy), or a
/// prefix beam search that sums every path of a prefix (Hannun et al. 2014), which can find a more probable labelling
/// than the single best path.
/// </summary>
public static class CtcDecoder
{
    /// <summary>The most probable class at each step, repeats merged, blanks dropped.</summary>
    public static CtcHypothesis Greedy(ReadOnlySpan<float> logProbs, int steps, int classes, int blank = 0)
    {
        Check(logProbs, steps, classes, blank);
        var labels = new List<int>();
        int previous = -1;
        double total = 0;
        for (int t = 0; t < steps; t++)
        {
            var row = logProbs.Slice(t * classes, classes);
            int best = Scores.ArgMax(row);
            total += row[best];
            if (best != blank && best != previous) labels.Add(best);
            previous = best;
        }
        return new CtcHypothesis([.. labels], total);
    }

    /// <summary>
    /// Prefix beam search of width <paramref name="beamWidth"/>: each prefix keeps the log-probability of its paths
    /// ending in a blank and of those ending in its last label, so that repeats and blanks are counted as CTC does.
    /// Returns the hypotheses best first (at most <paramref name="beamWidth"/>).
    /// </summary>
    public static IReadOnlyList<CtcHypothesis> Beam(ReadOnlySpan<float> logProbs, int steps, int classes, int beamWidth,
        int blank = 0)
    {
        Check(logProbs, steps, classes, blank);
        if (beamWidth < 1) throw new ArgumentException($"CtcDecoder: beam width must be positive, got {beamWidth}.");
        var beams = new Dictionary<string, (int[] Prefix, double Blank, double Label)>
        {
            [""] = ([], 0,
            double.NegativeInfinity)
        };
        for (int t = 0; t < steps; t++)
        {
            var row = logProbs.Slice(t * classes, classes);
            var next = new Dictionary<string, (int[] Prefix, double Blank, double Label)>();
            void Add(int[] prefix, double blankScore, double labelScore)
            {
                string key = string.Join(',', prefix);
                var (_, b, l) = next.TryGetValue(key, out var old) ? old : (prefix, double.NegativeInfinity,
                    double.NegativeInfinity);
                next[key] = (prefix, Scores.LogSumExp([b, blankScore]), Scores.LogSumExp([l, labelScore]));
            }
            foreach (var (prefix, pBlank, pLabel) in beams.Values)
            {
                double all = Scores.LogSumExp([pBlank, pLabel]);
                Add(prefix, all + row[blank], double.NegativeInfinity); // a blank keeps the prefix
                for (int k = 0; k < classes; k++)
                {
                    if (k == blank) continue;
                    if (prefix.Length > 0 && prefix[^1] == k)
                    {
                        // the repeat merges into the last label
                        Add(prefix, double.NegativeInfinity, pLabel + row[k]);
                        // after a blank it is a new label
                        Add([.. prefix, k], double.NegativeInfinity, pBlank + row[k]);
                    }
                    else Add([.. prefix, k], double.NegativeInfinity, all + row[k]);
                }
            }
            beams = next.OrderByDescending(p => Scores.LogSumExp([p.Value.Blank, p.Value.Label])).ThenBy(p => p.Key,
                StringComparer.Ordinal)
                .Take(beamWidth).ToDictionary(p => p.Key, p => p.Value);
        }
        return beams.Values.Select(v => new CtcHypothesis(v.Prefix, Scores.LogSumExp([v.Blank, v.Label])))
            .OrderByDescending(h => h.LogProbability).ToList();
    }

    static void Check(ReadOnlySpan<float> logProbs, int steps, int classes, int blank)
    {
        if (steps < 0 || classes < 1 || logProbs.Length != steps * classes)
            throw new ArgumentException(
                $"CtcDecoder: {logProbs.Length} values are not {steps} steps × {classes} classes.");
        if ((uint)blank >= (uint)classes) throw new ArgumentException(
            $"CtcDecoder: blank {blank} is not one of the {classes} classes.");
    }
}
