using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Training;

namespace Recur.Tests.Training;

/// <summary>A two-layer LSTM with dropout and a linear head on the last output: sum of a sequence's first
/// feature.</summary>
sealed class TinyRegressor : Module
{
    public readonly RecurrentLayer Rnn;
    public readonly Linear Head;

    public TinyRegressor(ulong seed, float dropout)
    {
        var random = new RandomGenerator(seed);
        Rnn = RegisterModule("rnn", new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 2, 6, NumLayers: 2,
            Dropout: dropout), random));
        Head = RegisterModule("head", new Linear(6, 1, random));
    }

    public Tensor Forward(Tensor x) // [T, B, 2] → [B, 1]
    {
        var output = Rnn.Forward(x).Output;
        return Head.Forward(output.Slice(0, output.Size(0) - 1, 1).Reshape(output.Size(1), 6));
    }
}

sealed class TinyTask : ITrainingTask<int[]>
{
    const int Steps = 5, Samples = 24;
    readonly Tensor inputs, targets; // [T, N, 2], [N, 1]
    public readonly TinyRegressor Net;
    public int BatchSize = 4;
    public Func<int, long, float>? LossScale; // (epoch, step) → factor, to inject NaN
    public Func<int, double>? ValidationLoss; // epoch → fake metric
    public string MetricName = "loss"; // the name the fake metric is reported under
    public Func<double, double>? MapLoss; // the real validation loss → the reported one
    int evaluations;

    public TinyTask(ulong seed = 3, float dropout = 0.25f)
    {
        Net = new TinyRegressor(seed, dropout);
        var r = new RandomGenerator(99);
        inputs = Tensor.RandomNormal(r, [Steps, Samples, 2]);
        var y = new float[Samples];
        for (int t = 0; t < Steps; t++)
            for (int n = 0; n < Samples; n++) y[n] += inputs.Span[(t * Samples + n) * 2] * 0.3f;
        targets = Tensor.FromArray(y, Samples, 1);
    }

    public Module Model => Net;
    public JsonObject Config => new() { ["model"] = "tiny", ["hidden"] = 6 };
    public int BatchesPerEpoch => Samples / BatchSize;

    public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) => Batching.Shuffled(Samples, BatchSize,
        shuffle);

    (Tensor X, Tensor Y) Gather(int[] rows)
    {
        var x = new float[Steps * rows.Length * 2];
        var y = new float[rows.Length];
        for (int b = 0; b < rows.Length; b++)
        {
            for (int t = 0; t < Steps; t++)
                for (int f = 0; f < 2; f++) x[(t * rows.Length + b) * 2 + f] = inputs.Span[(t * Samples + rows[b]) * 2
                    + f];
            y[b] = targets.Span[rows[b]];
        }
        return (Tensor.FromArray(x, Steps, rows.Length, 2), Tensor.FromArray(y, rows.Length, 1));
    }

    public Tensor Loss(int[] batch, TrainingContext context)
    {
        var (x, y) = Gather(batch);
        var loss = Losses.MeanSquaredError(Net.Forward(x), y);
        return LossScale is null ? loss : loss * LossScale(context.Epoch, context.Step);
    }

    public int Count(int[] batch) => batch.Length;

    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        int epoch = evaluations++;
        if (ValidationLoss != null) return new Dictionary<string, double> { [MetricName] = ValidationLoss(epoch) };
        var (x, y) = Gather(Enumerable.Range(0, Samples).ToArray());
        double loss = Losses.MeanSquaredError(Net.Forward(x), y).Item();
        return new Dictionary<string, double> { ["loss"] = MapLoss is null ? loss : MapLoss(loss) };
    }
}

sealed class StopAt(long step, CancellationTokenSource source) : ITrainingObserver
{
    public void OnStart(long s, long total) { }
    public void OnStep(StepRecord record) { if (record.Step == step) source.Cancel(); }
    public void OnEvaluation(EvaluationRecord record) { }
    public void OnMessage(string message) { }
}

