using System.Text.Json.Nodes;
using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Serialization;
using Recur.Training;

namespace Recur.Forecasting;

/// <summary>
/// A model trained across many series at once that forecasts a fixed horizon of each, with prediction intervals
/// (<see cref="GlobalForecaster"/>, <see cref="DeepArForecaster"/>).
/// </summary>
public interface IPanelForecaster
{
    /// <summary>The network.</summary>
    Module Network { get; }

    /// <summary>
    /// Trains on the series (each its training part only); with <paramref name="validate"/> the last horizon of every
    /// series is held out to choose the epoch whose weights are kept.
    /// </summary>
    TrainingResult Fit(IReadOnlyList<double[]> series, IReadOnlyList<int>? categories = null, bool validate = true,
        TrainerOptions? trainerOptions = null, ITrainingObserver? observer = null,
        CancellationToken cancellation = default);

    /// <summary>Point forecasts of the next horizon of each series.</summary>
    double[][] Forecast(IReadOnlyList<double[]> histories, IReadOnlyList<int>? categories = null);

    /// <summary>Point forecasts and prediction intervals of each series.</summary>
    (double[][] Points, ForecastInterval[] Intervals) ForecastWithIntervals(IReadOnlyList<double[]> histories,
        IReadOnlyList<int>? categories = null);
}

/// <summary>Settings of a <see cref="GlobalForecaster"/>.</summary>
/// <param name="Horizon">Values forecast at once (the multi-output head).</param>
/// <param name="Window">Past values the network reads; windows reaching before a series' start are padded and flagged,
/// so short series take part too.</param>
/// <param name="SeasonLength">Season length for the seasonality test and the classical decomposition (1: none).</param>
/// <param name="Cell">The recurrent cell.</param>
/// <param name="HiddenSize">Hidden units.</param>
/// <param name="Epochs">Passes over all windows of all series.</param>
/// <param name="LearningRate">Adam's step size.</param>
/// <param name="Batch">Windows per mini-batch.</param>
/// <param name="Seed">Seed of initialisation and shuffling.</param>
/// <param name="Quantile">The quantile the pinball loss trains for (½: the median).</param>
/// <param name="Categories">Number of series categories, fed as a one-hot input at every step (0: none).</param>
/// <param name="ThetaBase">Let the network correct the Theta method's forecast of each window (a hybrid in the spirit
/// of ES-RNN) instead of forecasting from scratch.</param>
/// <param name="IntervalCoverage">When positive (e.g. 0.95), the head also forecasts the (1 ± coverage)/2 quantiles of
/// every step, trained with their own pinball losses, for prediction intervals (quantile regression as in MQ-RNN, Wen
/// et al. 2017); 0: point forecasts only.</param>
public sealed record GlobalForecasterOptions(int Horizon = 8, int Window = 24, int SeasonLength = 4,
    CellKind Cell = CellKind.Lstm, int HiddenSize = 40, int Epochs = 30, float LearningRate = 3e-3f, int Batch = 128,
    ulong Seed = 1, float Quantile = 0.5f, int Categories = 0, bool ThetaBase = true, double IntervalCoverage = 0)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Horizon < 1 || Window < 1 || SeasonLength < 1 || HiddenSize < 1 || Epochs < 1 || Batch < 1
            || !(LearningRate > 0) || Categories < 0)
            throw new ArgumentException("GlobalForecaster: horizon, window, season length, hidden units, epochs, "
                + $"batch and learning rate must be positive ({this}).");
        if (!(IntervalCoverage >= 0 && IntervalCoverage < 1))
            throw new ArgumentException($"GlobalForecaster: interval coverage {IntervalCoverage} is not in [0, 1).");
        if (!(Quantile > 0 && Quantile < 1))
            throw new ArgumentException($"GlobalForecaster: quantile {Quantile} is not in (0, 1).");
    }
}

/// <summary>
/// One recurrent network trained across many series at once — the approach that made recurrent models win forecasting
/// competitions (M4: Smyl's ES-RNN; DeepAR, Salinas et al. 2017) where one small network per series loses to simple
/// baselines. Each series is deseasonalised by its own classical multiplicative decomposition when the seasonality test
/// of <see cref="ClassicalDecomposition.IsSeasonal"/> finds a season (as the Theta method does) and taken to
/// logarithms; every window is measured from its own level (the mean of its last two logs), so that series of any
/// scale share one network: the inputs are the log ratios of the past values to that level, the outputs the log ratios
/// of the next <see cref="GlobalForecasterOptions.Horizon"/> values, trained with the pinball loss. A series' category
/// can be fed as a one-hot input. With <see cref="GlobalForecasterOptions.ThetaBase"/> (the default) each window also
/// carries the Theta method's forecast from the same history, and the network learns the correction to it: a
/// statistical model per series and a recurrent network shared by all, in the spirit of Smyl's ES-RNN (which learns
/// its Holt–Winters part jointly with the network, as <see cref="EsRnnForecaster"/> does; here Theta is fitted on its
/// own).
/// </summary>
public sealed class GlobalForecaster : IPanelForecaster
{
    readonly SequenceModel network;

