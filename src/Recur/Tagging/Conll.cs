using System.Text.Json.Serialization;
using Recur.Serialization;

namespace Recur.Tagging;

/// <summary>A sentence with one tag per token.</summary>
/// <param name="Tokens">The tokens.</param>
/// <param name="Tags">The tags (same length).</param>
public sealed record TaggedSentence(string[] Tokens, string[] Tags);

/// <summary>How chunk (entity) tags mark boundaries.</summary>
[JsonConverter(typeof(LowerCaseEnumConverter<TagScheme>))]
public enum TagScheme
{
    /// <summary>IOB1 (CoNLL-2003 as distributed): I-X inside a chunk; B-X only starts a chunk right after another X
    /// chunk.</summary>
    Iob1,
    /// <summary>BIO, also called IOB2: B-X starts every chunk, I-X continues it.</summary>
    Bio,
    /// <summary>BIOES (IOBES): B-X begins, I-X continues, E-X ends a chunk of several tokens; S-X is a one-token
    /// chunk.</summary>
    Bioes,
}

/// <summary>A typed chunk: tokens [Start, End) of a sentence.</summary>
/// <param name="Type">The entity type (PER, LOC, …).</param>
/// <param name="Start">First token.</param>
/// <param name="End">One past the last token.</param>
public readonly record struct Chunk(string Type, int Start, int End);

/// <summary>
/// Chunks from tags and tags from chunks. Chunks are found as the CoNLL shared tasks' <c>conlleval</c> script finds
/// them, for any of the schemes at once: an I- tag that does not continue a chunk of its type starts one (so "O I-PER"
/// is a PER chunk), and a change of type always ends a chunk. Converting between schemes goes through the chunks, so it
/// is exact: IOB1 → BIO → BIOES → IOB1 returns the original tags.
/// </summary>
public static class TagSchemes
{
    static (char Prefix, string Type) Split(string tag)
    {
        if (tag == "O") return ('O', "");
        if (tag.Length < 3 || tag[1] != '-' || "BIES".IndexOf(tag[0]) < 0)
            throw new FormatException($"tag '{tag}' is neither O nor B-/I-/E-/S- followed by a type.");
        return (tag[0], tag[2..]);
    }

    static bool EndOfChunk(char previous, char current, string previousType, string type) =>
        previous is 'E' or 'S'
        || previous is 'B' or 'I' && current is 'B' or 'S' or 'O'
        || previous != 'O' && previousType != type;

    static bool StartOfChunk(char previous, char current, string previousType, string type) =>
        current is 'B' or 'S'
        || previous is 'E' or 'S' or 'O' && current is 'E' or 'I'
        || current != 'O' && previousType != type;

    /// <summary>The chunks of one sentence's tags.</summary>
    public static List<Chunk> Chunks(IReadOnlyList<string> tags)
    {
        var chunks = new List<Chunk>();
        char previous = 'O';
        string previousType = "";
        int start = -1;
        for (int i = 0; i <= tags.Count; i++)
        {
            var (prefix, type) = i < tags.Count ? Split(tags[i]) : ('O', ""); // the sentence ends as if an O followed
            if (start >= 0 && EndOfChunk(previous, prefix, previousType, type))
            {
                chunks.Add(new Chunk(previousType, start, i));
                start = -1;
            }
            if (i < tags.Count && StartOfChunk(previous, prefix, previousType, type)) start = i;
            (previous, previousType) = (prefix, type);
        }
        return chunks;
    }

    /// <summary>Tags of <paramref name="length"/> tokens in <paramref name="scheme"/> for non-overlapping
    /// <paramref name="chunks"/>.</summary>
    public static string[] Tags(IReadOnlyList<Chunk> chunks, int length, TagScheme scheme)
    {
        var tags = Enumerable.Repeat("O", length).ToArray();
        Chunk? before = null;
        foreach (var chunk in chunks.OrderBy(c => c.Start))
        {
            if (chunk.Start < 0 || chunk.End > length || chunk.End <= chunk.Start || before is { } b
                && chunk.Start < b.End)
                throw new ArgumentException(
                    $"chunk {chunk} does not fit a sentence of {length} tokens without overlapping another.");
            for (int i = chunk.Start; i < chunk.End; i++)
            {
                bool first = i == chunk.Start, last = i == chunk.End - 1;
                char prefix = scheme switch
                {
                    TagScheme.Bio => first ? 'B' : 'I',
                    TagScheme.Bioes => first && last ? 'S' : first ? 'B' : last ? 'E' : 'I',
                    _ => first && before is { } p && p.End == chunk.Start && p.Type == chunk.Type ? 'B' : 'I',
                };
                tags[i] = $"{prefix}-{chunk.Type}";
            }
            before = chunk;
        }
        return tags;
    }

