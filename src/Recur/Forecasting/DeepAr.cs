using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Serialization;
using Recur.Training;

namespace Recur.Forecasting;

/// <summary>The distribution a <see cref="DeepArForecaster"/> predicts the parameters of at every step (in JSON and
/// on the command line: <c>gaussian</c>, <c>student-t</c>, <c>negative-binomial</c>).</summary>
[JsonConverter(typeof(KebabCaseEnumConverter<Likelihood>))]
public enum Likelihood
{
    /// <summary>Normal with mean μ and scale σ = softplus(·): real-valued series.</summary>
    Gaussian,

    /// <summary>Student's t with location μ, scale σ and ν = 2 + softplus(·) degrees of freedom: heavy tails.</summary>
    StudentT,

    /// <summary>Negative binomial with mean μ and dispersion α (variance μ + α·μ²), both softplus: counts.</summary>
    NegativeBinomial,
}

/// <summary>Settings of a <see cref="DeepArForecaster"/>.</summary>
/// <param name="Horizon">Steps forecast (the prediction range).</param>
/// <param name="Context">Steps the network reads before it forecasts (the conditioning range); a training window is
/// the context followed by the horizon.</param>
/// <param name="SeasonLength">Season length: the values one and two seasons back are inputs beside the last
/// three.</param>
/// <param name="Likelihood">The distribution of each value given the network's state.</param>
/// <param name="Cell">The recurrent cell.</param>
/// <param name="HiddenSize">Hidden units per layer.</param>
/// <param name="NumLayers">Stacked recurrent layers (DeepAR used 3 layers of 40 units).</param>
/// <param name="Dropout">Dropout between the layers in training.</param>
/// <param name="Epochs">Passes over all windows of all series.</param>
/// <param name="LearningRate">Adam's step size.</param>
/// <param name="Batch">Windows per mini-batch.</param>
/// <param name="Seed">Seed of initialisation, shuffling and the sampled paths.</param>
/// <param name="Samples">Paths sampled per series to forecast (their median is the point forecast, their quantiles
/// the interval).</param>
/// <param name="Categories">Number of series categories, fed as a one-hot input at every step (0: none).</param>
/// <param name="IntervalCoverage">Coverage of the prediction intervals, e.g. 0.95.</param>
public sealed record DeepArOptions(int Horizon = 8, int Context = 16, int SeasonLength = 4,
    Likelihood Likelihood = Likelihood.Gaussian, CellKind Cell = CellKind.Lstm, int HiddenSize = 40, int NumLayers = 2,
    float Dropout = 0.1f, int Epochs = 30, float LearningRate = 3e-3f, int Batch = 128, ulong Seed = 1,
    int Samples = 200, int Categories = 0, double IntervalCoverage = 0.95)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Horizon < 1 || Context < 1 || SeasonLength < 1 || HiddenSize < 1 || NumLayers < 1 || Epochs < 1
            || Batch < 1 || Samples < 1 || !(LearningRate > 0) || Categories < 0)
            throw new ArgumentException("DeepAR: horizon, context, season length, hidden units, layers, epochs, batch, "
                + $"samples and learning rate must be positive ({this}).");
        if (!(Dropout >= 0 && Dropout < 1))
            throw new ArgumentException($"DeepAR: dropout {Dropout} is not in [0, 1).");
        if (!(IntervalCoverage > 0 && IntervalCoverage < 1))
            throw new ArgumentException($"DeepAR: interval coverage {IntervalCoverage} is not in (0, 1).");
    }
}

