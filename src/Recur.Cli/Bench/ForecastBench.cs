using Recur.Forecasting;
using Recur.Kernels;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Bench;

/// <summary>
/// <c>recur bench forecast</c>: training throughput of the global forecaster that <c>forecast train
/// --series-column</c> trains on M3 quarterly (an LSTM over 24-step windows of 10 features — the log ratio, the
/// observed flag and Theta's 8-step path — with an 8-output head, the pinball loss, clipping at 1 and Adam) against
/// the same network in PyTorch; windows per second.
/// </summary>
static class ForecastBench
{
    public static int Run(int threads, double minSeconds, bool json, int repeat, int batch)
    {
        var options = new GlobalForecasterOptions();
        int features = 2 + options.Horizon, window = options.Window, horizon = options.Horizon;
        var peer = PythonPeer.Run<PeerStep>("forecast_global.py", new
        {
            batch, window, features, hidden = options.HiddenSize, horizon, quantile = options.Quantile,
            lr = options.LearningRate, min_seconds = minSeconds, repeat, threads,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        using var threadLimit = Parallelism.Limit(threads);
        var forecaster = new GlobalForecaster(options);
        var model = (SequenceModel)forecaster.Network;
        var optimizer = new Adam(model.Parameters(), options.LearningRate);
        var random = new RandomGenerator(0);
        var x = Tensor.FromArray(Enumerable.Range(0, window * batch * features).Select(_ => random.NextNormal() * 0.3f)
            .ToArray(), window, batch, features);
        var y = Tensor.FromArray(Enumerable.Range(0, batch * horizon).Select(_ => random.NextNormal() * 0.05f)
            .ToArray(), batch, horizon);
        var timing = Timing.Measure(() =>
        {
            optimizer.ZeroGrad();
            Losses.Pinball(model.Forward(x), y, options.Quantile).Backward();
            GradientClipping.ClipByNorm(model.Parameters(), 1f);
            optimizer.Step();
        }, minSeconds, repeat);
        return TrainingStepBench.Report($"Global forecaster training step, batch {batch} windows × {window} steps × "
            + $"{features} features, LSTM {options.HiddenSize}", "windows", batch, timing, peer, threads, repeat, json);
    }

    /// <summary>
    /// <c>--model deepar</c>: a training step of <see cref="DeepArForecaster"/> with its defaults (2 LSTM layers of
    /// 40, dropout 0.1, context 16 + horizon 8, Gaussian head) on windows of 48-value positive series like M3's —
    /// Recur's step includes building the lagged, scaled inputs from the series — against the same network in
    /// PyTorch on ready-made tensors of the same shapes (<c>bench/peers/deepar.py</c>).
    /// </summary>
    public static int RunDeepAr(int threads, double minSeconds, bool json, int repeat, int batch)
    {
        var options = new DeepArOptions();
        int steps = options.Context + options.Horizon;
        using var threadLimit = Parallelism.Limit(threads);
        var forecaster = new DeepArForecaster(options);
        var model = forecaster.Network;
        int features = forecaster.InputSize;
        var peer = PythonPeer.Run<PeerStep>("deepar.py", new
        {
            batch, steps, features, hidden = options.HiddenSize, layers = options.NumLayers, dropout = options.Dropout,
            lr = options.LearningRate, min_seconds = minSeconds, repeat, threads,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        var random = new RandomGenerator(0);
        var series = Enumerable.Range(0, 400).Select(_ =>
        {
            double level = 1000 * (1 + random.NextDouble());
            return Enumerable.Range(0, 48).Select(_ => level *= 1 + 0.02 * random.NextNormal()).ToArray();
        }).ToArray();
        var optimizer = new Adam(model.Parameters(), options.LearningRate);
        var timing = Timing.Measure(() =>
        {
            var windows = Enumerable.Range(0, batch).Select(_ => (random.NextInt(series.Length),
                options.Context + random.NextInt(48 - steps))).ToArray();
            optimizer.ZeroGrad();
            forecaster.Loss(series, windows).Backward();
            GradientClipping.ClipByNorm(model.Parameters(), 1f);
            optimizer.Step();
        }, minSeconds, repeat);
        return TrainingStepBench.Report($"DeepAR training step, batch {batch} windows × {steps} steps × {features} "
            + $"features, LSTM {options.NumLayers}×{options.HiddenSize}, Gaussian", "windows", batch, timing, peer,
            threads, repeat, json);
    }
}
