using System.Text.Json.Nodes;
using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Serialization;
using Recur.Training;

namespace Recur.Forecasting;

/// <summary>Settings of an <see cref="EsRnnForecaster"/>.</summary>
/// <param name="Horizon">Values forecast at once (the multi-output head).</param>
/// <param name="Window">Past values the network reads (deseasonalised, over the level); windows reaching before a
/// series' start are padded and flagged.</param>
/// <param name="SeasonLength">Season length of the Holt–Winters part (1: level only).</param>
/// <param name="Cell">The recurrent cell.</param>
/// <param name="HiddenSize">Hidden units per layer.</param>
/// <param name="NumLayers">Stacked recurrent layers.</param>
/// <param name="Epochs">Passes over all series.</param>
/// <param name="LearningRate">Adam's step size (the per-series smoothing parameters move
/// <see cref="EsRnnForecaster.PerSeriesGain"/> times faster: each is updated once an epoch).</param>
/// <param name="Batch">Series per mini-batch (each with all its windows, as in Smyl's method).</param>
/// <param name="Seed">Seed of initialisation and shuffling.</param>
/// <param name="Quantile">The quantile the pinball loss trains the point forecast for (½: the median).</param>
/// <param name="LevelPenalty">Weight of Smyl's penalty on the wiggliness of the level: the mean squared change of the
/// log level's step (0: none).</param>
/// <param name="Categories">Number of series categories, fed as a one-hot input at every step (0: none).</param>
/// <param name="IntervalCoverage">When positive (e.g. 0.95), the head also forecasts the (1 ± coverage)/2 quantiles,
/// trained with their own pinball losses, for prediction intervals; 0: point forecasts only.</param>
/// <param name="Specialists">Networks in Smyl's ensemble of specialists (1: one network). Each series trains and is
/// forecast by <paramref name="SpecialistsPerSeries"/> of them, at first chosen at random, after every epoch the ones
/// whose forecasts of its training windows are best.</param>
/// <param name="SpecialistsPerSeries">Networks each series belongs to in the ensemble of specialists.</param>
public sealed record EsRnnOptions(int Horizon = 8, int Window = 8, int SeasonLength = 4,
    CellKind Cell = CellKind.Lstm, int HiddenSize = 40, int NumLayers = 1, int Epochs = 30,
    float LearningRate = 5e-4f, int Batch = 32, ulong Seed = 1, float Quantile = 0.5f, float LevelPenalty = 5f,
    int Categories = 0, double IntervalCoverage = 0, int Specialists = 1, int SpecialistsPerSeries = 2)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Horizon < 1 || Window < 1 || SeasonLength < 1 || HiddenSize < 1 || NumLayers < 1 || Epochs < 1
            || Batch < 1 || !(LearningRate > 0) || Categories < 0)
            throw new ArgumentException("ES-RNN: horizon, window, season length, hidden units, layers, epochs, batch "
                + $"and learning rate must be positive ({this}).");
        if (!(Quantile > 0 && Quantile < 1))
            throw new ArgumentException($"ES-RNN: quantile {Quantile} is not in (0, 1).");
        if (!(LevelPenalty >= 0 && float.IsFinite(LevelPenalty)))
            throw new ArgumentException($"ES-RNN: level penalty {LevelPenalty} is negative or not finite.");
        if (!(IntervalCoverage >= 0 && IntervalCoverage < 1))
            throw new ArgumentException($"ES-RNN: interval coverage {IntervalCoverage} is not in [0, 1).");
        if (Specialists < 1 || Specialists > 1 && (SpecialistsPerSeries < 1 || SpecialistsPerSeries > Specialists))
            throw new ArgumentException($"ES-RNN: {Specialists} specialists with {SpecialistsPerSeries} per series; "
                + "it needs at least one network and 1 to that many per series.");
    }
}

/// <summary>
/// The hybrid of exponential smoothing and a recurrent network that won the M4 competition (Smyl 2020, "A hybrid
/// method of exponential smoothing and recurrent neural networks for time series forecasting"). Each series has its
/// own multiplicative Holt–Winters level and seasonality — a level smoothing α, a seasonality smoothing γ and the
/// first season's indices, all parameters of the model —
/// ℓ_t = α·y_t / s_t + (1 − α)·ℓ_{t−1}, s_{t+m} = γ·y_t / ℓ_t + (1 − γ)·s_t;
/// one network shared by all series reads a window of log(y / (ℓ_t·s)) — deseasonalised and over the window's last
/// level — and forecasts the next <see cref="EsRnnOptions.Horizon"/> values on the same scale, de-normalised with the
/// last level and the next season's indices. The smoothing parameters and the network are trained together, by
/// gradient through the recursions, on the pinball loss (plus, optionally, Smyl's level-wiggliness penalty); a
/// mini-batch is a set of series with all their windows. The per-series parameters belong to the series trained on:
/// <see cref="Forecast"/> takes the same series (in the same order), extended or not.
/// </summary>
public sealed class EsRnnForecaster : IPanelForecaster
{
    Module? network; // the one network, or the pool of specialists with their assignment
    EsRnnNetwork[] members = [];
    Tensor? assignment; // specialists: [S, K], 1 where series s belongs to network k

