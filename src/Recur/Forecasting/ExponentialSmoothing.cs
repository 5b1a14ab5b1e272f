namespace Recur.Forecasting;

/// <summary>How the error enters an ETS model: it changes the likelihood (and intervals), not the point
/// forecasts.</summary>
public enum ErrorKind
{
    /// <summary>y_t = ŷ_t + ε_t.</summary>
    Additive,

    /// <summary>y_t = ŷ_t (1 + ε_t); needs positive data.</summary>
    Multiplicative,
}

/// <summary>The trend component of an ETS model.</summary>
public enum TrendKind
{
    /// <summary>No trend (simple exponential smoothing, or Holt–Winters without trend).</summary>
    None,

    /// <summary>Linear trend (Holt's method).</summary>
    Additive,

    /// <summary>Damped linear trend: the slope decays by φ each step ahead (Gardner &amp; McKenzie 1985).</summary>
    Damped,
}

/// <summary>The seasonal component of an ETS model.</summary>
public enum SeasonKind
{
    /// <summary>No seasonality.</summary>
    None,

    /// <summary>Seasonal effects added to the level (additive Holt–Winters).</summary>
    Additive,

    /// <summary>Seasonal factors multiplying the level (multiplicative Holt–Winters); needs positive data.</summary>
    Multiplicative,
}

/// <summary>
/// An exponential-smoothing model in the taxonomy of Hyndman, Koehler, Snyder &amp; Grose (2002): ETS(error, trend,
/// season). ETS(A,N,N) is simple exponential smoothing, ETS(A,A,N) Holt's linear method, ETS(A,Ad,N) the damped trend,
/// ETS(A,A,A) and ETS(·,A,M) the additive and multiplicative Holt–Winters methods.
/// </summary>
/// <param name="Error">Additive or multiplicative errors.</param>
/// <param name="Trend">None, additive or damped trend.</param>
/// <param name="Season">None, additive or multiplicative seasonality.</param>
/// <param name="SeasonLength">Values per season (4 for quarterly, 12 for monthly data); 1 when there is no
/// season.</param>
public readonly record struct EtsModel(ErrorKind Error, TrendKind Trend, SeasonKind Season, int SeasonLength = 1)
{
    /// <summary>The usual short name, e.g. <c>ETS(M,Ad,M)</c>.</summary>
    public string Name =>
        $"ETS({(Error == ErrorKind.Additive ? "A" : "M")},"
        + $"{Trend switch { TrendKind.None => "N", TrendKind.Additive => "A", _ => "Ad" }},"
        + $"{Season switch { SeasonKind.None => "N", SeasonKind.Additive => "A", _ => "M" }})";

    /// <summary>The period the recursions use: the season length with a seasonal component, else 1.</summary>
    internal int Period => Season == SeasonKind.None ? 1 : SeasonLength;

    /// <summary>Smoothing parameters and initial states estimated when fitting.</summary>
    public int FreeParameterCount =>
        1 + (Trend == TrendKind.None ? 0 : 2) + (Trend == TrendKind.Damped ? 1 : 0)
        + 1 + (Season == SeasonKind.None ? 0 : SeasonLength);

    /// <summary>Throws an <see cref="ArgumentException"/> for a season length below 2 with a seasonal
    /// component.</summary>
    public void Validate()
    {
        if (SeasonLength < 1) throw new ArgumentException($"{Name}: season length {SeasonLength} is not positive.");
        if (Season != SeasonKind.None && SeasonLength < 2)
            throw new ArgumentException(
                $"{Name}: a seasonal model needs a season length of at least 2, got {SeasonLength}.");
    }

    /// <inheritdoc/>
    public override string ToString() => Season == SeasonKind.None ? Name : $"{Name}, m = {SeasonLength}";
}