/// <summary>
/// An autoregressive recurrent network with a likelihood head trained across many series — DeepAR (Salinas, Flunkert,
/// Gasthaus &amp; Januschowski 2020). At every step the network reads the previous values (the last three and those
/// one and two seasons back, each divided by the window's scale ν, the mean absolute value of its context; 1 + the
/// mean for counts), whether each was observed, the series' age and its category, and gives the parameters of the
/// next value's distribution (<see cref="Likelihood"/>); training maximises the likelihood of every observed value of
/// each window (context and horizon, teacher-forced). To forecast, the network reads a series' last
/// <see cref="DeepArOptions.Context"/> values and then samples <see cref="DeepArOptions.Samples"/> paths, each step's
/// draw fed back as the next step's input; the median of the paths is the point forecast and their quantiles the
/// prediction interval. With a held-out tail (<c>validate</c>) the epoch with the best likelihood of every series'
/// last horizon is kept.
/// </summary>
public sealed class DeepArForecaster : IPanelForecaster
{
    readonly DeepArNetwork network;

    /// <summary>The settings it was built with.</summary>
    public DeepArOptions Options { get; }

    /// <summary>The network (parameters <c>rnn.*</c>, <c>head.*</c>).</summary>
    public Module Network => network;

    /// <summary>Lags of the inputs: 1, 2, 3 and one and two seasons back.</summary>
    readonly int[] lags;

    /// <summary>Inputs per step: a scaled value and an observed flag per lag, the age, the category one-hot.</summary>
    int Features => 2 * lags.Length + 1 + Options.Categories;

    /// <summary>Inputs the network reads per step: a scaled value and an observed flag for each lag (1, 2, 3 and one
    /// and two seasons back), the series' age and the category one-hot.</summary>
    public int InputSize => Features;

    int Parameters => Options.Likelihood == Likelihood.StudentT ? 3 : 2;

    /// <summary>Builds an untrained forecaster.</summary>
    public DeepArForecaster(DeepArOptions options)
    {
        options.Validate();
        Options = options;
        lags = new[] { 1, 2, 3, options.SeasonLength, 2 * options.SeasonLength }.Distinct().Order().ToArray();
        network = new DeepArNetwork(this, new RandomGenerator(options.Seed));
    }

    /// <summary>The configuration saved with checkpoints: the options, enough to rebuild the forecaster with <see
    /// cref="FromConfig"/>.</summary>
    public JsonObject Config => ConfigJson.Write(Options, ForecastingJson.Default.DeepArOptions, "deepar");

    /// <summary>Rebuilds a forecaster (untrained weights) from <see cref="Config"/>; load the weights with <see
    /// cref="Checkpoint.LoadModel"/>.</summary>
    /// <exception cref="InvalidDataException">Not a DeepAR configuration, or a field missing or invalid
    /// (named).</exception>
    public static DeepArForecaster FromConfig(JsonObject config) =>
        new(ConfigJson.Read(config, ForecastingJson.Default.DeepArOptions, "deepar", options => options.Validate()));

    sealed class DeepArNetwork : Module
    {
        public RecurrentLayer Rnn { get; }
        public Linear Head { get; }

        public DeepArNetwork(DeepArForecaster owner, RandomGenerator random)
        {
            var o = owner.Options;
            var mode = RecurrentCells.Mode(o.Cell);
            var config = new RecurrentConfig(mode, owner.Features, o.HiddenSize, o.NumLayers,
                Dropout: o.NumLayers > 1 ? o.Dropout : 0f, ForgetGateBias: mode == RecurrentMode.Lstm ? 1f : null);
            Rnn = RegisterModule("rnn", new RecurrentLayer(RecurrentCells.Configure(o.Cell, config), random));
            Head = RegisterModule("head", new Linear(config.OutputWidth, owner.Parameters, random));
        }
    }

    /// <summary>A window: the series, the last index of its context, and the scale of its values.</summary>
    readonly record struct Window(int Series, int End, double Scale);

    double ScaleOf(double[] values, int end)
    {
        double sum = 0;
        int count = 0;
        for (int t = Math.Max(0, end - Options.Context + 1); t <= end; t++)
        {
            sum += Math.Abs(values[t]);
            count++;
        }
        double mean = count > 0 ? sum / count : 0;
        if (Options.Likelihood == Likelihood.NegativeBinomial) return 1 + mean;
        return mean > 0 ? mean : 1;
    }