    /// <summary>The settings it was built with.</summary>
    public EsRnnOptions Options { get; }

    /// <summary>
    /// The network: per-series <c>es.level_smoothing</c> [S], <c>es.season_smoothing</c> [S] (logits of α and γ,
    /// divided by <see cref="PerSeriesGain"/>), <c>es.initial_seasons</c> [S, m] (log indices, likewise) and the
    /// shared <c>model.rnn.*</c>, <c>model.head.*</c>; with <see cref="EsRnnOptions.Specialists"/> K &gt; 1, K such
    /// networks <c>members.{k}.*</c> and the buffer <c>assignment</c> [S, K] (1 where a series belongs to a network).
    /// It is made by <see cref="Fit"/>, which knows the series.
    /// </summary>
    /// <exception cref="InvalidOperationException">Before <see cref="Fit"/>.</exception>
    public Module Network => network ?? throw NotFitted();

    /// <summary>Series the per-series parameters were made for (0 before <see cref="Fit"/>).</summary>
    public int SeriesCount => members.Length > 0 ? members[0].Series : 0;

    /// <summary>
    /// The networks of Smyl's ensemble of specialists that series <paramref name="series"/> belongs to (trains and is
    /// forecast by), after training; [0] with one network.
    /// </summary>
    public int[] SpecialistsOf(int series)
    {
        if ((uint)series >= (uint)SeriesCount)
            throw new ArgumentOutOfRangeException(nameof(series), $"ES-RNN: series {series} of {SeriesCount}.");
        if (assignment is null) return [0];
        var row = assignment.Span.Slice(series * members.Length, members.Length);
        var own = new List<int>();
        for (int k = 0; k < row.Length; k++)
            if (row[k] > 0) own.Add(k);
        return [.. own];
    }

    /// <summary>
    /// For each of <paramref name="networks"/> networks, the positions p (ascending) whose <c>own[p]</c> — the
    /// networks of one series, from <see cref="SpecialistsOf"/> — include it: the series each network trains on or
    /// forecasts.
    /// </summary>
    static int[][] PositionsByNetwork(int[][] own, int networks)
    {
        var positions = new List<int>[networks];
        for (int m = 0; m < networks; m++) positions[m] = [];
        for (int p = 0; p < own.Length; p++)
            foreach (int m in own[p]) positions[m].Add(p);
        return [.. positions.Select(list => list.ToArray())];
    }

    /// <summary>
    /// The per-series parameters are stored divided by this, so that Adam — whose steps are about the learning rate
    /// in the stored units — moves them this many times faster than the network's weights: a series' parameters get
    /// one update an epoch, the network's one a mini-batch.
    /// </summary>
    public const float PerSeriesGain = 30;

    /// <summary>Log ratios of a few percent are multiplied by this before they enter the network.</summary>
    const float InputGain = 10;

    /// <summary>Inputs per step: the normalised value, an observed (not padded) flag, the category one-hot.</summary>
    int Features => 2 + Options.Categories;

    int Heads => QuantileHeads.Count(Options.IntervalCoverage);

    /// <summary>Fewest observed values a training window holds.</summary>
    int MinimumObserved => Math.Min(Options.Window, Math.Max(3, Options.SeasonLength));

    static InvalidOperationException NotFitted() => new(
        "ES-RNN: the model has per-series parameters and is made by Fit; call Fit first.");

    /// <summary>Makes the network (or the pool of specialists) for <paramref name="count"/> series.</summary>
    void Build(int count, IReadOnlyList<double[]>? series)
    {
        if (Options.Specialists == 1)
        {
            members = [new EsRnnNetwork(this, count, series, Options.Seed)];
            (network, assignment) = (members[0], null);
            return;
        }
        var pool = new SpecialistPool(this, count, series);
        (network, members, assignment) = (pool, pool.Members, pool.Assignment);
    }

    /// <summary>Builds an untrained forecaster (its network is made by <see cref="Fit"/>).</summary>
    public EsRnnForecaster(EsRnnOptions options)
    {
        options.Validate();
        Options = options;
    }

    /// <summary>The configuration saved with checkpoints: the options and the number of series.</summary>
    public JsonObject Config
    {
        get
        {
            var config = ConfigJson.Write(Options, ForecastingJson.Default.EsRnnOptions, "es_rnn");
            config["series"] = SeriesCount;
            return config;
        }
    }

    /// <summary>
    /// Rebuilds a forecaster from <see cref="Config"/> with its per-series parameters made (at their starting values)
    /// for the number of series it records, ready for the weights of a checkpoint (<see cref="Checkpoint.LoadModel"/>
    /// into <see cref="Network"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">Not an ES-RNN configuration, or a field missing or invalid
    /// (named).</exception>
    public static EsRnnForecaster FromConfig(JsonObject config)
    {
        var options = ConfigJson.Read(config, ForecastingJson.Default.EsRnnOptions, "es_rnn", o => o.Validate());
        int series = config["series"] is JsonValue value && value.TryGetValue(out int count) ? count : 0;
        if (series < 1)
            throw new InvalidDataException("series: an ES-RNN configuration records the number of series (≥ 1) its "
                + "per-series parameters were made for.");
        var forecaster = new EsRnnForecaster(options);
        forecaster.Build(series, null);
        return forecaster;
    }

