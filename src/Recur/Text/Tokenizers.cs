using System.Text;
using System.Text.Json.Serialization;
using Recur.Serialization;

namespace Recur.Text;

/// <summary>
/// Turns text into token ids and back. Every tokenizer reserves the same four special tokens at ids 0–3:
/// <c>&lt;pad&gt;</c>, <c>&lt;unk&gt;</c>, <c>&lt;bos&gt;</c> and <c>&lt;eos&gt;</c>. Implementations:
/// <see cref="CharTokenizer"/>,
/// <see cref="WordLevelTokenizer"/> and <see cref="ByteLevelBpeTokenizer"/>; <see cref="Tokenizers.Load"/> reads any of
/// them back.
/// </summary>
public interface ITokenizer
{
    /// <summary><c>char</c>, <c>word</c> or <c>bpe</c>.</summary>
    string Kind { get; }

    /// <summary>Number of ids, the special tokens included.</summary>
    int VocabularySize { get; }

    /// <summary>The ids of <paramref name="text"/> (no <c>&lt;bos&gt;</c>/<c>&lt;eos&gt;</c> added except where the
    /// tokenizer marks line ends).</summary>
    int[] Encode(string text);

    /// <summary>The text of <paramref name="ids"/>; padding and begin-of-sequence tokens are left out.</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>How token <paramref name="id"/> is shown (for tables and debugging).</summary>
    string TokenText(int id);

    /// <summary>Writes the tokenizer into <paramref name="folder"/> (<c>tokenizer.json</c> and, for BPE,
    /// <c>vocab.json</c> + <c>merges.txt</c>), atomically per file.</summary>
    void Save(string folder);
}

/// <summary>The special tokens every <see cref="ITokenizer"/> places at ids 0–3, and loading of saved
/// tokenizers.</summary>
public static class Tokenizers
{
    /// <summary>Padding.</summary>
    public const int Pad = 0;
    /// <summary>Unknown token.</summary>
    public const int Unknown = 1;
    /// <summary>Begin of sequence.</summary>
    public const int Bos = 2;
    /// <summary>End of sequence (the word tokenizer's line end).</summary>
    public const int Eos = 3;

    /// <summary>The special tokens' texts, by id.</summary>
    public static readonly IReadOnlyList<string> Specials = ["<pad>", "<unk>", "<bos>", "<eos>"];

    /// <summary>The file that says which tokenizer a folder holds.</summary>
    public const string File = "tokenizer.json";

    /// <summary>Reads the tokenizer saved in <paramref name="folder"/>; errors name the file.</summary>
    public static ITokenizer Load(string folder)
    {
        string path = Path.Combine(folder, File);
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"{path}: no tokenizer here.", path);
        var description = ConfigJson.ReadFile(path, TextJson.Default.TokenizerFile, architecture: null);
        try
        {
            return description.Kind switch
            {
                "char" => new CharTokenizer(description.Symbols ?? throw Missing("symbols")),
                "word" => new WordLevelTokenizer(description.Words ?? throw Missing("words"),
                    description.Splitting ?? throw Missing("splitting"),
                    description.LowerCase ?? throw Missing("lower_case")),
                "bpe" => ByteLevelBpeTokenizer.Load(Path.Combine(folder, ByteLevelBpeTokenizer.VocabFile),
                    Path.Combine(folder, ByteLevelBpeTokenizer.MergesFile)),
                var kind => throw new InvalidDataException($"kind is '{kind}', not char, word or bpe."),
            };
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(folder, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }

        InvalidDataException Missing(string field) =>
            new($"field '{field}' is missing (a {description.Kind} tokenizer needs it).");
    }