/// <summary>
/// The parameters of an ETS model, in the error-correction form that statsmodels' <c>ExponentialSmoothing</c> also
/// uses: with <c>lb = l + φb</c> and <c>s</c> the seasonal term from one season earlier, <c>l' = α(y − s) + (1 −
/// α)·lb</c> (or <c>α·y/s</c>), <c>b' = β(l' − l) + (1 − β)φb</c>, <c>s' = γ(y − lb) + (1 − γ)s</c> (or <c>γ·y/lb</c>).
/// </summary>
/// <param name="Alpha">Level smoothing α in (0, 1).</param>
/// <param name="Beta">Trend smoothing β in (0, 1) (unused without a trend).</param>
/// <param name="Gamma">Seasonal smoothing γ in (0, 1 − α) (unused without a season).</param>
/// <param name="Phi">Damping φ (1 for an undamped trend).</param>
/// <param name="Level">Initial level l₀ (the state before the first value).</param>
/// <param name="Slope">Initial slope b₀.</param>
/// <param name="Seasonal">Initial seasonal terms: element j applies to value j of the series (j &lt; m); empty without
/// a season.</param>
public sealed record EtsParameters(double Alpha, double Beta, double Gamma, double Phi, double Level, double Slope,
    double[] Seasonal);

/// <summary>
/// A fitted exponential-smoothing model: estimates by maximum likelihood (Nelder–Mead over the smoothing parameters and
/// initial states), in-sample one-step fits, the information criteria used to choose among models, and forecasts.
/// </summary>
public sealed class ExponentialSmoothing
{
    readonly double level, slope;
    readonly double[] seasonRing;
    readonly int length;

    /// <summary>The model form.</summary>
    public EtsModel Model { get; }

    /// <summary>The parameters (estimated, or as given to <see cref="Create"/>).</summary>
    public EtsParameters Parameters { get; }

    /// <summary>One-step-ahead fitted values ŷ_t, one per observation.</summary>
    public double[] Fitted { get; }

    /// <summary>Variance of the one-step errors (absolute for additive errors, relative for multiplicative).</summary>
    public double Sigma2 { get; }

    /// <summary>The Gaussian log-likelihood at the parameters (σ² concentrated out).</summary>
    public double LogLikelihood { get; }

    /// <summary>Akaike's information criterion, counting the free parameters and σ².</summary>
    public double Aic => -2 * LogLikelihood + 2 * (Model.FreeParameterCount + 1);

    /// <summary>AIC corrected for small samples (Hurvich &amp; Tsai 1989), the criterion <see cref="Auto"/>
    /// uses.</summary>
    public double Aicc
    {
        get
        {
            int k = Model.FreeParameterCount + 1;
            return length - k - 1 > 0 ? Aic + 2.0 * k * (k + 1) / (length - k - 1) : double.PositiveInfinity;
        }
    }

    ExponentialSmoothing(EtsModel model, EtsParameters parameters, ReadOnlySpan<double> y)
    {
        Model = model;
        Parameters = parameters;
        length = y.Length;
        Fitted = new double[y.Length];
        seasonRing = new double[model.Period];
        double criterion = Filter(y, model, parameters, Fitted, seasonRing, out level, out slope);
        if (!double.IsFinite(criterion))
            throw new ArgumentException($"{model.Name}: the parameters give a non-positive level or fitted value.");
        double sum = 0;
        for (int t = 0; t < y.Length; t++)
        {
            double e = model.Error == ErrorKind.Additive ? y[t] - Fitted[t] : (y[t] - Fitted[t]) / Fitted[t];
            sum += e * e;
        }
        Sigma2 = sum / y.Length;
        LogLikelihood = -0.5 * (criterion + y.Length * (1 + Math.Log(2 * Math.PI)));
    }

    /// <summary>The model with known parameters run over <paramref name="y"/> (no estimation).</summary>
    public static ExponentialSmoothing Create(ReadOnlySpan<double> y, EtsModel model, EtsParameters parameters)
    {
        Check(y, model);
        if (parameters.Seasonal.Length != (model.Season == SeasonKind.None ? 0 : model.SeasonLength))
            throw new ArgumentException(
                $"{model.Name}: {parameters.Seasonal.Length} initial seasonal terms for season length "
                + $"{model.SeasonLength}.");
        return new ExponentialSmoothing(model, parameters, y);
    }