    /// <summary>
    /// The scheme tagged data is written in: IOB1 when some chunk starts with I- (after O or at a sentence start),
    /// BIOES when E- or S- tags occur, else BIO.
    /// </summary>
    public static TagScheme Detect(IEnumerable<IReadOnlyList<string>> sentences)
    {
        bool bioes = false;
        foreach (var tags in sentences)
            for (int i = 0; i < tags.Count; i++)
            {
                string tag = tags[i];
                if (tag.StartsWith("E-", StringComparison.Ordinal) || tag.StartsWith("S-",
                    StringComparison.Ordinal)) bioes = true;
                else if (tag.StartsWith("I-",
                    StringComparison.Ordinal) && (i == 0 || tags[i - 1] == "O")) return TagScheme.Iob1;
            }
        return bioes ? TagScheme.Bioes : TagScheme.Bio;
    }

    /// <summary>Rewrites one sentence's tags in another scheme (whatever scheme they are in).</summary>
    public static string[] Convert(IReadOnlyList<string> tags, TagScheme to) => Tags(Chunks(tags), tags.Count, to);

    /// <summary>
    /// Whether a model may move from tag <paramref name="from"/> to tag <paramref name="to"/> (null: the sentence start
    /// or end) in <paramref name="scheme"/>; moves that no well-formed tag sequence makes are forbidden.
    /// </summary>
    public static bool Allowed(string? from, string? to, TagScheme scheme)
    {
        var (fp, ft) = from is null ? ('O', "") : Split(from);
        var (tp, tt) = to is null ? ('O', "") : Split(to);
        bool atEnd = to is null;
        bool open = from is not null && fp is 'B' or 'I'; // inside a chunk of type ft that has not ended
        return scheme switch
        {
            TagScheme.Bio => tp != 'I' || open && ft == tt, // I-X continues a B-X or I-X
            TagScheme.Bioes => open ? !atEnd && tp is 'I' or 'E' && tt == ft : atEnd
                || tp is 'B' or 'S' or 'O', // chunks close with E or S
            _ => tp != 'B' || open && ft == tt, // IOB1: B-X only separates two X chunks
        };
    }
}

/// <summary>Reads CoNLL column files: one token per line, columns separated by white space, blank lines and
/// <c>-DOCSTART-</c> lines between sentences.</summary>
public static class ConllReader
{
    /// <summary>
    /// The sentences of <paramref name="path"/>, the token from column <paramref name="tokenColumn"/> and the tag from
    /// <paramref name="tagColumn"/> (negative counts from the end: −1 is the last column). A line with too few columns,
    /// or (with <paramref name="chunkTags"/>) a tag that is not O or B-/I-/E-/S- and a type, is an error naming the
    /// file and line.
    /// </summary>
    public static List<TaggedSentence> Read(string path, int tokenColumn = 0, int tagColumn = -1, bool chunkTags = true)
    {
        return Parse(Text.TextFiles.ReadUtf8Lines(path), path, tokenColumn, tagColumn, chunkTags);
    }