    sealed class EsRnnNetwork : Module
    {
        public int Series { get; }
        public Tensor LevelSmoothing { get; }
        public Tensor SeasonSmoothing { get; }
        public Tensor InitialSeasons { get; }
        public SequenceModel Model { get; }

        /// <summary>Per-series parameters for <paramref name="count"/> series, the first season's indices started
        /// from <paramref name="series"/> when given; the network's weights drawn from <paramref name="seed"/>.
        /// </summary>
        public EsRnnNetwork(EsRnnForecaster owner, int count, IReadOnlyList<double[]>? series, ulong seed)
        {
            var o = owner.Options;
            Series = count;
            int m = o.SeasonLength;
            // α = γ = ½ to start; the first season's indices from the classical decomposition where the series
            // passes the seasonality test, 1 elsewhere
            var seasons = new float[Series * m];
            for (int s = 0; s < Series && series != null; s++)
            {
                var y = series[s];
                if (m < 2 || !ClassicalDecomposition.IsSeasonal(y, m)) continue;
                var indices = ClassicalDecomposition.Indices(y, m, multiplicative: true);
                for (int j = 0; j < m; j++) seasons[s * m + j] = (float)(Math.Log(indices[j]) / PerSeriesGain);
            }
            LevelSmoothing = Tensor.Zeros(Series);
            SeasonSmoothing = Tensor.Zeros(Series);
            InitialSeasons = Tensor.FromArray(seasons, Series, m);
            RegisterModule("es", new EsParameters(LevelSmoothing, SeasonSmoothing, InitialSeasons));
            Model = RegisterModule("model", new SequenceModel(new SequenceModelConfig(o.Cell, owner.Features,
                o.HiddenSize, o.Horizon * owner.Heads, NumLayers: o.NumLayers), new RandomGenerator(seed)));
        }
    }

    /// <summary>Smyl's ensemble of specialists: K networks (seeds s … s + K − 1) and which series belongs to which.
    /// </summary>
    sealed class SpecialistPool : Module
    {
        public EsRnnNetwork[] Members { get; }
        public Tensor Assignment { get; }

        public SpecialistPool(EsRnnForecaster owner, int count, IReadOnlyList<double[]>? series)
        {
            var o = owner.Options;
            Members = new EsRnnNetwork[o.Specialists];
            for (int k = 0; k < Members.Length; k++)
                Members[k] = RegisterModule($"members.{k}", new EsRnnNetwork(owner, count, series, o.Seed + (ulong)k));
            // to start, each series belongs to networks drawn at random
            var random = new RandomGenerator(o.Seed ^ 0x5EC1A1157UL);
            var start = new float[count * o.Specialists];
            var order = new int[o.Specialists];
            for (int s = 0; s < count; s++)
            {
                for (int k = 0; k < order.Length; k++) order[k] = k;
                random.Shuffle(order.AsSpan());
                for (int j = 0; j < o.SpecialistsPerSeries; j++) start[s * o.Specialists + order[j]] = 1;
            }
            Assignment = RegisterBuffer("assignment", Tensor.FromArray(start, count, o.Specialists));
        }
    }

    sealed class EsParameters : Module
    {
        public EsParameters(Tensor level, Tensor season, Tensor initial)
        {
            RegisterParameter("level_smoothing", level);
            RegisterParameter("season_smoothing", season);
            RegisterParameter("initial_seasons", initial);
        }
    }

    /// <summary>
    /// The Holt–Winters recursions of the series <paramref name="ids"/> (aligned at their start; a shorter series
    /// carries its last value on, which no window reads): log levels [T, B] and log seasonal indices [T + m, B].
    /// </summary>
    (Tensor LogLevels, Tensor LogSeasons) Smooth(EsRnnNetwork net, IReadOnlyList<double[]> series, int[] ids)
    {
        int b = ids.Length, m = Options.SeasonLength, steps = ids.Max(s => series[s].Length);
        var alpha = (net.LevelSmoothing.IndexSelect(0, ids) * PerSeriesGain).Sigmoid();
        var keepLevel = 1f - alpha;
        var gamma = (net.SeasonSmoothing.IndexSelect(0, ids) * PerSeriesGain).Sigmoid();
        var keepSeason = 1f - gamma;
        var initial = (net.InitialSeasons.IndexSelect(0, ids) * PerSeriesGain).Exp();
        var seasons = new List<Tensor>(steps + m);
        for (int j = 0; j < m; j++) seasons.Add(initial.Select(1, j));
        var levels = new List<Tensor>(steps);
        var y = new float[b];
        Tensor? level = null;
        for (int t = 0; t < steps; t++)
        {
            for (int i = 0; i < b; i++)
            {
                var values = series[ids[i]];
                y[i] = (float)values[Math.Min(t, values.Length - 1)];
            }
            var value = Tensor.FromArray(y, b);
            var deseasonalised = value / seasons[t];
            level = level is null ? deseasonalised : alpha * deseasonalised + keepLevel * level;
            levels.Add(level);
            seasons.Add(m < 2 ? seasons[t] : gamma * (value / level) + keepSeason * seasons[t]);
        }
        return (Tensor.Stack(levels).Log(), Tensor.Stack(seasons).Log());
    }