    /// <summary>
    /// Estimates the model on <paramref name="y"/> by maximum likelihood: the sum of squared errors for additive
    /// errors, <c>n·log Σ(e/ŷ)² + 2 Σ log|ŷ|</c> for multiplicative ones, with α, β, γ kept in the admissible region (0
    /// &lt; β &lt; 1, 0 &lt; γ &lt; 1 − α) and φ in [0.8, 0.98] as in Hyndman et al. (2008).
    /// </summary>
    public static ExponentialSmoothing Fit(ReadOnlySpan<double> y, EtsModel model) =>
        FitReusing(y, model, null) ?? throw new ArgumentException(
            $"{model.Name}: no admissible parameters keep the fitted values and levels positive on this series.");

    // evaluation budgets of the two stages: a few hundred suffice for ≤ 4 smoothing parameters; a flat direction
    // (φ at its bound) would otherwise spend the default budget without changing the fit
    const int Stage1Evaluations = 600, Stage2Evaluations = 2000;

    /// <summary>
    /// Fits <paramref name="model"/>, reusing the fit of its undamped twin when known; null when every start stays
    /// inadmissible (a multiplicative model whose fitted values cannot stay positive).
    /// </summary>
    static ExponentialSmoothing? FitReusing(ReadOnlySpan<double> y, EtsModel model, ExponentialSmoothing? undamped)
    {
        Check(y, model);
        var data = y.ToArray();
        var layout = new Layout(model);
        var states = new LinearStates(data, model);
        var fitted = new double[y.Length];
        var ring = new double[model.Period];
        double Full(double[] x) => Filter(data, model, layout.Unpack(x), fitted, ring, out _, out _);
        // stage 1, over the smoothing parameters alone: for fixed α, β, γ, φ the one-step fits of an additive model are
        // linear in the initial states, so least squares gives them exactly (for a multiplicative season, those of its
        // additive twin converted); a coarse grid seeds Nelder–Mead from its two best points, since optima often sit
        // at the edges (α, β → 0 for a straight line, γ → 1 − α) where a single start stalls
        EtsParameters Concentrated(double[] smoothing) => states.Solve(layout.UnpackSmoothing(smoothing));
        double Stage1(double[] smoothing) => Full(layout.Pack(Concentrated(smoothing)));
        var seeds = new List<(double Value, double[] Smoothing)>();
        foreach (double alpha in new[] { 0.001, 0.02, 0.1, 0.3, 0.5, 0.8, 0.95 })
            foreach (double beta in model.Trend == TrendKind.None ? [0.1] : new[] { 0.001, 0.01, 0.1, 0.3 })
                foreach (double gammaShare in model.Season == SeasonKind.None ? [0.1] : new[] { 0.05, 0.3, 0.7, 0.95 })
                    foreach (double phi in model.Trend == TrendKind.Damped ? [0.85, 0.95] : new[] { 0.95 })
                    {
                        var smoothing = layout.PackSmoothing(alpha, beta, gammaShare * (1 - alpha), phi);
                        seeds.Add((Stage1(smoothing), smoothing));
                    }
        var starts = seeds.OrderBy(s => s.Value).Take(2)
            .Select(seed => layout.Pack(Concentrated(
                NelderMead.Minimise(Stage1, seed.Smoothing, layout.SmoothingSteps(), Stage1Evaluations).Point)))
            .ToList();
        // the damped trend nests the linear one (φ → 1): its optimum, at φ's upper bound, is a start of its own
        if (model.Trend == TrendKind.Damped)
        {
            undamped ??= FitReusing(y, model with { Trend = TrendKind.Additive }, null);
            var linear = (undamped?.Parameters ?? layout.Unpack(starts[0])) with { Phi = Layout.PhiHigh };
            starts.Add(layout.Pack(linear));
            var smoothing = layout.PackSmoothing(linear.Alpha, linear.Beta, linear.Gamma, linear.Phi);
            starts.Add(layout.Pack(Concentrated(
                NelderMead.Minimise(Stage1, smoothing, layout.SmoothingSteps(), Stage1Evaluations).Point)));
        }
        var ranked = starts.Select(x => (Point: x, Value: Full(x))).OrderBy(s => s.Value).ToList();
        var (best, bestValue) = ranked[0];
        // stage 2, for multiplicative errors or seasons (where least squares is not the likelihood, or the states are
        // only approximate): everything together from the two best starts, restarted with a fresh simplex while that
        // still helps (Nelder–Mead's simplex collapses early in many dimensions)
        if (model.Error == ErrorKind.Multiplicative || model.Season == SeasonKind.Multiplicative)
        {
            double scale = Scale(y);
            foreach (var (start, startValue) in ranked.Take(2))
            {
                var (x, value) = (start, startValue);
                for (int restart = 0; restart < 6; restart++)
                {
                    var (point, refined) = NelderMead.Minimise(Full, x, layout.Steps(scale * 0.1), Stage2Evaluations);
                    bool improved = refined < value - 1e-9 * Math.Abs(value);
                    if (refined <= value) (x, value) = (point, refined);
                    if (!improved) break;
                }
                if (value < bestValue) (best, bestValue) = (x, value);
            }
        }
        return double.IsFinite(bestValue) ? new ExponentialSmoothing(model, layout.Unpack(best), y) : null;
    }