    /// <summary>Trains a tokenizer of <paramref name="kind"/> (<c>char</c>, <c>word</c> or <c>bpe</c>) on
    /// <paramref name="text"/>.</summary>
    public static ITokenizer Train(string kind, string text, int bpeVocabularySize = 2000,
        int minFrequency = 1) => kind switch
        {
            "char" => CharTokenizer.Build(text),
            "word" => WordLevelTokenizer.Build(text, minFrequency: minFrequency),
            "bpe" => BpeTrainer.Train(text, bpeVocabularySize),
            _ => throw new ArgumentException($"tokenizer '{kind}' is not char, word or bpe."),
        };

    /// <summary>
    /// The Unicode scalar values of <paramref name="text"/>; a lone surrogate (which no encoding can carry) is an
    /// <see cref="ArgumentException"/> naming its index.
    /// </summary>
    public static IEnumerable<Rune> Runes(string text)
    {
        for (int i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int used) != System.Buffers.OperationStatus.Done)
                throw new ArgumentException(
                    $"text has a lone surrogate U+{(int)text[i]:X4} at index {i}; it is not valid Unicode.");
            yield return rune;
            i += used;
        }
    }

    /// <summary>Writes a tokenizer description next to its other files.</summary>
    internal static void WriteDescription(string folder, TokenizerFile description)
    {
        Directory.CreateDirectory(folder);
        ConfigJson.WriteFile(Path.Combine(folder, File), description, TextJson.Default.TokenizerFile,
            architecture: null);
    }
}

/// <summary>
/// <c>tokenizer.json</c>: the kind and what that kind needs — the characters or words after the special tokens, in id
/// order (with the word tokenizer's splitting and casing), or the names of the BPE files.
/// </summary>
sealed record TokenizerFile(string Kind, string[]? Symbols = null,
    [property: JsonConverter(typeof(LowerCaseEnumConverter<WordSplitting>))] WordSplitting? Splitting = null,
    bool? LowerCase = null, string[]? Words = null, string? Vocab = null, string? Merges = null);

/// <summary>The files of <c>Recur.Text</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    RespectRequiredConstructorParameters = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(TokenizerFile))]
sealed partial class TextJson : JsonSerializerContext;

/// <summary>
/// Reads text files as strict UTF-8, the one policy of every Recur reader: invalid bytes are an error that names the
/// file, the byte offset and the line (never silently replaced by U+FFFD), and so is a NUL byte, which no text file
/// holds (a binary file given by mistake).
/// </summary>
public static class TextFiles
{
    /// <summary>The text of <paramref name="path"/> (a leading byte-order mark is dropped).</summary>
    /// <exception cref="FileNotFoundException">No such file, or <paramref name="path"/> is a folder.</exception>
    /// <exception cref="InvalidDataException">Invalid UTF-8 or a NUL byte.</exception>
    public static string ReadUtf8(string path)
    {
        if (Directory.Exists(path)) throw new FileNotFoundException($"{path} is a folder, not a file.", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        var bytes = File.ReadAllBytes(path);
        return DecodeUtf8(bytes, path);
    }

    /// <summary>The lines of <paramref name="path"/> read as <see cref="ReadUtf8"/> does, without their line
    /// breaks.</summary>
    public static string[] ReadUtf8Lines(string path)
    {
        var lines = ReadUtf8(path).Split('\n');
        for (int i = 0; i < lines.Length; i++) lines[i] = lines[i].TrimEnd('\r');
        return lines.Length > 0 && lines[^1].Length == 0 ? lines[..^1] : lines;
    }

    /// <summary>Decodes <paramref name="bytes"/> strictly; <paramref name="source"/> names them in errors.</summary>
    public static string DecodeUtf8(ReadOnlySpan<byte> bytes, string source)
    {
        int start = bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        var span = bytes[start..];
        if (!System.Text.Unicode.Utf8.IsValid(span))
        {
            int offset = 0;
            while (offset < span.Length && Rune.DecodeFromUtf8(span[offset..], out _,
                out int used) == System.Buffers.OperationStatus.Done) offset += used;
            int line = 1;
            foreach (byte b in span[..offset]) if (b == (byte)'\n') line++;
            throw new InvalidDataException(
                $"{source}: invalid UTF-8 at byte offset {offset + start} (line {line}): byte 0x{span[offset]:X2}.");
        }
        int nul = span.IndexOf((byte)0);
        if (nul >= 0)
        {
            int line = 1;
            foreach (byte b in span[..nul]) if (b == (byte)'\n') line++;
            throw new InvalidDataException($"{source}: a NUL byte at byte offset {nul + start} (line {line}): "
                + "this is a binary file, not text.");
        }
        return Encoding.UTF8.GetString(span);
    }
}

/// <summary>
/// Character-level tokenizer: one id per Unicode scalar value seen in the training text (so an emoji or a letter
/// outside the Basic Multilingual Plane is one token, and a combining mark is a token of its own). Characters not seen
/// become <c>&lt;unk&gt;</c>; over its alphabet, <c>Decode(Encode(s)) == s</c>.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    readonly string[] symbols;
    readonly Dictionary<int, int> ids = [];