    /// <summary>The windows of a batch of series: (position in the batch, last index read).</summary>
    readonly record struct Window(int Position, int End);

    /// <summary>
    /// The network's inputs [Window, N, F] for <paramref name="windows"/>, and the log of the level and seasonal
    /// indices that turn its outputs back into values: [N, H] each, the next season's indices repeated.
    /// </summary>
    (Tensor Input, Tensor Scale) Inputs(Tensor logLevels, Tensor logSeasons, Tensor logValues, Window[] windows,
        int batch, int[] ids, IReadOnlyList<int>? categories)
    {
        int w = Options.Window, n = windows.Length, m = Options.SeasonLength, h = Options.Horizon;
        var at = new int[n * w];
        var levelAt = new int[n * w];
        var mask = new float[n * w];
        var scaleLevel = new int[n * h];
        var scaleSeason = new int[n * h];
        for (int i = 0; i < n; i++)
        {
            var (p, end) = windows[i];
            for (int k = 0; k < w; k++)
            {
                int t = end - w + 1 + k;
                at[i * w + k] = Math.Max(t, 0) * batch + p;
                levelAt[i * w + k] = end * batch + p;
                mask[i * w + k] = t >= 0 ? 1 : 0;
            }
            for (int j = 0; j < h; j++)
            {
                scaleLevel[i * h + j] = end * batch + p;
                scaleSeason[i * h + j] = (end + 1 + j % m) * batch + p;
            }
        }
        int steps = logLevels.Size(0), all = steps * batch;
        var deseasonalised = logValues - logSeasons.Slice(0, 0, steps);
        var observed = Tensor.FromArray(mask, n, w);
        var ratio = (deseasonalised.Reshape(all).IndexSelect(0, at) - logLevels.Reshape(all).IndexSelect(0, levelAt))
            .Reshape(n, w) * observed * InputGain;
        var parts = new List<Tensor> { ratio.Reshape(n, w, 1), observed.Reshape(n, w, 1) };
        if (Options.Categories > 0)
        {
            var oneHot = new float[n * w * Options.Categories];
            for (int i = 0; i < n; i++)
                for (int k = 0; k < w; k++)
                    oneHot[(i * w + k) * Options.Categories + categories![ids[windows[i].Position]]] = 1;
            parts.Add(Tensor.FromArray(oneHot, n, w, Options.Categories));
        }
        var input = Tensor.Concat(parts, 2).Transpose(0, 1);
        var scale = logLevels.Reshape(all).IndexSelect(0, scaleLevel)
            + logSeasons.Reshape((steps + m) * batch).IndexSelect(0, scaleSeason);
        return (input, scale.Reshape(n, h));
    }

    /// <summary>Logs of the series' values [T, B], each carried on past its end.</summary>
    static Tensor LogValues(IReadOnlyList<double[]> series, int[] ids)
    {
        int b = ids.Length, steps = ids.Max(s => series[s].Length);
        var logs = new float[steps * b];
        for (int t = 0; t < steps; t++)
            for (int i = 0; i < b; i++)
            {
                var values = series[ids[i]];
                logs[t * b + i] = (float)Math.Log(values[Math.Min(t, values.Length - 1)]);
            }
        return Tensor.FromArray(logs, steps, b);
    }

    /// <summary>The quantile of each output column: [point ×H, lower ×H, upper ×H].</summary>
    float[] ColumnQuantiles() => QuantileHeads.Columns(Options.Horizon, Options.Quantile, Options.IntervalCoverage);

    /// <summary>
    /// The loss of the windows of series <paramref name="ids"/> whose last read index runs from the first full enough
    /// one to <paramref name="lastEnd"/>(series) (or only that one, with <paramref name="lastOnly"/>): the pinball
    /// loss of the log values over the level and seasonality, plus (training) the level penalty over the values read.
    /// </summary>
    Tensor BatchLoss(EsRnnNetwork net, IReadOnlyList<double[]> series, IReadOnlyList<int>? categories, int[] ids,
        Func<int, int> lastEnd, bool lastOnly)
    {
        var (prediction, targets, _, logLevels, _) = Predictions(net, series, categories, ids, lastEnd, lastOnly);
        var loss = Losses.Pinball(prediction, targets, ColumnQuantiles());
        if (lastOnly || Options.LevelPenalty == 0 || logLevels.Size(0) < 3) return loss;
        // Smyl's penalty: the squared change of the log level's step, over the values each series' windows read
        int steps = logLevels.Size(0);
        var step = logLevels.Slice(0, 1, steps - 1) - logLevels.Slice(0, 0, steps - 1);
        var change = step.Slice(0, 1, steps - 2) - step.Slice(0, 0, steps - 2);
        var inside = new float[(steps - 2) * ids.Length];
        for (int p = 0; p < ids.Length; p++)
            for (int t = 0; t + 2 <= lastEnd(ids[p]); t++) inside[t * ids.Length + p] = 1;
        float count = Math.Max(1, inside.Sum());
        var penalty = (change * change * Tensor.FromArray(inside, steps - 2, ids.Length)).Sum() * (1 / count);
        return loss + penalty * Options.LevelPenalty;
    }

