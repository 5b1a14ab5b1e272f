using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Serialization;
using Recur.Training;

namespace Recur.Forecasting;

/// <summary>Settings of a <see cref="Forecaster"/>.</summary>
/// <param name="Window">Past values the model sees.</param>
/// <param name="Horizon">Values it predicts at once (a multi-output head: the direct strategy); longer forecasts
/// continue recursively.</param>
/// <param name="Model"><c>lstm</c>, <c>gru</c>, <c>rnn</c> (a recurrent network over the window) or <c>mlp</c> (one
/// hidden tanh layer on the window).</param>
/// <param name="HiddenSize">Hidden units.</param>
/// <param name="Scaling">Scaling fitted on the training part.</param>
/// <param name="Log">Take logarithms first (for multiplicative growth and seasonality).</param>
/// <param name="DifferenceLag">Difference at this lag after the logarithm (0: none; 1: ordinary; the season length:
/// seasonal).</param>
/// <param name="Epochs">Training passes over the windows.</param>
/// <param name="LearningRate">Adam's step size.</param>
/// <param name="Batch">Windows per mini-batch.</param>
/// <param name="Seed">Seed for initialisation and shuffling.</param>
/// <param name="ValidationSize">When positive, the windows whose targets reach into the last this-many training values
/// are held out; each epoch is scored on them and the weights of the best epoch are kept (early model
/// selection).</param>
/// <param name="Covariates">Extra input series seen beside the target over the window (scaled, not logged or
/// differenced). Their future is unknown, so with covariates a forecast reaches at most <paramref name="Horizon"/>
/// steps ahead.</param>
public sealed record ForecasterOptions(int Window = 12, int Horizon = 12, string Model = "lstm",
    int HiddenSize = 32, ScalingKind Scaling = ScalingKind.MinMax,
    bool Log = false, int DifferenceLag = 0, int Epochs = 300,
    [property: JsonPropertyName("lr")] float LearningRate = 5e-3f, int Batch = 16, ulong Seed = 1,
    int ValidationSize = 0, int Covariates = 0)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Window < 1 || Horizon < 1 || HiddenSize < 1 || Epochs < 1 || Batch < 1 || !(LearningRate > 0)
            || DifferenceLag < 0 || ValidationSize < 0 || Covariates < 0)
            throw new ArgumentException($"Forecaster: window, horizon, hidden, epochs, batch and learning rate must "
                + $"be positive and the difference lag non-negative ({this}).");
        if (Model != "mlp" && !RecurrentCells.TryParse(Model, out _))
            throw new ArgumentException($"Forecaster: model '{Model}' is neither a cell of Recur "
                + $"({string.Join(", ", RecurrentCells.Names)}) nor mlp.");
    }
}

/// <summary>A transformation <see cref="Forecaster.TryTransforms"/> tried, and how its forecaster did.</summary>
/// <param name="Log">Logarithms first.</param>
/// <param name="DifferenceLag">Differencing lag (0: none).</param>
/// <param name="ValidationMase">MASE of the forecast of the validation tail (lower is better).</param>
public sealed record TransformTrial(bool Log, int DifferenceLag, double ValidationMase)
{
    /// <summary>A short description, e.g. "log, differenced at lag 1".</summary>
    public override string ToString() => (Log ? "log" : "as is") + (DifferenceLag > 0
        ? $", differenced at lag {DifferenceLag}" : ", undifferenced");
}

/// <summary>
/// A neural forecaster for one series: log / differencing / scaling fitted on the training part only, sliding windows,
/// a recurrent network (or an MLP) with a head of <see cref="ForecasterOptions.Horizon"/> outputs trained by the shared
/// <see cref="Trainer{TBatch}"/> on mean squared error, and forecasts inverted exactly to the original units.
/// </summary>
public sealed class Forecaster
{
    readonly Module network;
    readonly Func<Tensor, Tensor> forward;

    /// <summary>The network, window and training settings it was built with, saved beside the weights.</summary>
    public ForecasterOptions Options { get; }

    /// <summary>The scaling fitted on the training part (of the transformed series).</summary>
    public Scaler Scaler { get; private set; }

    /// <summary>The scalings of the covariates, fitted on the training part.</summary>
    public Scaler[] CovariateScalers { get; private set; } = [];

    /// <summary>Input features per step: the target and the covariates.</summary>
    int Features => 1 + Options.Covariates;

    /// <summary>The network (parameters <c>rnn.*</c> and <c>head.*</c>, or <c>hidden.*</c> and <c>head.*</c> for the
    /// MLP).</summary>
    public Module Network => network;