    /// <summary>
    /// The input at the step that forecasts time <paramref name="t"/> of a series: the lagged
    /// values come from <paramref name="value"/> (the series, or a sampled path beyond its end; NaN: unknown).
    /// </summary>
    void StepInput(Func<int, double> value, int t, double scale, int category, Span<float> x)
    {
        x.Clear();
        for (int j = 0; j < lags.Length; j++)
        {
            int source = t - lags[j];
            double v = source < 0 ? double.NaN : value(source);
            if (double.IsNaN(v)) continue;
            x[2 * j] = (float)(v / scale);
            x[2 * j + 1] = 1;
        }
        // age: the log of the position in the series, about 1 at a hundred steps
        x[2 * lags.Length] = (float)(Math.Log(2 + Math.Max(t, 0)) / Math.Log(100));
        if (Options.Categories > 0) x[2 * lags.Length + 1 + category] = 1;
    }

    void Check(IReadOnlyList<double[]> series, IReadOnlyList<int>? categories)
    {
        SeriesCategories.Check("DeepAR", categories, series.Count, Options.Categories);
        for (int s = 0; s < series.Count; s++)
            for (int t = 0; t < series[s].Length; t++)
            {
                double v = series[s][t];
                if (!double.IsFinite(v))
                    throw new ArgumentException($"DeepAR: series {s} has value {v} at position {t}.");
                if (Options.Likelihood == Likelihood.NegativeBinomial && v < 0)
                    throw new ArgumentException($"DeepAR: series {s} has value {v} at position {t}; the negative "
                        + "binomial likelihood is for counts (≥ 0).");
            }
    }

    /// <summary>
    /// Trains on the series (each its training part only). With <paramref name="validate"/>, the last <see
    /// cref="DeepArOptions.Horizon"/> values of every series are held out: each epoch is scored by their likelihood
    /// and the weights of the best epoch are kept.
    /// </summary>
    public TrainingResult Fit(IReadOnlyList<double[]> series, IReadOnlyList<int>? categories = null,
        bool validate = true, TrainerOptions? trainerOptions = null, ITrainingObserver? observer = null,
        CancellationToken cancellation = default)
    {
        if (series.Count == 0) throw new ArgumentException("DeepAR: no series to train on.");
        Check(series, categories);
        int h = Options.Horizon;
        var train = new List<Window>();
        var held = new List<Window>();
        for (int s = 0; s < series.Count; s++)
        {
            int n = series[s].Length, last = n - 1 - h - (validate ? h : 0);
            // a window's context holds at least two observed values
            for (int end = 1; end <= last; end++) train.Add(new Window(s, end, ScaleOf(series[s], end)));
            if (validate && n - 1 - h >= 1) held.Add(new Window(s, n - 1 - h, ScaleOf(series[s], n - 1 - h)));
        }
        if (train.Count == 0)
            throw new ArgumentException("DeepAR: no series is long enough for a training window (two values and a "
                + $"horizon of {h}{(validate ? " and as many held out" : "")}).");
        var task = new Task(this, series, categories, [.. train], [.. held]);
        return BestEpoch.Train(task, () => task.Best, network, Options.LearningRate, Options.Epochs, Options.Seed,
            trainerOptions, observer, cancellation);
    }