    /// <summary>
    /// The network's outputs [N, H·heads] for the windows of series <paramref name="ids"/> (as in
    /// <see cref="BatchLoss"/>), what they are trained to (log values over the level and seasonality, once per head),
    /// the windows, the log levels and the log scale [N, H] that turns the outputs back into log values.
    /// </summary>
    (Tensor Prediction, Tensor Targets, List<Window> Windows, Tensor LogLevels, Tensor Scale) Predictions(
        EsRnnNetwork net, IReadOnlyList<double[]> series, IReadOnlyList<int>? categories, int[] ids,
        Func<int, int> lastEnd, bool lastOnly)
    {
        int h = Options.Horizon;
        var windows = new List<Window>();
        for (int p = 0; p < ids.Length; p++)
        {
            int last = lastEnd(ids[p]);
            for (int end = lastOnly ? last : MinimumObserved - 1; end <= last; end++) windows.Add(new Window(p, end));
        }
        var (logLevels, logSeasons) = Smooth(net, series, ids);
        var logValues = LogValues(series, ids);
        var (input, scale) = Inputs(logLevels, logSeasons, logValues, [.. windows], ids.Length, ids, categories);
        var target = new int[windows.Count * h];
        for (int i = 0; i < windows.Count; i++)
            for (int j = 0; j < h; j++) target[i * h + j] = (windows[i].End + 1 + j) * ids.Length + windows[i].Position;
        var normalised = logValues.Reshape(logValues.Length).IndexSelect(0, target).Reshape(windows.Count, h) - scale;
        var prediction = net.Model.Forward(input);
        var targets = Heads == 1 ? normalised : Tensor.Concat([normalised, normalised, normalised], 1);
        return (prediction, targets, windows, logLevels, scale);
    }

    /// <summary>Pinball loss of one output against its target at quantile <paramref name="q"/>.</summary>
    static double Pinball(double target, double output, double q) =>
        target >= output ? q * (target - output) : (1 - q) * (output - target);

    /// <summary>
    /// Each series' mean pinball loss over all its training windows (those ending by <paramref name="lastEnd"/>)
    /// under network <paramref name="net"/>, without gradients: how the specialists are ranked for a series.
    /// </summary>
    double[] SeriesLosses(EsRnnNetwork net, IReadOnlyList<double[]> series, IReadOnlyList<int>? categories,
        int[] ids, Func<int, int> lastEnd)
    {
        var (prediction, targets, windows, _, _) = Predictions(net, series, categories, ids, lastEnd, false);
        float[] output = prediction.ToArray(), target = targets.ToArray();
        var quantiles = ColumnQuantiles();
        int columns = quantiles.Length;
        var sums = new double[ids.Length];
        var counts = new int[ids.Length];
        for (int i = 0; i < windows.Count; i++)
        {
            int p = windows[i].Position;
            for (int j = 0; j < columns; j++)
                sums[p] += Pinball(target[i * columns + j], output[i * columns + j], quantiles[j]);
            counts[p] += columns;
        }
        for (int p = 0; p < ids.Length; p++) sums[p] /= Math.Max(1, counts[p]);
        return sums;
    }

    /// <summary>Each series' ranking loss under network <paramref name="member"/>, on its training windows as
    /// <see cref="Fit"/> with <paramref name="validate"/> saw them.</summary>
    internal double[] TrainingLosses(int member, IReadOnlyList<double[]> series, IReadOnlyList<int>? categories,
        bool validate)
    {
        int h = Options.Horizon;
        network!.Eval();
        try
        {
            using (GradMode.NoGrad())
                return SeriesLosses(members[member], series, categories, [.. Enumerable.Range(0, series.Count)],
                    s => series[s].Length - 1 - h - (validate ? h : 0));
        }
        finally
        {
            network.Train();
        }
    }