    internal CharTokenizer(IEnumerable<string> alphabet)
    {
        symbols = [.. Tokenizers.Specials, .. alphabet];
        for (int i = Tokenizers.Specials.Count; i < symbols.Length; i++)
        {
            // (an empty symbol, as a damaged file may hold, is not one character either)
            if (string.IsNullOrEmpty(symbols[i]) || !Rune.TryGetRuneAt(symbols[i], 0, out var rune)
                || rune.Utf16SequenceLength != symbols[i].Length)
                throw new InvalidDataException(
                    $"character tokenizer: symbol {i} ('{symbols[i]}') is not one character.");
            if (!ids.TryAdd(rune.Value,
                i)) throw new InvalidDataException($"character tokenizer: '{symbols[i]}' appears twice.");
        }
    }

    /// <summary>The alphabet of <paramref name="text"/>, in code-point order after the special tokens.</summary>
    public static CharTokenizer Build(string text) =>
        new(Tokenizers.Runes(text).Select(r => r.Value).Distinct().Order().Select(v => new Rune(v).ToString()));

    /// <inheritdoc/>
    public string Kind => "char";

    /// <inheritdoc/>
    public int VocabularySize => symbols.Length;

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        var result = new List<int>(text.Length);
        foreach (var rune in Tokenizers.Runes(text)) result.Add(ids.TryGetValue(rune.Value,
            out int id) ? id : Tokenizers.Unknown);
        return [.. result];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var text = new StringBuilder(tokens.Length);
        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)symbols.Length) throw new ArgumentException(
                $"character tokenizer: id {id} is outside the vocabulary of {symbols.Length}.");
            if (id == Tokenizers.Unknown) text.Append('\uFFFD');
            else if (id >= Tokenizers.Specials.Count) text.Append(symbols[id]);
        }
        return text.ToString();
    }

    /// <inheritdoc/>
    public string TokenText(int id) => symbols[id];

    /// <inheritdoc/>
    public void Save(string folder) => Tokenizers.WriteDescription(folder,
        new TokenizerFile(Kind, Symbols: symbols[Tokenizers.Specials.Count..]));
}

/// <summary>How a <see cref="WordLevelTokenizer"/> splits a line into words.</summary>
public enum WordSplitting
{
    /// <summary>At white space only (the Penn Treebank files are already tokenised this way).</summary>
    Whitespace,
    /// <summary>Words (letters, digits, apostrophes, combining marks) and single punctuation marks, as
    /// <see cref="WordTokenizer"/>.</summary>
    Words,
}

/// <summary>
/// Word-level tokenizer for language modelling: each line is split into words (<see cref="WordSplitting"/>), words seen
/// fewer than <c>minFrequency</c> times become <c>&lt;unk&gt;</c>, and every line end is an <c>&lt;eos&gt;</c> token.
/// Decoding joins words with single spaces and turns <c>&lt;eos&gt;</c> back into a line end.
/// </summary>
public sealed class WordLevelTokenizer : ITokenizer
{
    readonly string[] words;
    readonly Dictionary<string, int> ids = new(StringComparer.Ordinal);
    readonly WordTokenizer? splitter;