    /// <summary>Parses lines of a CoNLL file; <paramref name="source"/> names it in errors.</summary>
    public static List<TaggedSentence> Parse(IEnumerable<string> lines, string source, int tokenColumn = 0,
        int tagColumn = -1, bool chunkTags = true)
    {
        var sentences = new List<TaggedSentence>();
        var tokens = new List<string>();
        var tags = new List<string>();
        void Flush()
        {
            if (tokens.Count > 0) sentences.Add(new TaggedSentence([.. tokens], [.. tags]));
            tokens.Clear();
            tags.Clear();
        }
        int number = 0;
        foreach (var raw in lines)
        {
            number++;
            string line = raw.TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line)) { Flush(); continue; }
            var columns = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (columns[0] == "-DOCSTART-") { Flush(); continue; }
            int token = tokenColumn < 0 ? columns.Length + tokenColumn : tokenColumn,
                tag = tagColumn < 0 ? columns.Length + tagColumn : tagColumn;
            if (token < 0 || tag < 0 || token >= columns.Length || tag >= columns.Length || token == tag)
                throw new InvalidDataException($"{source}, line {number}: {columns.Length} column(s), but the token "
                    + $"is read from column {tokenColumn} and the tag from {tagColumn}: '{line}'.");
            try { if (chunkTags) TagSchemes.Chunks([columns[tag]]); }
            catch (FormatException e) { throw new InvalidDataException($"{source}, line {number}: {e.Message}", e); }
            tokens.Add(columns[token]);
            tags.Add(columns[tag]);
        }
        Flush();
        if (sentences.Count == 0) throw new InvalidDataException($"{source}: no sentences.");
        return sentences;
    }
}

/// <summary>Precision, recall and F1 of one entity type (or of all).</summary>
/// <param name="Precision">Correct chunks / predicted chunks.</param>
/// <param name="Recall">Correct chunks / gold chunks.</param>
/// <param name="F1">Harmonic mean of the two.</param>
/// <param name="Gold">Gold chunks.</param>
/// <param name="Predicted">Predicted chunks.</param>
/// <param name="Correct">Predicted chunks with the gold type and exactly the gold boundaries.</param>
public sealed record ChunkScore(double Precision, double Recall, double F1, int Gold, int Predicted, int Correct);

/// <summary>
/// Entity-level scores as the CoNLL <c>conlleval</c> script computes them: a predicted chunk counts only when a gold
/// chunk has the same type and the same first and last token; precision, recall and F1 overall and per type, and
/// token accuracy.
/// </summary>
public sealed record ConllEvaluation(ChunkScore Overall, IReadOnlyDictionary<string, ChunkScore> ByType,
    double TokenAccuracy, int Tokens)
{
    /// <summary>Scores predicted tag sequences against gold ones (any scheme, even mixed).</summary>
    public static ConllEvaluation Score(IReadOnlyList<IReadOnlyList<string>> gold,
        IReadOnlyList<IReadOnlyList<string>> predicted)
    {
        if (gold.Count != predicted.Count) throw new ArgumentException(
            $"conlleval: {gold.Count} gold sentences but {predicted.Count} predicted.");
        var counts = new Dictionary<string, (int Gold, int Predicted, int Correct)>(StringComparer.Ordinal);
        int tokens = 0, right = 0;
        for (int s = 0; s < gold.Count; s++)
        {
            if (gold[s].Count != predicted[s].Count) throw new ArgumentException(
                $"conlleval: sentence {s + 1} has {gold[s].Count} gold tags but {predicted[s].Count} predicted.");
            for (int i = 0; i < gold[s].Count; i++) { tokens++; if (gold[s][i] == predicted[s][i]) right++; }
            var goldChunks = TagSchemes.Chunks(gold[s]);
            var predictedChunks = TagSchemes.Chunks(predicted[s]);
            var goldSet = goldChunks.ToHashSet();
            foreach (var c in goldChunks)
            {
                var v = counts.GetValueOrDefault(c.Type); counts[c.Type] = (v.Gold + 1,
                v.Predicted, v.Correct);
            }
            foreach (var c in predictedChunks)
            {
                var v = counts.GetValueOrDefault(c.Type);
                counts[c.Type] = (v.Gold, v.Predicted + 1, v.Correct + (goldSet.Contains(c) ? 1 : 0));
            }
        }
        static ChunkScore Make(int g, int p, int c)
        {
            double precision = p == 0 ? 0 : (double)c / p, recall = g == 0 ? 0 : (double)c / g;
            return new ChunkScore(precision, recall,
                precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall), g, p, c);
        }
        var byType = counts.OrderBy(k => k.Key, StringComparer.Ordinal).ToDictionary(k => k.Key,
            k => Make(k.Value.Gold, k.Value.Predicted, k.Value.Correct));
        var overall = Make(counts.Values.Sum(v => v.Gold), counts.Values.Sum(v => v.Predicted),
            counts.Values.Sum(v => v.Correct));
        return new ConllEvaluation(overall, byType, tokens == 0 ? 0 : (double)right / tokens, tokens);
    }
}