    /// <summary>
    /// Inputs [Context + Horizon, B, F] of <paramref name="windows"/>, the targets (scaled, or raw counts for the
    /// negative binomial) and their weights: 1 where the value is observed and, with <paramref name="horizonOnly"/>,
    /// in the horizon.
    /// </summary>
    (Tensor Input, float[] Targets, float[] Weights, float[] Scales) Pack(IReadOnlyList<double[]> series,
        IReadOnlyList<int>? categories, Window[] windows, ReadOnlySpan<int> batch, bool horizonOnly)
    {
        int c = Options.Context, steps = c + Options.Horizon, b = batch.Length, f = Features;
        var x = new float[steps * b * f];
        var targets = new float[steps * b];
        var weights = new float[steps * b];
        var scales = new float[steps * b];
        bool counts = Options.Likelihood == Likelihood.NegativeBinomial;
        for (int i = 0; i < b; i++)
        {
            var w = windows[batch[i]];
            var values = series[w.Series];
            for (int k = 0; k < steps; k++)
            {
                int t = w.End - c + 1 + k, row = k * b + i;
                StepInput(u => u < values.Length ? values[u] : double.NaN, t, w.Scale, categories?[w.Series] ?? 0,
                    x.AsSpan(row * f, f));
                scales[row] = (float)w.Scale;
                if (t < 0 || t >= values.Length || horizonOnly && k < c) continue;
                targets[row] = (float)(counts ? values[t] : values[t] / w.Scale);
                weights[row] = 1;
            }
        }
        return (Tensor.FromArray(x, steps, b, f), targets, weights, scales);
    }

    /// <summary>The likelihood's parameters from the head's raw outputs [N, P]: location/mean, scale/dispersion and
    /// (Student-t) degrees of freedom, in the scaled units (counts: in the original units, using
    /// <paramref name="scales"/>).</summary>
    (Tensor First, Tensor Second, Tensor? Third) Distribution(Tensor raw, float[] scales)
    {
        int n = raw.Size(0);
        Tensor Column(int j) => raw.Slice(1, j, 1).Reshape(n);
        switch (Options.Likelihood)
        {
            case Likelihood.Gaussian:
                return (Column(0), Column(1).Softplus() + 1e-3f, null);
            case Likelihood.StudentT:
                return (Column(0), Column(1).Softplus() + 1e-3f, Column(2).Softplus() + 2f);
            default:
                // DeepAR's scaling for counts: μ = ν·softplus(·), α = softplus(·)/√ν
                var nu = Tensor.FromArray(scales, n);
                var root = Tensor.FromArray(scales.Select(v => 1 / MathF.Sqrt(v)).ToArray(), n);
                return ((Column(0).Softplus() + 1e-4f) * nu, (Column(1).Softplus() + 1e-4f) * root, null);
        }
    }

    Tensor Nll(Tensor raw, float[] targets, float[] weights, float[] scales)
    {
        var (first, second, third) = Distribution(raw, scales);
        var y = Tensor.FromArray(targets, targets.Length);
        return Options.Likelihood switch
        {
            Likelihood.Gaussian => Losses.GaussianNll(first, y, second * second, full: true, mask: weights),
            Likelihood.StudentT => Losses.StudentTNll(first, second, third!, y, weights),
            _ => Losses.NegativeBinomialNll(first, second, y, weights),
        };
    }

    Tensor BatchLoss(IReadOnlyList<double[]> series, IReadOnlyList<int>? categories, Window[] windows,
        ReadOnlySpan<int> batch, bool horizonOnly)
    {
        var (input, targets, weights, scales) = Pack(series, categories, windows, batch, horizonOnly);
        var output = network.Rnn.Forward(input).Output;
        int rows = output.Size(0) * output.Size(1);
        var raw = network.Head.Forward(output.Reshape(rows, output.Size(2)));
        return Nll(raw, targets, weights, scales);
    }

    /// <summary>
    /// The negative log-likelihood that training minimises, averaged over every observed value of the given windows
    /// (each the <see cref="DeepArOptions.Context"/> values ending at <c>End</c> followed by the horizon), as a
    /// tensor to call <see cref="Tensor.Backward"/> on — for a custom training loop, or to score held-out data.
    /// </summary>
    public Tensor Loss(IReadOnlyList<double[]> series, IReadOnlyList<(int Series, int End)> windows,
        IReadOnlyList<int>? categories = null)
    {
        Check(series, categories);
        var packed = new Window[windows.Count];
        for (int i = 0; i < packed.Length; i++)
        {
            var (s, end) = windows[i];
            if ((uint)s >= (uint)series.Count || end < 0 || end >= series[s].Length)
                throw new ArgumentException($"DeepAR: window {i} ends at {end} of series {s}, which is not a value of "
                    + "the series given.");
            packed[i] = new Window(s, end, ScaleOf(series[s], end));
        }
        return BatchLoss(series, categories, packed, Enumerable.Range(0, packed.Length).ToArray(), horizonOnly: false);
    }

