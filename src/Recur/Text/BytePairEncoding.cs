using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Recur.Serialization;

namespace Recur.Text;

/// <summary>
/// Byte-level byte-pair encoding in the GPT-2 file format (Radford et al. 2019; BPE after Sennrich et al. 2016): text
/// is cut into pre-tokens by GPT-2's pattern (contractions, optionally space-led letter, digit and symbol runs, white
/// space), each pre-token's UTF-8 bytes are written as 256 printable stand-in characters, and the ranked merges of
/// <c>merges.txt</c> are applied lowest rank first. Every byte is in the vocabulary, so any valid Unicode string is
/// encoded without <c>&lt;unk&gt;</c> and <c>Decode(Encode(s)) == s</c>. Files: <c>vocab.json</c> (token → id) and
/// <c>merges.txt</c> (a <c>#version</c> line, then one "left right" pair per line), readable by Hugging Face
/// tokenizers.
/// </summary>
public sealed class ByteLevelBpeTokenizer : ITokenizer
{
    /// <summary>The vocabulary file name.</summary>
    public const string VocabFile = "vocab.json";
    /// <summary>The merges file name.</summary>
    public const string MergesFile = "merges.txt";

    /// <summary>GPT-2's pre-tokenisation pattern.</summary>
    internal static readonly Regex PreTokenizer
        = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>Byte → stand-in character (printable bytes map to themselves, the rest to U+0100 onwards), as
    /// GPT-2.</summary>
    internal static readonly char[] ByteToChar = BuildByteMap();
    static readonly Dictionary<char, byte> CharToByte = Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b],
        b => (byte)b);

    readonly string[] tokens;
    readonly Dictionary<string, int> ids = new(StringComparer.Ordinal);
    readonly Dictionary<(int, int), (int Rank, int Merged)> merges = [];
    readonly List<(string Left, string Right)> mergeList;
    readonly Dictionary<string, int[]> cache = new(StringComparer.Ordinal);

    static char[] BuildByteMap()
    {
        var map = new char[256];
        var printable = new bool[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int next = 0;
        for (int b = 0; b < 256; b++) map[b] = printable[b] ? (char)b : (char)(256 + next++);
        return map;
    }

    /// <summary>Builds the tokenizer from its vocabulary (token → id) and ranked merges; checks that they
    /// agree.</summary>
    public ByteLevelBpeTokenizer(IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<(string Left,
        string Right)> mergePairs)
    {
        tokens = new string[vocabulary.Count];
        foreach (var (token, id) in vocabulary)
        {
            if ((uint)id >= (uint)tokens.Length || tokens[id] != null)
                throw new InvalidDataException(
                    $"vocabulary ids must be 0…{tokens.Length - 1} without repeats; '{token}' has id {id}.");
            tokens[id] = token;
            ids[token] = id;
        }
        for (int i = 0; i < Tokenizers.Specials.Count; i++)
            if (tokens.Length <= i || tokens[i] != Tokenizers.Specials[i])
                throw new InvalidDataException($"id {i} must be the special token {Tokenizers.Specials[i]}.");
        for (int b = 0; b < 256; b++)
            if (!ids.ContainsKey(ByteToChar[b].ToString())) throw new InvalidDataException(
                $"the vocabulary lacks the token of byte 0x{b:X2} ('{ByteToChar[b]}').");
        mergeList = [.. mergePairs];
        for (int rank = 0; rank < mergeList.Count; rank++)
        {
            var (left, right) = mergeList[rank];
            if (!ids.TryGetValue(left, out int l) || !ids.TryGetValue(right,
                out int r) || !ids.TryGetValue(left + right, out int merged))
                throw new InvalidDataException(
                    $"merge {rank + 1} ('{left} {right}') uses a token that is not in the vocabulary.");
            merges.TryAdd((l, r), (rank, merged));
        }
    }

    /// <inheritdoc/>
    public string Kind => "bpe";

    /// <inheritdoc/>
    public int VocabularySize => tokens.Length;

    /// <summary>The merges in rank order.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => mergeList;

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        _ = Tokenizers.Runes(text).Count(); // rejects lone surrogates with their index
        var result = new List<int>();
        foreach (Match match in PreTokenizer.Matches(text)) result.AddRange(EncodeWord(match.Value));
        return [.. result];
    }

    int[] EncodeWord(string word)
    {
        if (cache.TryGetValue(word, out var cached)) return cached;
        var bytes = Encoding.UTF8.GetBytes(word);
        var symbols = new List<int>(bytes.Length);
        foreach (byte b in bytes) symbols.Add(ids[ByteToChar[b].ToString()]);
        while (symbols.Count > 1)
        {
            int bestRank = int.MaxValue, bestMerged = -1;
            (int, int) bestPair = default;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (merges.TryGetValue((symbols[i], symbols[i + 1]), out var m) && m.Rank < bestRank)
                    (bestRank, bestMerged, bestPair) = (m.Rank, m.Merged, (symbols[i], symbols[i + 1]));
            if (bestMerged < 0) break;
            var merged = new List<int>(symbols.Count);
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i + 1 < symbols.Count && (symbols[i], symbols[i + 1]) == bestPair) { merged.Add(bestMerged); i++; }
                else merged.Add(symbols[i]);
            }
            symbols = merged;
        }
        var result = symbols.ToArray();
        if (cache.Count < 1 << 20) cache[word] = result;
        return result;
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> tokenIds)
    {
        var bytes = new List<byte>();
        foreach (int id in tokenIds)
        {
            if ((uint)id >= (uint)tokens.Length) throw new ArgumentException(
                $"BPE tokenizer: id {id} is outside the vocabulary of {tokens.Length}.");
            if (id < Tokenizers.Specials.Count)
            {
                if (id == Tokenizers.Unknown) bytes.AddRange("\uFFFD"u8.ToArray());
                continue;
            }
            foreach (char c in tokens[id]) bytes.Add(CharToByte[c]);
        }
        return Encoding.UTF8.GetString(bytes.ToArray()); // an incomplete UTF-8 sequence at the end becomes U+FFFD
    }

    /// <inheritdoc/>
    public string TokenText(int id) => tokens[id];

    /// <inheritdoc/>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        var vocabulary = new JsonObject();
        for (int i = 0; i < tokens.Length; i++) vocabulary[tokens[i]] = i;
        AtomicFile.WriteAllText(Path.Combine(folder, VocabFile), vocabulary.ToJsonString());
        var lines = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in mergeList) lines.Append(left).Append(' ').Append(right).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(folder, MergesFile), lines.ToString());
        Tokenizers.WriteDescription(folder, new TokenizerFile(Kind, Vocab: VocabFile, Merges: MergesFile));
    }

    /// <summary>Reads <c>vocab.json</c> and <c>merges.txt</c>; errors name the file and, for merges, the
    /// line.</summary>
    public static ByteLevelBpeTokenizer Load(string vocabPath, string mergesPath)
    {
        Dictionary<string, int> vocabulary;
        try
        {
            vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(TextFiles.ReadUtf8(vocabPath))
                ?? throw new InvalidDataException($"{vocabPath}: empty vocabulary.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
            $"{vocabPath}: not a JSON object of token → id ({e.Message}).", e);
        }
        var pairs = new List<(string, string)>();
        var lines = TextFiles.ReadUtf8(mergesPath).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || i == 0 && line.StartsWith("#version", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new InvalidDataException(
                    $"{mergesPath}, line {i + 1}: expected two tokens separated by one space, got '{line}'.");
            pairs.Add((parts[0], parts[1]));
        }
        try { return new ByteLevelBpeTokenizer(vocabulary, pairs); }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{vocabPath} / {mergesPath}: {e.Message}",
            e);
        }
    }
}

