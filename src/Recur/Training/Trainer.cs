using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Autograd;
using Recur.Optim;
using Recur.Serialization;

namespace Recur.Training;

/// <summary>
/// The training loop every task uses: epochs over the task's batches (shuffled from the run's seed), gradient
/// accumulation, clipping by value and by norm, learning-rate schedules, validation, early stopping, the best and the
/// last checkpoint, <c>metrics.jsonl</c>, the NaN/Inf guard, interruption with a checkpoint and, optionally, a running
/// average of the weights (<see cref="TrainerOptions.Averaging"/>). A run resumed from its <c>last/</c> checkpoint
/// continues bit-identically to one that was never interrupted.
/// </summary>
public sealed class Trainer<TBatch>
{
    readonly ITrainingTask<TBatch> task;
    readonly Optimizer optimizer;
    readonly LearningRateSchedule? schedule;
    readonly TrainerOptions options;
    readonly ITrainingObserver? observer;
    readonly TrainingContext context = new();
    readonly IReadOnlyList<Tensor> parameters;
    readonly WeightAverage? average;

    int epoch, batchInEpoch, evaluationsWithoutImprovement, skipped;
    long step;
    double? best;
    Dictionary<string, Tensor>? bestWeights;
    IReadOnlyDictionary<string, double>? lastEvaluation;
    TimeSpan elapsedBefore;
    bool folderReady; // the run folder was checked (a new run) or is this run's own (resumed, or Fit ran before)
    readonly Stopwatch clock = new();

    /// <summary>Sets up a run; <paramref name="schedule"/> (optional) sets the optimizer's learning rate as it
    /// goes.</summary>
    public Trainer(ITrainingTask<TBatch> task, Optimizer optimizer, TrainerOptions options,
        LearningRateSchedule? schedule = null, ITrainingObserver? observer = null)
    {
        if (options.Epochs < 0 || options.AccumulationSteps < 1 || options.LogEvery < 1 || options.ValidateEvery < 0
            || options.Patience < 0 || options.CheckpointEvery < 0
            || options.MaxSteps < 0)
            throw new ArgumentException($"Trainer: invalid options {options}.");
        if (options.ClipNorm is float n
            && !(n > 0)) throw new ArgumentException($"Trainer: clip norm must be positive, got {n}.");
        if (options.ClipValue is float v
            && !(v > 0)) throw new ArgumentException($"Trainer: clip value must be positive, got {v}.");
        if (optimizer is HessianFree && (task is not ICurvatureTask<TBatch> || options.AccumulationSteps != 1))
            throw new ArgumentException(task is ICurvatureTask<TBatch>
                ? "Trainer: Hessian-free takes the curvature of one batch per step; it does not accumulate batches."
                : $"Trainer: Hessian-free needs Gauss–Newton products, which {task.GetType().Name} does not provide "
                    + "(ICurvatureTask).");
        (this.task, this.optimizer, this.options, this.schedule, this.observer) = (task, optimizer, options, schedule,
            observer);
        parameters = task.Model.Parameters();
        if (options.Averaging is { } averaging) average = new WeightAverage(parameters, averaging);
        context.Random = new RandomGenerator(options.Seed ^ 0x5EED_C0DE_0000_0001UL);
        if (schedule != null) optimizer.LearningRate = schedule.LearningRate;
    }

    /// <summary>Gives Hessian-free the curvature and the objective of <paramref name="batch"/>.</summary>
    void Prepare(HessianFree hessianFree, TBatch batch)
    {
        hessianFree.Curvature = ((ICurvatureTask<TBatch>)task).Curvature(batch, hessianFree.CurvatureFraction);
        hessianFree.Objective = () =>
        {
            using var _ = GradMode.NoGrad();
            return task.Loss(batch, context).Item();
        };
    }

    /// <summary>Optimizer steps taken so far.</summary>
    public long Step => step;

    string? Folder(string name) => options.OutputDirectory is { } dir ? Path.Combine(dir, name) : null;

