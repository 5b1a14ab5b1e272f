using Recur.Autograd;
using Recur.Optim;
using Recur.Tagging;
using Recur.Text;
using Recur.Training;

namespace Recur.Tests.Tagging;

public sealed class TaggingTests
{
    [Fact]
    public void ChunksAreFoundAsConllevalFindsThem()
    {
        // IOB1: B- only separates two chunks of one type
        Assert.Equal([new Chunk("PER", 0, 2), new Chunk("LOC", 3, 4), new Chunk("LOC", 4, 5), new Chunk("ORG", 5, 6)],
            TagSchemes.Chunks(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]));
        // an I- tag without a B- starts a chunk; a B- always does
        Assert.Equal([new Chunk("PER", 1, 3), new Chunk("PER", 3, 4)], TagSchemes.Chunks(["O", "I-PER", "I-PER",
            "B-PER"]));
        // a change of type ends a chunk even without B-
        Assert.Equal([new Chunk("PER", 0, 1), new Chunk("LOC", 1, 2)], TagSchemes.Chunks(["B-PER", "I-LOC"]));
        // BIOES
        Assert.Equal([new Chunk("PER", 0, 3), new Chunk("LOC", 3, 4), new Chunk("MISC", 5, 6)],
            TagSchemes.Chunks(["B-PER", "I-PER", "E-PER", "S-LOC", "O", "S-MISC"]));
        Assert.Throws<FormatException>(() => TagSchemes.Chunks(["B_PER"]));
    }

    [Fact]
    public void ConversionBetweenSchemesIsExact()
    {
        var random = new Random(4);
        string[] types = ["PER", "LOC", "ORG", "MISC"];
        for (int trial = 0; trial < 500; trial++)
        {
            int length = random.Next(1, 15);
            var chunks = new List<Chunk>();
            for (int i = 0; i < length;)
            {
                if (random.Next(3) == 0) { i++; continue; }
                int end = Math.Min(length, i + random.Next(1, 4));
                chunks.Add(new Chunk(types[random.Next(2)], i,
                    end)); // two types only, so that same-type neighbours are common
                i = end;
            }
            var iob1 = TagSchemes.Tags(chunks, length, TagScheme.Iob1);
            var bio = TagSchemes.Convert(iob1, TagScheme.Bio);
            var bioes = TagSchemes.Convert(bio, TagScheme.Bioes);
            Assert.Equal(chunks, TagSchemes.Chunks(iob1));
            Assert.Equal(chunks, TagSchemes.Chunks(bio));
            Assert.Equal(chunks, TagSchemes.Chunks(bioes));
            Assert.Equal(iob1, TagSchemes.Convert(bioes, TagScheme.Iob1));
            // every move of a well-formed sequence is allowed by its scheme's constraints
            foreach (var (tags, scheme) in new[] { (iob1, TagScheme.Iob1), (bio, TagScheme.Bio), (bioes,
                TagScheme.Bioes) })
            {
                Assert.True(TagSchemes.Allowed(null, tags[0], scheme), $"{scheme}: start → {tags[0]}");
                Assert.True(TagSchemes.Allowed(tags[^1], null, scheme), $"{scheme}: {tags[^1]} → end");
                for (int i = 1; i < tags.Length; i++) Assert.True(TagSchemes.Allowed(tags[i - 1], tags[i], scheme),
                    $"{scheme}: {tags[i - 1]} → {tags[i]}");
            }
        }
        Assert.Equal(TagScheme.Iob1, TagSchemes.Detect([["O", "I-PER"]]));
        Assert.Equal(TagScheme.Bio, TagSchemes.Detect([["B-PER", "I-PER"], ["O"]]));
        Assert.Equal(TagScheme.Bioes, TagSchemes.Detect([["B-PER", "E-PER", "S-LOC"]]));
        Assert.Equal(["B-PER", "I-PER", "O", "B-LOC", "B-LOC"], TagSchemes.Convert(["I-PER", "I-PER", "O", "I-LOC",
            "B-LOC"], TagScheme.Bio));
        Assert.Equal(["B-PER", "E-PER", "O", "S-LOC", "S-LOC"], TagSchemes.Convert(["I-PER", "I-PER", "O", "I-LOC",
            "B-LOC"], TagScheme.Bioes));
    }

    [Fact]
    public void ConstraintsForbidIllFormedMoves()
    {
        Assert.False(TagSchemes.Allowed("O", "I-PER", TagScheme.Bio));
        Assert.False(TagSchemes.Allowed(null, "I-PER", TagScheme.Bio));
        Assert.False(TagSchemes.Allowed("B-LOC", "I-PER", TagScheme.Bio));
        Assert.True(TagSchemes.Allowed("B-PER", "I-PER", TagScheme.Bio));
        Assert.False(TagSchemes.Allowed("O", "B-PER", TagScheme.Iob1));
        Assert.True(TagSchemes.Allowed("I-PER", "B-PER", TagScheme.Iob1));
        Assert.True(TagSchemes.Allowed("O", "I-PER", TagScheme.Iob1));
        Assert.False(TagSchemes.Allowed("B-PER", "O", TagScheme.Bioes));
        Assert.False(TagSchemes.Allowed("I-PER", null, TagScheme.Bioes));
        Assert.False(TagSchemes.Allowed("S-PER", "E-PER", TagScheme.Bioes));
        Assert.False(TagSchemes.Allowed("B-PER", "E-LOC", TagScheme.Bioes));
        Assert.True(TagSchemes.Allowed("E-PER", "S-PER", TagScheme.Bioes));
    }

    [Fact]
    public void ConllevalScoresOnlyExactChunks()
    {
        // gold: PER(0,2), LOC(3,4); predicted: PER(0,1) — a partial match, which counts as wrong — and LOC(3,4)
        var score = ConllEvaluation.Score([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]]);
        Assert.Equal((2, 2, 1), (score.Overall.Gold, score.Overall.Predicted, score.Overall.Correct));
        Assert.Equal(0.5, score.Overall.F1, 10);
        Assert.Equal(0.0, score.ByType["PER"].F1);
        Assert.Equal(1.0, score.ByType["LOC"].F1);
        Assert.Equal(0.75, score.TokenAccuracy);
        // schemes may differ between gold and prediction: the chunks are what count
        var mixed = ConllEvaluation.Score([["I-ORG", "I-ORG", "B-ORG", "O"]], [["B-ORG", "E-ORG", "S-ORG", "O"]]);
        Assert.Equal(1.0, mixed.Overall.F1);
        // I- without B- in the prediction starts a chunk: here it is exactly right
        var loose = ConllEvaluation.Score([["O", "B-MISC", "I-MISC", "O", "B-PER"]], [["O", "I-MISC", "I-MISC", "O",
            "I-LOC"]]);
        Assert.Equal((2, 2, 1), (loose.Overall.Gold, loose.Overall.Predicted, loose.Overall.Correct));
        Assert.Equal(2.0 / 3, new ChunkScore(1, 0.5, 2.0 / 3, 2, 1, 1).F1, 10);
        Assert.Equal(0.0, loose.ByType["LOC"].Precision);
        Assert.Equal(0.0, loose.ByType["PER"].Recall);
    }

    [Fact]
    public void TheReaderSplitsSentencesAndReportsBadLines()
    {
        string[] lines = ["-DOCSTART- -X- -X- O", "", "EU NNP I-NP I-ORG", "rejects VBZ I-VP O", "", "",
            "Peter NNP I-NP I-PER", "Blackburn NNP I-NP I-PER", ""];
        var sentences = ConllReader.Parse(lines, "mem");
        Assert.Equal(2, sentences.Count);
        Assert.Equal(["EU", "rejects"], sentences[0].Tokens);
        Assert.Equal(["I-PER", "I-PER"], sentences[1].Tags);
        Assert.Equal(["NNP", "VBZ"], ConllReader.Parse(lines, "mem", tagColumn: 1,
            chunkTags: false)[0].Tags); // part-of-speech column
        var error = Assert.Throws<InvalidDataException>(() => ConllReader.Parse(["EU NNP I-NP I-ORG", "rejects"],
            "file.conll"));
        Assert.Contains("file.conll, line 2", error.Message);
        var badTag = Assert.Throws<InvalidDataException>(() => ConllReader.Parse(["EU NNP I-NP ORG"], "f"));
        Assert.Contains("line 1", badTag.Message);
    }

    static (Tensor Emissions, LinearChainCrf Crf) RandomCrf(int steps, int batch, int tags, int seed, Func<int?, int?,
        bool>? allowed = null)
    {
        var random = new RandomGenerator((ulong)seed);
        var emissions = Tensor.RandomNormal(random, [steps, batch, tags]);
        emissions.RequiresGrad = true;
        return (emissions, new LinearChainCrf(tags, random, allowed));
    }

    [Fact]
    public void CrfGradientsMatchFiniteDifferences()
    {
        var (emissions, crf) = RandomCrf(4, 3, 3, 1);
        int[] tags = [0, 1, 2, 2, 0, 1, 1, 2, 0, 0, 1, 2];
        int[] lengths = [4, 1, 3];
        var result = GradientCheck.Compare(() => crf.NegativeLogLikelihood(emissions, tags, lengths), [emissions,
            .. crf.Parameters()], epsilon: 1e-2);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void CrfPartitionAndDecodingMatchBruteForce()
    {
        // tags O, B-X, I-X in BIO: start → I-X and O → I-X are forbidden
        string[] names = ["O", "B-X", "I-X"];
        var constraints = LinearChainCrf.Constraints(names, TagScheme.Bio);
        var (emissions, crf) = RandomCrf(5, 2, 3, 7, constraints);
        int[] lengths = [5, 3];
        var logZ = crf.LogPartition(emissions, lengths);
        var best = crf.Decode(emissions, lengths);
        for (int b = 0; b < 2; b++)
        {
            int length = lengths[b];
            double Score(int[] path)
            {
                double s = crf.StartTransitions.Span[path[0]] + crf.EndTransitions.Span[path[^1]] + (constraints(null,
                    path[0]) ? 0 : -1e4) + (constraints(path[^1], null) ? 0 : -1e4);
                for (int t = 0; t < length; t++)
                {
                    s += emissions.Span[(t * 2 + b) * 3 + path[t]];
                    if (t > 0) s += crf.Transitions.Span[path[t - 1] * 3 + path[t]] + (constraints(path[t - 1],
                        path[t]) ? 0 : -1e4);
                }
                return s;
            }
            var paths = Enumerable.Range(0, (int)Math.Pow(3, length)).Select(n => Enumerable.Range(0,
                length).Select(t => n / (int)Math.Pow(3, t) % 3).ToArray()).ToList();
            var scores = paths.Select(Score).ToArray();
            double max = scores.Max();
            Assert.Equal(max + Math.Log(scores.Sum(s => Math.Exp(s - max))), logZ[b], 4);
            var argmax = paths[Array.IndexOf(scores, max)];
            Assert.Equal(argmax, best[b]);
            Assert.True(TagSchemes.Allowed(null, names[best[b][0]], TagScheme.Bio), "Viterbi never starts with I-");
            // the loss of one sequence is log Z − score(gold)
            var gold = paths[5 % paths.Count];
            var tags = new int[5 * 2];
            for (int t = 0; t < length; t++) tags[t * 2 + b] = gold[t];
            var single = crf.NegativeLogLikelihood(emissions.Detach().Slice(1, b, 1), Enumerable.Range(0,
                5).Select(t => tags[t * 2 + b]).ToArray(), [length]);
            Assert.Equal(logZ[b] - Score(gold), single.Item(), 2);
        }
    }

    [Fact]
    public void CrfMarginalsMatchBruteForce()
    {
        string[] names = ["O", "B-X", "I-X"];
        var constraints = LinearChainCrf.Constraints(names, TagScheme.Bio);
        var (emissions, crf) = RandomCrf(4, 2, 3, 11, constraints);
        int[] lengths = [4, 2];
        var marginals = crf.Marginals(emissions, lengths);
        for (int b = 0; b < 2; b++)
        {
            int length = lengths[b];
            Assert.Equal(length, marginals[b].Length);
            double Score(int[] path)
            {
                double s = crf.StartTransitions.Span[path[0]] + crf.EndTransitions.Span[path[^1]]
                    + (constraints(null, path[0]) ? 0 : -1e4) + (constraints(path[^1], null) ? 0 : -1e4);
                for (int t = 0; t < length; t++)
                {
                    s += emissions.Span[(t * 2 + b) * 3 + path[t]];
                    if (t > 0) s += crf.Transitions.Span[path[t - 1] * 3 + path[t]]
                        + (constraints(path[t - 1], path[t]) ? 0 : -1e4);
                }
                return s;
            }
            var paths = Enumerable.Range(0, (int)Math.Pow(3, length)).Select(n => Enumerable.Range(0, length)
                .Select(t => n / (int)Math.Pow(3, t) % 3).ToArray()).ToList();
            var scores = paths.Select(Score).ToArray();
            double max = scores.Max(), z = scores.Sum(s => Math.Exp(s - max));
            for (int t = 0; t < length; t++)
                for (int j = 0; j < 3; j++)
                {
                    double expected = paths.Select((p, i) => p[t] == j ? Math.Exp(scores[i] - max) / z : 0).Sum();
                    Assert.Equal(expected, marginals[b][t][j], 7);
                }
            // I-X never starts a sentence under BIO
            Assert.True(marginals[b][0][2] < 1e-9);
        }
    }

    static List<TaggedSentence> ToyNer(int count, int seed)
    {
        // a capitalised word after "mr" or "mrs" is a person (possibly two words); after "in" a location
        var random = new Random(seed);
        string[] names = ["Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans"];
        string[] places = ["Paris", "Rome", "Oslo", "Lima", "Cairo"];
        string[] fillers = ["the", "met", "saw", "today", "and", "we", "walked", "home"];
        var sentences = new List<TaggedSentence>();
        for (int i = 0; i < count; i++)
        {
            var tokens = new List<string>();
            var tags = new List<string>();
            for (int w = random.Next(3, 9); w > 0; w--)
            {
                switch (random.Next(4))
                {
                    case 0:
                        tokens.Add(random.Next(2) == 0 ? "mr" : "mrs"); tags.Add("O");
                        tokens.Add(names[random.Next(names.Length)]); tags.Add("B-PER");
                        if (random.Next(3) == 0) { tokens.Add(names[random.Next(names.Length)]); tags.Add("I-PER"); }
                        break;
                    case 1:
                        tokens.Add("in"); tags.Add("O");
                        tokens.Add(places[random.Next(places.Length)]); tags.Add("B-LOC");
                        break;
                    default:
                        tokens.Add(fillers[random.Next(fillers.Length)]); tags.Add("O");
                        break;
                }
            }
            sentences.Add(new TaggedSentence([.. tokens], [.. tags]));
        }
        return sentences;
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [Trait("Category", "slow")] // learns to a threshold
    public void TheTaggerLearnsAToyNamedEntityTask(bool crf, bool chars)
    {
        var train = ToyNer(300, 1);
        var test = ToyNer(60, 2);
        var vocabulary = TaggingVocabulary.Build(train);
        string[] tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"];
        var config = new SequenceTaggerConfig(vocabulary.Words.Count, vocabulary.Chars.VocabularySize, tags,
            TagScheme.Bioes, crf, chars,
            WordEmbeddingSize: 16, CharEmbeddingSize: 8, CharHiddenSize: 8, HiddenSize: 16, Dropout: 0.1f);
        var model = new SequenceTagger(config, new RandomGenerator(3));
        var bioes = train.Select(s => s with { Tags = TagSchemes.Convert(s.Tags, TagScheme.Bioes) }).ToList();
        var task = new TaggingTask(model, vocabulary, bioes, test, 16);
        var result = new Trainer<int[]>(task, new Adam(model.Parameters(), 1e-2f), new TrainerOptions
        {
            Epochs = 6,
            Metric = "f1", MetricMode = MetricMode.Max, ClipNorm = 5f
        }).Fit();
        Assert.True(result.BestMetric > 95, $"crf={crf} chars={chars}: best F1 {result.BestMetric:F1}");
    }

    [Fact]
    public void SingletonsAndWithWordDropoutOtherWordsBecomeUnknownAtTheirRates()
    {
        static string Letters(int n)
            => n < 26 ? ((char)('a' + n)).ToString() : Letters(n / 26 - 1) + (char)('a' + n % 26);
        var train = ToyNer(200, 4).Select((s, i) => new TaggedSentence([.. s.Tokens, "q" + Letters(i)], [.. s.Tags,
            "O"])).ToList(); // one singleton each
        var vocabulary = TaggingVocabulary.Build(train);
        var model = new SequenceTagger(new SequenceTaggerConfig(vocabulary.Words.Count,
            vocabulary.Chars.VocabularySize, train.SelectMany(s => s.Tags).Distinct().ToArray(), TagScheme.Bio, false,
            false,
            WordEmbeddingSize: 4, HiddenSize: 3, Dropout: 0f), new RandomGenerator(2));
        var encoded = train.Select(s => vocabulary.Encode(s.Tokens)).ToList();
        var counts = encoded.SelectMany(s => s.Words).GroupBy(w => w).ToDictionary(g => g.Key, g => g.Count());
        (double Singletons, double Others) Rates(float unknown, float wordDropout)
        {
            var task = new TaggingTask(model, vocabulary, train, null, 16, unknown, wordDropout);
            var random = new RandomGenerator(11);
            int singles = 0, singlesReplaced = 0, others = 0, othersReplaced = 0;
            for (int repeat = 0; repeat < 20; repeat++)
                for (int i = 0; i < encoded.Count; i++)
                {
                    var replaced = task.WithUnknowns(i, random).Words;
                    for (int j = 0; j < replaced.Length; j++)
                    {
                        bool single = counts[encoded[i].Words[j]] == 1, unk = replaced[j] == WordVocabulary.Unknown;
                        Assert.True(unk || replaced[j] == encoded[i].Words[j]);
                        if (single) { singles++; if (unk) singlesReplaced++; }
                        else { others++; if (unk) othersReplaced++; }
                    }
                }
            Assert.True(singles >= 4000 && others > 5000, $"{singles} singleton and {others} other positions");
            return ((double)singlesReplaced / singles, (double)othersReplaced / others);
        }
        var (s0, o0) = Rates(0.5f, 0f);
        Assert.InRange(s0, 0.45, 0.55);
        Assert.Equal(0, o0);
        var (s1, o1) = Rates(0.5f, 0.1f);
        Assert.InRange(s1, 0.45, 0.55);
        Assert.InRange(o1, 0.09, 0.11);
        Assert.Equal((0.0, 0.0), Rates(0f, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TaggingTask(model, vocabulary, train, null, 16, 0.5f, 1f));
    }

    [Theory]
    [InlineData("1996", Casing.Numeric)]
    [InlineData("10-12", Casing.MainlyNumeric)]
    [InlineData("the", Casing.AllLower)]
    [InlineData("EU", Casing.AllUpper)]
    [InlineData("U.S.", Casing.AllUpper)]
    [InlineData("Germany", Casing.InitialUpper)]
    [InlineData("McDonald", Casing.InitialUpper)]
    [InlineData("B52s", Casing.InitialUpper)]
    [InlineData("b52s", Casing.AllLower)]
    [InlineData("iPhone4", Casing.ContainsDigit)]
    [InlineData("iPhone", Casing.Other)]
    [InlineData(",", Casing.Other)]
    [InlineData("Éire", Casing.InitialUpper)]
    public void CasingClassesFollowCapitalisationAndDigits(string token, int expected) => Assert.Equal(expected,
        Casing.Of(token));

    [Fact]
    public void CasingClassesReachTheModelAndChangeItsScores()
    {
        var train = ToyNer(5, 6);
        var vocabulary = TaggingVocabulary.Build(train);
        var model = new SequenceTagger(new SequenceTaggerConfig(vocabulary.Words.Count,
            vocabulary.Chars.VocabularySize, ["O", "B-PER"], TagScheme.Bio, false, false,
            WordEmbeddingSize: 4, HiddenSize: 3, Dropout: 0f, CasingEmbeddingSize: 2), new RandomGenerator(2));
        var lower = vocabulary.Encode(["smith", "the"]);
        var upper = vocabulary.Encode(["Smith", "the"]);
        Assert.Equal(lower.Words, upper.Words); // the word lookup is lower-cased ...
        Assert.Equal([Casing.AllLower, Casing.AllLower], lower.Casing!);
        Assert.Equal([Casing.InitialUpper, Casing.AllLower], upper.Casing!);
        model.Eval();
        Assert.NotEqual(model.Emissions([lower]).Emissions.ToArray(),
            model.Emissions([upper]).Emissions.ToArray()); // ... the casing is not
        Assert.Throws<ArgumentException>(() => model.Emissions([lower with { Casing = [Casing.AllLower] }]));
        var json = model.Config.ToJson();
        Assert.Equal(2, SequenceTaggerConfig.FromJson(json).CasingEmbeddingSize);
        json.Remove("casing_embedding"); // configurations written before the option read as none
        Assert.Equal(0, SequenceTaggerConfig.FromJson(json).CasingEmbeddingSize);
    }

    [Fact]
    public void StackedEncoderAndVariationalDropoutRoundTripAndActOnlyWhileTraining()
    {
        var train = ToyNer(5, 6);
        var vocabulary = TaggingVocabulary.Build(train);
        var config = new SequenceTaggerConfig(vocabulary.Words.Count, vocabulary.Chars.VocabularySize, ["O", "B-PER",
            "I-PER"], TagScheme.Bio, true, true,
            WordEmbeddingSize: 4, CharEmbeddingSize: 3, CharHiddenSize: 2, HiddenSize: 3, Dropout: 0.5f, NumLayers: 2,
                VariationalDropout: true);
        var model = new SequenceTagger(config, new RandomGenerator(3));
        Assert.Contains("encoder.weight_ih_l1_reverse", model.StateDict().Keys);
        Assert.Equal(config.ToJson().ToJsonString(),
            SequenceTaggerConfig.FromJson(config.ToJson()).ToJson().ToJsonString());
        var old = config.ToJson();
        old.Remove("num_layers");
        old.Remove(
            "variational_dropout"); // configurations written before the options read as one layer, per-word dropout
        Assert.Equal((1, false), (SequenceTaggerConfig.FromJson(old).NumLayers,
            SequenceTaggerConfig.FromJson(old).VariationalDropout));
        var batch = train.Take(3).Select(x => vocabulary.Encode(x.Tokens)).ToList();
        model.Eval();
        var a = model.Emissions(batch).Emissions.ToArray();
        Assert.Equal(a, model.Emissions(batch).Emissions.ToArray());
        model.Train();
        Assert.NotEqual(a, model.Emissions(batch).Emissions.ToArray());
        Assert.Throws<ArgumentException>(() => new SequenceTagger(config with { NumLayers = 0 },
            new RandomGenerator(3)));
    }

    [Fact]
    public void TaggerGradientsMatchFiniteDifferencesAndPaddingChangesNothing()
    {
        var train = ToyNer(10, 5);
        var vocabulary = TaggingVocabulary.Build(train);
        string[] tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];
        foreach (bool crf in new[] { true, false })
        {
            var model = new SequenceTagger(new SequenceTaggerConfig(vocabulary.Words.Count,
                vocabulary.Chars.VocabularySize, tags, TagScheme.Bio, crf, true,
                WordEmbeddingSize: 4, CharEmbeddingSize: 3, CharHiddenSize: 2, HiddenSize: 3, Dropout: 0f,
                    CasingEmbeddingSize: crf ? 2 : 0), new RandomGenerator(2));
            var batch = train.Take(3).Select(s => vocabulary.Encode(s.Tokens)).ToList();
            var gold = train.Take(3).Select(s => TagSchemes.Convert(s.Tags,
                TagScheme.Bio).Select(t => Array.IndexOf(tags, t)).ToArray()).ToList();
            var result = GradientCheck.Compare(() => model.Loss(batch, gold), model.Parameters(), epsilon: 1e-2);
            Assert.True(result.Passed, $"crf={crf}: error {result.MaxError:G3}× tolerance at {result.Where}");
            var together = model.Predict(batch);
            for (int i = 0; i < batch.Count; i++) Assert.Equal(model.Predict([batch[i]])[0], together[i]);
        }
    }
}

[Collection("cli")]
public sealed class HmmAndCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-tag-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string At(string name) => Path.Combine(folder, name);

    [Fact]
    public void TheHmmCountsAndDecodesByViterbi()
    {
        // "the dog" and "a cat": determiners then nouns; "runs" is a verb after nouns
        var train = new List<TaggedSentence>
        {
            new(["the", "dog", "runs"], ["D", "N", "V"]), new(["a", "cat", "runs"], ["D", "N", "V"]), new(["the",
                "cat"], ["D", "N"]),
            new(["Paris", "sleeps"], ["N", "V"]),
        };
        var hmm = HiddenMarkovTagger.Train(train);
        Assert.Equal(["D", "N", "V"], hmm.Tag(["a", "dog", "runs"]));
        // an unseen capitalised word takes the shape class of "Paris", a noun
        Assert.Equal("Xx", HiddenMarkovTagger.Shape("Blackburn"));
        Assert.Equal("d-d-d", HiddenMarkovTagger.Shape("1996-08-22"));
        Assert.Equal(["N", "V"], hmm.Tag(["London", "runs"]));
        hmm.Save(At("hmm.json"));
        Assert.Equal(hmm.Tag(["the", "cat", "sleeps"]), HiddenMarkovTagger.Load(At("hmm.json")).Tag(["the", "cat",
            "sleeps"]));
        File.WriteAllText(At("bad.json"), "{\"architecture\": \"lstm\"}");
        Assert.Contains("bad.json",
            Assert.Throws<InvalidDataException>(() => HiddenMarkovTagger.Load(At("bad.json"))).Message);
        // a file as earlier versions wrote it: two tags, one known word each
        const string earlier = "{\"architecture\":\"hmm\",\"tags\":[\"D\",\"N\"],\"start\":[-0.1,-2.4],"
            + "\"end\":[-3,-0.1],\"transition\":[[-2,-0.2],[-1,-1]],\"emission\":{\"the\":[-0.1,-9],\"cat\":[-9,-0.1]},"
            + "\"shape_emission\":{},\"unknown_shape\":[-5,-5]}";
        File.WriteAllText(At("earlier.json"), earlier);
        var loaded = HiddenMarkovTagger.Load(At("earlier.json"));
        Assert.Equal(["D", "N"], loaded.Tag(["the", "cat"]));
        loaded.Save(At("again.json"));
        Assert.Equal(earlier, File.ReadAllText(At("again.json")));
        File.WriteAllText(At("bad.json"), earlier.Replace("[-0.1,-9]", "[-0.1]", StringComparison.Ordinal));
        string message = Assert.Throws<InvalidDataException>(() => HiddenMarkovTagger.Load(At("bad.json"))).Message;
        Assert.Contains("bad.json", message);
        Assert.Contains("'emission'", message);
    }

    static void WriteConll(string path, int count, int seed)
    {
        var random = new Random(seed);
        string[] names = ["Smith", "Jones", "Brown"], places = ["Paris", "Rome", "Oslo"], fillers = ["the", "met",
            "saw", "and"];
        var lines = new List<string> { "-DOCSTART- -X- -X- O", "" };
        for (int s = 0; s < count; s++)
        {
            for (int w = random.Next(2, 6); w > 0; w--)
            {
                if (random.Next(3) == 0)
                {
                    lines.Add("mr NN I-NP O"); lines.Add(
                    $"{names[random.Next(3)]} NNP I-NP I-PER");
                }
                else if (random.Next(3) == 0)
                {
                    lines.Add("in IN I-PP O"); lines.Add(
                    $"{places[random.Next(3)]} NNP I-NP I-LOC");
                }
                else lines.Add($"{fillers[random.Next(4)]} XX O O");
            }
            lines.Add("");
        }
        File.WriteAllLines(path, lines);
    }

    [Fact]
    public void TrainEvalAndPredictFromTheCommandLine()
    {
        WriteConll(At("train.txt"), 200, 1);
        WriteConll(At("valid.txt"), 40, 2);
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "train", "--train", At("train.txt"), "--valid",
            At("valid.txt"), "--crf", "--char-features",
            "--embed", "12", "--char-embed", "6", "--char-hidden", "6", "--hidden", "12", "--epochs", "4", "--lr",
                "1e-2", "--out", At("run"), "--threads", "1"));
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "eval", "--model", At("run"), "--test", At("valid.txt"),
            "--predictions", At("pred.txt"), "--json"));
        // predictions come back in the data's scheme (IOB1 here), one 'token gold predicted' line per token
        var predicted = File.ReadAllLines(At("pred.txt")).Where(l => l.Length > 0).Select(l => l.Split(' ')).ToList();
        Assert.All(predicted, p => Assert.Equal(3, p.Length));
        Assert.True(predicted.Count(p => p[1] == p[2]) > 0.95 * predicted.Count, "the tagger learned the toy task");
        Assert.DoesNotContain(predicted, p => p[2].StartsWith("B-", StringComparison.Ordinal) || p[2].StartsWith("E-",
            StringComparison.Ordinal));
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "predict", "--model", At("run"), "we met mr Jones in Rome"));
        // int8 inference tags (nearly) as well
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "eval", "--model", At("run"), "--test", At("valid.txt"),
            "--predictions", At("int8.txt"), "--int8"));
        var int8 = File.ReadAllLines(At("int8.txt")).Where(l => l.Length > 0).Select(l => l.Split(' ')).ToList();
        Assert.True(int8.Count(p => p[1] == p[2]) > 0.95 * int8.Count, "the int8 tagger tags the toy task");
        // a second seed, and the two as an ensemble (averaged emissions and transitions)
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "train", "--train", At("train.txt"), "--valid",
            At("valid.txt"), "--crf", "--char-features",
            "--embed", "12", "--char-embed", "6", "--char-hidden", "6", "--hidden", "12", "--epochs", "4", "--lr",
                "1e-2", "--out", At("run2"), "--threads", "1", "--seed", "2", "--casing-embed", "4"));
        Assert.Contains("\"casing_embedding\":4", File.ReadAllText(Path.Combine(At("run2"), "best",
            "config.json")).Replace(" ", ""));
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "train", "--train", At("train.txt"), "--valid",
            At("valid.txt"), "--crf", "--layers", "2", "--variational-dropout",
            "--dropout", "0.2", "--embed", "12", "--hidden", "12", "--epochs", "4", "--lr", "1e-2", "--out",
                At("run3"), "--threads", "1", "--json"));
        Assert.Contains("\"num_layers\":2", File.ReadAllText(Path.Combine(At("run3"), "best",
            "config.json")).Replace(" ", ""));
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "eval", "--model", At("run3"), "--test", At("valid.txt"),
            "--predictions", At("stacked.txt")));
        var stacked = File.ReadAllLines(At("stacked.txt")).Where(l => l.Length > 0).Select(l => l.Split(' ')).ToList();
        Assert.True(stacked.Count(p => p[1] == p[2]) > 0.95 * stacked.Count,
            "the two-layer tagger learned the toy task");
        Assert.Equal(2, Recur.Cli.RecurCommand.Run("tag", "train", "--train", At("train.txt"), "--layers", "0",
            "--out", At("nolayers")));
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "eval", "--model", At("run"), At("run2"), "--test",
            At("valid.txt"), "--predictions", At("ensemble.txt")));
        var ensemble = File.ReadAllLines(At("ensemble.txt")).Where(l => l.Length > 0).Select(l
            => l.Split(' ')).ToList();
        Assert.True(ensemble.Count(p => p[1] == p[2]) > 0.95 * ensemble.Count, "the ensemble tags as well");
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "train", "--train", At("train.txt"), "--valid",
            At("valid.txt"), "--hmm", "--out", At("hmm")));
        Assert.Equal(0, Recur.Cli.RecurCommand.Run("tag", "eval", "--model", At("hmm"), "--test", At("valid.txt")));
        Assert.Equal(2, Recur.Cli.RecurCommand.Run("tag", "eval", "--model", At("hmm"), "--test", At("valid.txt"),
            "--int8"));
        File.WriteAllLines(At("bad.txt"), ["EU NNP I-NP I-ORG", "rejects"]);
        Assert.Equal(1, Recur.Cli.RecurCommand.Run("tag", "train", "--train", At("bad.txt"), "--out", At("bad")));
        Assert.Equal(2, Recur.Cli.RecurCommand.Run("tag", "eval", "--model", At("nowhere"), "--test", At("valid.txt")));
    }
}