    /// <summary>
    /// Puts every series of <paramref name="ids"/> into the <see cref="EsRnnOptions.SpecialistsPerSeries"/> networks
    /// whose forecasts of its training windows are best (ties to the lower index), in evaluation mode.
    /// </summary>
    void Reassign(IReadOnlyList<double[]> series, IReadOnlyList<int>? categories, int[] ids, Func<int, int> lastEnd)
    {
        int k = members.Length;
        var losses = new double[k][];
        network!.Eval();
        using (GradMode.NoGrad())
            for (int m = 0; m < k; m++)
            {
                losses[m] = new double[ids.Length];
                for (int start = 0; start < ids.Length; start += 256)
                {
                    var chunk = ids.AsSpan(start, Math.Min(256, ids.Length - start)).ToArray();
                    SeriesLosses(members[m], series, categories, chunk, lastEnd).CopyTo(losses[m], start);
                }
            }
        network.Train();
        var rows = assignment!.Span;
        for (int i = 0; i < ids.Length; i++)
        {
            var row = rows.Slice(ids[i] * k, k);
            row.Clear();
            foreach (int m in Enumerable.Range(0, k).OrderBy(m => losses[m][i]).ThenBy(m => m)
                .Take(Options.SpecialistsPerSeries))
                row[m] = 1;
        }
    }

    void Check(IReadOnlyList<double[]> series, IReadOnlyList<int>? categories)
    {
        SeriesCategories.Check("ES-RNN", categories, series.Count, Options.Categories);
        for (int s = 0; s < series.Count; s++)
        {
            if (series[s].Length == 0) throw new ArgumentException($"ES-RNN: series {s} is empty.");
            for (int t = 0; t < series[s].Length; t++)
                if (!(series[s][t] > 0) || !double.IsFinite(series[s][t]))
                    throw new ArgumentException($"ES-RNN: series {s} has value {series[s][t]} at position {t}; the "
                        + "multiplicative Holt–Winters part needs positive values.");
        }
    }

    /// <summary>
    /// Makes the per-series parameters for these series and trains them with the network. With
    /// <paramref name="validate"/>, the last <see cref="EsRnnOptions.Horizon"/> values of every series are held
    /// out: each epoch is scored by the pinball loss of their forecasts and the weights of the best epoch are kept.
    /// </summary>
    public TrainingResult Fit(IReadOnlyList<double[]> series, IReadOnlyList<int>? categories = null,
        bool validate = true, TrainerOptions? trainerOptions = null, ITrainingObserver? observer = null,
        CancellationToken cancellation = default)
    {
        if (series.Count == 0) throw new ArgumentException("ES-RNN: no series to train on.");
        Check(series, categories);
        int h = Options.Horizon;
        int LastTrainingEnd(int s) => series[s].Length - 1 - h - (validate ? h : 0);
        var trainable = Enumerable.Range(0, series.Count).Where(s => LastTrainingEnd(s) >= MinimumObserved - 1)
            .ToArray();
        var held = validate
            ? Enumerable.Range(0, series.Count).Where(s => series[s].Length - 1 - h >= MinimumObserved - 1).ToArray()
            : [];
        if (trainable.Length == 0)
            throw new ArgumentException("ES-RNN: no series is long enough for a training window "
                + $"({MinimumObserved} values, a horizon of {h}{(validate ? " and as many held out" : "")}).");
        Build(series.Count, series);
        if (members.Length == 1)
        {
            var task = new Task(this, members[0], series, categories, trainable, held, LastTrainingEnd);
            return BestEpoch.Train(task, () => task.Best, network!, Options.LearningRate, Options.Epochs,
                Options.Seed, trainerOptions, observer, cancellation);
        }
        var pooled = new PoolTask(this, series, categories, trainable, held, LastTrainingEnd);
        var result = BestEpoch.Train(pooled, () => pooled.Best, network!, Options.LearningRate, Options.Epochs,
            Options.Seed, trainerOptions, observer, cancellation);
        // the assignment the forecasts use: from the kept epoch's networks, or (nothing held out) the last ones
        if (pooled.Best is null) Reassign(series, categories, trainable, LastTrainingEnd);
        return result;
    }

    /// <summary>The smoothing parameters learned for series <paramref name="series"/>: α, γ and the first season's
    /// indices (with specialists, those of the first network it belongs to).</summary>
    public (double Alpha, double Gamma, double[] InitialSeasons) Smoothing(int series)
    {
        if (network is null) throw NotFitted();
        var net = members[SpecialistsOf(series)[0]];
        int m = Options.SeasonLength;
        static double Logistic(double x) => 1 / (1 + Math.Exp(-x));
        return (Logistic(net.LevelSmoothing.Span[series] * PerSeriesGain),
            Logistic(net.SeasonSmoothing.Span[series] * PerSeriesGain),
            net.InitialSeasons.Span.Slice(series * m, m).ToArray().Select(v => Math.Exp(v * PerSeriesGain)).ToArray());
    }

    /// <summary>Forecasts the next <see cref="EsRnnOptions.Horizon"/> values of each series trained on.</summary>
    /// <param name="histories">The series given to <see cref="Fit"/>, in the same order, up to where the forecast
    /// starts (the training part, or more of each).</param>
    /// <param name="categories">Their categories, as given to <see cref="Fit"/>.</param>
    public double[][] Forecast(IReadOnlyList<double[]> histories, IReadOnlyList<int>? categories = null) =>
        Predict(histories, categories).Points;

