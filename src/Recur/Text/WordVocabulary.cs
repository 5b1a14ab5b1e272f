using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Recur.Text;

/// <summary>
/// Splits text into words and punctuation marks: runs of letters, digits, apostrophes and combining marks form a word
/// (so "don't" and "café" stay whole); every other non-space character is a token of its own. Optionally lower-cased
/// (invariant culture).
/// </summary>
public sealed class WordTokenizer(bool lowerCase = true)
{
    /// <summary>Whether tokens are lower-cased.</summary>
    public bool LowerCase { get; } = lowerCase;

    /// <summary>The tokens of <paramref name="text"/>, in order.</summary>
    public List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var word = new StringBuilder();
        void Flush()
        {
            if (word.Length == 0) return;
            tokens.Add(LowerCase ? word.ToString().ToLowerInvariant() : word.ToString());
            word.Clear();
        }
        var runes = text.EnumerateRunes();
        foreach (var rune in runes)
        {
            var category = Rune.GetUnicodeCategory(rune);
            bool wordPart = Rune.IsLetterOrDigit(rune) || rune.Value == '\'' || rune.Value == '’'
                || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
                    or UnicodeCategory.EnclosingMark;
            if (wordPart) { word.Append(rune.ToString()); continue; }
            Flush();
            if (!Rune.IsWhiteSpace(rune)) tokens.Add(rune.ToString());
        }
        Flush();
        return tokens;
    }
}

/// <summary>
/// A word vocabulary: id 0 is the padding token <c>&lt;pad&gt;</c>, id 1 the unknown token <c>&lt;unk&gt;</c>, then the
/// words seen at least <c>minFrequency</c> times, most frequent first (ties in ordinal order, so the ids are
/// deterministic).
/// </summary>
public sealed class WordVocabulary
{
    /// <summary>Id of the padding token.</summary>
    public const int Pad = 0;

    /// <summary>Id of the unknown token.</summary>
    public const int Unknown = 1;

    readonly Dictionary<string, int> ids;

    /// <summary>The words by id.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>Number of ids, the special tokens included.</summary>
    public int Count => Words.Count;

    WordVocabulary(IReadOnlyList<string> words)
    {
        Words = words;
        ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < words.Count; i++)
            if (!ids.TryAdd(words[i],
                i)) throw new InvalidDataException(
                $"vocabulary: '{words[i]}' appears twice (ids {ids[words[i]]} and {i}).");
    }

    /// <summary>Builds the vocabulary from tokenised texts, keeping words seen at least <paramref name="minFrequency"/>
    /// times, at most <paramref name="maxSize"/> ids.</summary>
    public static WordVocabulary Build(IEnumerable<IReadOnlyList<string>> texts, int minFrequency = 1,
        int maxSize = int.MaxValue)
    {
        if (minFrequency < 1
            || maxSize < 2) throw new ArgumentException(
            $"WordVocabulary: minFrequency must be ≥ 1 and maxSize ≥ 2, got {minFrequency} and {maxSize}.");
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var token in text) counts[token] = counts.GetValueOrDefault(token) + 1;
        var words = new List<string> { "<pad>", "<unk>" };
        words.AddRange(counts.Where(c => c.Value >= minFrequency && c.Key is not ("<pad>" or "<unk>"))
            .OrderByDescending(c => c.Value).ThenBy(c => c.Key,
                StringComparer.Ordinal).Select(c => c.Key).Take(maxSize - 2));
        return new WordVocabulary(words);
    }

    /// <summary>The id of <paramref name="word"/>, or <see cref="Unknown"/>.</summary>
    public int Id(string word) => ids.TryGetValue(word, out int id) ? id : Unknown;

    /// <summary>The ids of <paramref name="tokens"/>.</summary>
    public int[] Encode(IEnumerable<string> tokens) => tokens.Select(Id).ToArray();

    /// <summary>Writes the words as a JSON array (index = id), atomically.</summary>
    public void Save(string path) => Serialization.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(Words));

    /// <summary>A vocabulary of <paramref name="words"/> in id order, as <see cref="Words"/> lists them (it starts with
    /// &lt;pad&gt; and &lt;unk&gt;).</summary>
    /// <exception cref="InvalidDataException">The list does not start with the special tokens or repeats a
    /// word.</exception>
    public static WordVocabulary FromWords(IReadOnlyList<string> words)
    {
        if (words.Count < 2 || words[Pad] != "<pad>" || words[Unknown] != "<unk>")
            throw new InvalidDataException("a vocabulary starts with <pad> and <unk>.");
        return new WordVocabulary(words.ToArray());
    }

    /// <summary>Reads a vocabulary written by <see cref="Save"/>; errors name the file.</summary>
    public static WordVocabulary Load(string path)
    {
        try
        {
            var words = JsonSerializer.Deserialize<string[]>(File.ReadAllText(path))
                ?? throw new InvalidDataException($"{path}: empty vocabulary.");
            return FromWords(words);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a JSON array of words ({e.Message}).",
            e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path,
            StringComparison.Ordinal))
        { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }
}
