using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Recur.Decoding;

/// <summary>A corpus BLEU score with its parts.</summary>
/// <param name="Score">BLEU × 100.</param>
/// <param name="Precisions">Modified n-gram precisions × 100 for n = 1…4 (after smoothing).</param>
/// <param name="BrevityPenalty">exp(1 − r/c) when the hypotheses are shorter than the references, else 1.</param>
/// <param name="HypothesisLength">Tokens in the hypotheses (c).</param>
/// <param name="ReferenceLength">Tokens in the references (r).</param>
public sealed record BleuScore(double Score, double[] Precisions, double BrevityPenalty, long HypothesisLength,
    long ReferenceLength)
{
    /// <inheritdoc/>
    public override string ToString()
    {
        string precisions = string.Join('/', Precisions.Select(p => p.ToString("F1", CultureInfo.InvariantCulture)));
        double ratio = (double)HypothesisLength / Math.Max(1, ReferenceLength);
        return FormattableString.Invariant($"BLEU = {Score:F2} {precisions} (BP = {BrevityPenalty:F3} ratio = ")
            + FormattableString.Invariant($"{ratio:F3} hyp_len = {HypothesisLength} ref_len = {ReferenceLength})");
    }
}

/// <summary>
/// Corpus BLEU (Papineni et al. 2002) as sacreBLEU computes it by default (Post 2018): hypotheses and references are
/// tokenised with the "13a" rules of the WMT <c>mteval-v13a</c> script, n-grams up to 4 are counted over the whole
/// corpus with clipping by the reference counts, a zero match count is smoothed by the "exp" method (the k-th zero
/// precision becomes 1/(2^k · total)), and the brevity penalty compares total lengths. One reference per sentence.
/// </summary>
public static class Bleu
{
    static readonly Regex Punctuation = new(@"([\{-\~\[-\` -\&\(-\+\:-\@\/])", RegexOptions.Compiled);
    static readonly Regex PeriodCommaUnlessPrecededByDigit = new(@"([^0-9])([\.,])", RegexOptions.Compiled);
    static readonly Regex PeriodCommaUnlessFollowedByDigit = new(@"([\.,])([^0-9])", RegexOptions.Compiled);
    static readonly Regex DashAfterDigit = new(@"([0-9])(-)", RegexOptions.Compiled);
    static readonly Regex Spaces = new(@"\s+", RegexOptions.Compiled);

    /// <summary>The 13a tokenisation of one line.</summary>
    public static string[] Tokenize13a(string line)
    {
        var text = new StringBuilder(line).Replace("<skipped>", "").Replace("-\n", "").Replace("\n", " ").ToString();
        if (text.Contains('&'))
            text = text.Replace("&quot;", "\"").Replace("&amp;", "&").Replace("&lt;", "<").Replace("&gt;", ">");
        text = " " + text + " ";
        text = Punctuation.Replace(text, " $1 ");
        text = PeriodCommaUnlessPrecededByDigit.Replace(text, "$1 $2 ");
        text = PeriodCommaUnlessFollowedByDigit.Replace(text, " $1 $2");
        text = DashAfterDigit.Replace(text, "$1 $2 ");
        return Spaces.Replace(text, " ").Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Corpus BLEU of <paramref name="hypotheses"/> against one reference each (raw, untokenised
    /// text).</summary>
    public static BleuScore Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        if (hypotheses.Count != references.Count) throw new ArgumentException(
            $"BLEU: {hypotheses.Count} hypotheses but {references.Count} references.");
        const int order = 4;
        var matches = new long[order];
        var totals = new long[order];
        long hypothesisLength = 0, referenceLength = 0;
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var hypothesis = Tokenize13a(hypotheses[s]);
            var reference = Tokenize13a(references[s]);
            hypothesisLength += hypothesis.Length;
            referenceLength += reference.Length;
            for (int n = 1; n <= order; n++)
            {
                var referenceCounts = NGrams(reference, n);
                foreach (var (gram, count) in NGrams(hypothesis, n))
                {
                    totals[n - 1] += count;
                    matches[n - 1] += Math.Min(count, referenceCounts.GetValueOrDefault(gram));
                }
            }
        }
        var precisions = new double[order];
        double smoothing = 1, logSum = 0;
        for (int n = 0; n < order; n++)
        {
            if (totals[n] == 0) { precisions[n] = 0; continue; }
            if (matches[n] == 0)
            {
                smoothing *= 2;
                precisions[n] = 100.0 / (smoothing * totals[n]);
            }
            else precisions[n] = 100.0 * matches[n] / totals[n];
        }
        double brevity = hypothesisLength == 0 ? 0 : hypothesisLength < referenceLength
            ? Math.Exp(1 - (double)referenceLength / hypothesisLength) : 1;
        double score;
        if (hypothesisLength == 0 || matches.All(m => m == 0) || precisions.Any(p
            => p <= 0)) score = 0; // no match at all scores 0, as sacreBLEU
        else
        {
            foreach (double p in precisions) logSum += Math.Log(p / 100);
            score = 100 * brevity * Math.Exp(logSum / order);
        }
        return new BleuScore(score, precisions, brevity, hypothesisLength, referenceLength);
    }

    static Dictionary<string, int> NGrams(string[] tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Length; i++)
        {
            string gram = string.Join('\u0001', tokens, i, n);
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
        return counts;
    }
}
