using System.Text;
using Recur.Text;

namespace Recur.Tagging;

/// <summary>A sentence as model input: word ids and, per word, character ids and the casing class.</summary>
/// <param name="Words">Word ids.</param>
/// <param name="Chars">Character ids of each word.</param>
/// <param name="Casing">The <see cref="Casing"/> class of each word (null: every word counts as
/// <see cref="Tagging.Casing.Other"/>).</param>
public sealed record EncodedSentence(int[] Words, int[][] Chars, int[]? Casing = null);

/// <summary>
/// Word and character vocabularies for tagging: words are looked up lower-cased with digits replaced by 0 (the
/// character features keep the case and digits), characters by the <see cref="CharTokenizer"/> of the training tokens.
/// </summary>
public sealed class TaggingVocabulary(WordVocabulary words, CharTokenizer chars)
{
    /// <summary>The word vocabulary.</summary>
    public WordVocabulary Words { get; } = words;

    /// <summary>The character vocabulary.</summary>
    public CharTokenizer Chars { get; } = chars;

    /// <summary>The form a word is looked up in.</summary>
    public static string Normalise(string token)
    {
        var text = new StringBuilder(token.Length);
        foreach (char c in token.ToLowerInvariant()) text.Append(char.IsAsciiDigit(c) ? '0' : c);
        return text.ToString();
    }

    /// <summary>Builds both vocabularies from training sentences (every word seen at least
    /// <paramref name="minFrequency"/> times).</summary>
    public static TaggingVocabulary Build(IEnumerable<TaggedSentence> sentences, int minFrequency = 1)
    {
        var list = sentences.ToList();
        return new(WordVocabulary.Build(list.Select(s => (IReadOnlyList<string>)s.Tokens.Select(Normalise).ToArray()),
            minFrequency),
            CharTokenizer.Build(string.Concat(list.SelectMany(s => s.Tokens))));
    }

    /// <summary>The model input of <paramref name="tokens"/>.</summary>
    public EncodedSentence Encode(IReadOnlyList<string> tokens) =>
        new(tokens.Select(t => Words.Id(Normalise(t))).ToArray(),
            tokens.Select(t => Chars.Encode(t) is { Length: > 0 } ids ? ids : [Tokenizers.Unknown]).ToArray(),
            tokens.Select(Casing.Of).ToArray());

    /// <summary>Writes <c>words.json</c> and <c>chars/</c> into <paramref name="folder"/>.</summary>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        Words.Save(Path.Combine(folder, "words.json"));
        Chars.Save(Path.Combine(folder, "chars"));
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    public static TaggingVocabulary Load(string folder) =>
        new(WordVocabulary.Load(Path.Combine(folder, "words.json")),
            (CharTokenizer)Tokenizers.Load(Path.Combine(folder, "chars")));
}
