using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Recur.Optim;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli.Training;

/// <summary>The settings every training verb shares, read from the command line.</summary>
sealed record TrainingSettings(int Epochs, int Batch, float LearningRate, string Optimizer, float WeightDecay,
    float? ClipNorm, float? ClipValue, ulong Seed, int Threads, string? Out, string? Resume, string Schedule,
    int Warmup, int Patience, int ValidateEvery, int LogEvery, int Accumulate, bool SkipNonFinite, long[] Milestones,
    double? Gamma, double? Ema, int? SwaStart, bool Overwrite, float Momentum = 0.9f,
    HessianFreeSettings? HessianFree = null, int? NtAsgd = null)
{
    /// <summary>The weight average <c>--ema</c>, <c>--swa-start</c> or <c>--nt-asgd</c> asks for, if any.</summary>
    public AveragingOptions? Averaging =>
        Ema is double d ? AveragingOptions.Exponential(d) : SwaStart is int e ? AveragingOptions.Uniform(e - 1)
            : NtAsgd is int n ? AveragingOptions.NonMonotonic(n) : null;
}

/// <summary>The settings of <c>--optimizer hf</c>: initial damping λ, structural damping μ, the CG iteration limit and
/// the share of each batch for curvature products.</summary>
sealed record HessianFreeSettings(float Damping, float StructuralDamping, int MaxIterations, double CurvatureFraction,
    bool Precondition = false);

/// <summary>
/// One command-line convention for every training verb: <c>--epochs --batch --lr --optimizer --weight-decay
/// --clip-norm --clip-value --schedule --warmup --patience --ema --swa-start --nt-asgd --seed --threads --out
/// --resume</c> and friends, turned into an optimizer, a schedule and <see cref="TrainerOptions"/>; plus the run
/// itself with a progress bar and Ctrl+C handling.
/// </summary>
sealed class TrainingOptions
{
    public static readonly string[] Optimizers = ["adam", "adamw", "sgd", "rmsprop", "adagrad"];
    public static readonly string[] Schedules =
        ["constant", "step", "multistep", "exponential", "cosine", "plateau", "slanted"];

    readonly Option<int> epochs, batch, threads, warmup, patience, validateEvery, logEvery, accumulate;
    readonly Option<float> lr, weightDecay, momentum;
    readonly Option<float?> clipNorm, clipValue;
    readonly Option<string> optimizer, schedule;
    readonly Option<string?> milestones;
    readonly Option<double?> gamma, ema;
    readonly Option<int?> swaStart, ntAsgd;
    readonly Option<ulong> seed;
    readonly Option<string?> output, resume;
    readonly Option<bool> skipNonFinite, overwrite;
    readonly Option<float> damping, structuralDamping;
    readonly Option<int> cgIterations;
    readonly Option<double> curvatureFraction;
    readonly Option<bool> precondition;
    readonly bool hessianFree;