    /// <summary>
    /// The longest season <see cref="Candidates"/> gives a seasonal component: one state per season position is too
    /// many to estimate beyond that (Hyndman's <c>forecast::ets</c> draws the same line).
    /// </summary>
    public const int MaxSeasonLength = 24;

    /// <summary>
    /// The models <see cref="Auto"/> chooses among: additive and (for positive data) multiplicative errors; no,
    /// additive and damped trend; and when 1 &lt; <paramref name="seasonLength"/> ≤ <see cref="MaxSeasonLength"/> and
    /// the series has at least two full seasons beyond the parameters, no, additive and (for positive data)
    /// multiplicative seasons. Additive errors with multiplicative seasons are left out as numerically unstable (as
    /// Hyndman's <c>forecast::ets</c> does).
    /// </summary>
    public static IReadOnlyList<EtsModel> Candidates(ReadOnlySpan<double> y, int seasonLength)
    {
        bool positive = true;
        foreach (double v in y) positive &= v > 0;
        var models = new List<EtsModel>();
        foreach (var error in positive ? [ErrorKind.Additive, ErrorKind.Multiplicative] : new[] { ErrorKind.Additive })
            foreach (var trend in new[] { TrendKind.None, TrendKind.Additive, TrendKind.Damped })
                foreach (var season in new[] { SeasonKind.None, SeasonKind.Additive, SeasonKind.Multiplicative })
                {
                    if (season != SeasonKind.None
                        && (seasonLength < 2 || seasonLength > MaxSeasonLength || y.Length < 2 * seasonLength))
                        continue;
                    if (season == SeasonKind.Multiplicative && (!positive || error == ErrorKind.Additive)) continue;
                    var model = new EtsModel(error, trend, season, season == SeasonKind.None ? 1 : seasonLength);
                    if (y.Length - model.FreeParameterCount - 2 <= 0) continue;
                    models.Add(model);
                }
        return models;
    }