    /// <summary>How lines are split.</summary>
    public WordSplitting Splitting { get; }

    /// <summary>Whether words are lower-cased.</summary>
    public bool LowerCase { get; }

    internal WordLevelTokenizer(IEnumerable<string> vocabulary, WordSplitting splitting, bool lowerCase)
    {
        (Splitting, LowerCase) = (splitting, lowerCase);
        splitter = splitting == WordSplitting.Words ? new WordTokenizer(lowerCase) : null;
        words = [.. Tokenizers.Specials, .. vocabulary];
        for (int i = 0; i < words.Length; i++)
            if (!ids.TryAdd(words[i],
                i)) throw new InvalidDataException(
                $"word tokenizer: '{words[i]}' appears twice (ids {ids[words[i]]} and {i}).");
    }

    /// <summary>
    /// Builds the vocabulary of <paramref name="text"/>: words seen at least <paramref name="minFrequency"/> times,
    /// most frequent first (ties in ordinal order), at most <paramref name="maxSize"/> ids in all.
    /// </summary>
    public static WordLevelTokenizer Build(string text, WordSplitting splitting = WordSplitting.Whitespace,
        bool lowerCase = false, int minFrequency = 1, int maxSize = int.MaxValue)
    {
        if (minFrequency < 1 || maxSize <= Tokenizers.Specials.Count)
            throw new ArgumentException($"word tokenizer: minFrequency must be ≥ 1 and maxSize "
                + $"> {Tokenizers.Specials.Count}, got {minFrequency} and {maxSize}.");
        var probe = new WordLevelTokenizer([], splitting, lowerCase);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
            foreach (var word in probe.Split(line)) counts[word] = counts.GetValueOrDefault(word) + 1;
        var vocabulary = counts.Where(c => c.Value >= minFrequency && !Tokenizers.Specials.Contains(c.Key))
            .OrderByDescending(c => c.Value).ThenBy(c => c.Key,
                StringComparer.Ordinal).Select(c => c.Key).Take(maxSize - Tokenizers.Specials.Count);
        return new WordLevelTokenizer(vocabulary, splitting, lowerCase);
    }

    /// <summary>The words of one line as this tokenizer splits it, before the vocabulary lookup.</summary>
    public IEnumerable<string> Split(string line)
    {
        if (splitter != null) return splitter.Tokenize(line);
        var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return LowerCase ? parts.Select(p => p.ToLowerInvariant()) : parts;
    }

    /// <inheritdoc/>
    public string Kind => "word";

    /// <inheritdoc/>
    public int VocabularySize => words.Length;

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        _ = Tokenizers.Runes(text).Count(); // rejects lone surrogates with their index
        var result = new List<int>();
        var lines = text.Split('\n');
        for (int l = 0; l < lines.Length; l++)
        {
            foreach (var word in Split(lines[l])) result.Add(ids.TryGetValue(word,
                out int id) ? id : Tokenizers.Unknown);
            if (l < lines.Length - 1) result.Add(Tokenizers.Eos);
        }
        return [.. result];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var text = new StringBuilder();
        bool lineStart = true;
        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)words.Length) throw new ArgumentException(
                $"word tokenizer: id {id} is outside the vocabulary of {words.Length}.");
            if (id is Tokenizers.Pad or Tokenizers.Bos) continue;
            if (id == Tokenizers.Eos) { text.Append('\n'); lineStart = true; continue; }
            if (!lineStart) text.Append(' ');
            text.Append(words[id]);
            lineStart = false;
        }
        return text.ToString();
    }

    /// <inheritdoc/>
    public string TokenText(int id) => words[id];

    /// <inheritdoc/>
    public void Save(string folder) => Tokenizers.WriteDescription(folder, new TokenizerFile(Kind,
        Splitting: Splitting, LowerCase: LowerCase, Words: words[Tokenizers.Specials.Count..]));
}