public sealed class TrainerTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), $"recur-trainer-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    static float[] Weights(Module m) => m.Parameters().SelectMany(p => p.ToArray()).ToArray();

    TrainerOptions Options(string name, int accumulation = 1) => new()
    {
        Epochs = 4, Seed = 7, ClipNorm = 0.5f, AccumulationSteps = accumulation, LogEvery = 1,
        OutputDirectory = Path.Combine(root, name),
    };

    static (Adam, StepSchedule) Optimizer(TinyTask task) => (new Adam(task.Model.Parameters(), 0.02f),
        new StepSchedule(0.02f, 2, 0.5));

    [Theory]
    [InlineData(1, 7)]  // interrupted in the middle of epoch 2
    [InlineData(1, 12)] // interrupted at an epoch boundary
    [InlineData(2, 4)]  // with gradient accumulation
    public void ResumingGivesTheSameWeightsAsAnUninterruptedRun(int accumulation, long stopAt)
    {
        var straight = new TinyTask();
        var (adam, schedule) = Optimizer(straight);
        var result = new Trainer<int[]>(straight, adam, Options("straight", accumulation), schedule).Fit();
        Assert.Equal(TrainingOutcome.Completed, result.Outcome);

        var first = new TinyTask();
        (adam, schedule) = Optimizer(first);
        using var cancel = new CancellationTokenSource();
        var interrupted = new Trainer<int[]>(first, adam, Options("resumed", accumulation), schedule,
            new StopAt(stopAt, cancel)).Fit(cancel.Token);
        Assert.Equal(TrainingOutcome.Interrupted, interrupted.Outcome);
        Assert.Equal(stopAt, interrupted.Steps);

        var second = new TinyTask(seed: 12345); // different initial weights: the checkpoint must overwrite them
        (adam, schedule) = Optimizer(second);
        var trainer = new Trainer<int[]>(second, adam, Options("resumed", accumulation), schedule);
        trainer.Resume(Path.Combine(root, "resumed", "last"));
        var resumed = trainer.Fit();
        Assert.Equal(TrainingOutcome.Completed, resumed.Outcome);
        Assert.Equal(result.Steps, resumed.Steps);
        Assert.Equal(Weights(straight.Net), Weights(second.Net));
        Assert.Equal(result.BestMetric, resumed.BestMetric);
    }

    [Theory]
    [InlineData(9)]  // inside epoch 2 (6 batches an epoch)
    [InlineData(12)] // at an epoch boundary
    public void AStepBudgetStopsThereValidatesAndAResumedLargerBudgetMatchesAStraightRun(long limit)
    {
        var straight = new TinyTask();
        var (adam, schedule) = Optimizer(straight);
        var full = new Trainer<int[]>(straight, adam, Options("straight") with { MaxSteps = 20 }, schedule).Fit();
        Assert.Equal(20, full.Steps);
        Assert.Equal(TrainingOutcome.Completed, full.Outcome);

        var first = new TinyTask();
        (adam, schedule) = Optimizer(first);
        var limited = new Trainer<int[]>(first, adam, Options("limited") with { MaxSteps = limit }, schedule).Fit();
        Assert.Equal(TrainingOutcome.Completed, limited.Outcome);
        Assert.Equal(limit, limited.Steps);
        var evals = MetricsLog.Read(Path.Combine(root, "limited", "metrics.jsonl")).Where(e
            => e.Type == "eval").ToList();
        Assert.Equal(limit, evals[^1].Step); // the weights it stopped with were validated
        Assert.Equal(evals.Count, evals.Select(e => e.Step).Distinct().Count());

        var second = new TinyTask(seed: 12345);
        (adam, schedule) = Optimizer(second);
        var trainer = new Trainer<int[]>(second, adam, Options("limited") with { MaxSteps = 20 }, schedule);
        trainer.Resume(Path.Combine(root, "limited", "last"));
        Assert.Equal(20, trainer.Fit().Steps);
        Assert.Equal(Weights(straight.Net), Weights(second.Net));
    }

    [Fact]
    public void TrainingLowersTheLossAndWritesMetricsAndCheckpoints()
    {
        var task = new TinyTask();
        var (adam, _) = Optimizer(task);
        double before = task.Evaluate()!["loss"];
        var result = new Trainer<int[]>(task, adam, Options("run") with { Epochs = 8 }).Fit();
        Assert.True(result.LastEvaluation!["loss"] < before * 0.7,
            $"validation loss {before} → {result.LastEvaluation!["loss"]}");
        var lines = File.ReadAllLines(Path.Combine(root, "run",
            "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(8 * 6, lines.Count(l => (string)l["type"]! == "train"));
        Assert.Equal(8, lines.Count(l => (string)l["type"]! == "eval"));
        Assert.All(lines.Where(l => (string)l["type"]! == "train"), l => Assert.True((double)l["grad_norm"]! > 0));
        foreach (var name in new[] { "last", "best" })
        {
            var folder = Path.Combine(root, "run", name);
            Checkpoint.Verify(folder);
            Assert.Equal("tiny", (string)Checkpoint.ReadConfig(folder)["model"]!);
        }
        var reloaded = new TinyTask(seed: 555);
        Checkpoint.LoadModel(Path.Combine(root, "run", "last"), reloaded.Net);
        Assert.Equal(Weights(task.Net), Weights(reloaded.Net));
    }

    [Fact]
    public void TruncatedOrModifiedCheckpointsAreRefused()
    {
        var task = new TinyTask();
        var (adam, _) = Optimizer(task);
        new Trainer<int[]>(task, adam, Options("run") with { Epochs = 1 }).Fit();
        string last = Path.Combine(root, "run", "last");

        void Expect(string fragment)
        {
            var fresh = new TinyTask();
            var trainer = new Trainer<int[]>(fresh, Optimizer(fresh).Item1, Options("run"));
            var ex = Assert.Throws<InvalidDataException>(() => trainer.Resume(last));
            Assert.Contains(fragment, ex.Message);
        }

        string model = Path.Combine(last, Checkpoint.ModelFile);
        var bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(model, bytes[..^10]);
        Expect("model.safetensors is " + (bytes.Length - 10) + " bytes but the manifest says " + bytes.Length);
        var flipped = (byte[])bytes.Clone();
        flipped[^3] ^= 0x40;
        File.WriteAllBytes(model, flipped);
        Expect("does not match its SHA-256");
        File.WriteAllBytes(model, bytes);
        File.Delete(Path.Combine(last, Checkpoint.OptimizerFile));
        Expect("optimizer.safetensors is listed in the manifest but missing");
        File.Delete(Path.Combine(last, Checkpoint.ManifestFile));
        Expect("manifest.json is missing");
    }

    [Fact]
    public void ACheckpointOfAnotherModelIsRefused()
    {
        var task = new TinyTask();
        new Trainer<int[]>(task, Optimizer(task).Item1, Options("run") with { Epochs = 1 }).Fit();
        var other = new OtherConfigTask();
        var trainer = new Trainer<int[]>(other, new Adam(other.Model.Parameters()), Options("run"));
        var ex = Assert.Throws<InvalidDataException>(() => trainer.Resume(Path.Combine(root, "run", "last")));
        Assert.Contains("different model", ex.Message);
    }

    sealed class OtherConfigTask : ITrainingTask<int[]>
    {
        readonly TinyTask inner = new();
        public Module Model => inner.Model;
        public JsonObject Config => new() { ["model"] = "tiny", ["hidden"] = 7 };
        public int BatchesPerEpoch => inner.BatchesPerEpoch;
        public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) => inner.Batches(epoch, shuffle);
        public Tensor Loss(int[] batch, TrainingContext context) => inner.Loss(batch, context);
        public int Count(int[] batch) => batch.Length;
        public IReadOnlyDictionary<string, double>? Evaluate() => inner.Evaluate();
    }

    [Fact]
    public void ANanLossStopsNamingEpochAndStepAndKeepsTheGoodCheckpoint()
    {
        var task = new TinyTask { LossScale = (epoch, step) => epoch == 1 && step == 8 ? float.NaN : 1f };
        var options = Options("run");
        var trainer = new Trainer<int[]>(task, Optimizer(task).Item1, options);
        var weightsBefore = (float[]?)null;
        var ex = Assert.Throws<NonFiniteException>(() => trainer.Fit());
        Assert.Contains("loss is NaN at epoch 2, step 9 (batch 3 of the epoch)", ex.Message);
        weightsBefore = Weights(task.Net);
        Assert.All(weightsBefore, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(8, trainer.Step);
        var reloaded = new TinyTask(seed: 4);
        Checkpoint.LoadModel(Path.Combine(root, "run", "last"), reloaded.Net,
            requireManifest: true); // written after epoch 1
        Assert.All(Weights(reloaded.Net), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ANanLossBeforeAnyCheckpointSaysThereIsNoneAndLeavesTheFolderMarkedIncomplete()
    {
        var task = new TinyTask { LossScale = (epoch, step) => step == 2 ? float.NaN : 1f };
        var ex = Assert.Throws<NonFiniteException>(() => new Trainer<int[]>(task, Optimizer(task).Item1,
            Options("early")).Fit());
        Assert.Contains("no checkpoint was written before it", ex.Message);
        Assert.DoesNotContain("last good checkpoint", ex.Message);
        string folder = Path.Combine(root, "early");
        Assert.True(File.Exists(Path.Combine(folder, RunFolder.IncompleteMarker)));
        Assert.Contains("incomplete run", Assert.Throws<DirectoryNotFoundException>(()
            => Checkpoint.Locate(folder)).Message);
        Assert.Contains(RunFolder.IncompleteMarker, RunFolder.EarlierRun(folder)); // a new run there needs --overwrite

        var finished = new TinyTask();
        new Trainer<int[]>(finished, Optimizer(finished).Item1, Options("complete") with { Epochs = 1 }).Fit();
        Assert.False(File.Exists(Path.Combine(root, "complete", RunFolder.IncompleteMarker)));
    }

    [Fact]
    public void TheMetricsNameSetsWhichWayIsBetterUnlessToldOtherwise()
    {
        double[] accuracy = [0.5, 0.9, 0.7, 0.6];
        var task = new TinyTask { ValidationLoss = e => accuracy[e], MetricName = "accuracy" };
        var inferred = new Trainer<int[]>(task, Optimizer(task).Item1,
            Options("accuracy") with { Metric = "accuracy" }).Fit();
        // not 0.5, the worst epoch, as a fixed default of "smaller is better" kept
        Assert.Equal(0.9, inferred.BestMetric);

        var told = new TinyTask { ValidationLoss = e => accuracy[e], MetricName = "accuracy" };
        var explicitMin = new Trainer<int[]>(told, Optimizer(told).Item1,
            Options("told") with { Metric = "accuracy", MetricMode = MetricMode.Min }).Fit();
        Assert.Equal(0.5, explicitMin.BestMetric);

        Assert.Equal(MetricMode.Max, new TrainerOptions { Metric = "macro_f1" }.EffectiveMetricMode);
        Assert.Equal(MetricMode.Max, new TrainerOptions { Metric = "bleu" }.EffectiveMetricMode);
        Assert.Equal(MetricMode.Min, new TrainerOptions { Metric = "loss" }.EffectiveMetricMode);
        Assert.Equal(MetricMode.Min, new TrainerOptions { Metric = "wer" }.EffectiveMetricMode);
    }

    [Fact]
    public void ANonFiniteValidationIsLoggedButNeverBecomesTheBest()
    {
        double[] losses = [double.NaN, 0.5, double.PositiveInfinity, 0.7];
        var task = new TinyTask { ValidationLoss = e => losses[e] };
        var result = new Trainer<int[]>(task, Optimizer(task).Item1, Options("nan-eval")).Fit();
        Assert.Equal(0.5, result.BestMetric);
        var lines = File.ReadAllLines(Path.Combine(root, "nan-eval", "metrics.jsonl")).Where(l
            => l.Contains("\"eval\"")).ToList();
        Assert.Contains("\"loss\":\"NaN\"", lines[0]);
        Assert.Contains("\"loss\":\"Infinity\"", lines[2]);
        var best = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(root, "nan-eval", "best",
            "trainer.json")))!;
        // written at the second validation, the only finite improvement
        Assert.Equal(12, best["step"]!.GetValue<long>());
    }

    [Fact]
    public void SkippingNonFiniteStepsCarriesOn()
    {
        bool injected = false;
        var task = new TinyTask
        {
            LossScale = (epoch, step) =>
            {
                if (step != 3 || injected) return 1f;
                injected = true;
                return float.PositiveInfinity;
            },
        };
        var result = new Trainer<int[]>(task, Optimizer(task).Item1, Options("run") with
        {
            Epochs = 2,
            OnNonFinite = NonFiniteAction.Skip
        }).Fit();
        Assert.Equal(1, result.SkippedSteps);
        Assert.Equal(11, result.Steps);
        Assert.All(Weights(task.Net), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void NanWeightsAreNeverWrittenOverAGoodCheckpoint()
    {
        var task = new TinyTask();
        string folder = Path.Combine(root, "ck");
        Checkpoint.Save(folder, task.Net, task.Config);
        var good = File.ReadAllBytes(Path.Combine(folder, Checkpoint.ModelFile));
        task.Net.Head.Weight.Span[0] = float.NaN;
        var ex = Assert.Throws<NonFiniteException>(() => Checkpoint.Save(folder, task.Net, task.Config));
        Assert.Contains("head.weight", ex.Message);
        Assert.Equal(good, File.ReadAllBytes(Path.Combine(folder, Checkpoint.ModelFile)));
        Checkpoint.Verify(folder);
        Assert.Single(Directory.GetFileSystemEntries(root));
    }

    [Fact]
    public void AnInterruptedSwapLeavesThePreviousCheckpointUsable()
    {
        var task = new TinyTask();
        string folder = Path.Combine(root, "ck");
        Checkpoint.Save(folder, task.Net, task.Config);
        Directory.Move(folder, folder + ".old-deadbeef"); // crash between the two renames
        Assert.Equal(Path.GetFullPath(folder + ".old-deadbeef"), Checkpoint.Verify(folder));
        Checkpoint.LoadModel(folder, new TinyTask(5).Net, requireManifest: true);
        Checkpoint.Save(folder, task.Net, task.Config); // the next save tidies up
        Assert.Equal(["ck"], Directory.GetDirectories(root).Select(Path.GetFileName));
    }

    [Fact]
    public void EarlyStoppingKeepsTheBestCheckpoint()
    {
        double[] losses = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9];
        var task = new TinyTask { ValidationLoss = e => losses[e] };
        var result = new Trainer<int[]>(task, Optimizer(task).Item1, Options("run") with
        {
            Epochs = 6,
            Patience = 2
        }).Fit();
        Assert.Equal(TrainingOutcome.EarlyStopped, result.Outcome);
        Assert.Equal(4, result.Epochs);
        Assert.Equal(0.5, result.BestMetric);
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "run", "best", Checkpoint.TrainerFile)))!;
        Assert.Equal(12, (long)state["step"]!);
    }

    [Fact]
    public void AccumulatingTwoHalfBatchesMatchesOneFullBatch()
    {
        var full = new TinyTask(dropout: 0f) { BatchSize = 8 };
        var half = new TinyTask(dropout: 0f) { BatchSize = 4 };
        var fullTrainer = new Trainer<int[]>(full, new Sgd(full.Model.Parameters(), 0.1f),
            Options("a") with { Epochs = 1 });
        var halfTrainer = new Trainer<int[]>(half, new Sgd(half.Model.Parameters(), 0.1f),
            Options("b") with { Epochs = 1, AccumulationSteps = 2 });
        Assert.Equal(fullTrainer.Fit().Steps, halfTrainer.Fit().Steps);
        var a = Weights(full.Net);
        var b = Weights(half.Net);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) < 1e-5, $"[{i}] {a[i]} vs {b[i]}");
    }

    [Fact]
    public void TeacherForcingSchedulesDecay()
    {
        Assert.Equal(1.0, TeacherForcing.Linear(1, 0, 10)(0));
        Assert.Equal(0.5, TeacherForcing.Linear(1, 0, 10)(5), 12);
        Assert.Equal(0.0, TeacherForcing.Linear(1, 0, 10)(50));
        var sigmoid = TeacherForcing.InverseSigmoid(100);
        Assert.True(sigmoid(0) > 0.98 && sigmoid(1000) < 0.5 && sigmoid(2000) < sigmoid(1000));
    }
    sealed class WeightTrail(Module model) : ITrainingObserver
    {
        public readonly List<float[]> Steps = []; // the training weights after every step (LogEvery = 1)
        public void OnStart(long s, long total) { }
        public void OnStep(StepRecord record) => Steps.Add(Weights(model));
        public void OnEvaluation(EvaluationRecord record) { }
        public void OnMessage(string message) { }
    }

    [Fact]
    public void WeightAveragingValidatesAndSavesTheAverageAndKeepsTheTrainingWeights()
    {
        var task = new TinyTask();
        var trail = new WeightTrail(task.Net);
        var trainer = new Trainer<int[]>(task, Optimizer(task).Item1, Options("ema") with
        {
            Epochs = 3,
            Averaging = AveragingOptions.Exponential(0.8)
        }, observer: trail);
        var result = trainer.Fit();
        Assert.Equal(18, trail.Steps.Count);
        var expected = trail.Steps[0].Select(v => (double)v).ToArray();
        foreach (var w in trail.Steps.Skip(1))
            for (int j = 0; j < expected.Length; j++) expected[j] = 0.8 * expected[j] + 0.2 * w[j];
        var averaged = Weights(task.Net); // Fit leaves the average in the model
        for (int j = 0; j < expected.Length; j++) Assert.True(Math.Abs(averaged[j] - expected[j]) < 1e-5,
            $"[{j}] {averaged[j]} vs {expected[j]}");
        Assert.NotEqual(trail.Steps[^1], averaged);
        Assert.Equal(result.LastEvaluation!["loss"],
            trainer.Evaluate()!["loss"]); // validation saw the averaged weights

        string last = Path.Combine(root, "ema", "last");
        var reloaded = new TinyTask(seed: 77);
        Checkpoint.LoadModel(last, reloaded.Net, requireManifest: true);
        Assert.Equal(averaged, Weights(reloaded.Net));
        var training = Recur.Serialization.SafeTensors.Load(Path.Combine(last, Checkpoint.TrainingWeightsFile));
        Assert.Equal(trail.Steps[^1], task.Net.NamedParameters().SelectMany(p => training[p.Name].ToArray()).ToArray());
        Assert.True(File.Exists(Path.Combine(root, "ema", "best", Checkpoint.TrainingWeightsFile)));
    }

    [Fact]
    public void AnAverageThatNeverStartsLeavesTrainingUnchanged()
    {
        var plain = new TinyTask();
        var averaged = new TinyTask();
        var a = new Trainer<int[]>(plain, Optimizer(plain).Item1, Options("plain")).Fit();
        var b = new Trainer<int[]>(averaged, Optimizer(averaged).Item1,
            Options("late") with { Averaging = AveragingOptions.Uniform(startEpoch: 4) }).Fit();
        Assert.Equal(Weights(plain.Net), Weights(averaged.Net));
        Assert.Equal(a.BestMetric, b.BestMetric);
    }

    [Theory]
    [InlineData(7L, "ema")]
    [InlineData(12L, "uniform")]
    [InlineData(14L, "non-monotonic")] // the trigger fires at the validation after step 18
    [InlineData(20L, "non-monotonic")]
    public void AveragedRunsResumeBitIdentically(long stopAt, string kind)
    {
        var averaging = kind switch
        {
            "uniform" => AveragingOptions.Uniform(1),
            "ema" => AveragingOptions.Exponential(0.7),
            _ => AveragingOptions.NonMonotonic(1),
        };
        TrainerOptions With(string name) => Options(name) with { Averaging = averaging };
        // the negated loss gets worse as training improves it: the third validation fires the trigger
        TinyTask New(ulong seed = 3) => new(seed) { MapLoss = kind == "non-monotonic" ? l => -l : null };
        var straight = New();
        var (adam, schedule) = Optimizer(straight);
        var result = new Trainer<int[]>(straight, adam, With("straight"), schedule).Fit();

        if (kind == "non-monotonic")
        {
            var state = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "straight", "last", "trainer.json")))!;
            Assert.True((bool)state["averaging"]!["triggered"]!);
            Assert.Equal(4, state["averaging"]!["observed"]!.AsArray().Count);
            Assert.Equal(6, (long)state["averaging"]!["count"]!); // the last epoch's steps
        }

        var first = New();
        (adam, schedule) = Optimizer(first);
        using var cancel = new CancellationTokenSource();
        Assert.Equal(TrainingOutcome.Interrupted, new Trainer<int[]>(first, adam, With("resumed"), schedule,
            new StopAt(stopAt, cancel)).Fit(cancel.Token).Outcome);
        string last = Path.Combine(root, "resumed", "last");

        var second = New(seed: 4242);
        (adam, schedule) = Optimizer(second);
        var trainer = new Trainer<int[]>(second, adam, With("resumed"), schedule);
        trainer.Resume(last);
        var resumed = trainer.Fit();
        Assert.Equal(Weights(straight.Net), Weights(second.Net));
        Assert.Equal(result.BestMetric, resumed.BestMetric);
        Assert.Equal(result.LastEvaluation!["loss"], resumed.LastEvaluation!["loss"]);

        // the checkpoint must be resumed with the averaging it was written with
        var other = new TinyTask();
        var ex = Assert.Throws<InvalidDataException>(() => new Trainer<int[]>(other, Optimizer(other).Item1,
            Options("x")).Resume(last));
        Assert.Contains("with weight averaging", ex.Message);
        ex = Assert.Throws<InvalidDataException>(() => new Trainer<int[]>(other, Optimizer(other).Item1,
            Options("x") with { Averaging = AveragingOptions.Exponential(0.5) }).Resume(last));
        Assert.Contains("averages weights as", ex.Message);
    }
}