    /// <summary>The network, window and training settings it was built with, saved beside the weights.</summary>
    public GlobalForecasterOptions Options { get; }

    /// <summary>The network (parameters <c>rnn.*</c>, <c>head.*</c>).</summary>
    public Module Network => network;

    /// <summary>
    /// Inputs per step: the log ratio, a flag for an observed (not padded) value, the category one-hot and Theta's
    /// forecast path (the same at every step).
    /// </summary>
    int Features => 2 + Options.Categories + (Options.ThetaBase ? Options.Horizon : 0);

    /// <summary>
    /// Log ratios of a few percent are multiplied by this before they enter the network, so that its inputs have about
    /// the unit scale its initialisation expects.
    /// </summary>
    const double InputGain = 10;

    /// <summary>Values averaged (in logs) into the level each window is measured from: less noisy than the last
    /// one.</summary>
    const int AnchorSpan = 2;

    /// <summary>Forecasts per step: the point (median) and, with intervals, the lower and upper quantiles.</summary>
    int Heads => QuantileHeads.Count(Options.IntervalCoverage);

    /// <summary>The quantile of each output column: [point ×H, lower ×H, upper ×H].</summary>
    float[] ColumnQuantiles() => QuantileHeads.Columns(Options.Horizon, Options.Quantile, Options.IntervalCoverage);

    /// <summary>Fewest observed values a training window holds.</summary>
    int MinimumObserved => Math.Max(3, Options.SeasonLength);

    /// <summary>Builds an untrained forecaster.</summary>
    public GlobalForecaster(GlobalForecasterOptions options)
    {
        options.Validate();
        Options = options;
        network = new SequenceModel(new SequenceModelConfig(options.Cell, Features, options.HiddenSize,
            options.Horizon * Heads), new RandomGenerator(options.Seed));
    }

    /// <summary>The configuration saved with checkpoints: the options, enough to rebuild the forecaster with <see
    /// cref="FromConfig"/>.</summary>
    public JsonObject Config => ConfigJson.Write(Options, ForecastingJson.Default.GlobalForecasterOptions,
        "global_forecaster");

    /// <summary>Rebuilds a forecaster (untrained weights) from <see cref="Config"/>; load the weights with <see
    /// cref="Checkpoint.LoadModel"/>.</summary>
    /// <exception cref="InvalidDataException">Not a global forecaster's configuration, or a field missing or invalid
    /// (named).</exception>
    public static GlobalForecaster FromConfig(JsonObject config) => new(ConfigJson.Read(config,
        ForecastingJson.Default.GlobalForecasterOptions, "global_forecaster", options => options.Validate()));

    /// <summary>A series as the network sees it: deseasonalised logarithms, and the seasonal indices divided
    /// out.</summary>
    sealed record Prepared(double[] Logs, double[] Indices);

    Prepared Prepare(ReadOnlySpan<double> history, int series)
    {
        for (int t = 0; t < history.Length; t++)
            if (!(history[t] > 0) || !double.IsFinite(history[t]))
                throw new ArgumentException($"GlobalForecaster: series {series} has value {history[t]} at position "
                    + $"{t}; the model works on logarithms and needs positive values.");
        var adjusted = history.ToArray();
        var indices = Array.Empty<double>();
        if (ClassicalDecomposition.IsSeasonal(history, Options.SeasonLength))
        {
            indices = ClassicalDecomposition.Indices(history, Options.SeasonLength, multiplicative: true);
            for (int t = 0; t < adjusted.Length; t++) adjusted[t] /= indices[t % Options.SeasonLength];
        }
        return new Prepared(adjusted.Select(v => Math.Log(v)).ToArray(), indices);
    }

    /// <summary>The level a window ending at <paramref name="end"/> is measured from (a mean of logs).</summary>
    static double Anchor(double[] logs, int end)
    {
        int span = Math.Min(AnchorSpan, end + 1);
        double sum = 0;
        for (int t = end - span + 1; t <= end; t++) sum += logs[t];
        return sum / span;
    }