    long TotalSteps => options.MaxSteps > 0 ? Math.Min(options.MaxSteps, (long)options.Epochs * StepsPerEpoch)
        : (long)options.Epochs * StepsPerEpoch;

    bool StepLimitReached => options.MaxSteps > 0 && step >= options.MaxSteps;

    int StepsPerEpoch => (task.BatchesPerEpoch + options.AccumulationSteps - 1) / options.AccumulationSteps;

    /// <summary>
    /// Continues from a checkpoint written by this trainer (normally <c>OUT/last</c>): weights, optimizer, schedule,
    /// counters and every random generator. The checkpoint must be intact and have the task's configuration.
    /// </summary>
    public void Resume(string checkpointDirectory)
    {
        string folder = Checkpoint.Verify(checkpointDirectory);
        var config = Checkpoint.ReadConfig(folder);
        if (!JsonNode.DeepEquals(config, task.Config))
            throw new InvalidDataException($"checkpoint {checkpointDirectory} was written for a different "
                + $"model: {config.ToJsonString()} vs {task.Config.ToJsonString()}.");
        string trainerPath = Path.Combine(folder, Checkpoint.TrainerFile), optimizerPath = Path.Combine(folder,
            Checkpoint.OptimizerFile);
        if (!File.Exists(trainerPath) || !File.Exists(optimizerPath))
            throw new InvalidDataException($"checkpoint {checkpointDirectory} holds a model only "
                + $"(no {Checkpoint.TrainerFile} / {Checkpoint.OptimizerFile}); it cannot be resumed.");
        Checkpoint.LoadWeights(folder, task.Model); // verified above: hashing the files once is enough
        string trainingWeightsPath = Path.Combine(folder, Checkpoint.TrainingWeightsFile);
        if (average != null && !File.Exists(trainingWeightsPath) || average == null && File.Exists(trainingWeightsPath))
            throw new InvalidDataException($"checkpoint {checkpointDirectory} was "
                + $"written {(average == null ? "with" : "without")} weight averaging; resume it with the settings it "
                    + $"was trained with.");
        optimizer.LoadState(optimizerPath);
        if (task is IStatefulTrainingTask stateful)
        {
            string statePath = Path.Combine(folder, Checkpoint.TaskStateFile);
            stateful.RestoreCarriedState(File.Exists(statePath) ? SafeTensors.Load(statePath) : new Dictionary<string,
                Tensor>());
        }
        try
        {
            var state = ConfigJson.ReadFile(trainerPath, TrainingJson.Default.TrainerState, architecture: null);
            if (state.Seed != options.Seed)
                throw new InvalidDataException(
                    $"the checkpoint was trained with seed {state.Seed}, this run has seed {options.Seed}.");
            (epoch, batchInEpoch, step, best) = (state.Epoch, state.BatchInEpoch, state.Step, state.Best);
            evaluationsWithoutImprovement = state.EvaluationsWithoutImprovement;
            skipped = state.SkippedSteps;
            elapsedBefore = TimeSpan.FromSeconds(state.ElapsedSeconds);
            if (average != null)
            {
                var averaging = state.Averaging ?? throw new InvalidDataException("no weight-averaging state.");
                if (averaging.Options != average.Options.ToString())
                    throw new InvalidDataException($"the checkpoint averages weights as '{averaging.Options}', "
                        + $"this run as '{average.Options}'.");
                if (average.Swapped) average.Swap();
                // model.safetensors holds the average; the weights training goes on from are beside it
                average.Restore(parameters.Select(p => p.Clone()).ToArray(), averaging.Count, averaging.Observed,
                    averaging.Triggered);
                Checkpoint.LoadWeights(folder, task.Model, Checkpoint.TrainingWeightsFile);
            }
            context.Random.RestoreState(state.Random.GetValueOrDefault("context")
                ?? throw new InvalidDataException("no state for the training generator ('context')."));
            foreach (var (name, generator) in task.Model.NamedRandomGenerators())
                generator.RestoreState(state.Random.GetValueOrDefault("model." + name)
                    ?? throw new InvalidDataException($"no state for generator '{name}'."));
            if (schedule != null)
            {
                schedule.SetState(state.Schedule ?? throw new InvalidDataException("no learning-rate schedule state."));
                optimizer.LearningRate = schedule.LearningRate;
            }
        }
        catch (Exception e) when (e is FormatException or KeyNotFoundException or ArgumentException)
        {
            throw new InvalidDataException(
                $"checkpoint {checkpointDirectory}: {Checkpoint.TrainerFile} is malformed ({e.Message}).", e);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"checkpoint {checkpointDirectory}: {e.Message}", e);
        }
        if (epoch > options.Epochs || options.MaxSteps > 0 && step > options.MaxSteps)
            throw new InvalidDataException(
                $"checkpoint {checkpointDirectory} is at epoch {epoch}, step {step}, past this run's "
                + $"end ({options.Epochs} epochs{(options.MaxSteps > 0 ? $", {options.MaxSteps} steps"
                    : "")}): resume with more.");
        folderReady = true;
        // records of steps after the checkpoint (a run killed after it) are logged again by the replayed steps
        if (Folder(RunFolder.MetricsFile) is { } metrics) MetricsLog.TruncateAfter(metrics, step);
    }

    JsonObject State()
    {
        var randoms = new Dictionary<string, string> { ["context"] = context.Random.SaveState() };
        foreach (var (name, generator) in task.Model.NamedRandomGenerators())
            randoms["model." + name] = generator.SaveState();
        var state = new TrainerState(options.Seed, epoch, batchInEpoch, step, best, options.Metric,
            evaluationsWithoutImprovement, skipped, (elapsedBefore + clock.Elapsed).TotalSeconds, randoms,
            average is null ? null : new AveragingState(average.Options.ToString(), average.Count,
                average.Options.Kind == AveragingKind.NonMonotonic ? [.. average.Observed] : null,
                average.Triggered),
            schedule is null ? null : new Dictionary<string, double>(schedule.GetState()));
        return JsonSerializer.SerializeToNode(state, TrainingJson.Default.TrainerState)!.AsObject();
    }

    /// <summary>
    /// Writes checkpoint <paramref name="name"/>. With weight averaging its <c>model.safetensors</c> holds the averaged
    /// weights (the model that was validated, and the one to use) and <c>training_weights.safetensors</c> the weights
    /// training continues from.
    /// </summary>
    void SaveCheckpoint(string name)
    {
        if (Folder(name) is not { } folder)
        {
            // without a run folder the best weights (averaged, when averaging) are kept in memory instead
            if (name == "best")
                bestWeights = WithAveragedWeights(() => task.Model.StateDict()
                    .ToDictionary(p => p.Key, p => p.Value.Detach().Clone()));
            return;
        }
        var carried = (task as IStatefulTrainingTask)?.CarriedState();
        if (average == null)
        {
            Checkpoint.Save(folder, task.Model, task.Config, optimizer, State(), carried);
            RunFolder.MarkComplete(options.OutputDirectory!);
            return;
        }
        WithAveragedWeights(() =>
        {
            var names = task.Model.NamedParameters().Select(p => p.Name).ToArray();
            var training = average.Stored().Select((t, i) => (names[i], t)).ToDictionary(x => x.Item1, x => x.t);
            Checkpoint.Save(folder, task.Model, task.Config, optimizer, State(), carried, training);
            return true;
        });
        RunFolder.MarkComplete(options.OutputDirectory!);
    }

    /// <summary>
    /// Runs <paramref name="action"/> with the averaged weights in the model (when averaging, and unless they are there
    /// already) and puts the training weights back afterwards, whatever happens.
    /// </summary>
    T WithAveragedWeights<T>(Func<T> action)
    {
        bool swap = average is { Swapped: false };
        if (swap) average!.Swap();
        try { return action(); }
        finally { if (swap) average!.Swap(); }
    }

    void Log(JsonObject record)
    {
        if (options.OutputDirectory is not { } dir) return;
        Directory.CreateDirectory(dir);
        File.AppendAllText(Path.Combine(dir, RunFolder.MetricsFile), record.ToJsonString() + "\n");
    }

    /// <summary>
    /// Runs (or continues) training until the last epoch, early stopping or cancellation. With weight averaging the
    /// model holds the averaged weights when it returns (a later <see cref="Fit"/> goes on from the training weights).
    /// </summary>
    public TrainingResult Fit(CancellationToken cancellation = default)
    {
        if (average is { Swapped: true }) average.Swap();
        if (!folderReady && options.OutputDirectory is { } runFolder)
        {
            RunFolder.PrepareNew(runFolder, options.Overwrite);
            RunFolder.MarkIncomplete(runFolder);
        }
        folderReady = true;
        clock.Restart();
        observer?.OnStart(step, TotalSteps);
        var model = task.Model;
        double windowLoss = 0;
        int windowBatches = 0;
        long windowItems = 0;
        var windowClock = Stopwatch.StartNew();
        float lastNorm = 0f;
        int consecutiveSkips = 0;
        var outcome = TrainingOutcome.Completed;

        void Report()
        {
            if (windowBatches == 0) return;
            var record = new StepRecord(epoch, step, TotalSteps, windowLoss / windowBatches, optimizer.LearningRate,
                lastNorm,
                windowItems / Math.Max(windowClock.Elapsed.TotalSeconds, 1e-9), elapsedBefore + clock.Elapsed);
            observer?.OnStep(record);
            Log(new JsonObject
            {
                ["type"] = "train", ["epoch"] = epoch + 1, ["step"] = step, ["loss"] = record.Loss,
                ["lr"] = record.LearningRate,
                ["grad_norm"] = Finite(record.GradientNorm), ["items_per_second"] = record.ItemsPerSecond,
                ["elapsed_seconds"] = record.Elapsed.TotalSeconds,
            });
            (windowLoss, windowBatches, windowItems) = (0, 0, 0);
            windowClock.Restart();
        }

        bool Validate(int atEpoch)
        {
            var metrics = Evaluate();
            if (metrics == null) return false;
            lastEvaluation = metrics;
            if (!metrics.TryGetValue(options.Metric, out double value))
                throw new InvalidOperationException($"Trainer: the task's validation reports "
                    + $"[{string.Join(", ", metrics.Keys)}], not the chosen metric '{options.Metric}'.");
            // a NaN or infinite metric is reported, never taken as the best
            bool improved = double.IsFinite(value) && (best is not double b
                || (options.EffectiveMetricMode == MetricMode.Min ? value < b : value > b));
            if (improved) (best, evaluationsWithoutImprovement) = (value, 0);
            else evaluationsWithoutImprovement++;
            if (average?.Observe(value, options.EffectiveMetricMode == MetricMode.Min) == true)
                observer?.OnMessage($"Validation {options.Metric} {value:G5} is worse than the best of those more "
                    + $"than {average.Options.Patience} validations before; the weights are averaged from here on "
                    + "(NT-ASGD).");
            if (schedule != null)
            {
                schedule.ReportMetric(value);
                optimizer.LearningRate = schedule.LearningRate;
            }
            observer?.OnEvaluation(new EvaluationRecord(atEpoch, step, metrics, improved));
            var record = new JsonObject
            {
                ["type"] = "eval", ["epoch"] = atEpoch + 1, ["step"] = step,
                ["elapsed_seconds"] = (elapsedBefore + clock.Elapsed).TotalSeconds
            };
            foreach (var (k, v) in metrics) record[k] = Finite(v);
            Log(record);
            if (improved) SaveCheckpoint("best");
            SaveCheckpoint("last");
            return options.Patience > 0 && evaluationsWithoutImprovement >= options.Patience;
        }

        bool validatedAtLimit = false;
        while (epoch < options.Epochs && outcome == TrainingOutcome.Completed && !StepLimitReached)
        {
            context.Epoch = epoch;
            model.Train();
            var shuffle = new RandomGenerator(options.Seed * 0x9E3779B97F4A7C15UL + (ulong)epoch + 1);
            int index = 0, micro = 0;
            bool stopEarly = false;
            using var batches = task.Batches(epoch, shuffle).GetEnumerator();
            bool more = batches.MoveNext();
            while (more)
            {
                var batch = batches.Current;
                more = batches.MoveNext();
                if (index++ < batchInEpoch) continue; // done before the checkpoint this run resumed from
                context.Step = step;
                context.TeacherForcingRatio = options.TeacherForcing?.Invoke(step) ?? 1;
                var loss = task.Loss(batch, context);
                if (loss.Length != 1 || !loss.RequiresGrad)
                    throw new InvalidOperationException($"Trainer: the task's loss must be a scalar on the tape, got "
                        + $"shape {Shapes.Format(loss.Shape)}.");
                float value = loss.Item();
                bool finite = float.IsFinite(value);
                if (finite)
                {
                    (options.AccumulationSteps == 1 ? loss : loss * (1f / options.AccumulationSteps)).Backward();
                    windowLoss += value;
                    windowBatches++;
                    windowItems += task.Count(batch);
                }
                micro++;
                if (finite && micro < options.AccumulationSteps && more) continue;
                batchInEpoch = index;
                micro = 0;
                float norm = finite ? GradientClipping.GlobalNorm(parameters) : float.NaN;
                if (!finite || !float.IsFinite(norm))
                {
                    string what = !finite ? $"loss is {value}" : $"gradient norm is {norm}";
                    string where = $"epoch {epoch + 1}, step {step + 1} (batch {index} of the epoch)";
                    if (options.OnNonFinite == NonFiniteAction.Stop || ++consecutiveSkips > 100)
                        throw new NonFiniteException(
                            $"training stopped: the {what} at {where}. The weights were not updated"
                            + LastGoodCheckpoint());
                    optimizer.ZeroGrad();
                    skipped++;
                    observer?.OnMessage($"skipped {where}: the {what}");
                    Log(new JsonObject
                    {
                        ["type"] = "skip", ["epoch"] = epoch + 1, ["step"] = step,
                        ["reason"] = what
                    });
                    continue;
                }
                consecutiveSkips = 0;
                lastNorm = norm;
                if (options.ClipValue is float clipValue) GradientClipping.ClipByValue(parameters, clipValue);
                if (options.ClipNorm is float clipNorm) GradientClipping.ClipByNorm(parameters, clipNorm);
                if (optimizer is HessianFree hessianFree) Prepare(hessianFree, batch);
                optimizer.Step();
                optimizer.ZeroGrad();
                if (optimizer is HessianFree { LastReport: { } report })
                    Log(new JsonObject
                    {
                        ["type"] = "hessian_free", ["epoch"] = epoch + 1, ["step"] = step + 1,
                        ["before"] = report.Before, ["after"] = report.After, ["cg_iterations"] = report.Iterations,
                        ["cg_chosen"] = report.ChosenIteration,
                        ["rho"] = double.IsFinite(report.Rho) ? report.Rho : null, ["damping"] = report.Damping,
                        ["alpha"] = report.Alpha,
                    });
                average?.Update(epoch);
                step++;
                AdvanceSchedule(ScheduleUnit.Step);
                if (step % options.LogEvery == 0) Report();
                if (options.ValidateEvery > 0 && step % options.ValidateEvery == 0
                    && Validate(epoch)) { stopEarly = true; break; }
                if (options.CheckpointEvery > 0 && step % options.CheckpointEvery == 0) SaveCheckpoint("last");
                if (StepLimitReached)
                {
                    validatedAtLimit = options.ValidateEvery > 0 && step % options.ValidateEvery == 0;
                    break;
                }
                if (cancellation.IsCancellationRequested)
                {
                    Report();
                    if (more) { outcome = TrainingOutcome.Interrupted; break; }
                }
            }
            if (outcome == TrainingOutcome.Interrupted) break;
            if (StepLimitReached && more)
            {
                // stopped inside the epoch: a resumed run with a larger limit continues with the next batch
                Report();
                if (!validatedAtLimit) stopEarly = Validate(epoch);
                if (stopEarly) outcome = TrainingOutcome.EarlyStopped;
                break;
            }
            Report();
            AdvanceSchedule(ScheduleUnit.Epoch);
            int finished = epoch;
            (epoch, batchInEpoch) = (epoch + 1, 0); // checkpoints from here on resume at the next epoch
            if (!stopEarly && (options.ValidateEvery == 0 || StepLimitReached
                && !validatedAtLimit)) stopEarly = Validate(finished);
            if (stopEarly)
            {
                observer?.OnMessage($"early stop after epoch {finished + 1}: {options.Metric} has not improved "
                    + $"in {evaluationsWithoutImprovement} validations");
                outcome = TrainingOutcome.EarlyStopped;
            }
            else if (cancellation.IsCancellationRequested) outcome = TrainingOutcome.Interrupted;
        }
        SaveCheckpoint("last");
        if (outcome == TrainingOutcome.Interrupted
            && Folder("last")
            is { } last) observer?.OnMessage($"interrupted: checkpoint saved in {last}; continue with --resume {last}");
        clock.Stop();
        average?.Swap();
        return new TrainingResult(outcome, step, epoch, best, lastEvaluation, skipped, bestWeights);
    }

    /// <summary>Where the run's last good checkpoint is, as the end of a sentence: the folder that exists, or that
    /// there is none.</summary>
    string LastGoodCheckpoint()
    {
        if (Folder("last") is not { } last) return "; this run keeps no checkpoints.";
        try { return $"; the last good checkpoint is {Checkpoint.Resolve(last)}."; }
        catch (DirectoryNotFoundException) { return "; no checkpoint was written before it."; }
    }

    /// <summary>Moves a schedule counting <paramref name="unit"/> one unit on and hands its rate to the
    /// optimizer.</summary>
    void AdvanceSchedule(ScheduleUnit unit)
    {
        if (schedule is null || schedule.Unit != unit) return;
        schedule.Advance();
        optimizer.LearningRate = schedule.LearningRate;
    }

    /// <summary>
    /// Runs the task's validation in evaluation mode without gradients (null without a validation set); with weight
    /// averaging, on the averaged weights.
    /// </summary>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        var model = task.Model;
        return WithAveragedWeights(() =>
        {
            model.Eval();
            try
            {
                using var _ = GradMode.NoGrad();
                return task.Evaluate();
            }
            finally { model.Train(); }
        });
    }

    static JsonNode? Finite(double v)
        => double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture));
}

/// <summary>
/// <c>trainer.json</c> of a checkpoint: where the run stands (epoch, batch, step, the best metric and the patience
/// count), the state of every random generator by name (<c>context</c>, <c>model.…</c>), and the weight averaging and
/// learning-rate schedule when the run has them.
/// </summary>
sealed record TrainerState(ulong Seed, int Epoch, int BatchInEpoch, long Step, double? Best, string Metric,
    int EvaluationsWithoutImprovement, int SkippedSteps, double ElapsedSeconds, Dictionary<string, string> Random,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] AveragingState? Averaging = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    Dictionary<string, double>? Schedule = null);

/// <summary>The weight averaging a checkpoint was written with, how many weights its average holds and, for the
/// non-monotonic trigger, the validation results it has seen and whether it has fired.</summary>
sealed record AveragingState(string Options, long Count,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double[]? Observed = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Triggered = false);

/// <summary>The files of <c>Recur.Training</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(TrainerState))]
sealed partial class TrainingJson : JsonSerializerContext;
