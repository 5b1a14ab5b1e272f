using System.Diagnostics;
using System.Text.Json;
using Recur.Autograd;
using Recur.Kernels;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary><c>recur bench conv</c>: Recur's convolutions beside PyTorch's on a speech-sized 2-D and a WaveNet-sized 1-D shape.</summary>
static class ConvBench
{
    sealed record Config(string Label, string Kind, int[] Input, int[] Weight, int[] Stride, int[] Padding, int[] Dilation);

    sealed record PeerTimes(double forward, double train);

    static readonly Config[] Configs =
    [
        // Deep Speech 2's first layer on a 161-bin spectrogram of 200 frames, batch 32
        new("conv2d speech B=32 1×161×200, 32 filters 41×11, stride 2×2, pad 20×5", "conv2d",
            [32, 1, 161, 200], [32, 1, 41, 11], [2, 2], [20, 5], [1, 1]),
        // a WaveNet layer: 64 residual channels → 128 gate channels, kernel 2, dilation 64, 4,000 samples, batch 4
        new("conv1d wavenet B=4 64×4000, 128 filters k=2, dilation 64", "conv1d", [4, 64, 4000], [128, 64, 2], [1], [64], [64]),
    ];

    public static int Run(int threads, double minSeconds, bool json)
    {
        var peer = PythonPeer.Run<PeerTimes[]>("conv.py", new
        {
            configs = Configs.Select(c => new
            {
                kind = c.Kind, input = c.Input, weight = c.Weight, stride = c.Stride, padding = c.Padding, dilation = c.Dilation,
            }),
            min_seconds = minSeconds, threads,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        using var threadLimit = Parallelism.Limit(threads);
        var rows = new List<(string Config, string Pass, double Ms, double? TorchMs)>();
        for (int i = 0; i < Configs.Length; i++)
        {
            var (forward, train) = Measure(Configs[i], minSeconds);
            rows.Add((Configs[i].Label, "forward", forward * 1e3, peer?[i].forward * 1e3));
            rows.Add((Configs[i].Label, "forward+backward", train * 1e3, peer?[i].train * 1e3));
        }
        string cpu = RnnBench.CpuModel();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                cpu, threads,
                rows = rows.Select(r => new { r.Config, r.Pass, recur_ms = r.Ms, torch_ms = r.TorchMs, ratio = r.TorchMs / r.Ms }),
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Title($"{threads} threads, {Markup.Escape(cpu)}")
            .AddColumns("configuration", "pass", "Recur ms", "PyTorch ms", "ratio");
        foreach (var r in rows)
            table.AddRow(r.Config, r.Pass, $"{r.Ms:F1}", r.TorchMs?.ToString("F1") ?? "n/a", r.TorchMs is double t ? $"{t / r.Ms:F2}" : "n/a");
        AnsiConsole.Write(table);
        return 0;
    }

    static (double Forward, double Train) Measure(Config c, double minSeconds)
    {
        var random = new RandomGenerator(0);
        var x = Tensor.RandomNormal(random, c.Input);
        var w = Tensor.RandomNormal(random, c.Weight, 0f, 0.1f);
        var b = Tensor.Zeros(c.Weight[0]);
        Tensor Apply(Tensor input, Tensor weight, Tensor bias) => c.Kind == "conv1d"
            ? Functional.Conv1d(input, weight, bias, c.Stride[0], c.Padding[0], c.Dilation[0])
            : Functional.Conv2d(input, weight, bias, (c.Stride[0], c.Stride[1]), (c.Padding[0], c.Padding[1]), (c.Dilation[0], c.Dilation[1]));
        double forward = BestTime(() => { using var _ = GradMode.NoGrad(); Apply(x, w, b); }, minSeconds);
        var xg = x.Clone();
        var wg = w.Clone();
        var bg = b.Clone();
        foreach (var t in new[] { xg, wg, bg }) t.RequiresGrad = true;
        double train = BestTime(() =>
        {
            foreach (var t in new[] { xg, wg, bg }) t.Grad = null;
            Apply(xg, wg, bg).Sum().Backward();
        }, minSeconds);
        return (forward, train);
    }

    static double BestTime(Action action, double minSeconds)
    {
        action();
        action();
        double best = double.MaxValue, total = 0;
        for (int reps = 0; total < minSeconds || reps < 3; reps++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Min(best, elapsed);
            total += elapsed;
        }
        return best;
    }
}