    /// <summary>Builds an untrained forecaster.</summary>
    public Forecaster(ForecasterOptions options)
    {
        options.Validate();
        Options = options;
        Scaler = Scaler.From(ScalingKind.None, 0, 1);
        var random = new RandomGenerator(options.Seed);
        if (options.Model == "mlp")
        {
            var mlp = new WindowMlp(options.Window * (1 + options.Covariates), options.HiddenSize, options.Horizon,
                random);
            (network, forward) = (mlp, mlp.Forward);
        }
        else
        {
            var model = new SequenceModel(new SequenceModelConfig(RecurrentCells.Parse(options.Model),
                1 + options.Covariates, options.HiddenSize, options.Horizon), random);
            (network, forward) = (model, model.Forward);
        }
    }

    /// <summary>The configuration saved with checkpoints (enough to rebuild the forecaster with <see
    /// cref="FromConfig"/>): the options and the scalers fitted on the training part.</summary>
    public JsonObject Config
    {
        get
        {
            var state = new FittedScalers(Scaler.Offset, Scaler.Scale,
                [.. CovariateScalers.Select(c => new[] { c.Offset, c.Scale })]);
            return ConfigJson.Write(Options, ForecastingJson.Default.ForecasterOptions, "forecaster")
                .With(JsonSerializer.SerializeToNode(state, ForecastingJson.Default.FittedScalers)!.AsObject());
        }
    }

    /// <summary>Rebuilds a forecaster (untrained weights, fitted scaler) from <see cref="Config"/>; load the weights
    /// with <see cref="Checkpoint.LoadModel"/>.</summary>
    /// <exception cref="InvalidDataException">Not a forecaster's, or a field missing or invalid (named).</exception>
    public static Forecaster FromConfig(JsonObject config)
    {
        var options = ConfigJson.Read(config, ForecastingJson.Default.ForecasterOptions, "forecaster",
            options => options.Validate());
        var state = ConfigJson.Read(config, ForecastingJson.Default.FittedScalers, architecture: null);
        var covariates = state.CovariateScalers ?? [];
        if (covariates.Length != options.Covariates || covariates.Any(c => c.Length != 2))
            throw new InvalidDataException($"{options.Covariates} covariates need as many (offset, scale) pairs in "
                + $"covariate_scalers, got {covariates.Length}.");
        return new Forecaster(options)
        {
            Scaler = Scaler.From(options.Scaling, state.ScalerOffset, state.ScalerScale),
            CovariateScalers = [.. covariates.Select(c => Scaler.From(options.Scaling, c[0], c[1]))],
        };
    }

    /// <summary>
    /// The trainer settings of a forecaster's <c>Fit</c>: where <paramref name="given"/> puts checkpoints and metrics,
    /// the forecaster's own epochs and seed, and gradient-norm clipping at 1 unless <paramref name="given"/> sets it.
    /// </summary>
    internal static TrainerOptions TrainingOptions(TrainerOptions? given, int epochs, ulong seed) =>
        (given ?? new TrainerOptions()) with { Epochs = epochs, Seed = seed, ClipNorm = given?.ClipNorm ?? 1f };

    /// <summary>The series as the network sees it: log, differenced, not yet scaled.</summary>
    double[] Transform(ReadOnlySpan<double> series)
    {
        var values = series.ToArray();
        if (Options.Log)
            for (int i = 0; i < values.Length; i++)
                values[i] = values[i] > 0 ? Math.Log(values[i])
                    : throw new ArgumentException(
                    $"Forecaster: --log needs positive values; value {i} is {values[i]}.");
        return Options.DifferenceLag > 0 ? Differencing.Apply(values, Options.DifferenceLag) : values;
    }