    /// <summary>
    /// The options with a verb's defaults; <paramref name="hessianFree"/> adds <c>--optimizer hf</c> and its settings,
    /// for verbs whose task gives Gauss–Newton products.
    /// </summary>
    public TrainingOptions(int defaultEpochs, int defaultBatch, float defaultLr, float? defaultClipNorm = 1f,
        string defaultOptimizer = "adam", float defaultMomentum = 0.9f, bool hessianFree = false)
    {
        this.hessianFree = hessianFree;
        damping = new("--damping")
        {
            Description = "hf: initial Levenberg–Marquardt damping λ (adapted after every step).",
            DefaultValueFactory = _ => 1f,
        };
        structuralDamping = new("--structural-damping")
        {
            Description = "hf: structural damping μ of the hidden states (Martens & Sutskever 2011; 0: off).",
            DefaultValueFactory = _ => 0f,
        };
        cgIterations = new("--cg-iterations")
        {
            Description = "hf: most conjugate-gradient iterations per step.", DefaultValueFactory = _ => 250,
        };
        curvatureFraction = new("--curvature-fraction")
        {
            Description = "hf: share of each batch used for the curvature products.", DefaultValueFactory = _ => 0.25,
        };
        precondition = new("--precondition")
        {
            Description = "hf: precondition CG by Martens' diagonal, (diag of the squared per-sequence gradients + "
                + "λ)^0.75.",
        };
        epochs = new("--epochs")
        {
            Description = "Passes over the training data.", DefaultValueFactory = _ =>
            defaultEpochs
        };
        batch = new("--batch") { Description = "Sequences per mini-batch.", DefaultValueFactory = _ => defaultBatch };
        lr = new("--lr") { Description = "Learning rate.", DefaultValueFactory = _ => defaultLr };
        optimizer = new("--optimizer")
        {
            Description = "adam, adamw, sgd (with --momentum), rmsprop or adagrad"
                + (hessianFree ? ", or hf (Hessian-free; --lr then scales its step, default 1, and clipping is off "
                    + "unless asked for)." : "."),
            DefaultValueFactory = _ => defaultOptimizer,
        };
        momentum = new("--momentum")
        {
            Description = "Momentum of sgd (0: plain SGD).", DefaultValueFactory = _ => defaultMomentum,
        };
        optimizer.AcceptOnlyFromAmong(hessianFree ? [.. Optimizers, "hf"] : Optimizers);
        weightDecay = new("--weight-decay")
        {
            Description = "Weight decay (L2 for adam/sgd/rmsprop/adagrad, "
            + "decoupled for adamw).", DefaultValueFactory = _ => 0f
        };
        clipNorm = new("--clip-norm")
        {
            Description = "Clip the global gradient norm to this (0 turns it off).",
            DefaultValueFactory = _ => defaultClipNorm
        };
        clipValue = new("--clip-value") { Description = "Clamp each gradient element to ±this." };
        schedule = new("--schedule")
        {
            Description = "Learning-rate schedule: constant, step (×0.5 every 10 epochs), "
            + "multistep (×--gamma, default 0.1, at each of --milestones epochs), exponential (×0.95 per epoch), "
            + "cosine (with --warmup steps), plateau (×0.5 after --patience/2 bad validations), "
            + "slanted (ULMFiT's slanted triangle: up to --lr over the first 10% of steps, down to --lr/32).",
            DefaultValueFactory = _ => "constant"
        };
        schedule.AcceptOnlyFromAmong(Schedules);
        milestones = new("--milestones")
        {
            Description = "Epochs at which the multistep schedule multiplies the rate "
            + "by --gamma, comma-separated (e.g. 100,150)."
        };
        gamma = new("--gamma")
        {
            Description = "Factor of the step, multistep and exponential schedules (defaults "
            + "0.5, 0.1, 0.95)."
        };
        ema = new("--ema")
        {
            Description = "Validate, keep and save an exponential moving average of the weights "
            + "with this decay per step (e.g. 0.999) instead of the last weights."
        };
        swaStart = new("--swa-start")
        {
            Description = "Validate, keep and save the mean of the weights after every "
            + "step from this epoch on (stochastic weight averaging)."
        };
        ntAsgd = new("--nt-asgd")
        {
            Description = "Validate, keep and save the mean of the weights from the first validation that is worse "
            + "than the best of those more than this many validations before it (NT-ASGD, Merity et al. 2018: 5)."
        };
        warmup = new("--warmup")
        {
            Description = "Warm-up steps for the cosine schedule.",
            DefaultValueFactory = _ => 0
        };
        patience = new("--patience")
        {
            Description = "Stop after this many validations without improvement (0: "
            + "never).", DefaultValueFactory = _ => 0
        };
        validateEvery = new("--validate-every")
        {
            Description = "Validate every N optimizer steps (0: each epoch).",
            DefaultValueFactory = _ => 0
        };
        logEvery = new("--log-every") { Description = "Log every N optimizer steps.", DefaultValueFactory = _ => 20 };
        accumulate = new("--accumulate")
        {
            Description = "Mini-batches per optimizer step (gradient accumulation).",
            DefaultValueFactory = _ => 1
        };
        seed = new("--seed")
        {
            Description = "One seed for initialisation, data, shuffling and dropout.",
            DefaultValueFactory = _ => 1
        };
        threads = new("--threads")
        {
            Description = "Threads for large kernels (default: all cores).",
            DefaultValueFactory = _ => Environment.ProcessorCount
        };
        output = new("--out") { Description = "Run folder: checkpoints last/ and best/, metrics.jsonl." };
        resume = new("--resume")
        {
            Description = "Continue from a checkpoint folder (e.g. OUT/last) with the same "
            + "settings and seed."
        };
        overwrite = new("--overwrite")
        {
            Description = "Replace an earlier run in --out (without it such a folder is "
            + "refused)."
        };
        skipNonFinite = new("--skip-non-finite")
        {
            Description = "Skip steps whose loss or gradient is NaN/Inf "
            + "instead of stopping."
        };
    }