    /// <summary>
    /// The Theta method's forecast from the (deseasonalised) values up to <paramref name="end"/>, as log ratios to the
    /// window's level; zeros without <see cref="GlobalForecasterOptions.ThetaBase"/>.
    /// </summary>
    double[] BasePath(double[] logs, int end)
    {
        var path = new double[Options.Horizon];
        if (!Options.ThetaBase) return path;
        double anchor = Anchor(logs, end);
        var history = logs.AsSpan(0, end + 1).ToArray().Select(v => Math.Exp(v)).ToArray();
        var f = ThetaMethod.Fit(history).Forecast(Options.Horizon);
        for (int k = 0; k < path.Length; k++) path[k] = Math.Log(Math.Max(f[k], Math.Exp(anchor) * 1e-3)) - anchor;
        return path;
    }

    /// <summary>The input window ending at <paramref name="end"/> (inclusive), written to <paramref name="x"/>
    /// [Window·F].</summary>
    void WindowInput(double[] logs, int end, int category, Span<float> x, double[] basePath)
    {
        x.Clear();
        double anchor = Anchor(logs, end);
        int w = Options.Window, f = Features;
        for (int k = 0; k < w; k++)
        {
            int t = end - w + 1 + k;
            if (t >= 0)
            {
                x[k * f] = (float)((logs[t] - anchor) * InputGain);
                x[k * f + 1] = 1;
            }
            if (Options.Categories > 0) x[k * f + 2 + category] = 1;
            if (Options.ThetaBase)
                for (int j = 0; j < basePath.Length; j++) x[k * f + 2 + Options.Categories
                    + j] = (float)basePath[j];
        }
    }

    /// <summary>
    /// Trains on the series (each its training part only). With <paramref name="validate"/>, the last <see
    /// cref="GlobalForecasterOptions.Horizon"/> values of every series are held out: each epoch is scored on
    /// forecasting them and the weights of the best epoch are kept.
    /// </summary>
    public TrainingResult Fit(IReadOnlyList<double[]> series, IReadOnlyList<int>? categories = null,
        bool validate = true, TrainerOptions? trainerOptions = null, ITrainingObserver? observer = null,
        CancellationToken cancellation = default)
    {
        if (series.Count == 0) throw new ArgumentException("GlobalForecaster: no series to train on.");
        CheckCategories(categories, series.Count);
        int h = Options.Horizon, w = Options.Window, f = Features;
        var train = new List<(int Series, int End)>();
        var held = new List<(int Series, int End)>();
        var prepared = new Prepared[series.Count];
        for (int s = 0; s < series.Count; s++)
        {
            prepared[s] = Prepare(series[s], s);
            int n = series[s].Length;
            int lastTrainingEnd = n - h - 1 - (validate ? h : 0);
            for (int end = MinimumObserved - 1; end <= lastTrainingEnd; end++) train.Add((s, end));
            if (validate && n - h - 1 >= MinimumObserved - 1) held.Add((s, n - h - 1));
        }
        if (train.Count == 0)
        {
            string heldOut = validate ? " and as many held out" : "";
            throw new ArgumentException("GlobalForecaster: no series is long enough for a training window "
                + $"({MinimumObserved} observed values, a horizon of {h}{heldOut}).");
        }
        float[] Pack(List<(int Series, int End)> windows, out float[] targets)
        {
            var inputs = new float[windows.Count * w * f];
            targets = new float[windows.Count * h];
            for (int i = 0; i < windows.Count; i++)
            {
                var (s, end) = windows[i];
                var logs = prepared[s].Logs;
                var basePath = BasePath(logs, end);
                WindowInput(logs, end, categories?[s] ?? 0, inputs.AsSpan(i * w * f, w * f), basePath);
                for (int k = 0; k < h; k++) targets[i * h + k] = (float)(logs[end + 1 + k] - Anchor(logs,
                    end) - basePath[k]);
            }
            return inputs;
        }
        var trainInputs = Pack(train, out var trainTargets);
        var heldInputs = Pack(held, out var heldTargets);
        var task = new Task(this, trainInputs, trainTargets, train.Count, heldInputs, heldTargets, held.Count);
        return BestEpoch.Train(task, () => task.Best, network, Options.LearningRate, Options.Epochs, Options.Seed,
            trainerOptions, observer, cancellation);
    }

    /// <summary>Forecasts the next <see cref="GlobalForecasterOptions.Horizon"/> values of each series.</summary>
    public double[][] Forecast(IReadOnlyList<double[]> histories, IReadOnlyList<int>? categories = null) =>
        Predict(histories, categories).Points;

    /// <summary>
    /// Point forecasts and prediction intervals of each series (needs <see
    /// cref="GlobalForecasterOptions.IntervalCoverage"/>); quantiles that cross are put back in order.
    /// </summary>
    public (double[][] Points, ForecastInterval[] Intervals) ForecastWithIntervals(IReadOnlyList<double[]> histories,
        IReadOnlyList<int>? categories = null)
    {
        if (Heads == 1)
            throw new InvalidOperationException(
                "GlobalForecaster: trained without IntervalCoverage, it has no intervals.");
        var (points, lower, upper) = Predict(histories, categories);
        return (points, QuantileHeads.Intervals(points, lower!, upper!, Options.IntervalCoverage));
    }