    /// <summary>Point forecasts (the median of the sampled paths) of the next <see cref="DeepArOptions.Horizon"/>
    /// values of each series.</summary>
    public double[][] Forecast(IReadOnlyList<double[]> histories, IReadOnlyList<int>? categories = null) =>
        ForecastWithIntervals(histories, categories).Points;

    /// <summary>The median and the central <see cref="DeepArOptions.IntervalCoverage"/> of the sampled paths of each
    /// series.</summary>
    public (double[][] Points, ForecastInterval[] Intervals) ForecastWithIntervals(IReadOnlyList<double[]> histories,
        IReadOnlyList<int>? categories = null)
    {
        var paths = SamplePaths(histories, categories);
        var points = new double[histories.Count][];
        var intervals = new ForecastInterval[histories.Count];
        for (int s = 0; s < histories.Count; s++)
        {
            points[s] = paths[s].Select(step => ForecastInterval.Quantile(step.Order().ToArray(), 0.5)).ToArray();
            intervals[s] = ForecastInterval.FromSamples(paths[s], Options.IntervalCoverage);
        }
        return (points, intervals);
    }

    /// <summary>
    /// <see cref="DeepArOptions.Samples"/> sampled continuations of each series: [series][step][sample], from one
    /// generator seeded by <see cref="DeepArOptions.Seed"/> (the same paths for the same weights and seed).
    /// </summary>
    public double[][][] SamplePaths(IReadOnlyList<double[]> histories, IReadOnlyList<int>? categories = null)
    {
        Check(histories, categories);
        for (int s = 0; s < histories.Count; s++)
            if (histories[s].Length < 1) throw new ArgumentException($"DeepAR: series {s} is empty.");
        var random = new RandomGenerator(Options.Seed ^ 0x5EEDUL);
        var result = new double[histories.Count][][];
        // series in chunks, so that the sampled batch (series × samples) stays a few MB
        const int chunk = 64;
        using var _ = GradMode.NoGrad();
        network.Eval();
        for (int start = 0; start < histories.Count; start += chunk)
        {
            int count = Math.Min(chunk, histories.Count - start);
            SampleChunk(histories, categories, start, count, random, result);
        }
        network.Train();
        return result;
    }

