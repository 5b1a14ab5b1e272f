using Recur.Autograd;
using Recur.Cli;
using Recur.Language;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Text;
using Recur.Training;

namespace Recur.Tests.Language;

[Collection("cli")]
public sealed class LanguageModelTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-lm-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string At(string name) => Path.Combine(folder, name);

    [Fact]
    public void StreamsAreCutTimeMajorAndChunksPredictTheNextToken()
    {
        var streams = new TokenStreams(Enumerable.Range(0, 11).ToArray(), 2); // 2 streams of 5, token 10 dropped
        Assert.Equal((5, 2), (streams.Length, streams.Streams));
        Assert.Equal([0, 5, 1, 6, 2, 7, 3, 8, 4, 9], streams.Ids);
        Assert.Equal(2, streams.Chunks(3)); // 4 predicted steps: 3 + 1
        var (inputs, targets, steps) = streams.Chunk(1, 3);
        Assert.Equal(1, steps);
        Assert.Equal([3, 8], inputs);
        Assert.Equal([4, 9], targets);
        Assert.Throws<ArgumentException>(() => new TokenStreams([1, 2, 3], 2));
    }

    public static TheoryData<string, bool> Cells() => new() { { "lstm", false }, { "lstm", true }, { "gru", true },
        { "rnn", false } };

    [Theory]
    [MemberData(nameof(Cells))]
    public void GradientsMatchFiniteDifferences(string cell, bool tie)
    {
        // tied weights get gradients from both the embedding lookup and the output layer; an LSTM wider than the
        // embedding projects
        var model = new LanguageModel(new LanguageModelConfig(7, 3, cell == "lstm" && tie ? 4 : 3, 2,
            RecurrentCells.Parse(cell), 0f, tie), new RandomGenerator(2));
        int[] ids = [1, 4, 2, 6, 5, 0, 3, 3];
        int[] targets = [4, 2, 6, 5, 0, 3, 3, 1];
        var result = GradientCheck.Compare(() => Losses.CrossEntropy(model.Forward(ids, 4, 2).Logits, targets),
            model.Parameters(), epsilon: 1e-2);
        Assert.True(result.Passed, $"{cell} tie={tie}: error {result.MaxError:G3}× tolerance at {result.Where}");
        // the training loss (fused output layer and cross-entropy) is the same function
        Assert.Equal(Losses.CrossEntropy(model.Forward(ids, 4, 2).Logits, targets).Item(), model.Loss(ids, 4, 2,
            targets).Loss.Item(), 5);
        result = GradientCheck.Compare(() => model.Loss(ids, 4, 2, targets).Loss, model.Parameters(), epsilon: 1e-2);
        Assert.True(result.Passed, $"{cell} tie={tie}: error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void CarryingTheStateAcrossChunksEqualsOneLongPass()
    {
        var model = new LanguageModel(new LanguageModelConfig(9, 4, 6, 2), new RandomGenerator(4));
        model.Eval();
        var random = new RandomGenerator(5);
        var ids = Enumerable.Range(0, 10 * 3).Select(_ => random.NextInt(9)).ToArray();
        using var _ = GradMode.NoGrad();
        var whole = model.Forward(ids, 10, 3).Logits.ToArray();
        LanguageModelState? state = null;
        var pieces = new List<float>();
        foreach (var (start, length) in new[] { (0, 4), (4, 1), (5, 5) })
        {
            var (logits, next) = model.Forward(ids.AsSpan(start * 3, length * 3), length, 3, state);
            pieces.AddRange(logits.ToArray());
            state = next;
        }
        Assert.Equal(whole.Length, pieces.Count);
        for (int i = 0; i < whole.Length; i++) Assert.Equal(whole[i], pieces[i], 5);
    }

    static (LanguageModel Model, CharTokenizer Tokenizer, string Text) Overfit()
    {
        const string text = "the quick brown fox jumps over the lazy dog; the end.";
        var tokenizer = CharTokenizer.Build(text);
        var model = new LanguageModel(new LanguageModelConfig(tokenizer.VocabularySize, 16, 64, 1),
            new RandomGenerator(1));
        var ids = tokenizer.Encode(text);
        var task = new LanguageModelTask(model, ids, 1, ids.Length - 1);
        var trainer = new Trainer<int>(task, new Adam(model.Parameters(), 1e-2f), new TrainerOptions
        {
            Epochs = 150,
            ClipNorm = 5f, LogEvery = 1000
        });
        trainer.Fit();
        return (model, tokenizer, text);
    }

    [Fact]
    public void ATinyModelLearnsAShortTextExactly()
    {
        var (model, tokenizer, text) = Overfit();
        var ids = tokenizer.Encode(text);
        var score = LanguageModelScore.Evaluate(model, ids, ids.Length, streams: 1);
        Assert.True(score.Loss < 0.02, $"loss {score.Loss}");
        // greedy decoding from the first character writes the rest of the text, "the" after "over " included
        var generated = model.Generate([ids[0]], ids.Length - 1, new SamplingOptions(Temperature: 0));
        Assert.Equal(text, tokenizer.Decode([ids[0], .. generated]));
        // beam search of any width agrees on so peaked a model
        var beam = model.BeamSearch([ids[0]], ids.Length - 1, 4, lengthPenalty: 0);
        Assert.Equal(text[1..], tokenizer.Decode(beam[0].Tokens));
    }

    [Fact]
    public void SamplingIsDeterministicUnderASeed()
    {
        var model = new LanguageModel(new LanguageModelConfig(30, 8, 12, 2, Dropout: 0.3f), new RandomGenerator(8));
        var options = new SamplingOptions(Temperature: 1.2f, TopK: 20, TopP: 0.95f, Seed: 42);
        var first = model.Generate([5, 6], 80, options);
        var second = model.Generate([5, 6], 80, options);
        var other = model.Generate([5, 6], 80, options with { Seed = 43 });
        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
        Assert.True(model.Training, "generation restores the model's mode");
    }

    [Fact]
    public void TemperatureTopKAndTopPShapeTheDistribution()
    {
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        var random = new RandomGenerator(3);
        Assert.Equal(0, TextGenerator.Choose(logits, new SamplingOptions(Temperature: 0), random));
        Assert.Equal(0, TextGenerator.Choose(logits, new SamplingOptions(TopK: 1), random));
        double[] Frequencies(SamplingOptions options)
        {
            var counts = new double[4];
            for (int i = 0; i < 40_000; i++) counts[TextGenerator.Choose(logits, options, random)]++;
            return counts.Select(c => c / 40_000).ToArray();
        }
        var plain = Frequencies(new SamplingOptions());
        double[] expected = [0.5, 0.3, 0.15, 0.05];
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], plain[i], 0.01);
        var topK = Frequencies(new SamplingOptions(TopK: 2)); // renormalised over 0.5 and 0.3
        Assert.Equal(0.625, topK[0], 0.012);
        Assert.Equal(0.0, topK[2] + topK[3]);
        var topP = Frequencies(new SamplingOptions(TopP: 0.9f)); // 0.5 + 0.3 + 0.15 reaches 0.9: the last token is cut
        Assert.Equal(0.0, topP[3]);
        Assert.Equal(0.5 / 0.95, topP[0], 0.012);
        var cold = Frequencies(new SamplingOptions(Temperature: 0.5f)); // p² renormalised
        Assert.Equal(0.25 / (0.25 + 0.09 + 0.0225 + 0.0025), cold[0], 0.012);
        Assert.Throws<ArgumentException>(() => new SamplingOptions(TopP: 0).Validate());
    }

    [Theory]
    [InlineData(CellKind.Lstm, false)]
    [InlineData(CellKind.Gru, false)]
    [InlineData(CellKind.Rnn, false)]
    [InlineData(CellKind.Lstm, true)]
    [InlineData(CellKind.Gru, true)]
    public void GenerationFromTheTokenTableGivesTheBitsOfTheFullForward(CellKind cell, bool int8)
    {
        // generation reads each token's first-layer projection from a table made once, not W_ih at every token:
        // the logits and states of every step are the same bits as Forward's, float and int8, on one and two threads
        var model = new LanguageModel(new LanguageModelConfig(20, 24, 128, 2, cell), new RandomGenerator(31));
        if (int8) Recur.Nn.Quantization.QuantizeDynamic(model);
        using var evaluating = model.Evaluating();
        using var noGrad = GradMode.NoGrad();
        var table = model.NextTokenTable();
        Assert.NotNull(table);
        foreach (int threads in new[] { 1, 2 })
        {
            using var split = RecurrentKernel.WithSmallBatchThreads(threads);
            var (_, state) = model.Forward([3, 7, 1], 3, 1);
            var (_, tableState) = (state, state);
            foreach (int token in new[] { 5, 0, 19, 5, 12 })
            {
                var (logits, next) = model.Forward([token], 1, 1, state);
                var (tableLogits, tableNext) = model.Step([token], tableState, table!);
                Assert.Equal(logits.ToArray(), tableLogits.ToArray());
                Assert.Equal(next.Hidden.ToArray(), tableNext.Hidden.ToArray());
                Assert.Equal(next.Cell?.ToArray(), tableNext.Cell?.ToArray());
                (state, tableState) = (next, tableNext);
            }
        }
        // three streams at once (beam search), from three different states
        int[] tokens = [4, 4, 17];
        var (_, streams) = model.Forward([1, 2, 3, 9, 8, 7], 2, 3);
        var (forward, forwardState) = model.Forward(tokens, 1, 3, streams);
        var (stepped, steppedState) = model.Step(tokens, streams, table!);
        Assert.Equal(forward.ToArray(), stepped.ToArray());
        Assert.Equal(forwardState.Hidden.ToArray(), steppedState.Hidden.ToArray());
        Assert.Throws<ArgumentException>(() => model.Step([1, 2, 3, 4, 5], streams, table!));
        // no table where it would not pay (a vocabulary wider than the embedding) or in training
        var wide = new LanguageModel(new LanguageModelConfig(40, 8, 16, 1), new RandomGenerator(1));
        using (wide.Evaluating()) Assert.Null(wide.NextTokenTable());
        var training = new LanguageModel(new LanguageModelConfig(20, 24, 16, 1), new RandomGenerator(1));
        Assert.Null(training.NextTokenTable());
    }

    /// <summary>Sampling as defined: tokens most likely first (ties by id), top-k, then the smallest prefix whose
    /// probability reaches top-p, drawn by walking that order — the sorting sampler Recur used before, kept here as
    /// the reference.</summary>
    static int ReferenceChoice(float[] logits, SamplingOptions options, RandomGenerator random)
    {
        int n = logits.Length;
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => logits[a] != logits[b] ? logits[b].CompareTo(logits[a]) : a.CompareTo(b));
        int keep = options.TopK > 0 ? Math.Min(options.TopK, n) : n;
        double max = logits[order[0]] / (double)options.Temperature, sum = 0;
        var p = new double[keep];
        for (int i = 0; i < keep; i++) sum += p[i] = Math.Exp(logits[order[i]] / (double)options.Temperature - max);
        if (options.TopP < 1)
        {
            // over every token, summed as the sampler sums them
            double all = keep < n ? sum : TextGenerator.Weights(logits, options.Temperature, max, new double[n]);
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
                if ((cumulative += p[i] / all) >= options.TopP) { keep = i + 1; break; }
            sum = p.Take(keep).Sum();
        }
        double u = random.NextDouble() * sum, running = 0;
        for (int i = 0; i < keep; i++)
            if (u < (running += p[i])) return order[i];
        return order[keep - 1];
    }

    [Theory]
    [InlineData(40, 1f, 0, 0.5f)]
    [InlineData(2000, 1.3f, 40, 1f)]
    [InlineData(2000, 0.8f, 0, 0.9f)]
    [InlineData(2000, 1f, 100, 0.95f)]
    [InlineData(30000, 1f, 0, 0.3f)]
    [InlineData(300, 2f, 0, 0.999f)]
    public void TruncatedSamplingOfALargeVocabularyDrawsWhatSortingEveryTokenWould(int vocabulary,
        float temperature, int topK, float topP)
    {
        // top-k and top-p take the best tokens from a bounded heap and sort only those; drawn from the same random
        // stream they pick exactly the tokens the definition picks (ties included: logits rounded to a few levels)
        var random = new RandomGenerator((ulong)vocabulary);
        var options = new SamplingOptions(temperature, topK, topP);
        var mine = new RandomGenerator(11);
        var reference = new RandomGenerator(11);
        for (int draw = 0; draw < 200; draw++)
        {
            var logits = new float[vocabulary];
            for (int i = 0; i < vocabulary; i++) logits[i] = MathF.Round(random.NextNormal() * 4) / 2;
            Assert.Equal(ReferenceChoice(logits, options, reference), TextGenerator.Choose(logits, options, mine));
        }
    }

    [Fact]
    public void SamplingEveryTokenOfALargeVocabularyFollowsTheSoftmax()
    {
        // three likely tokens among 50,000 unlikely ones: drawn in id order without sorting, each as often as its
        // probability says
        var logits = Enumerable.Repeat(-20f, 50_000).ToArray();
        (logits[49_999], logits[17], logits[30_000]) = (MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.2f));
        var random = new RandomGenerator(4);
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < 20_000; i++)
        {
            int token = TextGenerator.Choose(logits, new SamplingOptions(), random);
            counts[token] = counts.GetValueOrDefault(token) + 1;
        }
        Assert.Equal(0.5, counts[49_999] / 20_000.0, 0.015);
        Assert.Equal(0.3, counts[17] / 20_000.0, 0.015);
        Assert.Equal(0.2, counts[30_000] / 20_000.0, 0.015);
        Assert.True(counts.Where(c => c.Key is not (17 or 30_000 or 49_999)).Sum(c => c.Value) < 20,
            "the 49,997 tokens of probability 1e-9 each were drawn too often");
    }

    [Fact]
    public void SamplingRefusesLogitsThatAreNotFiniteAndBreaksTiesById()
    {
        var random = new RandomGenerator(1);
        var error = Assert.Throws<ArgumentException>(() =>
            TextGenerator.Choose([0f, 1f, float.NaN, 2f], new SamplingOptions(), random));
        Assert.Contains("token 2 of 4", error.Message);
        Assert.Throws<ArgumentException>(() =>
            TextGenerator.Choose([0f, float.PositiveInfinity], new SamplingOptions(TopK: 1), random));
        // equal best logits (−0 equals +0): top-1 is the smaller id
        Assert.Equal(1, TextGenerator.Choose([-1f, 0f, -0f, -3f], new SamplingOptions(TopK: 1), random));
        Assert.Equal(2, TextGenerator.Choose([-1f, -2f, -0f, 0f], new SamplingOptions(TopK: 1), random));
    }

    [Fact]
    public void WideBeamSearchFindsTheMostLikelySequence()
    {
        const int vocabulary = 5, length = 3;
        var model = new LanguageModel(new LanguageModelConfig(vocabulary, 4, 6, 1), new RandomGenerator(12));
        // brute force: log P of every continuation of length 3 after the prompt [2]
        double LogP(int[] continuation)
        {
            using var _ = GradMode.NoGrad();
            model.Eval();
            int[] ids = [2, .. continuation[..^1]];
            var logits = model.Forward(ids, ids.Length, 1).Logits;
            var logProbabilities = logits.LogSoftmax(-1).ToArray();
            model.Train();
            return Enumerable.Range(0,
                continuation.Length).Sum(t => (double)logProbabilities[t * vocabulary + continuation[t]]);
        }
        var all = new List<(int[] Tokens, double LogP)>();
        for (int a = 0; a < vocabulary; a++) for (int b = 0; b < vocabulary; b++) for (int c
            = 0; c < vocabulary; c++) all.Add(([a, b, c], LogP([a, b, c])));
        var best = all.OrderByDescending(s => s.LogP).First();
        var found = model.BeamSearch([2], length, beamWidth: vocabulary * vocabulary, lengthPenalty: 0);
        Assert.Equal(best.Tokens, found[0].Tokens);
        Assert.Equal(best.LogP, found[0].LogProbability, 4);
        // width 1 is greedy decoding
        var greedy = model.Generate([2], length, new SamplingOptions(Temperature: 0));
        Assert.Equal(greedy, model.BeamSearch([2], length, 1, 0)[0].Tokens);
        // an end token finishes a hypothesis early; finished ones are ranked with the live ones
        var withEnd = model.BeamSearch([2], 6, 3, 0.6, eosId: 1);
        Assert.All(withEnd, h => Assert.DoesNotContain(1, h.Tokens[..^1])); // <eos> only ever ends a hypothesis
        Assert.True(withEnd[0].Tokens.Length == 6 || withEnd[0].Tokens[^1] == 1,
            "the winner is finished or full length");
        Assert.Equal(withEnd.Max(h => h.Score), withEnd[0].Score);
    }

    [Fact]
    public void AResumedRunEqualsAnUninterruptedOne()
    {
        var random = new RandomGenerator(3);
        var ids = Enumerable.Range(0, 600).Select(_ => random.NextInt(12)).ToArray();
        (LanguageModel, Trainer<int>) Setup(string? output)
        {
            var model = new LanguageModel(new LanguageModelConfig(12, 6, 8, 2, CellKind.Lstm, 0.2f),
                new RandomGenerator(9));
            var task = new LanguageModelTask(model, ids, 4, 10, ids[..200], 200);
            var options = new TrainerOptions
            {
                Epochs = 2, Seed = 5, ClipNorm = 1f, LogEvery = 1,
                OutputDirectory = output
            };
            return (model, new Trainer<int>(task, new Adam(model.Parameters(), 3e-3f), options));
        }
        var (straight, straightTrainer) = Setup(At("straight"));
        straightTrainer.Fit();
        // stop in the middle of the first epoch (after chunk 7 of 15), then continue from last/ with fresh objects
        using var cancel = new CancellationTokenSource();
        var model = new LanguageModel(new LanguageModelConfig(12, 6, 8, 2, CellKind.Lstm, 0.2f),
            new RandomGenerator(9));
        var task = new LanguageModelTask(model, ids, 4, 10, ids[..200], 200);
        var options = new TrainerOptions
        {
            Epochs = 2, Seed = 5, ClipNorm = 1f, LogEvery = 1,
            OutputDirectory = At("resumed")
        };
        var stopper = new StopAt(7, cancel);
        var result = new Trainer<int>(task, new Adam(model.Parameters(), 3e-3f), options,
            observer: stopper).Fit(cancel.Token);
        Assert.Equal(TrainingOutcome.Interrupted, result.Outcome);
        Assert.Equal(7, result.Steps);
        Assert.True(File.Exists(Path.Combine(At("resumed"), "last", Checkpoint.TaskStateFile)),
            "the carried state is checkpointed");
        var (resumed, resumedTrainer) = Setup(At("resumed"));
        resumedTrainer.Resume(Path.Combine(At("resumed"), "last"));
        resumedTrainer.Fit();
        foreach (var ((name, a), (_, b)) in straight.NamedParameters().Zip(resumed.NamedParameters()))
            Assert.True(a.Span.SequenceEqual(b.Span), $"parameter {name} differs after resuming");
    }

    [Fact]
    public void ActivationRegularisersAddExactlyTheirTermsInTraining()
    {
        var config = new LanguageModelConfig(10, 4, 5, 2) with
        {
            ActivationRegularization = 2f,
            TemporalActivationRegularization = 1f,
        };
        var model = new LanguageModel(config, new RandomGenerator(2));
        int[] ids = [1, 4, 2, 9, 3, 3, 7, 0], targets = [4, 2, 9, 3, 3, 7, 0, 5];
        float trained = model.Loss(ids, 4, 2, targets).Loss.Item();
        model.Eval();
        float plain = model.Loss(ids, 4, 2, targets).Loss.Item();
        var h = model.Encode(ids, 4, 2).Output.ToArray(); // [4, 2, 5], no dropout in this config
        double ar = h.Average(v => (double)v * v);
        double tar = Enumerable.Range(10, 30).Average(i => Math.Pow(h[i] - h[i - 10], 2));
        Assert.Equal(plain + 2 * ar + tar, trained, 5);
        Assert.True(ar > 1e-4 && tar > 1e-4, $"AR {ar}, TAR {tar}: too small to show in the loss");
        // the regularisers train through: a gradient check of the whole training loss
        model.Train();
        var check = GradientCheck.Compare(() => model.Loss(ids, 4, 2, targets).Loss, model.Parameters());
        Assert.True(check.Passed, $"error {check.MaxError:G3}× tolerance at {check.Where}");
    }

    [Fact]
    public void TheAwdLstmConfigurationRoundTripsAndOldConfigsLoad()
    {
        var awd = LanguageModelConfig.AwdLstm(50, 8, 8, 3);
        Assert.Equal((0.4f, 0.3f, 0.4f, 0.1f, 0.5f), (awd.InputDropout, awd.Dropout, awd.OutputDropout,
            awd.EmbeddingDropout, awd.WeightDrop));
        Assert.True(awd.VariationalDropout && awd.Recurrent.VariationalDropout);
        Assert.Equal(0.5f, awd.Recurrent.WeightDrop);
        Assert.Equal(awd, LanguageModelConfig.FromJson(awd.ToJson()));
        // settings written before these fields existed read as before, and are written back without them
        var plain = new LanguageModelConfig(50, 8, 8, 3, CellKind.Gru, 0.2f);
        Assert.DoesNotContain("weight_drop", plain.ToJson().ToJsonString());
        Assert.Equal(plain, LanguageModelConfig.FromJson(plain.ToJson()));
        Assert.Throws<ArgumentException>(() => new LanguageModel(awd with { EmbeddingDropout = 1f },
            new RandomGenerator(1)));
        // a training step draws new masks; evaluation is deterministic and equals the same weights without dropout
        var model = new LanguageModel(awd, new RandomGenerator(4));
        int[] ids = [1, 2, 3, 4, 5, 6];
        Assert.NotEqual(model.Forward(ids, 3, 2).Logits.ToArray(), model.Forward(ids, 3, 2).Logits.ToArray());
        model.Eval();
        var same = new LanguageModel(new LanguageModelConfig(50, 8, 8, 3, TieWeights: true), new RandomGenerator(4));
        same.Eval();
        Assert.Equal(same.Forward(ids, 3, 2).Logits.ToArray(), model.Forward(ids, 3, 2).Logits.ToArray());
    }

    sealed class StopAt(long step, CancellationTokenSource cancel) : ITrainingObserver
    {
        public void OnStart(long s, long total) { }
        public void OnStep(StepRecord record) { if (record.Step >= step) cancel.Cancel(); }
        public void OnEvaluation(EvaluationRecord record) { }
        public void OnMessage(string message) { }
    }

    [Theory]
    [InlineData("char")]
    [InlineData("word")]
    [InlineData("bpe")]
    public void TrainEvalAndGenerateFromTheCommandLine(string tokenizer)
    {
        var random = new Random(5);
        string[] words = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "'tis", "nobler", "in",
            "mind"];
        File.WriteAllLines(At("text.txt"), Enumerable.Range(0, 120).Select(_ => string.Join(' ', Enumerable.Range(0,
            random.Next(3, 9)).Select(_ => words[random.Next(words.Length)]))));
        string run = At("run-" + tokenizer);
        // the char model ties weights through a projection (hidden 24 > embed 12); the others tie directly
        string embed = tokenizer == "char" ? "12" : "24";
        Assert.Equal(0, RecurCommand.Run("lm", "train", "--text", At("text.txt"), "--tokenizer", tokenizer,
            "--vocab-size", "300", "--hidden", "24", "--embed", embed,
            "--layers", "2", "--bptt", "16", "--batch", "4", "--epochs", "2", "--tie-weights", "--out", run,
                "--threads", "1"));
        Assert.True(File.Exists(Path.Combine(run, "tokenizer.json")));
        Assert.True(Directory.Exists(Path.Combine(run, "best")));
        var records = MetricsLog.Read(Path.Combine(run, "metrics.jsonl"));
        Assert.Contains(records, r => r.Type == "eval" && r.Values.ContainsKey("bits_per_char"));
        Assert.Equal(0, RecurCommand.Run("lm", "eval", "--model", run, "--text", At("text.txt"), "--json"));
        Assert.Equal(0, RecurCommand.Run("lm", "generate", "--model", run, "--prompt", "to be", "--length", "40",
            "--seed", "3", "--top-k", "5", "--out", At("a.txt")));
        Assert.Equal(0, RecurCommand.Run("lm", "generate", "--model", run, "--prompt", "to be", "--length", "40",
            "--seed", "3", "--top-k", "5", "--out", At("b.txt")));
        Assert.Equal(File.ReadAllText(At("a.txt")), File.ReadAllText(At("b.txt")));
        Assert.StartsWith("to be", File.ReadAllText(At("a.txt")), StringComparison.Ordinal);
        Assert.Equal(0, RecurCommand.Run("lm", "generate", "--model", run, "--prompt", "not", "--length", "8",
            "--beam", "3", "--out", At("beam.txt")));
        Assert.StartsWith("not", File.ReadAllText(At("beam.txt")), StringComparison.Ordinal);
        // int8 inference: the word and BPE stacks quantise; the char model's projected LSTM has no int8 path (usage
        // error, exit code 2, and no output file)
        int int8 = RecurCommand.Run("lm", "generate", "--model", run, "--prompt", "to be", "--length", "20", "--seed",
            "3", "--int8", "--out", At("int8.txt"));
        Assert.Equal(tokenizer == "char" ? 2 : 0, int8);
        Assert.Equal(tokenizer != "char", File.Exists(At("int8.txt")));
        if (tokenizer != "char")
        {
            Assert.StartsWith("to be", File.ReadAllText(At("int8.txt")), StringComparison.Ordinal);
            Assert.Equal(0, RecurCommand.Run("lm", "eval", "--model", run, "--text", At("text.txt"), "--int8"));
        }
        // gate and hidden-state heatmaps over a text, labelled with its tokens
        Assert.Equal(0, RecurCommand.Run("inspect", "gates", "--model", run, "--text", "to be or not to be", "--units",
            "8", "--out", At("gates-" + tokenizer), "--json"));
        Recur.Tests.Figures.FigureFiles.AssertPng(At($"gates-{tokenizer}-hidden.png"));
        // connectivity over a text: which earlier tokens each prediction depends on
        Assert.Equal(0, RecurCommand.Run("inspect", "saliency", "--model", run, "--text", "to be or not to be",
            "--out", At("connectivity-" + tokenizer)));
        Recur.Tests.Figures.FigureFiles.AssertSvg(At($"connectivity-{tokenizer}.svg"), "connectivity");
        Assert.Equal(2, RecurCommand.Run("inspect", "saliency", "--model", run, "--text", "t"));
        if (tokenizer != "char") Recur.Tests.Figures.FigureFiles.AssertSvg(At($"gates-{tokenizer}-forget.svg"),
            "forget gate over the text");
        // resuming needs the run's tokenizer and continues to the third epoch
        Assert.Equal(0, RecurCommand.Run("lm", "train", "--text", At("text.txt"), "--tokenizer", tokenizer,
            "--vocab-size", "300", "--hidden", "24", "--embed", embed,
            "--layers", "2", "--bptt", "16", "--batch", "4", "--epochs", "3", "--tie-weights", "--out", run,
                "--threads", "1", "--resume", Path.Combine(run, "last")));
        Assert.Contains(MetricsLog.Read(Path.Combine(run, "metrics.jsonl")), r => r.Type == "eval" && r.Epoch == 3);
    }

    [Fact]
    public void BadInputIsReported()
    {
        File.WriteAllBytes(At("bad.txt"), [0x61, 0x62, 0xFF, 0x0A]);
        Assert.Equal(1, RecurCommand.Run("lm", "train", "--text", At("bad.txt"), "--out", At("bad-run")));
        Assert.False(Directory.Exists(Path.Combine(At("bad-run"), "last")));
        Assert.Equal(2, RecurCommand.Run("lm", "train", "--text", At("bad.txt")));
        Assert.Equal(2, RecurCommand.Run("lm", "generate", "--model", At("nowhere")));
        File.WriteAllText(At("short.txt"), "abc");
        Assert.Equal(1, RecurCommand.Run("lm", "train", "--text", At("short.txt"), "--batch", "8", "--out",
            At("short-run")));
    }
}
