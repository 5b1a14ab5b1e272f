using Recur.Autograd;
using Recur.Classification;
using Recur.Cli;
using Recur.Cli.Data;
using Recur.Cli.Training;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Text;
using Recur.Training;

namespace Recur.Tests.Classification;

[Collection("cli")]
public sealed class ClassificationTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-classify-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    public static TheoryData<Pooling, bool> Poolings() => new()
    {
        { Pooling.Last, true }, { Pooling.Last, false }, { Pooling.Max, true }, { Pooling.Mean, true },
            { Pooling.Attention, true }, { Pooling.Attention, false }, { Pooling.Concat, false },
            { Pooling.Concat, true },
    };

    /// <summary>Padding never changes a prediction: each text's logits are the same alone and in a batch with longer
    /// texts.</summary>
    [Theory]
    [MemberData(nameof(Poolings))]
    public void PaddingNeverChangesAPrediction(Pooling pooling, bool bidirectional)
    {
        var model = new TextClassifier(new TextClassifierConfig(20, 6, 5, 3, CellKind.Lstm, 2, bidirectional, 0.3f,
            pooling), new RandomGenerator(3));
        SameAloneAsInABatch(model, [[4, 5, 6], [7, 8, 9, 10, 11, 12, 13], [2], [3, 3, 19, 18, 17]]);
    }

    /// <summary>Each text's logits (eval mode) are the same alone as in a batch with texts of other lengths.</summary>
    static void SameAloneAsInABatch(TextClassifier model, int[][] texts)
    {
        int classes = model.Config.Classes;
        using var evaluating = model.Evaluating();
        using var noGrad = GradMode.NoGrad();
        var together = model.Forward(texts).ToArray();
        for (int i = 0; i < texts.Length; i++)
        {
            var alone = model.Forward([texts[i]]).ToArray();
            for (int c = 0; c < classes; c++) Assert.Equal(alone[c], together[i * classes + c], 5);
        }
    }

    [Theory]
    [MemberData(nameof(Poolings))]
    public void GradientsMatchFiniteDifferences(Pooling pooling, bool bidirectional)
    {
        var model = new TextClassifier(new TextClassifierConfig(12, 4, 3, 2, CellKind.Gru, 1, bidirectional, 0f,
            pooling),
            new RandomGenerator(5));
        int[][] texts = [[1, 2, 3], [4, 5, 6, 7, 8], [9]];
        // max pooling is piecewise linear: a smaller step keeps the check away from the kinks where two steps tie
        var result = GradientCheck.Compare(() => model.Forward(texts), model.Parameters(),
            epsilon: pooling is Pooling.Max or Pooling.Concat ? 1e-3 : 1e-2);
        Assert.True(result.Passed, $"{pooling}: error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void AttentionWeightsSumToOneOverRealTokens()
    {
        var model = new TextClassifier(new TextClassifierConfig(15, 4, 3, 2, Pooling: Pooling.Attention),
            new RandomGenerator(6));
        var attention = model.Attention([[1, 2, 3], [4, 5, 6, 7, 8, 9], [10]]);
        Assert.Equal([3, 6, 1], attention.Select(a => a.Weights.Length));
        Assert.All(attention, a => Assert.Equal(1.0, a.Weights.Sum(), 5));
        Assert.All(attention, a => Assert.Empty(a.SentenceWeights));
    }

    [Theory]
    [InlineData(Pooling.Max)]
    [InlineData(Pooling.Mean)]
    public void SaliencyIsTheGradientNormOfTheClassLogProbabilityByFiniteDifferences(Pooling pooling)
    {
        var model = new TextClassifier(new TextClassifierConfig(12, 4, 3, 3, CellKind.Lstm, 1, true, 0.3f, pooling),
            new RandomGenerator(13));
        int[] text = [3, 7, 1, 9]; // distinct ids: moving a token's embedding row moves only that position
        const int c = 2;
        var (tokens, saliency) = model.Saliency(text, c);
        Assert.Equal(text, tokens);
        double LogP()
        {
            using var _ = model.Evaluating();
            using var noGrad = Recur.Autograd.GradMode.NoGrad();
            var p = model.Forward([text]).LogSoftmax(-1).ToArray();
            return p[c];
        }
        var weight = model.EmbeddingWeight.Span;
        const float h = 1e-2f;
        for (int t = 0; t < text.Length; t++)
        {
            double square = 0;
            for (int d = 0; d < 4; d++)
            {
                int at = text[t] * 4 + d;
                float saved = weight[at];
                weight[at] = saved + h;
                double up = LogP();
                weight[at] = saved - h;
                double down = LogP();
                weight[at] = saved;
                square += Math.Pow((up - down) / (2 * h), 2);
            }
            Assert.Equal(Math.Sqrt(square), saliency[t], 3);
        }
        Assert.Throws<InvalidOperationException>(() => new TextClassifier(Segmented(Segmentation.Chunks, Pooling.Max),
            new RandomGenerator(1)).Saliency([1, 2, 3, 4], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Saliency(text, 3));
    }

    /// <summary>Token 2 ends a sentence; sentences hold at most 3 tokens; chunks are 3 tokens long.</summary>
    static TextClassifierConfig Segmented(Segmentation segmentation, Pooling pooling, bool bidirectional = true) =>
        new(16, 4, 3, 2, CellKind.Gru, 1, bidirectional, 0f, pooling)
        {
            Segmentation = segmentation, SegmentLength = 3, SentenceEnds = [2],
        };

    public static TheoryData<Segmentation, Pooling, bool> SegmentedModels => new()
    {
        { Segmentation.Chunks, Pooling.Attention, true }, { Segmentation.Chunks, Pooling.Max, false },
        { Segmentation.Sentences, Pooling.Attention, true }, { Segmentation.Sentences, Pooling.Mean, false },
    };

    [Theory]
    [MemberData(nameof(SegmentedModels))]
    public void SegmentedReadingIsExactUnderBatchingAndItsGradientsMatchFiniteDifferences(Segmentation segmentation,
        Pooling pooling, bool bidirectional)
    {
        var model = new TextClassifier(Segmented(segmentation, pooling, bidirectional), new RandomGenerator(11));
        int[][] texts = [[4, 5, 2, 6, 7, 8, 9, 2, 10], [3], [11, 2, 12, 13], [14, 15, 2, 2, 5, 6, 7, 8, 9, 10, 11]];
        SameAloneAsInABatch(model, texts);
        var result = GradientCheck.Compare(() => model.Forward(texts), model.Parameters(),
            epsilon: pooling is Pooling.Max or Pooling.Concat ? 1e-3 : 1e-2);
        Assert.True(result.Passed,
            $"{segmentation}/{pooling}: error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void AHierarchicalNetworkAttendsOverSentencesAndTheirWords()
    {
        var model = new TextClassifier(Segmented(Segmentation.Sentences, Pooling.Attention), new RandomGenerator(12));
        Assert.Contains(model.NamedParameters(), p => p.Name.StartsWith("sentence_encoder.", StringComparison.Ordinal));
        var attention = model.Attention([[4, 5, 2, 6, 7, 8, 9, 2, 10], [3]]);
        // sentences end at token 2 or after 3 tokens: [4 5 2] [6 7 8] [9 2] [10]
        Assert.Equal([3, 3, 2, 1], attention[0].SentenceLengths);
        Assert.Equal(1.0, attention[0].SentenceWeights.Sum(), 5);
        Assert.Equal(1.0, attention[0].Weights.Sum(), 5);
        Assert.Equal([4, 5, 2, 6, 7, 8, 9, 2, 10], attention[0].Tokens);
        Assert.Equal([1], attention[1].SentenceLengths);
        // the words of a sentence share its weight: their weights sum to it
        Assert.Equal(attention[0].SentenceWeights[1], attention[0].Weights[3..6].Sum(), 5);
    }

    [Theory]
    [InlineData(Truncation.Head, new[] { 1, 2, 3, 4, 5, 6, 7, 8 })]
    [InlineData(Truncation.Tail, new[] { 5, 6, 7, 8, 9, 10, 11, 12 })]
    [InlineData(Truncation.HeadAndTail, new[] { 1, 2, 7, 8, 9, 10, 11, 12 })]
    public void TruncationKeepsTheChosenTokens(Truncation truncation, int[] kept)
    {
        var model = new TextClassifier(new TextClassifierConfig(15, 4, 3, 2, Pooling: Pooling.Attention)
        {
            MaxTokens = 8, Truncation = truncation,
        }, new RandomGenerator(6));
        var attention = model.Attention([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 4]]);
        Assert.Equal(kept, attention[0].Tokens);
        Assert.Equal([3, 4], attention[1].Tokens);
    }

    [Fact]
    public void ReadingSettingsSurviveConfigJsonAndOldFilesReadWhole()
    {
        var config = Segmented(Segmentation.Sentences, Pooling.Attention) with
        {
            MaxTokens = 400,
            Truncation = Truncation.HeadAndTail,
        };
        var back = TextClassifierConfig.FromJson(config.ToJson());
        Assert.Equal((400, Truncation.HeadAndTail, Segmentation.Sentences, 3), (back.MaxTokens, back.Truncation,
            back.Segmentation, back.SegmentLength));
        Assert.Equal([2], back.SentenceEnds);
        var old = config.ToJson();
        foreach (var key in new[] { "max_tokens", "truncation", "segmentation", "segment_length", "sentence_ends" })
            old.Remove(key);
        var whole = TextClassifierConfig.FromJson(old);
        Assert.Equal((0, Segmentation.None), (whole.MaxTokens, whole.Segmentation));
        Assert.Throws<ArgumentException>(() => new TextClassifier(config with { SegmentLength = 0 },
            new RandomGenerator(1)));
    }

    [Theory]
    [InlineData(Segmentation.None)]
    [InlineData(Segmentation.Sentences)]
    public void LearnsWhichWordsCarryTheLabel(Segmentation segmentation)
    {
        // label 1 when the text contains word 3, whatever else it holds
        var random = new RandomGenerator(7);
        int[][] Make(int n, out int[] labels)
        {
            var texts = new int[n][];
            labels = new int[n];
            for (int i = 0; i < n; i++)
            {
                int length = 2 + random.NextInt(8);
                texts[i] = Enumerable.Range(0, length).Select(_ => 4 + random.NextInt(16)).ToArray();
                labels[i] = random.NextInt(2);
                if (labels[i] == 1) texts[i][random.NextInt(length)] = 3;
            }
            return texts;
        }
        var train = new LabelledTexts(Make(600, out var trainLabels), trainLabels);
        var valid = new LabelledTexts(Make(200, out var validLabels), validLabels);
        // as a hierarchical network, word 2 ends a sentence
        var config = new TextClassifierConfig(20, 8, 16, 2, Dropout: 0.1f,
            Pooling: segmentation == Segmentation.None ? Pooling.Max : Pooling.Attention)
        {
            Segmentation = segmentation, SegmentLength = 4, SentenceEnds = [4],
        };
        var model = new TextClassifier(config, new RandomGenerator(8));
        var task = new ClassificationTask(model, train, valid, 32);
        var trainer = new Trainer<int[]>(task, new Adam(model.Parameters(), 1e-2f), new TrainerOptions
        {
            Epochs = 6,
            Seed = 1, Metric = "accuracy", MetricMode = MetricMode.Max
        });
        trainer.Fit();
        var report = ClassificationTask.Report(model, valid);
        Assert.True(report.Accuracy > 0.95, $"accuracy {report.Accuracy:P1}");
        Assert.Equal(200, report.Confusion.Cast<long>().Sum());
    }

    [Fact]
    public void ReportMatchesAHandWorkedConfusionMatrix()
    {
        // truth 0,0,1,1,2 predicted 0,1,1,1,0
        var report = ClassificationReport.From(3, [0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 0.5);
        Assert.Equal(0.6, report.Accuracy, 12);
        Assert.Equal([0.5, 2 / 3.0, 0], report.Precision);
        Assert.Equal([0.5, 1, 0], report.Recall);
        Assert.Equal(2 * 0.5 * 0.5 / 1.0, report.F1[0], 12);
        Assert.Equal(2 * (2 / 3.0) / (2 / 3.0 + 1), report.F1[1], 12);
        Assert.Equal(1, report.Confusion[0, 1]);
    }

    [Fact]
    public void TokenizerAndVocabulary()
    {
        var tokenizer = new WordTokenizer();
        Assert.Equal(["don't", "stop", ",", "café", "!", "x2"], tokenizer.Tokenize("Don't  STOP, Café! x2"));
        Assert.Equal(["e\u0301t\u00e9"], tokenizer.Tokenize("E\u0301t\u00e9")); // a combining accent stays in its word
        var vocabulary = WordVocabulary.Build([["b", "a", "b"], ["c", "b", "a"], ["d"]], minFrequency: 2);
        Assert.Equal(["<pad>", "<unk>", "b", "a"], vocabulary.Words);
        Assert.Equal([2, 3, WordVocabulary.Unknown], vocabulary.Encode(["b", "a", "zzz"]));
        string path = Path.Combine(folder, "vocab.json");
        vocabulary.Save(path);
        Assert.Equal(vocabulary.Words, WordVocabulary.Load(path).Words);
        File.WriteAllText(path, "[\"a\", \"b\"]");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => WordVocabulary.Load(path)).Message);
    }

    [Fact]
    public void PretrainedVectorsFillTheirRowsAndBadLinesAreNamed()
    {
        var vocabulary = WordVocabulary.Build([["good", "bad", "film"]]);
        var weight = Tensor.Zeros(vocabulary.Count, 3);
        string path = Path.Combine(folder, "vectors.txt");
        File.WriteAllText(path, "3 3\ngood 1 2 3\nunseen 9 9 9\nbad -1 -2 -3.5\n");
        Assert.Equal(2, PretrainedVectors.Load(path, vocabulary, weight));
        Assert.Equal([1f, 2f, 3f], weight.Span.Slice(vocabulary.Id("good") * 3, 3).ToArray());
        Assert.Equal([-1f, -2f, -3.5f], weight.Span.Slice(vocabulary.Id("bad") * 3, 3).ToArray());
        Assert.Equal([0f, 0f, 0f], weight.Span.Slice(vocabulary.Id("film") * 3, 3).ToArray());
        File.WriteAllText(path, "good 1 2 3\nbad 1 2\n");
        Assert.Contains("line 2", Assert.Throws<InvalidDataException>(() => PretrainedVectors.Load(path, vocabulary,
            weight)).Message);
        File.WriteAllText(path, "good 1 x 3\n");
        Assert.Contains("line 1", Assert.Throws<InvalidDataException>(() => PretrainedVectors.Load(path, vocabulary,
            weight)).Message);
    }

    [Fact]
    public void ReadersReportBadRowsAndUnknownLabels()
    {
        string csv = Path.Combine(folder, "data.csv");
        File.WriteAllText(csv, "text,label\n\"great, really \"\"great\"\"\nfilm\",pos\nawful,neg\n");
        var examples = LabelledTextFiles.Read(csv, null, "label");
        Assert.Equal(("great, really \"great\"\nfilm", "pos"), examples[0]);
        File.WriteAllText(csv, "text,label\ngood,pos\n,neg\n");
        Assert.Contains("line 3", Assert.Throws<InvalidDataException>(() => LabelledTextFiles.Read(csv, null,
            "label")).Message);
        File.WriteAllText(csv, "text,label\ngood,\n");
        Assert.Contains("line 2", Assert.Throws<InvalidDataException>(() => LabelledTextFiles.Read(csv, null,
            "label")).Message);
        Assert.Contains("columns: text, label", Assert.Throws<InvalidDataException>(() =>
            LabelledTextFiles.Read(csv, null, "sentiment")).Message);

        string imdb = Path.Combine(folder, "imdb");
        Directory.CreateDirectory(Path.Combine(imdb, "pos"));
        Directory.CreateDirectory(Path.Combine(imdb, "neg"));
        File.WriteAllText(Path.Combine(imdb, "pos", "0_9.txt"), "Loved it.<br />Twice.");
        File.WriteAllText(Path.Combine(imdb, "neg", "1_2.txt"), "Dull.");
        var reviews = LabelledTextFiles.Read(imdb, null, "label");
        Assert.Equal([("Dull.", "neg"), ("Loved it. Twice.", "pos")], reviews);
    }

    [Fact]
    public void CommandLineTrainsEvaluatesAndPredicts()
    {
        string tsv = WriteCorpus("train.tsv");
        string run = Path.Combine(folder, "run");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--valid", tsv, "--epochs", "3",
            "--embed", "8", "--hidden", "8", "--lr", "0.02",
            "--pooling", "attention", "--out", run, "--threads", "1"));
        Assert.True(File.Exists(Path.Combine(run, "vocab.json")));
        Assert.Equal(0, RecurCommand.Run("classify", "eval", "--model", run, "--data", tsv));
        var (models, vocabulary, labels) = TrainedModels.Classifiers(run);
        Assert.Equal(["0", "1"], labels);
        var probabilities = ClassificationTask.Probabilities(models, TrainedModels.Encode(["the film was lovely",
            "the story was dull"], new WordTokenizer(), vocabulary));
        Assert.True(probabilities[0][1] > 0.5 && probabilities[1][0] > 0.5,
            "the trained model should tell the two apart");
        Assert.Equal(0, RecurCommand.Run("classify", "predict", "--model", run, "a lovely film"));
        Assert.Equal(0, RecurCommand.Run("classify", "eval", "--model", run, "--data", tsv, "--int8"));
        // int8 probabilities stay close to float's
        Recur.Nn.Quantization.QuantizeDynamic(models[0]);
        var quantised = ClassificationTask.Probabilities(models, TrainedModels.Encode(["the film was lovely",
            "the story was dull"], new WordTokenizer(), vocabulary));
        for (int i = 0; i < 2; i++) Assert.Equal(probabilities[i][1], quantised[i][1], 0.02);

        // an ensemble: one folder per member, probabilities averaged
        string ensemble = Path.Combine(folder, "ensemble");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--valid", tsv, "--epochs", "1",
            "--embed", "8", "--hidden", "4", "--ensemble", "2",
            "--out", ensemble, "--threads", "1"));
        var (members, sharedVocabulary, _) = TrainedModels.Classifiers(ensemble);
        Assert.Equal(2, members.Count);
        var texts = TrainedModels.Encode(["the film was lovely"], new WordTokenizer(), sharedVocabulary);
        var each = members.Select(m => m.PredictProbabilities(texts)[0]).ToArray();
        Assert.NotEqual(each[0], each[1]);
        Assert.Equal((each[0][1] + each[1][1]) / 2, ClassificationTask.Probabilities(members, texts)[0][1], 12);
        Assert.Equal(0, RecurCommand.Run("classify", "eval", "--model", ensemble, "--data", tsv));

        string vectorsFile = Path.Combine(folder, "glove.txt");
        File.WriteAllLines(vectorsFile, Good.Concat(Bad).Select((w, i) => w + " " + string.Join(' ',
            Enumerable.Range(0, 8).Select(k => ((i
            + k) % 3 - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)))));
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--epochs", "1", "--embed", "8",
            "--hidden", "4", "--embeddings", vectorsFile,
            "--out", Path.Combine(folder, "glove-run"), "--threads", "1"));
        Assert.Equal(1, RecurCommand.Run("classify", "train", "--data", tsv, "--epochs", "1", "--embed", "6",
            "--hidden", "4", "--embeddings", vectorsFile,
            "--out", Path.Combine(folder, "bad-width"), "--threads", "1")); // 8-wide vectors for a 6-wide embedding

        File.WriteAllLines(tsv, ["label\tsentence", "2\tnew label"]);
        Assert.Equal(1, RecurCommand.Run("classify", "eval", "--model", run, "--data",
            tsv)); // an unknown label is an error naming it
    }

    static readonly string[] Good = ["great", "fine", "lovely"], Bad = ["awful", "dull", "boring"];

    /// <summary>200 short texts whose label is told by one cue word among filler words.</summary>
    string WriteCorpus(string name)
    {
        string tsv = Path.Combine(folder, name);
        var random = new RandomGenerator(9);
        string[] filler = ["the", "film", "was", "a", "story"];
        var lines = new List<string> { "label\tsentence" };
        for (int i = 0; i < 200; i++)
        {
            bool positive = random.NextInt(2) == 1;
            var words = Enumerable.Range(0, 3).Select(_ => filler[random.NextInt(filler.Length)])
                .Append((positive ? Good : Bad)[random.NextInt(3)]);
            lines.Add($"{(positive ? 1 : 0)}\t{string.Join(' ', words)}");
        }
        File.WriteAllLines(tsv, lines);
        return tsv;
    }

    [Fact]
    public void LinearBaselinesTrainAloneOrBesideTheNetworkAndServeEvalAndPredict()
    {
        string tsv = WriteCorpus("baselines.tsv");
        string alone = Path.Combine(folder, "nbsvm");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--model", "nbsvm", "--out", alone));
        var (model, json) = LinearTextClassifier.Load(Path.Combine(alone, "linear.json"));
        Assert.Equal(LinearModelKind.NbSvm, model.Kind);
        Assert.Equal(["0", "1"], json["labels"]!.AsArray().Select(l => (string)l!));
        Assert.Equal(0, RecurCommand.Run("classify", "eval", "--model", alone, "--data", tsv));
        Assert.Equal(0, RecurCommand.Run("classify", "predict", "--model", alone, "a lovely film", "--explain",
            Path.Combine(folder, "linear-why")));
        Assert.True(File.Exists(Path.Combine(folder, "linear-why-1.png")));
        Assert.Equal(2, RecurCommand.Run("classify", "eval", "--model", alone, "--data", tsv, "--int8"));
        // a network over the linear model needs --overwrite, and then eval reads the network
        Assert.Equal(2, RecurCommand.Run("classify", "train", "--data", tsv, "--epochs", "1", "--embed", "4",
            "--hidden", "4", "--no-baselines", "--out", alone, "--threads", "1"));
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--epochs", "1", "--embed", "4",
            "--hidden", "4", "--no-baselines", "--out", alone, "--threads", "1", "--overwrite"));
        Assert.False(File.Exists(Path.Combine(alone, "linear.json")));
        Assert.Equal(2, RecurCommand.Run("classify", "train", "--data", tsv, "--model", "nb", "--out", alone));

        // a network that cannot learn in one step at this rate: the better baseline is saved and named
        string run = Path.Combine(folder, "weak-network");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--epochs", "1", "--lr", "1e-6",
            "--embed", "4", "--hidden", "4", "--out", run, "--threads", "1"));
        Assert.True(File.Exists(Path.Combine(run, "baseline", "linear.json")), "the winning baseline is kept");
        Assert.Equal(0, RecurCommand.Run("classify", "eval", "--model", Path.Combine(run, "baseline"), "--data", tsv));
        Assert.Equal(2, RecurCommand.Run("classify", "train", "--data", tsv, "--valid-fraction", "1", "--out",
            Path.Combine(folder, "bad-fraction")));
    }

    [Fact]
    public void StratifiedHoldOutKeepsEachLabelsShareAndIsSeeded()
    {
        int[] labels = [.. Enumerable.Repeat(0, 50), .. Enumerable.Repeat(1, 30), .. Enumerable.Repeat(2, 1)];
        var (train, valid) = StratifiedSplit.HoldOut(labels, 0.2, 7);
        Assert.Equal(Enumerable.Range(0, labels.Length), train.Concat(valid).Order());
        Assert.Equal(10, valid.Count(i => labels[i] == 0));
        Assert.Equal(6, valid.Count(i => labels[i] == 1));
        Assert.DoesNotContain(valid, i => labels[i] == 2); // a lone example stays in training
        Assert.Equal(valid, StratifiedSplit.HoldOut(labels, 0.2, 7).Valid);
        Assert.NotEqual(valid, StratifiedSplit.HoldOut(labels, 0.2, 8).Valid);
    }

    [Fact]
    public void LongTextOptionsReachTheSavedModelAndConflictingOnesAreRefused()
    {
        string tsv = WriteCorpus("long.tsv");
        string han = Path.Combine(folder, "han");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--model", "han", "--epochs", "1",
            "--embed", "4", "--hidden", "4", "--sentence-length", "3", "--max-tokens", "40", "--truncate", "head+tail",
            "--no-baselines", "--out", han, "--threads", "1"));
        var (models, vocabulary, _) = TrainedModels.Classifiers(han);
        var config = models[0].Config;
        Assert.Equal((Segmentation.Sentences, 3, Pooling.Attention, 40, Truncation.HeadAndTail),
            (config.Segmentation, config.SegmentLength, config.Pooling, config.MaxTokens, config.Truncation));
        string figure = Path.Combine(folder, "why");
        Assert.Equal(0, RecurCommand.Run("classify", "predict", "--model", han, "a lovely film . dull ? fine",
            "--explain", figure));
        Assert.True(File.Exists(figure + "-1.png"), "the attention figure is drawn");
        Assert.Equal(0, RecurCommand.Run("classify", "eval", "--model", han, "--data", tsv));

        string chunked = Path.Combine(folder, "chunked");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--chunk", "2", "--epochs", "1",
            "--embed", "4", "--hidden", "4", "--no-baselines", "--out", chunked, "--threads", "1"));
        Assert.Equal((Segmentation.Chunks, 2), (TrainedModels.Classifiers(chunked).Models[0].Config.Segmentation,
            TrainedModels.Classifiers(chunked).Models[0].Config.SegmentLength));
        Assert.Equal(2, RecurCommand.Run("classify", "predict", "--model", chunked, "a film", "--explain", figure));
        Assert.Equal(2, RecurCommand.Run("classify", "train", "--data", tsv, "--model", "han", "--chunk", "2",
            "--out", Path.Combine(folder, "both")));
    }

    [Fact]
    public void AFrozenEncoderGetsNoGradientWhileThePoolingAndHeadDo()
    {
        var model = new TextClassifier(new TextClassifierConfig(12, 4, 3, 2, Pooling: Pooling.Attention),
            new RandomGenerator(4))
        { FreezeEncoder = true };
        Losses.CrossEntropy(model.Forward([[1, 2, 3], [4, 5]]), [0, 1]).Backward();
        foreach (var (name, value) in model.NamedParameters())
        {
            bool frozen = name.StartsWith("embedding.", StringComparison.Ordinal)
                || name.StartsWith("encoder.", StringComparison.Ordinal);
            Assert.True(frozen == (value.Grad is null), $"{name}: frozen {frozen}, gradient {value.Grad is not null}");
        }
    }

    [Fact]
    public void GradualUnfreezingTrainsOneMoreLayerEachEpochFromTheTop()
    {
        var model = new TextClassifier(new TextClassifierConfig(12, 4, 3, 2, NumLayers: 2, Bidirectional: false,
            Pooling: Pooling.Concat), new RandomGenerator(4));
        var data = new LabelledTexts([[1, 2, 3], [4, 5]], [0, 1]);
        var gradual = new ClassificationTask(model, data, null, 2, frozenEpochs: 1, gradualUnfreezing: true);
        Assert.Equal([3, 2, 1, 0, 0], Enumerable.Range(0, 5).Select(gradual.FrozenLayersAt));
        var atOnce = new ClassificationTask(model, data, null, 2, frozenEpochs: 1);
        Assert.Equal([3, 0, 0], Enumerable.Range(0, 3).Select(atOnce.FrozenLayersAt));
        var before = model.PredictProbabilities(data.Texts);
        for (int frozen = 0; frozen <= 3; frozen++)
        {
            model.FrozenLayers = frozen;
            foreach (var parameter in model.Parameters()) parameter.Grad = null;
            Losses.CrossEntropy(model.Forward(data.Texts), data.Labels).Backward();
            foreach (var (name, value) in model.NamedParameters())
            {
                bool expected = name.StartsWith("embedding.", StringComparison.Ordinal) ? frozen >= 1
                    : name.Contains("_l0", StringComparison.Ordinal) ? frozen >= 2
                    : name.Contains("_l1", StringComparison.Ordinal) && frozen >= 3;
                Assert.True(expected == (value.Grad is null), $"frozen {frozen}, {name}: gradient "
                    + $"{value.Grad is not null}");
            }
            Assert.Equal(frozen == 3, model.FreezeEncoder);
        }
        Assert.Equal(before, model.PredictProbabilities(data.Texts)); // freezing changes no output
        Assert.Throws<ArgumentOutOfRangeException>(() => model.FrozenLayers = 4);
    }

    [Fact]
    public void AClassifierStartsFromAWordLanguageModel()
    {
        string text = Path.Combine(folder, "corpus.txt");
        File.WriteAllLines(text, Enumerable.Range(0, 60).Select(i =>
            $"the film was {Good[i % 3]} , and the story was {Bad[i % 3]} ."));
        string lm = Path.Combine(folder, "lm");
        Assert.Equal(0, RecurCommand.Run("lm", "train", "--text", text, "--tokenizer", "word", "--classifier-words",
            "--embed", "6", "--hidden", "5", "--layers", "1", "--epochs", "1", "--bptt", "8", "--batch", "4",
            "--out", lm, "--threads", "1"));
        string tsv = WriteCorpus("transfer.tsv");
        string run = Path.Combine(folder, "transfer");
        // one frozen epoch: the encoder is still the language model's
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--from-lm", lm, "--epochs", "1",
            "--frozen-epochs", "1", "--no-baselines", "--out", run, "--threads", "1"));
        var (models, vocabulary, _) = TrainedModels.Classifiers(run);
        var config = models[0].Config;
        Assert.Equal((6, 5, 1, false, Pooling.Concat), (config.EmbeddingSize, config.HiddenSize, config.NumLayers,
            config.Bidirectional, config.Pooling));
        var (language, tokenizer) = Recur.Language.LanguageModel.Load(lm);
        var lmEmbedding = language.NamedParameters().Single(p => p.Name == "embedding.weight").Value.ToArray();
        int word = vocabulary.Id("film"), lmWord = tokenizer.Encode("film")[0];
        Assert.Equal(lmEmbedding.AsSpan(lmWord * 6, 6).ToArray(),
            models[0].EmbeddingWeight.ToArray().AsSpan(word * 6, 6).ToArray());
        var lmWeights = language.NamedParameters().Single(p => p.Name == "rnn.weight_hh_l0").Value.ToArray();
        Assert.Equal(lmWeights, models[0].NamedParameters().Single(p => p.Name == "encoder.weight_hh_l0").Value
            .ToArray());
        Assert.Equal(0, RecurCommand.Run("classify", "predict", "--model", run, "a lovely film"));

        // an AWD-LSTM of two layers, then a frozen epoch and one with the top layer unfrozen: the lower layer and the
        // embedding are still the language model's, the top layer is not; the classifier keeps the weight drop
        string awd = Path.Combine(folder, "awd");
        Assert.Equal(0, RecurCommand.Run("lm", "train", "--text", text, "--tokenizer", "word", "--classifier-words",
            "--embed", "6", "--hidden", "5", "--layers", "2", "--awd", "--epochs", "1", "--bptt", "8", "--batch", "4",
            "--out", awd, "--threads", "1"));
        string gradual = Path.Combine(folder, "gradual");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--from-lm", awd, "--epochs", "2",
            "--frozen-epochs", "1", "--unfreeze", "gradual", "--no-baselines", "--out", gradual, "--threads", "1",
            "--valid-fraction", "0"));
        var two = Recur.Language.LanguageModel.Load(awd).Model;
        var classifier = TrainedModels.Classifiers(gradual).Models[0];
        Assert.Equal(0.5f, classifier.Config.WeightDrop);
        float[] Of(Recur.Nn.Module m, string name) => m.NamedParameters().Single(p => p.Name == name).Value.ToArray();
        Assert.Equal(Of(two, "rnn.weight_hh_l0"), Of(classifier, "encoder.weight_hh_l0"));
        Assert.NotEqual(Of(two, "rnn.weight_hh_l1"), Of(classifier, "encoder.weight_hh_l1"));
        Assert.Equal(2, RecurCommand.Run("classify", "train", "--data", tsv, "--from-lm", awd, "--weight-drop", "1",
            "--out", Path.Combine(folder, "bad-drop")));

        string charLm = Path.Combine(folder, "char-lm");
        Assert.Equal(0, RecurCommand.Run("lm", "train", "--text", text, "--embed", "4", "--hidden", "4",
            "--layers", "1", "--epochs", "1", "--bptt", "8", "--batch", "4", "--out", charLm, "--threads", "1"));
        Assert.Equal(2, RecurCommand.Run("classify", "train", "--data", tsv, "--from-lm", charLm, "--out",
            Path.Combine(folder, "from-char")));
    }
}