    /// <summary>Point forecasts and prediction intervals (needs <see cref="EsRnnOptions.IntervalCoverage"/>);
    /// quantiles that cross are put back in order.</summary>
    public (double[][] Points, ForecastInterval[] Intervals) ForecastWithIntervals(IReadOnlyList<double[]> histories,
        IReadOnlyList<int>? categories = null)
    {
        if (Heads == 1)
            throw new InvalidOperationException("ES-RNN: trained without IntervalCoverage, it has no intervals.");
        var (points, lower, upper) = Predict(histories, categories);
        return (points, QuantileHeads.Intervals(points, lower!, upper!, Options.IntervalCoverage));
    }

    (double[][] Points, double[][]? Lower, double[][]? Upper) Predict(IReadOnlyList<double[]> histories,
        IReadOnlyList<int>? categories)
    {
        if (network is null) throw NotFitted();
        if (histories.Count != SeriesCount)
            throw new ArgumentException($"ES-RNN: {histories.Count} series to forecast, but the model was fitted to "
                + $"{SeriesCount}: its smoothing parameters are per series, so it forecasts the series it was fitted "
                + "to, in the same order.");
        Check(histories, categories);
        var all = Enumerable.Range(0, histories.Count).ToArray();
        if (members.Length == 1) return PredictWith(members[0], histories, categories, all);
        // specialists: each series' forecast is the mean of its own networks' forecasts, head by head (a network
        // forecasts only the series that belong to it)
        var own = all.Select(SpecialistsOf).ToArray();
        var byNetwork = PositionsByNetwork(own, members.Length); // positions in `all` are the series' numbers
        var sums = new double[Heads][][];
        for (int j = 0; j < Heads; j++) sums[j] = all.Select(_ => new double[Options.Horizon]).ToArray();
        for (int m = 0; m < members.Length; m++)
        {
            var ids = byNetwork[m];
            if (ids.Length == 0) continue;
            var (points, lower, upper) = PredictWith(members[m], histories, categories, ids);
            double[][]?[] heads = [points, lower, upper];
            for (int j = 0; j < Heads; j++)
                foreach (int s in ids)
                    for (int i = 0; i < Options.Horizon; i++) sums[j][s][i] += heads[j]![s][i] / own[s].Length;
        }
        return (sums[0], Heads > 1 ? sums[1] : null, Heads > 1 ? sums[2] : null);
    }

    /// <summary>The forecasts of <paramref name="net"/> for the series numbered in <paramref name="series"/> (the
    /// other rows null).</summary>
    (double[][] Points, double[][]? Lower, double[][]? Upper) PredictWith(EsRnnNetwork net,
        IReadOnlyList<double[]> histories, IReadOnlyList<int>? categories, int[] series)
    {
        int h = Options.Horizon, outputs = h * Heads;
        var heads = new double[Heads][][];
        for (int j = 0; j < Heads; j++) heads[j] = new double[histories.Count][];
        network!.Eval();
        using (GradMode.NoGrad())
            for (int start = 0; start < series.Length; start += 256)
            {
                var ids = series.AsSpan(start, Math.Min(256, series.Length - start)).ToArray();
                var (logLevels, logSeasons) = Smooth(net, histories, ids);
                var windows = ids.Select((s, p) => new Window(p, histories[s].Length - 1)).ToArray();
                var (input, scale) = Inputs(logLevels, logSeasons, LogValues(histories, ids), windows, ids.Length,
                    ids, categories);
                float[] output = net.Model.Forward(input).ToArray(), logScale = scale.ToArray();
                for (int p = 0; p < ids.Length; p++)
                    for (int j = 0; j < Heads; j++)
                    {
                        var values = heads[j][ids[p]] = new double[h];
                        for (int k = 0; k < h; k++)
                            values[k] = Math.Exp(output[p * outputs + j * h + k] + logScale[p * h + k]);
                    }
            }
        network.Train();
        return (heads[0], Heads > 1 ? heads[1] : null, Heads > 1 ? heads[2] : null);
    }

    /// <summary>Trains on mini-batches of series, scoring the held-out horizons after each epoch and keeping the best
    /// weights.</summary>
    sealed class Task(EsRnnForecaster owner, EsRnnNetwork net, IReadOnlyList<double[]> series,
        IReadOnlyList<int>? categories, int[] trainable, int[] held, Func<int, int> lastTrainingEnd)
        : ITrainingTask<int[]>
    {
        readonly BestEpoch best = new(net);

        public Dictionary<string, Tensor>? Best => best.Weights;
        public Module Model => net;
        public JsonObject Config => owner.Config;
        public int BatchesPerEpoch => (trainable.Length + owner.Options.Batch - 1) / owner.Options.Batch;
        public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) =>
            Batching.Shuffled(trainable.Length, owner.Options.Batch, shuffle)
                .Select(batch => batch.Select(i => trainable[i]).ToArray());
        public int Count(int[] batch) => batch.Length;
        public Tensor Loss(int[] batch, TrainingContext context) =>
            owner.BatchLoss(net, series, categories, batch, lastTrainingEnd, lastOnly: false);