/// <summary>
/// Learns byte-level BPE merges from text: pre-tokens are counted once, then the most frequent adjacent pair of
/// symbols (ties broken by the smaller token ids, so training is deterministic) is merged until the vocabulary reaches
/// the target size or no pair occurs <c>minFrequency</c> times. Pair counts are kept up to date incrementally.
/// </summary>
public static class BpeTrainer
{
    /// <summary>
    /// Trains on <paramref name="text"/> up to <paramref name="vocabularySize"/> ids (the 4 special tokens and 256
    /// bytes included); pairs seen fewer than <paramref name="minFrequency"/> times are never merged.
    /// </summary>
    public static ByteLevelBpeTokenizer Train(string text, int vocabularySize, int minFrequency = 2)
    {
        int baseSize = Tokenizers.Specials.Count + 256;
        if (vocabularySize < baseSize) throw new ArgumentException(
            $"BPE: the vocabulary must hold at least the {baseSize} special and byte tokens, got {vocabularySize}.");
        if (minFrequency < 1) throw new ArgumentException($"BPE: minFrequency must be ≥ 1, got {minFrequency}.");
        _ = Tokenizers.Runes(text).Count();
        var tokens = new List<string>(Tokenizers.Specials);
        for (int b = 0; b < 256; b++) tokens.Add(ByteLevelBpeTokenizer.ByteToChar[b].ToString());
        var wordCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (Match match in ByteLevelBpeTokenizer.PreTokenizer.Matches(text))
            wordCounts[match.Value] = wordCounts.GetValueOrDefault(match.Value) + 1;
        // words in ordinal order so that everything below is deterministic
        var words = wordCounts.OrderBy(w => w.Key, StringComparer.Ordinal)
            .Select(w => (Symbols: Encoding.UTF8.GetBytes(w.Key).Select(b
                => Tokenizers.Specials.Count + (int)b).ToList(), Count: w.Value)).ToArray();
        var pairCounts = new Dictionary<(int, int), long>();
        var pairWords = new Dictionary<(int, int), HashSet<int>>();
        void Count(int w, long sign)
        {
            var symbols = words[w].Symbols;
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                var pair = (symbols[i], symbols[i + 1]);
                pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + sign * words[w].Count;
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(pair, out var set)) pairWords[pair] = set = [];
                    set.Add(w);
                }
            }
        }
        for (int w = 0; w < words.Length; w++) Count(w, +1);
        // a max-queue with lazy deletion: an entry is used only if its count is still current
        var queue = new PriorityQueue<(int, int), (long, int, int)>(Comparer<(long Count, int Left,
            int Right)>.Create((a, b) =>
            a.Count != b.Count ? b.Count.CompareTo(a.Count) : a.Left != b.Left ? a.Left.CompareTo(b.Left)
                : a.Right.CompareTo(b.Right)));
        foreach (var (pair, count) in pairCounts) queue.Enqueue(pair, (count, pair.Item1, pair.Item2));
        var merges = new List<(string, string)>();
        var tokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) tokenIds[tokens[i]] = i;
        while (tokens.Count < vocabularySize && queue.TryDequeue(out var best, out var priority))
        {
            long current = pairCounts.GetValueOrDefault(best);
            if (current != priority.Item1) continue; // stale
            if (current < minFrequency) break;
            string mergedText = tokens[best.Item1] + tokens[best.Item2];
            if (!tokenIds.TryGetValue(mergedText, out int merged))
            {
                // two merges may spell the same token ("a bc" and "ab c"); it keeps one id
                merged = tokens.Count;
                tokens.Add(mergedText);
                tokenIds[mergedText] = merged;
            }
            merges.Add((tokens[best.Item1], tokens[best.Item2]));
            var touched = new HashSet<(int, int)>();
            foreach (int w in pairWords[best].Order().ToArray())
            {
                var symbols = words[w].Symbols;
                bool contains = false;
                for (int i = 0; i + 1 < symbols.Count && !contains; i++) contains = symbols[i] == best.Item1
                    && symbols[i + 1] == best.Item2;
                if (!contains) continue;
                for (int i = 0; i + 1 < symbols.Count; i++) touched.Add((symbols[i], symbols[i + 1]));
                Count(w, -1);
                var next = new List<int>(symbols.Count);
                for (int i = 0; i < symbols.Count; i++)
                {
                    if (i + 1 < symbols.Count && symbols[i] == best.Item1
                        && symbols[i + 1] == best.Item2) { next.Add(merged); i++; }
                    else next.Add(symbols[i]);
                }
                words[w] = (next, words[w].Count);
                Count(w, +1);
                for (int i = 0; i + 1 < next.Count; i++) touched.Add((next[i], next[i + 1]));
            }
            pairCounts.Remove(best);
            foreach (var pair in touched.Order())
                if (pairCounts.TryGetValue(pair, out long count) && count > 0) queue.Enqueue(pair, (count, pair.Item1,
                    pair.Item2));
        }
        return new ByteLevelBpeTokenizer(tokenIds, merges);
    }
}
