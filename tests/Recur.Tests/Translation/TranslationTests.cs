using Recur.Autograd;
using Recur.Cli;
using Recur.Decoding;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Text;
using Recur.Training;
using Recur.Translation;

namespace Recur.Tests.Translation;

[Collection("cli")]
public sealed class TranslationTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-translate-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string At(string name) => Path.Combine(folder, name);

    [Fact]
    public void BleuMatchesHandWorkedExamples()
    {
        // 1-grams 5/6, 2-grams 3/5, 3-grams 1/4, 4-grams 0/3 → smoothed to 1/(2·3); no brevity penalty
        var score = Bleu.Corpus(["the cat sat on the mat"], ["the cat is on the mat"]);
        Assert.Equal(100 * Math.Pow(5.0 / 6 * 3.0 / 5 * 1.0 / 4 * 1.0 / 6, 0.25), score.Score, 6);
        Assert.Equal([100 * 5.0 / 6, 100 * 3.0 / 5, 25, 100.0 / 6], score.Precisions.Select(p => Math.Round(p,
            6)).ToArray(), (a, b) => Math.Abs(a - b) < 1e-4);
        Assert.Equal(1.0, score.BrevityPenalty);
        // too short: brevity penalty exp(1 − 6/2), and no 3-grams at all → 0
        var shorter = Bleu.Corpus(["the cat"], ["the cat is on the mat"]);
        Assert.Equal(Math.Exp(1 - 3.0), shorter.BrevityPenalty, 10);
        Assert.Equal(0, shorter.Score);
        // counts are pooled over the corpus; a perfect corpus scores 100
        Assert.Equal(100, Bleu.Corpus(["il fait beau .", "je suis là !"], ["il fait beau.", "je suis là !"]).Score, 6);
        Assert.Equal(0, Bleu.Corpus(["a b c d"], ["e f g h"]).Score);
        // clipping: "the the the" matches "the" only as often as the reference has it
        Assert.Equal(100.0 / 3, Bleu.Corpus(["the the the"], ["the cat x"]).Precisions[0], 6);
    }

    [Fact]
    public void TheThirteenATokenizerSplitsPunctuationButNotNumbers()
    {
        Assert.Equal(["Hello", ",", "world", "!"], Bleu.Tokenize13a("Hello, world!"));
        Assert.Equal(["3.14", "and", "1,000", "."], Bleu.Tokenize13a("3.14 and 1,000."));
        Assert.Equal(["well-known", "2", "-", "3"], Bleu.Tokenize13a("well-known 2-3"));
        Assert.Equal(["j'ai", "\"", "x", "\""], Bleu.Tokenize13a("j'ai &quot;x&quot;"));
        Assert.Equal("peut-être , là", TranslationTask.Detokenize("peut - être , là"));
    }

    [Fact]
    public void PairsAreNormalisedFilteredAndBadLinesReported()
    {
        string[] lines = ["Go.\tVa !", "", "I'm cold.\tJ'ai froid.\tCC-BY 2.0 (France) Attribution",
            "This sentence has far too many words to keep here\tNon."];
        var pairs = SentencePairs.Parse(lines, "mem", new PairOptions(MaxWords: 5));
        Assert.Equal([new SentencePair("go.", "va !"), new SentencePair("i'm cold.", "j'ai froid.")], pairs);
        Assert.Equal(new SentencePair("va !", "go."), SentencePairs.Parse(lines, "mem",
            new PairOptions(Reverse: true))[0]);
        Assert.Equal("ete", SentencePairs.Normalise("Été", new PairOptions(StripAccents: true)));
        Assert.Equal("\u00E9t\u00E9", SentencePairs.Normalise("E\u0301te\u0301",
            new PairOptions(LowerCase: false)).ToLowerInvariant()); // NFC
        var error = Assert.Throws<InvalidDataException>(() => SentencePairs.Parse(["a\tb", "no tab here"], "pairs.txt",
            new PairOptions()));
        Assert.Contains("pairs.txt, line 2", error.Message);
        var (train, held) = SentencePairs.Split(Enumerable.Range(0, 100).Select(i => new SentencePair($"s{i}",
            $"t{i}")).ToList(), 0.05, 3);
        Assert.Equal((95, 5), (train.Count, held.Count));
        Assert.Empty(train.Intersect(held));
        Assert.Equal(held, SentencePairs.Split(Enumerable.Range(0, 100).Select(i => new SentencePair($"s{i}",
            $"t{i}")).ToList(), 0.05, 3).HeldOut);
    }

    static Seq2Seq Small(AttentionKind attention, string cell = "lstm", int layers = 1, bool bidirectional = true,
        float dropout = 0f, int vocabulary = 9) =>
        new(new Seq2SeqConfig(vocabulary, vocabulary + 1, 4, 3, layers, RecurrentCells.Parse(cell), bidirectional,
            attention, dropout), new RandomGenerator(3));

    [Theory]
    [InlineData(AttentionKind.None, "lstm", 1, true)]
    [InlineData(AttentionKind.Dot, "gru", 1, true)]
    [InlineData(AttentionKind.General, "lstm", 2, false)]
    [InlineData(AttentionKind.Additive, "lstm", 1, true)]
    public void GradientsMatchFiniteDifferences(AttentionKind attention, string cell, int layers, bool bidirectional)
    {
        var model = Small(attention, cell, layers, bidirectional);
        int[][] sources = [[4, 5, 6], [7, 8], [4]];
        int[][] targets = [[5, 6], [9, 4, 7], []];
        var result = GradientCheck.Compare(() => model.Loss(sources, targets), model.Parameters(), epsilon: 1e-2);
        Assert.True(result.Passed, $"{attention}: error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Theory]
    [InlineData(AttentionKind.Dot)]
    [InlineData(AttentionKind.General)]
    [InlineData(AttentionKind.Additive)]
    public void AttentionSumsToOneOverRealSourceTokensAndPaddingChangesNothing(AttentionKind attention)
    {
        var model = Small(attention, vocabulary: 12);
        int[][] sources = [[4, 5, 6, 7, 8, 9], [10, 11], [4, 4, 4]];
        var together = model.Greedy(sources, maxLength: 6);
        for (int b = 0; b < sources.Length; b++)
        {
            Assert.All(together[b].Attention, row =>
            {
                Assert.Equal(sources[b].Length, row.Length);
                Assert.Equal(1.0, row.Sum(), 5);
            });
            var alone = model.Greedy([sources[b]], maxLength: 6)[0];
            Assert.Equal(alone.Tokens, together[b].Tokens);
            Assert.Equal(alone.LogProbability, together[b].LogProbability, 4);
        }
    }

    [Theory]
    [InlineData(AttentionKind.None)]
    [InlineData(AttentionKind.Additive)]
    public void BeamSearchOfWidthOneIsGreedy(AttentionKind attention)
    {
        var model = Small(attention, vocabulary: 12);
        var random = new RandomGenerator(5);
        for (int trial = 0; trial < 8; trial++)
        {
            var source = Enumerable.Range(0, 1 + random.NextInt(6)).Select(_ => 4 + random.NextInt(8)).ToArray();
            var greedy = model.Greedy([source], maxLength: 7)[0];
            var beam = model.BeamSearch(source, 1, maxLength: 7, lengthPenalty: 0);
            Assert.Equal(greedy.Tokens, beam.Tokens);
            Assert.Equal(greedy.LogProbability, beam.LogProbability, 4);
            // a wider beam never finds a less likely translation under α = 0
            Assert.True(model.BeamSearch(source, 4, maxLength: 7,
                lengthPenalty: 0).LogProbability >= greedy.LogProbability - 1e-4);
        }
    }

    [Theory]
    [InlineData(AttentionKind.General, 1)]
    [InlineData(AttentionKind.General, 3)]
    [InlineData(AttentionKind.None, 4)]
    public void BatchedBeamSearchFindsWhatEachSentenceFindsAlone(AttentionKind attention, int width)
    {
        var model = Small(attention, vocabulary: 12);
        var random = new RandomGenerator(9);
        var sources = Enumerable.Range(0, 7).Select(_ => Enumerable.Range(0,
            1 + random.NextInt(6)).Select(_ => 4 + random.NextInt(8)).ToArray()).ToList();
        var together = model.BeamSearch(sources, width, maxLength: 8);
        for (int i = 0; i < sources.Count; i++)
        {
            var alone = model.BeamSearch(sources[i], width, maxLength: 8);
            Assert.Equal(alone.Tokens, together[i].Tokens);
            Assert.Equal(alone.LogProbability, together[i].LogProbability, 4);
            Assert.Equal(alone.Attention.Length, together[i].Attention.Length);
            foreach (var row in together[i].Attention)
            {
                Assert.Equal(sources[i].Length, row.Length); // the sentence's own tokens, not the batch's padding
                if (attention != AttentionKind.None) Assert.Equal(1.0, row.Sum(), 5);
            }
        }
    }

    [Fact]
    [Trait("Category", "slow")] // learns to a threshold
    public void AnAttentionModelLearnsToReverseSequences()
    {
        var random = new RandomGenerator(7);
        var words = Enumerable.Range(0, 8).Select(i => ((char)('a' + i)).ToString()).ToArray();
        List<SentencePair> Make(int count) => Enumerable.Range(0, count).Select(_ =>
        {
            var s = Enumerable.Range(0,
                2 + random.NextInt(5)).Select(_ => words[random.NextInt(words.Length)]).ToArray();
            return new SentencePair(string.Join(' ', s), string.Join(' ', s.Reverse()));
        }).ToList();
        var train = Make(600);
        var valid = Make(60);
        var vocabulary = TranslationVocabulary.Build(train);
        var model = new Seq2Seq(new Seq2SeqConfig(vocabulary.Source.VocabularySize, vocabulary.Target.VocabularySize,
            16, 32, Attention: AttentionKind.General, Dropout: 0f), new RandomGenerator(1));
        var task = new TranslationTask(model, vocabulary, train, valid, 32);
        var result = new Trainer<int[]>(task, new Adam(model.Parameters(), 1e-2f),
            new TrainerOptions
            {
                Epochs = 8, Metric = "bleu", MetricMode = MetricMode.Max, ClipNorm = 5f,
                TeacherForcing = TeacherForcing.Linear(1, 0.7, 8 * task.BatchesPerEpoch)
            }).Fit();
        Assert.True(result.BestMetric > 90, $"best BLEU {result.BestMetric:F1}");
    }

    [Fact]
    public void TrainEvalAndRunFromTheCommandLine()
    {
        var random = new Random(3);
        string[] english = ["i", "am", "you", "are", "cold", "happy", "here"], french = ["je", "suis", "tu", "es",
            "froid", "heureux", "ici"];
        var lines = Enumerable.Range(0, 300).Select(_ =>
        {
            var idx = Enumerable.Range(0, random.Next(1, 5)).Select(_ => random.Next(english.Length)).ToArray();
            return $"{string.Join(' ', idx.Select(i => english[i]))}.\t"
                + $"{string.Join(' ', idx.Select(i => french[i]))}.\tCC-BY";
        });
        File.WriteAllLines(At("pairs.txt"), lines);
        Assert.Equal(0, RecurCommand.Run("translate", "train", "--pairs", At("pairs.txt"), "--attention", "additive",
            "--embed", "16", "--hidden", "16",
            "--epochs", "3", "--lr", "1e-2", "--batch", "32", "--held-out", "0.1", "--teacher-forcing-end", "0.8",
                "--out", At("run"), "--threads", "1"));
        Assert.Equal(0, RecurCommand.Run("translate", "eval", "--model", At("run"), "--beam", "3", "--json"));
        Assert.Equal(0, RecurCommand.Run("translate", "run", "--model", At("run"), "--plot", At("attention"),
            "I am happy."));
        // int8: the encoder stack and the decoder cell quantised
        Assert.Equal(0, RecurCommand.Run("translate", "eval", "--model", At("run"), "--beam", "3", "--json", "--int8"));
        Assert.Equal(0, RecurCommand.Run("translate", "run", "--model", At("run"), "--int8", "I am happy."));
        Recur.Tests.Figures.FigureFiles.AssertPng(At("attention.png"));
        Recur.Tests.Figures.FigureFiles.AssertSvg(At("attention.svg"), "attention: i am happy.");
        Assert.Equal(2, RecurCommand.Run("translate", "run", "--model", At("nowhere"), "x"));
        // a damaged translation.json is named with its field, not met with a stack trace
        string settings = Path.Combine(At("run"), "translation.json");
        File.WriteAllText(settings, File.ReadAllText(settings).Replace("\"max_words\": 10", "\"max_words\": \"ten\"",
            StringComparison.Ordinal));
        var (code, error) = Recur.Tests.Cli.RunSafetyTests.RunCapturingErrors("translate", "run", "--model",
            At("run"), "x");
        Assert.Equal(1, code);
        Assert.Contains($"{settings}: field 'max_words' is \"ten\", not an integer.", error);
        File.WriteAllText(At("bad.txt"), "only one column\n");
        Assert.Equal(1, RecurCommand.Run("translate", "train", "--pairs", At("bad.txt"), "--out", At("bad")));

        // the split another toolkit trains on is the one `translate train` used: same held-out pairs, tokenised the
        // same way
        Assert.Equal(0, RecurCommand.Run("translate", "split", "--pairs", At("pairs.txt"), "--held-out", "0.1",
            "--out", At("split")));
        var (train, heldOut) = SentencePairs.Split(SentencePairs.Read(At("pairs.txt"), new PairOptions(MaxWords: 10)),
            0.1, 1);
        var validLines = File.ReadAllLines(At("split/valid.tsv"));
        Assert.Equal(heldOut.Count, validLines.Length);
        Assert.Equal(train.Count, File.ReadAllLines(At("split/train.tsv")).Length);
        Assert.Equal($"{heldOut[0].Source[..^1]} .\t{heldOut[0].Target[..^1]} .\t{heldOut[0].Target}", validLines[0]);
        // BLEU of the references against themselves is 100; a line-count mismatch is an error naming both files
        File.WriteAllLines(At("hyp.txt"), heldOut.Select(p => p.Target));
        Assert.Equal(0, RecurCommand.Run("translate", "bleu", "--hypotheses", At("hyp.txt"), "--references",
            At("split/valid.tsv"), "--json"));
        File.WriteAllLines(At("short.txt"), heldOut.Skip(1).Select(p => p.Target));
        Assert.Equal(1, RecurCommand.Run("translate", "bleu", "--hypotheses", At("short.txt"), "--references",
            At("split/valid.tsv")));
    }
}