        public IReadOnlyDictionary<string, double>? Evaluate() => held.Length == 0 ? null : best.Score(() =>
        {
            double loss = 0;
            int h = owner.Options.Horizon;
            for (int start = 0; start < held.Length; start += 256)
            {
                var ids = held.AsSpan(start, Math.Min(256, held.Length - start)).ToArray();
                loss += owner.BatchLoss(net, series, categories, ids, s => series[s].Length - 1 - h, lastOnly: true)
                    .Item() * ids.Length;
            }
            return loss / held.Length;
        });
    }

    /// <summary>
    /// Trains Smyl's ensemble of specialists: an epoch is every network's mini-batches of the series that belong to it,
    /// in shuffled order; after each epoch every series moves to the networks that forecast its training windows
    /// best, and the held-out horizons are scored by the mean forecast of each series' networks.
    /// </summary>
    sealed class PoolTask(EsRnnForecaster owner, IReadOnlyList<double[]> series, IReadOnlyList<int>? categories,
        int[] trainable, int[] held, Func<int, int> lastTrainingEnd) : ITrainingTask<(int Member, int[] Ids)>
    {
        readonly BestEpoch best = new(owner.network!);
        bool trainedSinceAssignment;

        public Dictionary<string, Tensor>? Best => best.Weights;
        public Module Model => owner.network!;
        public JsonObject Config => owner.Config;

        int[][]? membersSeries; // the training series of each network under the current assignment

        int[] MembersSeries(int member) => (membersSeries ??= [.. PositionsByNetwork(
            [.. trainable.Select(owner.SpecialistsOf)], owner.members.Length)
            .Select(positions => positions.Select(p => trainable[p]).ToArray())])[member];

        public int BatchesPerEpoch => Enumerable.Range(0, owner.members.Length)
            .Sum(m => (MembersSeries(m).Length + owner.Options.Batch - 1) / owner.Options.Batch);

        public IEnumerable<(int Member, int[] Ids)> Batches(int epoch, RandomGenerator shuffle)
        {
            if (trainedSinceAssignment) Reassign();
            var batches = new List<(int, int[])>();
            for (int m = 0; m < owner.members.Length; m++)
            {
                var own = MembersSeries(m);
                batches.AddRange(Batching.Shuffled(own.Length, owner.Options.Batch, shuffle)
                    .Select(batch => (m, batch.Select(i => own[i]).ToArray())));
            }
            var order = batches.ToArray();
            shuffle.Shuffle(order.AsSpan());
            return order;
        }

        public int Count((int Member, int[] Ids) batch) => batch.Ids.Length;

        public Tensor Loss((int Member, int[] Ids) batch, TrainingContext context)
        {
            trainedSinceAssignment = true;
            return owner.BatchLoss(owner.members[batch.Member], series, categories, batch.Ids, lastTrainingEnd,
                lastOnly: false);
        }

        void Reassign()
        {
            owner.Reassign(series, categories, trainable, lastTrainingEnd);
            trainedSinceAssignment = false;
            membersSeries = null;
        }

        public IReadOnlyDictionary<string, double>? Evaluate()
        {
            if (held.Length == 0) return null;
            Reassign();
            return best.Score(() =>
            {
                int h = owner.Options.Horizon, k = owner.members.Length;
                var quantiles = owner.ColumnQuantiles();
                int columns = quantiles.Length;
                double loss = 0;
                var own = held.Select(owner.SpecialistsOf).ToArray();
                var byNetwork = PositionsByNetwork(own, k);
                // each series' networks' forecasts, in values, averaged; its target in logs (the same from any of
                // its networks once their scale is put back)
                var mean = new double[held.Length * columns];
                var target = new double[held.Length * columns];
                var filled = new bool[held.Length];
                for (int m = 0; m < k; m++)
                {
                    var positions = byNetwork[m];
                    for (int start = 0; start < positions.Length; start += 256)
                    {
                        var chunk = positions.AsSpan(start, Math.Min(256, positions.Length - start)).ToArray();
                        var (prediction, targets, _, _, scale) = owner.Predictions(owner.members[m], series,
                            categories, chunk.Select(p => held[p]).ToArray(), s => series[s].Length - 1 - h,
                            lastOnly: true);
                        float[] output = prediction.ToArray(), logScale = scale.ToArray();
                        float[] logTarget = targets.ToArray();
                        for (int q = 0; q < chunk.Length; q++)
                        {
                            int p = chunk[q];
                            for (int j = 0; j < columns; j++)
                            {
                                float back = logScale[q * h + j % h];
                                mean[p * columns + j] += Math.Exp(output[q * columns + j] + back) / own[p].Length;
                                if (!filled[p]) target[p * columns + j] = logTarget[q * columns + j] + back;
                            }
                            filled[p] = true;
                        }
                    }
                }
                for (int i = 0; i < mean.Length; i++)
                    loss += Pinball(target[i], Math.Log(mean[i]), quantiles[i % columns]) / columns;
                return loss / held.Length;
            });
        }
    }
}
