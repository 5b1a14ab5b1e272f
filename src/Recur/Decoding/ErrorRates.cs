namespace Recur.Decoding;

/// <summary>
/// Edit distance and the error rates of speech recognition: character error rate (CER) and word error rate (WER),
/// each the total Levenshtein distance (substitutions, insertions, deletions) over the total reference length, as
/// speech toolkits report them for a corpus.
/// </summary>
public static class ErrorRates
{
    /// <summary>The fewest substitutions, insertions and deletions that turn <paramref name="hypothesis"/> into
    /// <paramref name="reference"/>.</summary>
    public static int EditDistance<T>(IReadOnlyList<T> reference, IReadOnlyList<T> hypothesis)
    {
        var comparer = EqualityComparer<T>.Default;
        var previous = new int[hypothesis.Count + 1];
        var current = new int[hypothesis.Count + 1];
        for (int j = 0; j <= hypothesis.Count; j++) previous[j] = j;
        for (int i = 1; i <= reference.Count; i++)
        {
            current[0] = i;
            for (int j = 1; j <= hypothesis.Count; j++)
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1),
                    previous[j - 1] + (comparer.Equals(reference[i - 1], hypothesis[j - 1]) ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[hypothesis.Count];
    }

    /// <summary>Character error rate over a corpus: Σ edit distance / Σ reference characters (0 for an empty reference
    /// corpus with empty hypotheses).</summary>
    public static double CharacterErrorRate(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses) =>
        Rate(references, hypotheses, s => s.ToCharArray());

    /// <summary>Word error rate over a corpus: words split at white space.</summary>
    public static double WordErrorRate(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses) =>
        Rate(references, hypotheses, s => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    static double Rate<T>(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, Func<string, T[]> split)
    {
        if (references.Count != hypotheses.Count)
            throw new ArgumentException(
                $"ErrorRates: {references.Count} references but {hypotheses.Count} hypotheses.");
        long errors = 0, length = 0;
        for (int i = 0; i < references.Count; i++)
        {
            var reference = split(references[i]);
            errors += EditDistance(reference, split(hypotheses[i]));
            length += reference.Length;
        }
        return length > 0 ? (double)errors / length : errors > 0 ? double.PositiveInfinity : 0;
    }
}
