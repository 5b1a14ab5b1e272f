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
    /// With <paramref name="fusion"/>, a language model's scores join the acoustic ones (shallow fusion) in the ranking
    /// of prefixes and of the final hypotheses. Returns the hypotheses best first (at most <paramref
    /// name="beamWidth"/>),
    /// each with its acoustic log-probability plus, under fusion, the language-model terms.
    /// </summary>
    public static IReadOnlyList<CtcHypothesis> Beam(ReadOnlySpan<float> logProbs, int steps, int classes, int beamWidth,
        int blank = 0, LanguageModelFusion? fusion = null)
    {
        Check(logProbs, steps, classes, blank);
        if (beamWidth < 1) throw new ArgumentException($"CtcDecoder: beam width must be positive, got {beamWidth}.");
        var beams = new Dictionary<string, Prefix> { [""] = new([], 0, double.NegativeInfinity, 0) };
        for (int t = 0; t < steps; t++)
        {
            var row = logProbs.Slice(t * classes, classes);
            var next = new Dictionary<string, Prefix>();
            void Add(int[] prefix, double blankScore, double labelScore, Func<double> languageScore)
            {
                string key = string.Join(',', prefix);
                if (next.TryGetValue(key, out var old))
                    next[key] = old with
                    {
                        Blank = Scores.LogSumExp([old.Blank, blankScore]),
                        Label = Scores.LogSumExp([old.Label, labelScore]),
                    };
                else next[key] = new(prefix, blankScore, labelScore, languageScore());
            }
            foreach (var beam in beams.Values)
            {
                var (prefix, pBlank, pLabel, language) = beam;
                double all = Scores.LogSumExp([pBlank, pLabel]);
                Add(prefix, all + row[blank], double.NegativeInfinity, () => language); // a blank keeps the prefix
                for (int k = 0; k < classes; k++)
                {
                    if (k == blank) continue;
                    int label = k;
                    int[] extended = [.. prefix, k];
                    double Extended() => fusion is null ? 0 : language + fusion.Weight
                        * fusion.Model.LogProbability(prefix, label) + fusion.InsertionBonus;
                    if (prefix.Length > 0 && prefix[^1] == k)
                    {
                        // the repeat merges into the last label
                        Add(prefix, double.NegativeInfinity, pLabel + row[k], () => language);
                        // after a blank it is a new label
                        Add(extended, double.NegativeInfinity, pBlank + row[k], Extended);
                    }
                    else Add(extended, double.NegativeInfinity, all + row[k], Extended);
                }
            }
            beams = next.OrderByDescending(p => p.Value.Score).ThenBy(p => p.Key, StringComparer.Ordinal)
                .Take(beamWidth).ToDictionary(p => p.Key, p => p.Value);
        }
        return beams.Values.Select(v => new CtcHypothesis(v.Labels, v.Score + (fusion is null ? 0
                : fusion.Weight * fusion.Model.LogProbability(v.Labels, LabelNgram.End))))
            .OrderByDescending(h => h.LogProbability).ToList();
    }

    /// <summary>A prefix of the beam: its paths' log-probabilities ending in a blank and in its last label, and its
    /// language-model score so far.</summary>
    sealed record Prefix(int[] Labels, double Blank, double Label, double Language)
    {
        public double Score => Scores.LogSumExp([Blank, Label]) + Language;
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