    /// <summary>
    /// Fits every candidate of <see cref="Candidates"/> and keeps the one with the smallest AICc (a multiplicative
    /// candidate that cannot keep its fitted values positive is skipped).
    /// </summary>
    public static ExponentialSmoothing Auto(ReadOnlySpan<double> y, int seasonLength = 1)
    {
        var candidates = Candidates(y, seasonLength);
        if (candidates.Count == 0)
            throw new ArgumentException($"ETS: {y.Length} values are too few to fit any exponential-smoothing model.");
        ExponentialSmoothing? best = null;
        var fitted = new Dictionary<EtsModel, ExponentialSmoothing>();
        foreach (var model in candidates)
        {
            var fit = FitReusing(y, model, model.Trend == TrendKind.Damped
                ? fitted.GetValueOrDefault(model with { Trend = TrendKind.Additive }) : null);
            if (fit is null) continue;
            fitted[model] = fit;
            if (best is null || fit.Aicc < best.Aicc) best = fit;
        }
        return best ?? throw new ArgumentException("ETS: no candidate model has admissible parameters on this series.");
    }

    /// <summary>Point forecasts for 1 … <paramref name="horizon"/> steps after the last observation.</summary>
    public double[] Forecast(int horizon)
    {
        if (horizon < 1) throw new ArgumentException($"ETS: horizon {horizon} is not positive.");
        var forecast = new double[horizon];
        double phi = Model.Trend == TrendKind.Damped ? Parameters.Phi : 1, damping = 0, power = 1;
        int m = Model.Period;
        for (int h = 1; h <= horizon; h++)
        {
            power *= phi;
            damping += power;
            double trended = level + (Model.Trend == TrendKind.None ? 0 : damping * slope);
            double season = seasonRing[(length + h - 1) % m];
            forecast[h - 1] = Model.Season switch
            {
                SeasonKind.Additive => trended + season,
                SeasonKind.Multiplicative => trended * season,
                _ => trended,
            };
        }
        return forecast;
    }

    static void Check(ReadOnlySpan<double> y, EtsModel model)
    {
        model.Validate();
        if (y.Length < 2) throw new ArgumentException($"{model.Name}: needs at least 2 values, got {y.Length}.");
        foreach (double v in y)
        {
            if (!double.IsFinite(v))
                throw new ArgumentException($"{model.Name}: the series has a non-finite value ({v}).");
            if ((model.Error == ErrorKind.Multiplicative || model.Season == SeasonKind.Multiplicative) && v <= 0)
                throw new ArgumentException($"{model.Name}: multiplicative components need positive data, found {v}.");
        }
        if (model.Season != SeasonKind.None && y.Length < model.SeasonLength)
            throw new ArgumentException(
                $"{model.Name}: {y.Length} values are less than one season of {model.SeasonLength}.");
    }

    /// <summary>The series' standard deviation (1 for a constant series): sets the first simplex steps.</summary>
    static double Scale(ReadOnlySpan<double> y) => Scaler.Fit(y, ScalingKind.Standard).Scale;

    /// <summary>
    /// Runs the recursions over <paramref name="y"/>, writing the one-step fits, and returns the criterion minimised by
    /// <see cref="Fit"/> (−2 log-likelihood up to constants): <c>n log(SSE/n)</c> or, with multiplicative errors, <c>n
    /// log(Σ(e/ŷ)²/n) + 2 Σ log ŷ</c>. Returns +∞ when a level, fitted value or seasonal factor that must stay positive
    /// does not.
    /// </summary>
    static double Filter(ReadOnlySpan<double> y, EtsModel model, EtsParameters p, Span<double> fitted,
        Span<double> ring, out double level, out double slope)
    {
        int n = y.Length;
        level = p.Level;
        slope = model.Trend != TrendKind.None ? p.Slope : 0;
        if (model.Season == SeasonKind.None) ring[0] = 0;
        else p.Seasonal.CopyTo(ring);
        double squares = 0, logs = 0;
        for (int t = 0; t < n; t++)
        {
            double forecast = Step(model, p, t, y[t], 0, ref level, ref slope, ring);
            if (double.IsNaN(forecast)) return double.PositiveInfinity;
            fitted[t] = forecast;
            double error = y[t] - forecast;
            if (model.Error == ErrorKind.Multiplicative)
            {
                if (forecast <= 0) return double.PositiveInfinity;
                error /= forecast;
                logs += Math.Log(forecast);
            }
            squares += error * error;
        }
        if (!(squares > 0)) squares = double.Epsilon;
        return n * Math.Log(squares / n) + 2 * logs;
    }