    /// <summary>
    /// Fits the preprocessing and trains the network on <paramref name="training"/> (the training part only) with the
    /// shared trainer; <paramref name="trainerOptions"/> sets where checkpoints and metrics go (epochs and seed come
    /// from
    /// <see cref="Options"/>).
    /// </summary>
    public TrainingResult Fit(ReadOnlySpan<double> training, TrainerOptions? trainerOptions = null,
        ITrainingObserver? observer = null, CancellationToken cancellation = default,
        IReadOnlyList<double[]>? covariates = null)
    {
        CheckCovariates(covariates, training.Length);
        var z = Transform(training);
        Scaler = Scaler.Fit(z, Options.Scaling);
        var scaled = z.Select(Scaler.Transform).ToArray();
        // covariates line up with the transformed target: differencing drops its first lag values
        CovariateScalers = (covariates ?? []).Select(c => Scaler.Fit(c.AsSpan(Options.DifferenceLag),
            Options.Scaling)).ToArray();
        var features = StepFeatures(scaled, covariates, CovariateScalers);
        var (_, targets, count) = Windows.Make(scaled, Options.Window, Options.Horizon);
        var inputs = WindowInputs(features, count);
        // windows whose last target lies in the last ValidationSize values are held out for model selection
        int trainCount = Options.ValidationSize > 0 ? Math.Max(0,
            scaled.Length - Options.ValidationSize - Options.Window - Options.Horizon + 1) : count;
        if (Options.ValidationSize > 0 && (trainCount < 1 || trainCount >= count))
            throw new ArgumentException($"Forecaster: a validation part of {Options.ValidationSize} "
                + $"leaves {trainCount} of {count} windows for training.");
        var task = new WindowTask(this, inputs, targets, trainCount, count);
        var options = TrainingOptions(trainerOptions, Options.Epochs, Options.Seed);
        var trainer = new Trainer<int[]>(task, new Adam(network.Parameters(), Options.LearningRate), options,
            observer: observer);
        var result = trainer.Fit(cancellation);
        // the trainer also writes these weights to best/ when it has an output directory
        if (task.Best != null) network.LoadStateDict(task.Best);
        return result;
    }

    /// <summary>
    /// Trains one forecaster per transformation — with and without logarithms (only when every value is positive),
    /// each undifferenced and differenced at lag 1 — on <paramref name="training"/> with the rest of
    /// <paramref name="options"/>, and scores each by the MASE (season <paramref name="season"/>) of its forecast of
    /// the last <see cref="ForecasterOptions.ValidationSize"/> values from the history before them; the smallest
    /// wins. The trials come back in that order, so that the caller can report them all.
    /// </summary>
    public static IReadOnlyList<TransformTrial> TryTransforms(double[] training, ForecasterOptions options,
        int season, IReadOnlyList<double[]>? covariates = null, CancellationToken cancellation = default)
    {
        int v = options.ValidationSize;
        if (v < 1) throw new ArgumentException("Forecaster: choosing a transformation needs a validation tail.");
        if (season < 1 || training.Length - v <= season)
            throw new ArgumentException($"Forecaster: {training.Length} values leave too few before a validation "
                + $"tail of {v} to score it with season {season}.");
        bool positive = training.All(x => x > 0);
        var before = training[..^v];
        var tail = training[^v..];
        var trials = new List<TransformTrial>();
        foreach (bool log in positive ? [false, true] : new[] { false })
            foreach (int lag in new[] { 0, 1 })
            {
                var candidate = new Forecaster(options with { Log = log, DifferenceLag = lag });
                candidate.Fit(training, covariates: covariates, cancellation: cancellation);
                var forecast = candidate.Forecast(before, v, covariates?.Select(c => c[..before.Length]).ToArray());
                trials.Add(new TransformTrial(log, lag, ForecastMetrics.Compute(tail, forecast, before, season).Mase));
            }
        return trials;
    }

    /// <summary>
    /// Forecasts <paramref name="steps"/> values after <paramref name="history"/> (original units; it must hold at
    /// least the window plus the difference lag): blocks of <see cref="ForecasterOptions.Horizon"/> values, each
    /// block's predictions fed back as history for the next.
    /// </summary>
    public double[] Forecast(ReadOnlySpan<double> history, int steps, IReadOnlyList<double[]>? covariates = null)
    {
        int needed = Options.Window + Options.DifferenceLag;
        if (history.Length < needed) throw new ArgumentException(
            $"Forecaster: needs at least {needed} values of history, got {history.Length}.");
        if (steps < 1) throw new ArgumentException($"Forecaster: steps must be positive, got {steps}.");
        CheckCovariates(covariates, history.Length);
        if (Options.Covariates > 0 && steps > Options.Horizon)
            throw new ArgumentException($"Forecaster: with covariates a forecast reaches at most the horizon "
                + $"({Options.Horizon} steps), since their future is unknown; asked for {steps}.");
        return Roll(history, steps, covariates, null);
    }