    void SampleChunk(IReadOnlyList<double[]> histories, IReadOnlyList<int>? categories, int start, int count,
        RandomGenerator random, double[][][] result)
    {
        int c = Options.Context, h = Options.Horizon, f = Features, samples = Options.Samples;
        var windows = Enumerable.Range(start, count).Select(s => new Window(s, histories[s].Length - 1,
            ScaleOf(histories[s], histories[s].Length - 1))).ToArray();
        // the context, teacher-forced, as in training (its last step's output is not needed: the state is)
        var batch = Enumerable.Range(0, count).ToArray();
        var (input, _, _, _) = Pack(histories, categories, windows, batch, horizonOnly: false);
        var context = network.Rnn.Forward(input.Slice(0, 0, c));
        int rows = count * samples, layers = context.HiddenState.Size(0), hidden = context.HiddenState.Size(2);
        Tensor Repeat(Tensor state)
        {
            var from = state.ToArray();
            var to = new float[layers * rows * hidden];
            for (int l = 0; l < layers; l++)
                for (int b = 0; b < count; b++)
                    for (int k = 0; k < samples; k++)
                        Array.Copy(from, (l * count + b) * hidden, to, ((l * count + b) * samples + k) * hidden,
                            hidden);
            return Tensor.FromArray(to, layers, rows, hidden);
        }
        Tensor hState = Repeat(context.HiddenState);
        Tensor? cState = context.CellState is null ? null : Repeat(context.CellState);
        var drawn = new double[rows, h];
        var scales = new float[rows];
        for (int b = 0; b < count; b++)
            for (int k = 0; k < samples; k++) scales[b * samples + k] = (float)windows[b].Scale;
        var x = new float[rows * f];
        for (int step = 0; step < h; step++)
        {
            for (int b = 0; b < count; b++)
            {
                var values = histories[start + b];
                int n = values.Length;
                for (int k = 0; k < samples; k++)
                {
                    int row = b * samples + k;
                    StepInput(u => u < n ? values[u] : drawn[row, u - n], n + step, windows[b].Scale,
                        categories?[start + b] ?? 0, x.AsSpan(row * f, f));
                }
            }
            var output = network.Rnn.Forward(Tensor.FromArray(x, 1, rows, f), hState, cState);
            (hState, cState) = (output.HiddenState, output.CellState);
            var (first, second, third) = Distribution(network.Head.Forward(output.Output.Reshape(rows, hidden)),
                scales);
            float[] p1 = first.ToArray(), p2 = second.ToArray(), p3 = third?.ToArray() ?? [];
            for (int row = 0; row < rows; row++) drawn[row, step] = Draw(p1[row], p2[row], p3.Length > 0 ? p3[row]
                : 0, scales[row], random);
        }
        for (int b = 0; b < count; b++)
        {
            var paths = new double[h][];
            for (int step = 0; step < h; step++)
            {
                paths[step] = new double[samples];
                for (int k = 0; k < samples; k++) paths[step][k] = drawn[b * samples + k, step];
            }
            result[start + b] = paths;
        }
    }

    /// <summary>One draw in the series' units.</summary>
    double Draw(double first, double second, double third, double scale, RandomGenerator random)
    {
        switch (Options.Likelihood)
        {
            case Likelihood.Gaussian:
                return scale * (first + second * random.NextNormal());
            case Likelihood.StudentT:
                // t = Z / √(χ²_ν / ν), χ²_ν = 2·Gamma(ν/2)
                double chi = 2 * random.NextGamma(third / 2);
                return scale * (first + second * random.NextNormal() / Math.Sqrt(chi / third));
            default:
                // a Poisson draw whose rate is Gamma(r, μ/r): negative binomial with mean μ and dispersion 1/r
                double r = 1 / second;
                return random.NextPoisson(random.NextGamma(r) * first / r);
        }
    }

    /// <summary>Trains on the windows, scoring the held-out horizons after each epoch and keeping the best
    /// weights.</summary>
    sealed class Task(DeepArForecaster owner, IReadOnlyList<double[]> series, IReadOnlyList<int>? categories,
        Window[] train, Window[] held) : ITrainingTask<int[]>
    {
        readonly BestEpoch best = new(owner.network);

        public Dictionary<string, Tensor>? Best => best.Weights;
        public Module Model => owner.network;
        public JsonObject Config => owner.Config;
        public int BatchesPerEpoch => (train.Length + owner.Options.Batch - 1) / owner.Options.Batch;
        public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) =>
            Batching.Shuffled(train.Length, owner.Options.Batch, shuffle);
        public int Count(int[] batch) => batch.Length;
        public Tensor Loss(int[] batch, TrainingContext context) =>
            owner.BatchLoss(series, categories, train, batch, horizonOnly: false);

        public IReadOnlyDictionary<string, double>? Evaluate() => held.Length == 0 ? null : best.Score(() =>
        {
            // every held-out window has a whole horizon observed: the mean over chunks weighted by their size
            double loss = 0;
            for (int start = 0; start < held.Length; start += 4096)
            {
                var batch = Enumerable.Range(start, Math.Min(4096, held.Length - start)).ToArray();
                loss += owner.BatchLoss(series, categories, held, batch, horizonOnly: true).Item() * batch.Length;
            }
            return loss / held.Length;
        });
    }
}