    /// <summary>Whether the command line set the shared option <paramref name="name"/> (e.g. "--epochs") rather than
    /// leaving its default.</summary>
    public bool Given(ParseResult r, string name) =>
        new Option[] { epochs, batch, schedule, lr, optimizer, weightDecay, clipNorm, momentum }
            .Single(o => o.Name == name) is var option
        && r.GetResult(option) is { Implicit: false };

    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { epochs, batch, lr, optimizer, weightDecay, momentum, clipNorm, clipValue,
                     schedule, milestones, gamma, ema, swaStart, ntAsgd, warmup, patience,
                     validateEvery, logEvery, accumulate, seed, threads, output, resume, overwrite, skipNonFinite })
            command.Options.Add(o);
        if (hessianFree)
            foreach (Option o in new Option[]
                { damping, structuralDamping, cgIterations, curvatureFraction, precondition })
                command.Options.Add(o);
    }

    public TrainingSettings Read(ParseResult r)
    {
        var s = new TrainingSettings(r.GetValue(epochs), r.GetValue(batch), r.GetValue(lr), r.GetValue(optimizer)!,
            r.GetValue(weightDecay),
            r.GetValue(clipNorm) is float n && n > 0 ? n : null, r.GetValue(clipValue), r.GetValue(seed),
                r.GetValue(threads), r.GetValue(output),
            r.GetValue(resume), r.GetValue(schedule)!, r.GetValue(warmup), r.GetValue(patience),
                r.GetValue(validateEvery), r.GetValue(logEvery),
            r.GetValue(accumulate), r.GetValue(skipNonFinite), ParseMilestones(r.GetValue(milestones)),
                r.GetValue(gamma),
            r.GetValue(ema), r.GetValue(swaStart), r.GetValue(overwrite), r.GetValue(momentum),
            NtAsgd: r.GetValue(ntAsgd));
        s = WithHessianFree(r, s);
        if (!(s.Momentum is >= 0 and < 1)) throw new UsageException($"--momentum must be in [0, 1), got {s.Momentum}.");
        if (r.GetResult(momentum) is { Implicit: false } && s.Optimizer != "sgd")
            throw new UsageException("--momentum applies to --optimizer sgd.");
        if (s.Epochs < 1 || s.Batch < 1 || s.Threads < 1 || s.LogEvery < 1 || s.Accumulate < 1)
            throw new UsageException("--epochs, --batch, --threads, --log-every and --accumulate must be positive.");
        if (!(s.LearningRate > 0) || !(s.WeightDecay >= 0) || s.Warmup < 0 || s.Patience < 0 || s.ValidateEvery < 0)
            throw new UsageException("--lr must be positive; --weight-decay, --warmup, --patience and "
                + "--validate-every non-negative.");
        if (s.ClipValue is float v && !(v > 0)) throw new UsageException("--clip-value must be positive.");
        if (s.Gamma is double g && !(g > 0 && double.IsFinite(g)))
            throw new UsageException($"--gamma must be positive, got {g}.");
        if ((s.Schedule == "multistep") != (s.Milestones.Length > 0)) throw new UsageException("--milestones goes "
            + "with --schedule multistep, and multistep needs --milestones.");
        if (s.Gamma != null && s.Schedule is not ("step" or "multistep" or "exponential"))
            throw new UsageException("--gamma applies to the step, multistep and exponential schedules only.");
        if (s.Ema is double d && !(d > 0 && d < 1))
            throw new UsageException($"--ema must be a decay between 0 and 1 (e.g. 0.999), got {d}.");
        if (s.SwaStart is int start && (start < 1 || start > s.Epochs))
            throw new UsageException($"--swa-start must be an epoch from 1 to --epochs ({s.Epochs}), got {start}.");
        if (s.NtAsgd is int nonMonotonic && nonMonotonic < 1)
            throw new UsageException($"--nt-asgd must be at least 1, got {nonMonotonic}.");
        if (new object?[] { s.Ema, s.SwaStart, s.NtAsgd }.Count(o => o != null) > 1)
            throw new UsageException("--ema, --swa-start and --nt-asgd are ways of averaging the weights; choose one.");
        if (s.Out is { } folder)
        {
            if (s.Resume == null) RunFolder.CheckNew(folder, s.Overwrite); // before anything is written
            CheckCreatable(folder);
        }
        return s;
    }

    /// <summary>
    /// For <c>--optimizer hf</c>: its settings, a step scale of 1 and no clipping unless the command line set them;
    /// otherwise a refusal of the hf-only options.
    /// </summary>
    TrainingSettings WithHessianFree(ParseResult r, TrainingSettings s)
    {
        if (!hessianFree) return s;
        var given = new Option[] { damping, structuralDamping, cgIterations, curvatureFraction, precondition }
            .Where(o => r.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToArray();
        if (s.Optimizer != "hf")
            return given.Length == 0 ? s
                : throw new UsageException($"{string.Join(", ", given)} applies to --optimizer hf.");
        var settings = new HessianFreeSettings(r.GetValue(damping), r.GetValue(structuralDamping),
            r.GetValue(cgIterations), r.GetValue(curvatureFraction), r.GetValue(precondition));
        if (!(settings.CurvatureFraction is > 0 and <= 1)) // the other ranges are OptionRules'
            throw new UsageException($"--curvature-fraction must be in (0, 1], got {settings.CurvatureFraction}.");
        if (s.Accumulate != 1) throw new UsageException("--optimizer hf takes one batch per step; drop --accumulate.");
        if (s.WeightDecay != 0) throw new UsageException("--weight-decay does not apply to --optimizer hf.");
        return s with
        {
            HessianFree = settings,
            LearningRate = r.GetResult(lr) is { Implicit: false } ? s.LearningRate : 1f,
            ClipNorm = r.GetResult(clipNorm) is { Implicit: false } ? s.ClipNorm : null,
        };
    }

    /// <summary>
    /// Refuses an <c>--out</c> that cannot be created (a read-only place, a file in the way), before any work is done;
    /// what the check creates it removes again, so a later usage error leaves nothing behind.
    /// </summary>
    internal static void CheckCreatable(string folder)
    {
        string full = Path.GetFullPath(folder);
        if (Directory.Exists(full)) return;
        string firstMissing = full;
        while (Path.GetDirectoryName(firstMissing) is { } parent && !Directory.Exists(parent)) firstMissing = parent;
        try
        {
            Directory.CreateDirectory(full);
            Directory.Delete(firstMissing, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out {folder}: the run folder cannot be created ({e.Message}).");
        }
    }

    static long[] ParseMilestones(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!long.TryParse(parts[i], System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out values[i])
                || values[i] < 1 || (i > 0 && values[i] <= values[i - 1]))
                throw new UsageException($"--milestones must be increasing positive epoch numbers separated by "
                    + $"commas, got '{text}'.");
        return values;
    }

    public static Optimizer CreateOptimizer(TrainingSettings s, IEnumerable<Tensor> parameters) => s.Optimizer switch
    {
        "adam" => new Adam(parameters, s.LearningRate, weightDecay: s.WeightDecay),
        "adamw" => new AdamW(parameters, s.LearningRate, weightDecay: s.WeightDecay),
        "sgd" => new Sgd(parameters, s.LearningRate, momentum: s.Momentum, weightDecay: s.WeightDecay),
        "rmsprop" => new RmsProp(parameters, s.LearningRate, weightDecay: s.WeightDecay),
        "adagrad" => new Adagrad(parameters, s.LearningRate, weightDecay: s.WeightDecay),
        "hf" when s.HessianFree is { } hf => new HessianFree(parameters, s.LearningRate, hf.Damping,
            hf.StructuralDamping, hf.MaxIterations, hf.CurvatureFraction, hf.Precondition),
        _ => throw new UsageException($"unknown optimizer '{s.Optimizer}'."),
    };

    public static LearningRateSchedule CreateSchedule(TrainingSettings s, long stepsPerEpoch, MetricMode mode) =>
        s.Schedule switch
        {
            "constant" => new ConstantSchedule(s.LearningRate),
            "step" => new StepSchedule(s.LearningRate, 10, s.Gamma ?? 0.5),
            "multistep" => new MultiStepSchedule(s.LearningRate, s.Milestones, s.Gamma ?? 0.1),
            "exponential" => new ExponentialSchedule(s.LearningRate, s.Gamma ?? 0.95),
            "cosine" => new CosineWarmupSchedule(s.LearningRate, s.Warmup, Math.Max(s.Warmup + 1,
                s.Epochs * stepsPerEpoch), startFactor: s.Warmup > 0 ? 0.01 : 1),
            "plateau" => new ReduceOnPlateauSchedule(s.LearningRate, mode, 0.5, Math.Max(1, s.Patience / 2)),
            "slanted" => new SlantedTriangularSchedule(s.LearningRate, Math.Max(10, s.Epochs * stepsPerEpoch)),
            _ => throw new UsageException($"unknown schedule '{s.Schedule}'."),
        };

    public static TrainerOptions CreateTrainerOptions(TrainingSettings s, string metric, MetricMode mode) => new()
    {
        Epochs = s.Epochs, Seed = s.Seed, ClipNorm = s.ClipNorm, ClipValue = s.ClipValue,
        AccumulationSteps = s.Accumulate,
        ValidateEvery = s.ValidateEvery, LogEvery = s.LogEvery, Metric = metric, MetricMode = mode,
        Patience = s.Patience,
        OnNonFinite = s.SkipNonFinite ? NonFiniteAction.Skip : NonFiniteAction.Stop, OutputDirectory = s.Out,
        Averaging = s.Averaging,
        Overwrite = s.Overwrite,
    };

    /// <summary>
    /// Runs <paramref name="fit"/> with a live progress bar on a terminal (plain lines otherwise). Ctrl+C (SIGINT) and
    /// SIGTERM — what <c>timeout</c>, <c>docker stop</c>, systemd and CI send — ask the trainer to stop after the
    /// current step, which saves a checkpoint first; a second signal ends the process at once. A
    /// <paramref name="timeLimit"/> stops the run the same way.
    /// </summary>
    public static TrainingResult Run(Func<ITrainingObserver, CancellationToken, TrainingResult> fit,
        TimeSpan? timeLimit = null)
    {
        using var cancel = new CancellationTokenSource();
        if (timeLimit is { } limit) cancel.CancelAfter(limit);
        ConsoleCancelEventHandler handler = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return; // a second Ctrl+C ends the process
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += handler;
        using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
            {
                if (cancel.IsCancellationRequested) return; // a second SIGTERM ends the process
                context.Cancel = true;
                cancel.Cancel();
            });
        try
        {
            if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
                return fit(new TextTrainingObserver(Console.Out), cancel.Token);
            TrainingResult? result = null;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                    new RemainingTimeColumn())
                .Start(context => result = fit(new ProgressObserver(context), cancel.Token));
            return result!;
        }
        finally { Console.CancelKeyPress -= handler; }
    }

    /// <summary>
    /// Trains <paramref name="task"/> under <see cref="Run"/>'s progress display and signal handling, resuming from
    /// the checkpoint at <paramref name="resume"/> when one is given; a positive <paramref name="minutes"/> is a time
    /// limit.
    /// </summary>
    public static TrainingResult Train<TBatch>(ITrainingTask<TBatch> task, Optimizer optimizer, TrainerOptions options,
        LearningRateSchedule schedule, string? resume, double minutes = 0) => Run((observer, token) =>
        {
            var trainer = new Trainer<TBatch>(task, optimizer, options, schedule, observer);
            if (resume != null) trainer.Resume(resume);
            return trainer.Fit(token);
        }, minutes > 0 ? TimeSpan.FromMinutes(minutes) : null);

    /// <summary>The run's last validation metrics with its step count, the table a training verb prints.</summary>
    public static Dictionary<string, double> Summary(TrainingResult result) =>
        new(result.LastEvaluation ?? new Dictionary<string, double>()) { ["steps"] = result.Steps };

    /// <summary>"finished", "stopped early", … — how the run ended, in lower case for a verb's title.</summary>
    public static string Outcome(TrainingResult result) => result.Outcome.ToString().ToLowerInvariant();

    /// <summary>Prints metrics as a table, or with <paramref name="json"/> as one JSON object.</summary>
    public static void PrintMetrics(string title, IReadOnlyDictionary<string, double> metrics, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(metrics));
            return;
        }
        var table = new Table().Title(title).AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (k, v) in metrics) table.AddRow(k, v.ToString("G6", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
    }

    sealed class ProgressObserver(ProgressContext context) : ITrainingObserver
    {
        ProgressTask? task;

        public void OnStart(long step, long totalSteps)
        {
            task = context.AddTask("training", maxValue: Math.Max(1, totalSteps));
            task.Value = step;
        }

        public void OnStep(StepRecord r)
        {
            task!.Value = r.Step;
            task.Description = FormattableString.Invariant(
                $"epoch {r.Epoch + 1}  loss {r.Loss:F4}  |g| {r.GradientNorm:G3}  {r.ItemsPerSecond:F0}/s");
        }

        public void OnEvaluation(EvaluationRecord r)
        {
            string metrics = string.Join("  ",
                r.Metrics.Select(m => FormattableString.Invariant($"{m.Key} {m.Value:F4}")));
            AnsiConsole.MarkupLineInterpolated(
                $"epoch {r.Epoch + 1} step {r.Step} validation: {metrics}{(r.IsBest ? "  (best)" : "")}");
        }

        public void OnMessage(string message) => AnsiConsole.MarkupLineInterpolated($"[grey]{message}[/]");
    }
}

/// <summary>A command-line mistake: printed to stderr with exit code 2.</summary>
sealed class UsageException(string message) : Exception(message);