    (double[][] Points, double[][]? Lower, double[][]? Upper) Predict(IReadOnlyList<double[]> histories,
        IReadOnlyList<int>? categories)
    {
        CheckCategories(categories, histories.Count);
        int h = Options.Horizon, w = Options.Window, f = Features, outputs = h * Heads;
        var prepared = histories.Select((history, s) => Prepare(history, s)).ToArray();
        var basePaths = prepared.Select(p => BasePath(p.Logs, p.Logs.Length - 1)).ToArray();
        var inputs = new float[histories.Count * w * f];
        for (int s = 0; s < histories.Count; s++)
            WindowInput(prepared[s].Logs, prepared[s].Logs.Length - 1, categories?[s] ?? 0,
                inputs.AsSpan(s * w * f, w * f), basePaths[s]);
        network.Eval();
        float[] output;
        using (GradMode.NoGrad()) output = network.Forward(Input(inputs, histories.Count)).ToArray();
        // head j of series s, step k: back from a log ratio to the level (and Theta's path) to original units
        var heads = new double[Heads][][];
        for (int j = 0; j < Heads; j++) heads[j] = new double[histories.Count][];
        for (int s = 0; s < histories.Count; s++)
        {
            var (logs, indices) = (prepared[s].Logs, prepared[s].Indices);
            int n = logs.Length;
            var basePath = basePaths[s];
            double anchor = Anchor(logs, n - 1);
            for (int j = 0; j < Heads; j++)
            {
                heads[j][s] = new double[h];
                for (int k = 0; k < h; k++)
                {
                    double value = Math.Exp(anchor + basePath[k] + output[s * outputs + j * h + k]);
                    heads[j][s][k] = indices.Length > 0 ? value * indices[(n + k) % indices.Length] : value;
                }
            }
        }
        return (heads[0], Heads > 1 ? heads[1] : null, Heads > 1 ? heads[2] : null);
    }

    void CheckCategories(IReadOnlyList<int>? categories, int count) =>
        SeriesCategories.Check("GlobalForecaster", categories, count, Options.Categories);

    /// <summary>Windows [B, Window·F] as time-major [Window, B, F].</summary>
    Tensor Input(float[] windows, int batch)
    {
        int w = Options.Window, f = Features;
        var x = new float[windows.Length];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < w; t++) Array.Copy(windows, (b * w + t) * f, x, (t * batch + b) * f, f);
        return Tensor.FromArray(x, w, batch, f);
    }

    /// <summary>Trains on the packed windows, scoring the held-out ones after each epoch and keeping the best
    /// weights.</summary>
    sealed class Task(GlobalForecaster owner, float[] inputs, float[] targets, int count, float[] heldInputs,
        float[] heldTargets, int heldCount) : ITrainingTask<int[]>
    {
        readonly BestEpoch best = new(owner.network);

        public Dictionary<string, Tensor>? Best => best.Weights;
        public Module Model => owner.network;
        public JsonObject Config => owner.Config;
        public int BatchesPerEpoch => (count + owner.Options.Batch - 1) / owner.Options.Batch;
        public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) =>
            Batching.Shuffled(count, owner.Options.Batch, shuffle);
        public int Count(int[] batch) => batch.Length;
        public Tensor Loss(int[] batch, TrainingContext context) => BatchLoss(inputs, targets, batch);

        public IReadOnlyDictionary<string, double>? Evaluate() => heldCount == 0 ? null
            : best.Score(() => BatchLoss(heldInputs, heldTargets, Enumerable.Range(0, heldCount).ToArray()).Item());

        readonly float[] quantiles = owner.ColumnQuantiles();

        Tensor BatchLoss(float[] x, float[] y, int[] batch)
        {
            int w = owner.Options.Window * owner.Features, h = owner.Options.Horizon, outputs = h * owner.Heads;
            var bx = new float[batch.Length * w];
            var by = new float[batch.Length * outputs];
            for (int i = 0; i < batch.Length; i++)
            {
                x.AsSpan(batch[i] * w, w).CopyTo(bx.AsSpan(i * w));
                // every head is scored against the same targets, each at its own quantile
                for (int j = 0; j < owner.Heads; j++) y.AsSpan(batch[i] * h, h).CopyTo(by.AsSpan(i * outputs + j * h));
            }
            var prediction = owner.network.Forward(owner.Input(bx, batch.Length));
            return Losses.Pinball(prediction, Tensor.FromArray(by, batch.Length, outputs), quantiles);
        }
    }
}