    /// <summary>
    /// One step of the recursions at time <paramref name="t"/>: returns the one-step forecast ŷ_t from the states, then
    /// updates them with the observation — <paramref name="observed"/>, or when that is NaN a simulated one, ŷ + ε or
    /// ŷ(1 + ε) with ε = <paramref name="noise"/>. NaN when a term that must stay positive does not.
    /// </summary>
    static double Step(EtsModel model, EtsParameters p, int t, double observed, double noise, ref double level,
        ref double slope, Span<double> ring)
    {
        int m = model.Period;
        double alpha = p.Alpha, beta = p.Beta, gamma = p.Gamma;
        double phi = model.Trend == TrendKind.Damped ? p.Phi : 1;
        double trended = level + phi * slope;
        double season = ring[t % m];
        double forecast = model.Season switch
        {
            SeasonKind.Additive => trended + season,
            SeasonKind.Multiplicative => trended * season,
            _ => trended,
        };
        if (model.Season == SeasonKind.Multiplicative && (trended <= 0 || season <= 0)) return double.NaN;
        double y = !double.IsNaN(observed) ? observed
            : model.Error == ErrorKind.Additive ? forecast + noise : forecast * (1 + noise);
        double newLevel;
        switch (model.Season)
        {
            case SeasonKind.Additive:
                newLevel = alpha * (y - season) + (1 - alpha) * trended;
                ring[t % m] = gamma * (y - trended) + (1 - gamma) * season;
                break;
            case SeasonKind.Multiplicative:
                newLevel = alpha * (y / season) + (1 - alpha) * trended;
                ring[t % m] = gamma * (y / trended) + (1 - gamma) * season;
                break;
            default:
                newLevel = alpha * y + (1 - alpha) * trended;
                break;
        }
        if (model.Trend != TrendKind.None) slope = beta * (newLevel - level) + (1 - beta) * phi * slope;
        level = newLevel;
        return forecast;
    }

    /// <summary>
    /// Prediction intervals by simulation (Hyndman et al. 2008, §6.1): <paramref name="paths"/> future paths drawn with
    /// the model's own Gaussian errors of variance <see cref="Sigma2"/>, the states updated along each path; the
    /// interval at each step is the central <paramref name="coverage"/> of the simulated values.
    /// </summary>
    public ForecastInterval Interval(int horizon, double coverage = 0.95, int paths = 2000,
        RandomGenerator? random = null)
    {
        if (horizon < 1 || paths < 10 || !(coverage > 0 && coverage < 1))
            throw new ArgumentException($"ETS interval: horizon {horizon}, {paths} paths, coverage {coverage}.");
        random ??= new RandomGenerator(1);
        double sigma = Math.Sqrt(Sigma2);
        var samples = new double[horizon][];
        for (int h = 0; h < horizon; h++) samples[h] = new double[paths];
        var ring = new double[seasonRing.Length];
        for (int path = 0; path < paths; path++)
        {
            double l = level, b = slope;
            seasonRing.CopyTo(ring, 0);
            for (int h = 0; h < horizon; h++)
            {
                double noise = sigma * random.NextNormal();
                double forecast = Step(Model, Parameters, length + h, double.NaN, noise, ref l, ref b, ring);
                samples[h][path] = Model.Error == ErrorKind.Additive ? forecast + noise : forecast * (1 + noise);
            }
        }
        return ForecastInterval.FromSamples(samples, coverage);
    }

