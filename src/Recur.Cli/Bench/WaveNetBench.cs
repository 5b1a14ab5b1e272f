using Recur.Kernels;
using Recur.Optim;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary>
/// <c>recur bench wavenet</c>: training throughput of the default digit-conditioned WaveNet (the model <c>recur wavenet
/// train</c> builds) against the same network in PyTorch — forward, cross-entropy, backward, clipping and an Adam step
/// on a batch of crops.
/// </summary>
static class WaveNetBench
{
    public static int Run(int threads, double minSeconds, bool json, int repeat, int batch, int crop)
    {
        var config = new Recur.WaveNet.WaveNetConfig(GlobalConditions: 10);
        var peer = PythonPeer.Run<PeerStep>("wavenet.py", new
        {
            batch, crop, levels = config.Levels, residual = config.ResidualChannels, gate = config.DilationChannels,
            skip = config.SkipChannels, layers = config.LayersPerStack, stacks = config.Stacks,
            labels = config.GlobalConditions, min_seconds = minSeconds, repeat, threads,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        using var threadLimit = Parallelism.Limit(threads);
        var random = new RandomGenerator(0);
        var model = new Recur.WaveNet.WaveNetModel(config, new RandomGenerator(1));
        var optimizer = new Adam(model.Parameters(), 1e-3f);
        var codes = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, crop + 1)
            .Select(_ => random.NextInt(config.Levels)).ToArray()).ToArray();
        var labels = Enumerable.Range(0, batch).Select(_ => random.NextInt(config.GlobalConditions)).ToArray();
        var timing = Timing.Measure(() =>
        {
            optimizer.ZeroGrad();
            model.Loss(codes, labels).Backward();
            GradientClipping.ClipByNorm(model.Parameters(), 1f);
            optimizer.Step();
        }, minSeconds, repeat);
        return TrainingStepBench.Report($"WaveNet training step, batch {batch} × {crop} samples, receptive field "
            + $"{config.ReceptiveField}", "samples", (double)batch * crop, timing, peer, threads, repeat, json);
    }
}
