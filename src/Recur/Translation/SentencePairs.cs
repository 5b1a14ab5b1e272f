using Recur.Text;

namespace Recur.Translation;

/// <summary>A source sentence and its translation.</summary>
/// <param name="Source">The source text.</param>
/// <param name="Target">The target text.</param>
public sealed record SentencePair(string Source, string Target);

/// <summary>How <see cref="SentencePairs.Read"/> normalises and filters pairs.</summary>
/// <param name="LowerCase">Lower-case both sides (invariant culture).</param>
/// <param name="StripAccents">Remove combining marks after canonical decomposition (NFD): "été" → "ete" (Latin letters,
/// <see cref="LatinNormalization"/>).</param>
/// <param name="MaxWords">Keep pairs whose both sides have at most this many words (0: no limit).</param>
/// <param name="Reverse">Swap the columns (translate from the second language to the first).</param>
public sealed record PairOptions(bool LowerCase = true, bool StripAccents = false, int MaxWords = 0,
    bool Reverse = false);

/// <summary>
/// Reads tab-separated sentence pairs in the Tatoeba/Anki layout (<c>source TAB target [TAB attribution]</c>), as
/// UTF-8, with Latin letters composed (NFC) or their accents stripped (<see cref="LatinNormalization"/>). Empty lines
/// are skipped; a line without two non-empty columns is an error naming the file and line.
/// </summary>
public static class SentencePairs
{
    /// <summary>Normalises one sentence.</summary>
    public static string Normalise(string text, PairOptions options)
    {
        text = text.Trim();
        text = options.StripAccents ? LatinNormalization.StripAccents(text) : LatinNormalization.Compose(text);
        return options.LowerCase ? text.ToLowerInvariant() : text;
    }

    /// <summary>The pairs of <paramref name="path"/> that pass <paramref name="options"/>' filters.</summary>
    public static List<SentencePair> Read(string path, PairOptions options) =>
        Parse(TextFiles.ReadUtf8(path).Split('\n'), path, options);

    /// <summary>Parses lines; <paramref name="source"/> names them in errors.</summary>
    public static List<SentencePair> Parse(IEnumerable<string> lines, string source, PairOptions options)
    {
        var pairs = new List<SentencePair>();
        int number = 0;
        foreach (var raw in lines)
        {
            number++;
            string line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            var columns = line.Split('\t');
            if (columns.Length < 2 || columns[0].Trim().Length == 0 || columns[1].Trim().Length == 0)
                throw new InvalidDataException($"{source}, line {number}: expected "
                    + $"'source<TAB>target[<TAB>attribution]', got '{(line.Length > 80 ? line[..80] + "…" : line)}'.");
            var pair = new SentencePair(Normalise(columns[0], options), Normalise(columns[1], options));
            if (options.Reverse) pair = new SentencePair(pair.Target, pair.Source);
            if (options.MaxWords > 0 && (Words(pair.Source) > options.MaxWords
                || Words(pair.Target) > options.MaxWords)) continue;
            pairs.Add(pair);
        }
        if (pairs.Count == 0) throw new InvalidDataException(
            $"{source}: no sentence pairs{(options.MaxWords > 0 ? $" of at most {options.MaxWords} words" : "")}.");
        return pairs;

        static int Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    /// <summary>Splits <paramref name="pairs"/> at random (seeded): a <paramref name="fraction"/> held out, the rest
    /// for training.</summary>
    public static (List<SentencePair> Train, List<SentencePair> HeldOut) Split(IReadOnlyList<SentencePair> pairs,
        double fraction, ulong seed)
    {
        if (fraction is < 0
            or >= 1) throw new ArgumentException($"the held-out fraction must be in [0, 1), got {fraction}.");
        var order = Enumerable.Range(0, pairs.Count).ToArray();
        new RandomGenerator(seed).Shuffle(order.AsSpan());
        int held = (int)Math.Round(pairs.Count * fraction);
        return (order.Skip(held).Select(i => pairs[i]).ToList(),
            order.Take(held).Order().Select(i => pairs[i]).ToList());
    }
}