    /// <summary>
    /// The block-by-block forecast of <see cref="Forecast"/>; with <paramref name="noise"/>, each block's scaled
    /// output gets a drawn error vector added before it is inverted and fed back (a simulated path).
    /// </summary>
    double[] Roll(ReadOnlySpan<double> history, int steps, IReadOnlyList<double[]>? covariates,
        Func<float[]>? noise)
    {
        network.Eval();
        var original = history.ToArray().ToList();
        var forecast = new List<double>();
        while (forecast.Count < steps)
        {
            var z = Transform(original.ToArray());
            var scaled = z.Select(Scaler.Transform).ToArray();
            var features = StepFeatures(scaled, covariates, CovariateScalers);
            var window = WindowInputs(features[^Options.Window..], 1);
            float[] output;
            using (GradMode.NoGrad()) output = forward(Input(window, 1)).ToArray();
            if (noise != null)
            {
                var error = noise();
                for (int k = 0; k < output.Length; k++) output[k] += error[k];
            }
            var predicted = output.Select(v => Scaler.Inverse(v)).ToArray();
            // undo differencing and the logarithm
            var levels = Options.DifferenceLag > 0
                ? Differencing.Integrate(Options.Log ? original.Select(v
                    => Math.Log(v)).ToArray() : original.ToArray(), predicted, Options.DifferenceLag)
                : predicted;
            if (Options.Log) levels = levels.Select(v => Math.Exp(v)).ToArray();
            foreach (double v in levels)
            {
                if (forecast.Count == steps) break;
                forecast.Add(v);
                original.Add(v);
            }
        }
        return forecast.ToArray();
    }

    /// <summary>
    /// Simulated continuations of <paramref name="training"/> (the series the forecaster was fitted on), for
    /// prediction intervals: each of <paramref name="paths"/> paths runs the forecast block by block with an error
    /// vector added to every block, drawn (with replacement, whole vectors, so that the errors of a block's steps keep
    /// their correlation) from the network's own errors on the windows of the validation tail — out of sample — or,
    /// without a validation tail, on every training window (in sample, so the paths spread too little). Returns
    /// [step][path] in original units.
    /// </summary>
    public double[][] SamplePaths(double[] training, int steps, int paths = 1000, ulong seed = 1,
        IReadOnlyList<double[]>? covariates = null)
    {
        if (paths < 1) throw new ArgumentException($"Forecaster: paths must be positive, got {paths}.");
        CheckCovariates(covariates, training.Length);
        var errors = WindowErrors(training, covariates);
        var random = new RandomGenerator(seed);
        var result = new double[steps][];
        for (int k = 0; k < steps; k++) result[k] = new double[paths];
        for (int p = 0; p < paths; p++)
        {
            var path = Roll(training, steps, covariates, () => errors[random.NextInt(errors.Length)]);
            for (int k = 0; k < steps; k++) result[k][p] = path[k];
        }
        return result;
    }

    /// <summary>The central <paramref name="coverage"/> of <see cref="SamplePaths"/> per step.</summary>
    public ForecastInterval Interval(double[] training, int steps, double coverage = 0.95, int paths = 1000,
        ulong seed = 1, IReadOnlyList<double[]>? covariates = null) =>
        ForecastInterval.FromSamples(SamplePaths(training, steps, paths, seed, covariates), coverage);

    /// <summary>Target − prediction (scaled) of each window of the validation tail, or of every window without
    /// one.</summary>
    float[][] WindowErrors(double[] training, IReadOnlyList<double[]>? covariates)
    {
        var scaled = Transform(training).Select(Scaler.Transform).ToArray();
        var features = StepFeatures(scaled, covariates, CovariateScalers);
        var (_, targets, count) = Windows.Make(scaled, Options.Window, Options.Horizon);
        if (count < 1) throw new ArgumentException("Forecaster: the series is too short for one window.");
        int first = Options.ValidationSize > 0 ? Math.Clamp(scaled.Length - Options.ValidationSize - Options.Window
            - Options.Horizon + 1, 0, count - 1) : 0;
        var inputs = WindowInputs(features, count);
        int w = Options.Window * Features, h = Options.Horizon, n = count - first;
        float[] output;
        network.Eval();
        using (GradMode.NoGrad()) output = forward(Input(inputs.AsSpan(first * w, n * w).ToArray(), n)).ToArray();
        var errors = new float[n][];
        for (int i = 0; i < n; i++)
        {
            errors[i] = new float[h];
            for (int k = 0; k < h; k++) errors[i][k] = targets[(first + i) * h + k] - output[i * h + k];
        }
        return errors;
    }

    void CheckCovariates(IReadOnlyList<double[]>? covariates, int length)
    {
        int given = covariates?.Count ?? 0;
        if (given != Options.Covariates) throw new ArgumentException(
            $"Forecaster: trained with {Options.Covariates} covariates, given {given}.");
        foreach (var c in covariates ?? [])
            if (c.Length != length) throw new ArgumentException(
                $"Forecaster: a covariate has {c.Length} values, the target {length}.");
    }