    /// <summary>
    /// The initial states that minimise the squared one-step errors for given smoothing parameters. The fits of an
    /// additive model are ŷ = ŷ(y, x₀ = 0) + Σ_j x₀_j·ŷ(0, e_j): one run of the recursions with zero states and one
    /// with zero data per free state give the columns of a small least-squares problem. A multiplicative season uses
    /// its additive twin, its terms converted to factors around the level.
    /// </summary>
    sealed class LinearStates
    {
        readonly double[] y, zeros, baseline;
        readonly double[][] columns;
        readonly double[] ring;
        readonly EtsModel model, additive;
        readonly int count, m;

        public LinearStates(double[] y, EtsModel model)
        {
            this.y = y;
            this.model = model;
            additive = model with
            {
                Error = ErrorKind.Additive,
                Season = model.Season == SeasonKind.None ? SeasonKind.None : SeasonKind.Additive
            };
            m = model.Season == SeasonKind.None ? 0 : model.SeasonLength;
            count = 1 + (model.Trend == TrendKind.None ? 0 : 1) + Math.Max(0, m - 1);
            zeros = new double[y.Length];
            baseline = new double[y.Length];
            columns = Enumerable.Range(0, count).Select(_ => new double[y.Length]).ToArray();
            ring = new double[Math.Max(1, m)];
        }

        public EtsParameters Solve(EtsParameters smoothing)
        {
            var empty = new double[m];
            Filter(y, additive, smoothing with { Level = 0, Slope = 0, Seasonal = empty },
                baseline, ring, out _, out _);
            for (int j = 0; j < count; j++)
            {
                var unit = State(smoothing, j, 1);
                Filter(zeros, additive, unit, columns[j], ring, out _, out _);
            }
            // normal equations with a tiny ridge, so that collinear columns (α → 1 forgets the start) stay solvable
            var gram = new double[count, count];
            var rhs = new double[count];
            double trace = 0;
            for (int i = 0; i < count; i++)
            {
                for (int t = 0; t < y.Length; t++) rhs[i] += columns[i][t] * (y[t] - baseline[t]);
                for (int j = 0; j < count; j++)
                {
                    double sum = 0;
                    for (int t = 0; t < y.Length; t++) sum += columns[i][t] * columns[j][t];
                    gram[i, j] = sum;
                }
                trace += gram[i, i];
            }
            for (int i = 0; i < count; i++) gram[i, i] += 1e-10 * trace / count + 1e-300;
            var solution = Baselines.Solve(gram, rhs);
            var parameters = smoothing with { Level = 0, Slope = 0, Seasonal = new double[m] };
            for (int j = 0; j < count; j++)
            {
                var state = State(smoothing, j, solution[j]);
                parameters = parameters with
                {
                    Level = parameters.Level + state.Level,
                    Slope = parameters.Slope + state.Slope,
                    Seasonal = parameters.Seasonal.Zip(state.Seasonal, (u, v) => u + v).ToArray(),
                };
            }
            if (model.Season != SeasonKind.Multiplicative) return parameters;
            double level = Math.Abs(parameters.Level) > 1e-12 ? parameters.Level : 1;
            var factors = parameters.Seasonal.Select(s => Math.Max(1 + s / level, 0.05)).ToArray();
            double mean = factors.Average();
            return parameters with { Seasonal = factors.Select(f => f / mean).ToArray() };
        }

        /// <summary>Free state j set to <paramref name="value"/>, all others zero (seasonal terms sum to
        /// zero).</summary>
        EtsParameters State(EtsParameters smoothing, int j, double value)
        {
            var season = new double[m];
            double level = 0, slope = 0;
            if (j == 0) level = value;
            else if (model.Trend != TrendKind.None && j == 1) slope = value;
            else
            {
                int k = j - (model.Trend == TrendKind.None ? 1 : 2);
                season[k] = value;
                season[m - 1] = -value;
            }
            return smoothing with { Level = level, Slope = slope, Seasonal = season };
        }
    }

