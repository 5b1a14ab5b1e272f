using System.Text;
using Microsoft.ML.Tokenizers;
using Recur.Text;

namespace Recur.Tests.Text;

public sealed class TokenizerTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-tokenizers-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    const string Corpus = """
        First Citizen:
        Before we proceed any further, hear me speak.

        All:
        Speak, speak. We're resolved rather to die than to famish?
        It's 1,234 times 56 — café naïve 東京 😀 x̃ and	tabs.
        """;

    /// <summary>Random strings over code points that stress tokenisers: ASCII, white space of every kind, combining
    /// marks, CJK, astral characters (surrogate pairs), NUL and control characters, apostrophes and digits.</summary>
    static string RandomText(Random random, int length)
    {
        int[][] ranges =
        [
            [0x20, 0x7E], [0x00, 0x1F], [0x300, 0x36F], [0x4E00, 0x4E80], [0x1F600, 0x1F64F], [0x10000, 0x1007F],
            [0x2000, 0x200B], [0xA0, 0xFF], [0x0400, 0x04FF], [0xFFF0, 0xFFFD], [0x0600, 0x06FF],
        ];
        var text = new StringBuilder();
        for (int i = 0; i < length; i++)
        {
            var range = ranges[random.Next(ranges.Length)];
            int value = random.Next(range[0], range[1] + 1);
            text.Append(random.Next(8) == 0 ? " " : random.Next(12) == 0 ? "'s" : new Rune(value).ToString());
        }
        return text.ToString();
    }

    [Fact]
    public void BpeRoundTripsAnyValidUnicodeString()
    {
        var bpe = BpeTrainer.Train(Corpus + RandomText(new Random(1), 400), 420);
        var random = new Random(7);
        for (int trial = 0; trial < 300; trial++)
        {
            string text = RandomText(random, random.Next(0, 60));
            var ids = bpe.Encode(text);
            Assert.DoesNotContain(Tokenizers.Unknown, ids);
            Assert.Equal(text, bpe.Decode(ids));
        }
    }

    [Fact]
    public void CharRoundTripsOverItsAlphabetAndMarksUnknownCharacters()
    {
        var random = new Random(3);
        string training = RandomText(random, 3000);
        var chars = CharTokenizer.Build(training);
        var alphabet = Tokenizers.Runes(training).Distinct().ToArray();
        for (int trial = 0; trial < 200; trial++)
        {
            string text = string.Concat(Enumerable.Range(0, random.Next(0,
                50)).Select(_ => alphabet[random.Next(alphabet.Length)].ToString()));
            var ids = chars.Encode(text);
            Assert.Equal(text.EnumerateRunes().Count(), ids.Length); // one token per character, astral ones included
            Assert.Equal(text, chars.Decode(ids));
        }
        var unseen = chars.Encode("\U0001F9FF");
        Assert.Equal([Tokenizers.Unknown], unseen);
        Assert.Equal("\uFFFD", chars.Decode(unseen));
    }

    [Fact]
    public void LoneSurrogatesAreRejectedWithTheirIndex()
    {
        var chars = CharTokenizer.Build(Corpus);
        var bpe = BpeTrainer.Train(Corpus, 300);
        var words = WordLevelTokenizer.Build(Corpus);
        foreach (ITokenizer tokenizer in new ITokenizer[] { chars, bpe, words })
        {
            var error = Assert.Throws<ArgumentException>(() => tokenizer.Encode("ab\uD800cd"));
            Assert.Contains("index 2", error.Message);
        }
    }

    [Fact]
    public void InvalidUtf8InAFileIsReportedWithFileAndOffset()
    {
        string path = Path.Combine(folder, "bad.txt");
        File.WriteAllBytes(path, [.. "line one\nli"u8.ToArray(), 0xC3, 0x28, .. "ne\n"u8.ToArray()]);
        var error = Assert.Throws<InvalidDataException>(() => TextFiles.ReadUtf8(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("byte offset 11", error.Message);
        Assert.Contains("line 2", error.Message);
        File.WriteAllBytes(Path.Combine(folder, "bom.txt"), [0xEF, 0xBB, 0xBF, .. "héllo"u8.ToArray()]);
        Assert.Equal("héllo", TextFiles.ReadUtf8(Path.Combine(folder, "bom.txt")));
    }

    [Fact]
    public void BpeLearnsTheMostFrequentPairsFirst()
    {
        // "low" ×5 and "lower" ×2, "newest" ×6, "widest" ×3 (Sennrich et al.'s example, byte-level)
        string text = string.Join(" ", Enumerable.Repeat("low", 5).Concat(Enumerable.Repeat("lower",
            2)).Concat(Enumerable.Repeat("newest", 6)).Concat(Enumerable.Repeat("widest", 3)));
        var bpe = BpeTrainer.Train(text, 264);
        // every word but the first is preceded by a space (GPT-2 pre-tokens " newest" etc.); "Ġ" is the space byte's
        // stand-in "es" and "st" both occur 9 times (newest ×6, widest ×3): the tie goes to the smaller ids, then "es
        // t" has 9
        Assert.Equal(("e", "s"), bpe.Merges[0]);
        Assert.Equal(("es", "t"), bpe.Merges[1]);
        Assert.Equal(4 + 256 + bpe.Merges.Count, bpe.VocabularySize);
        Assert.Equal(" newest", bpe.Decode(bpe.Encode(" newest")));
    }

    [Fact]
    public void BpeTrainingIsDeterministicAndStopsAtTheTargetSize()
    {
        var first = BpeTrainer.Train(Corpus + Corpus, 300);
        var second = BpeTrainer.Train(Corpus + Corpus, 300);
        Assert.Equal(first.Merges, second.Merges);
        Assert.Equal(300, first.VocabularySize);
        Assert.True(first.Encode(Corpus).Length < Encoding.UTF8.GetByteCount(Corpus) * 0.7,
            "merges should shorten the text");
        // a target beyond what the text supports stops when no pair occurs twice
        var all = BpeTrainer.Train("abc abd", 10_000);
        Assert.True(all.VocabularySize < 280);
    }

    [Fact]
    public void SavedBpeFilesEncodeIdenticallyInMicrosoftMLTokenizers()
    {
        string training = Corpus + File.ReadAllText(typeof(TokenizerTests).Assembly.Location.Replace(".dll",
            ".deps.json"));
        var ours = BpeTrainer.Train(training, 800);
        ours.Save(folder);
        Assert.StartsWith("#version", File.ReadAllLines(Path.Combine(folder, "merges.txt"))[0],
            StringComparison.Ordinal);
        // Microsoft.ML.Tokenizers' byte-level BPE reads the two files; its pre-tokeniser is GPT-2's published pattern
        // (CodeGenTokenizer would also read them, but adds tokens of its own for runs of spaces)
        var gpt2Pattern
            = new System.Text.RegularExpressions.Regex(
            @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");
        var theirs = BpeTokenizer.Create(new BpeOptions(Path.Combine(folder, "vocab.json"), Path.Combine(folder,
            "merges.txt"))
        {
            ByteLevel = true, PreTokenizer = new RegexPreTokenizer(gpt2Pattern, null),
        });
        var random = new Random(11);
        var samples = new List<string> { Corpus, "Hello world! It's 2026-11-22.\n\n  Indented   text\r\nwith CRLF.",
            "naïve café — 東京 😀😀" };
        for (int i = 0; i < 100; i++) samples.Add(RandomText(random, random.Next(1, 40)));
        foreach (var sample in samples)
        {
            var expected = ours.Encode(sample);
            var actual = theirs.EncodeToIds(sample).ToArray();
            Assert.True(expected.SequenceEqual(actual), $"'{sample}': ours [{string.Join(",", expected)}] vs "
                + $"Microsoft.ML.Tokenizers [{string.Join(",", actual)}]");
            Assert.Equal(sample, theirs.Decode(expected));
        }
        var reloaded = (ByteLevelBpeTokenizer)Tokenizers.Load(folder);
        Assert.Equal(ours.Encode(Corpus), reloaded.Encode(Corpus));
    }

    [Fact]
    public void MalformedMergesAreReportedWithTheLine()
    {
        var bpe = BpeTrainer.Train(Corpus, 280);
        bpe.Save(folder);
        string merges = Path.Combine(folder, "merges.txt");
        var lines = File.ReadAllLines(merges).ToList();
        lines.Insert(3, "onlyonetoken");
        File.WriteAllLines(merges, lines);
        var error = Assert.Throws<InvalidDataException>(() => Tokenizers.Load(folder));
        Assert.Contains("line 4", error.Message);
        Assert.Contains("merges.txt", error.Message);
    }

    [Fact]
    public void WordTokenizerMarksLineEndsAndRareWords()
    {
        string text = "the cat sat\nthe dog sat\nthe end\n";
        var words = WordLevelTokenizer.Build(text, minFrequency: 2);
        Assert.Equal(["<pad>", "<unk>", "<bos>", "<eos>", "the", "sat"], Enumerable.Range(0,
            words.VocabularySize).Select(words.TokenText));
        var ids = words.Encode("the cat sat\nthe");
        Assert.Equal([4, Tokenizers.Unknown, 5, Tokenizers.Eos, 4], ids);
        Assert.Equal("the sat\nthe sat", words.Decode([4, 5, Tokenizers.Eos, 4, 5]));
        var punctuation = WordLevelTokenizer.Build("Hello, world! Hello.", WordSplitting.Words, lowerCase: true);
        Assert.Equal("hello , world ! hello .", punctuation.Decode(punctuation.Encode("Hello, world! Hello.")));
        // over text already split at single spaces, with every word known, the round trip is exact
        var all = WordLevelTokenizer.Build(text);
        Assert.Equal(text, all.Decode(all.Encode(text)));
    }

    [Fact]
    public void EveryTokenizerSavesAndLoadsTheSameIds()
    {
        foreach (ITokenizer tokenizer in new ITokenizer[] { CharTokenizer.Build(Corpus),
            WordLevelTokenizer.Build(Corpus, WordSplitting.Words, true), BpeTrainer.Train(Corpus, 320) })
        {
            string target = Path.Combine(folder, tokenizer.Kind);
            tokenizer.Save(target);
            var loaded = Tokenizers.Load(target);
            Assert.Equal(tokenizer.Kind, loaded.Kind);
            Assert.Equal(tokenizer.VocabularySize, loaded.VocabularySize);
            Assert.Equal(tokenizer.Encode(Corpus), loaded.Encode(Corpus));
            for (int i = 0; i < 4; i++) Assert.Equal(Tokenizers.Specials[i], loaded.TokenText(i));
        }
    }

    [Fact]
    public void ADescriptionOfEarlierVersionsLoadsAndABadOneNamesTheFileAndField()
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, Tokenizers.File);
        File.WriteAllText(path, "{\n  \"kind\": \"word\",\n  \"splitting\": \"words\",\n  \"lower_case\": true,\n"
            + "  \"words\": [\n    \"the\",\n    \"cat\"\n  ]\n}");
        var earlier = Tokenizers.Load(folder);
        Assert.Equal([4, 5, Tokenizers.Unknown], earlier.Encode("The cat sat"));
        string written = File.ReadAllText(path);
        earlier.Save(folder);
        Assert.Equal(written, File.ReadAllText(path));
        foreach (var (broken, field) in new[]
        {
            ("{\"kind\": \"word\", \"splitting\": \"words\", \"words\": []}", "'lower_case'"),
            ("{\"kind\": \"word\", \"splitting\": \"sentences\", \"lower_case\": true, \"words\": []}",
                "'splitting'"),
            ("{\"symbols\": [\"a\"]}", "kind"),
            ("{\"kind\": \"char\", \"symbols\": [\"ab\"]}", "'ab'"),
            ("{\"kind\": \"char\", \"symbols\": [\"a\", \"\"]}", "symbol 5 ('') is not one character"),
            ("{\"kind\": \"word\", \"kind\": \"char\", \"symbols\": []}", "malformed JSON"),
        })
        {
            File.WriteAllText(path, broken);
            var message = Assert.Throws<InvalidDataException>(() => Tokenizers.Load(folder)).Message;
            Assert.StartsWith(path, message);
            Assert.Contains(field, message);
        }
    }
}