    /// <summary>Per step [target, covariate 1, …], scaled; covariates skip the values differencing dropped from the
    /// target.</summary>
    float[][] StepFeatures(double[] scaledTarget, IReadOnlyList<double[]>? covariates, Scaler[] scalers)
    {
        var steps = new float[scaledTarget.Length][];
        for (int t = 0; t < steps.Length; t++)
        {
            steps[t] = new float[Features];
            steps[t][0] = (float)scaledTarget[t];
            for (int c = 0; c < Options.Covariates; c++) steps[t][1 + c] = (float)scalers[c].Transform(covariates![c][t
                + Options.DifferenceLag]);
        }
        return steps;
    }

    /// <summary>The first <paramref name="count"/> windows of per-step features, flattened [count, window·F].</summary>
    float[] WindowInputs(float[][] features, int count)
    {
        int w = Options.Window, f = Features;
        var inputs = new float[count * w * f];
        for (int s = 0; s < count; s++)
            for (int k = 0; k < w; k++) features[s + k].CopyTo(inputs, (s * w + k) * f);
        return inputs;
    }

    /// <summary>Windows [B, window·F] as the network's input: time-major [window, B, F] for a recurrent model, [B,
    /// window·F] for the MLP.</summary>
    Tensor Input(float[] windows, int batch)
    {
        int w = Options.Window, f = Features;
        if (Options.Model == "mlp") return Tensor.FromArray(windows, batch, w * f);
        var x = new float[windows.Length];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < w; t++) Array.Copy(windows, (b * w + t) * f, x, (t * batch + b) * f, f);
        return Tensor.FromArray(x, w, batch, f);
    }

    /// <summary>
    /// Trains on windows [0, trainCount) and, when there are more, scores windows [trainCount, count) after each epoch,
    /// keeping a copy of the best weights.
    /// </summary>
    sealed class WindowTask(Forecaster owner, float[] inputs, float[] targets, int trainCount,
        int count) : ITrainingTask<int[]>
    {
        readonly BestEpoch best = new(owner.network);

        public Dictionary<string, Tensor>? Best => best.Weights;
        public Module Model => owner.network;
        public JsonObject Config => owner.Config;
        public int BatchesPerEpoch => (trainCount + owner.Options.Batch - 1) / owner.Options.Batch;
        public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) => Batching.Shuffled(trainCount,
            owner.Options.Batch, shuffle);
        public int Count(int[] batch) => batch.Length;
        public Tensor Loss(int[] batch, TrainingContext context) => BatchLoss(batch);

        public IReadOnlyDictionary<string, double>? Evaluate()
        {
            if (trainCount == count) return null;
            return best.Score(() => BatchLoss(Enumerable.Range(trainCount, count - trainCount).ToArray()).Item());
        }

        Tensor BatchLoss(int[] batch)
        {
            int w = owner.Options.Window * owner.Features, h = owner.Options.Horizon;
            var x = new float[batch.Length * w];
            var y = new float[batch.Length * h];
            for (int i = 0; i < batch.Length; i++)
            {
                inputs.AsSpan(batch[i] * w, w).CopyTo(x.AsSpan(i * w));
                targets.AsSpan(batch[i] * h, h).CopyTo(y.AsSpan(i * h));
            }
            return Losses.MeanSquaredError(owner.forward(owner.Input(x, batch.Length)), Tensor.FromArray(y,
                batch.Length, h));
        }
    }
}

/// <summary>The MLP baseline on a window: Linear → tanh → Linear (parameters <c>hidden.*</c>, <c>head.*</c>).</summary>
public sealed class WindowMlp : Module
{
    readonly Linear hidden, head;

    /// <summary>Builds the network.</summary>
    public WindowMlp(int window, int hiddenSize, int outputs, RandomGenerator random)
    {
        hidden = RegisterModule("hidden", new Linear(window, hiddenSize, random));
        head = RegisterModule("head", new Linear(hiddenSize, outputs, random));
    }

    /// <summary>[B, window] → [B, outputs].</summary>
    public Tensor Forward(Tensor input) => head.Forward(hidden.Forward(input).Tanh());
}

/// <summary>What a forecaster fitted on its training part, saved beside its options: the target's scaler and one
/// (offset, scale) pair per covariate.</summary>
sealed record FittedScalers(double ScalerOffset, double ScalerScale, double[][]? CovariateScalers = null);

/// <summary>The settings records of <c>Recur.Forecasting</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(ForecasterOptions))]
[JsonSerializable(typeof(FittedScalers))]
[JsonSerializable(typeof(DeepArOptions))]
[JsonSerializable(typeof(EsRnnOptions))]
[JsonSerializable(typeof(GlobalForecasterOptions))]
sealed partial class ForecastingJson : JsonSerializerContext;