    /// <summary>Maps the constrained parameters to an unconstrained vector for Nelder–Mead and back.</summary>
    sealed class Layout(EtsModel model)
    {
        readonly bool trend = model.Trend != TrendKind.None, damped = model.Trend == TrendKind.Damped,
            seasonal = model.Season != SeasonKind.None, multiplicative = model.Season == SeasonKind.Multiplicative;
        readonly int m = model.SeasonLength;
        public const double PhiLow = 0.8, PhiHigh = 0.98;

        // clamped, so that a parameter at its bound (φ = 0.98 from an undamped fit) maps to a finite point
        static double Logit(double p)
        {
            p = Math.Clamp(p, 1e-9, 1 - 1e-9);
            return Math.Log(p / (1 - p));
        }
        static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

        public double[] Pack(EtsParameters p)
        {
            var x = new List<double> { Logit(p.Alpha) };
            if (trend) x.Add(Logit(p.Beta));
            if (seasonal) x.Add(Logit(Math.Min(p.Gamma / (1 - p.Alpha), 0.99)));
            if (damped) x.Add(Logit((p.Phi - PhiLow) / (PhiHigh - PhiLow)));
            x.Add(p.Level);
            if (trend) x.Add(p.Slope);
            // m − 1 free seasonal terms; the last keeps them summing to 0 (additive) or m (multiplicative)
            if (seasonal) x.AddRange(p.Seasonal.Take(m - 1));
            return x.ToArray();
        }

        /// <summary>The smoothing parameters alone (α, then β, γ's share of 1 − α and φ where the model has
        /// them).</summary>
        public double[] PackSmoothing(double alpha, double beta, double gamma, double phi) =>
            Pack(new EtsParameters(alpha, beta, gamma, phi, 0, 0, new double[seasonal ? m : 0]))[..SmoothingCount];

        /// <summary>The parameters of <see cref="PackSmoothing"/>'s vector, with zero states.</summary>
        public EtsParameters UnpackSmoothing(double[] smoothing)
        {
            var x = new double[SmoothingCount + 1 + (trend ? 1 : 0) + (seasonal ? m - 1 : 0)];
            smoothing.CopyTo(x, 0);
            if (multiplicative)
                for (int j = x.Length - (m - 1); j < x.Length; j++) x[j] = 1;
            return Unpack(x);
        }

        int SmoothingCount => 1 + (trend ? 1 : 0) + (seasonal ? 1 : 0) + (damped ? 1 : 0);

        /// <summary>Initial simplex steps for the smoothing parameters: one unit on the logit scale.</summary>
        public double[] SmoothingSteps() => Enumerable.Repeat(1.0, SmoothingCount).ToArray();

        public EtsParameters Unpack(double[] x)
        {
            int i = 0;
            double alpha = Sigmoid(x[i++]);
            double beta = trend ? Sigmoid(x[i++]) : 0;
            double gamma = seasonal ? (1 - alpha) * Sigmoid(x[i++]) : 0;
            double phi = damped ? PhiLow + (PhiHigh - PhiLow) * Sigmoid(x[i++]) : 1;
            double level = x[i++];
            double slope = trend ? x[i++] : 0;
            var season = Array.Empty<double>();
            if (seasonal)
            {
                season = new double[m];
                double sum = 0;
                for (int j = 0; j < m - 1; j++) sum += season[j] = x[i++];
                season[m - 1] = (multiplicative ? m : 0) - sum;
            }
            return new EtsParameters(alpha, beta, gamma, phi, level, slope, season);
        }

        /// <summary>Initial simplex steps: one unit on the logit scale, a fraction of the data's spread for
        /// states.</summary>
        public double[] Steps(double scale)
        {
            var steps = new List<double> { 1 };
            if (trend) steps.Add(1);
            if (seasonal) steps.Add(1);
            if (damped) steps.Add(1);
            steps.Add(0.2 * scale);
            if (trend) steps.Add(0.05 * scale);
            if (seasonal) steps.AddRange(Enumerable.Repeat(multiplicative ? 0.05 : 0.2 * scale, m - 1));
            return steps.ToArray();
        }
    }
}
