using System.Text.Json;
using Recur.Autograd;
using Recur.Kernels;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary><c>recur bench conv</c>: Recur's convolutions beside PyTorch's on a speech-sized 2-D and a WaveNet-sized
/// 1-D shape.</summary>
static class ConvBench
{
    sealed record Config(string Label, string Kind, int[] Input, int[] Weight, int[] Stride, int[] Padding,
        int[] Dilation);

    sealed record PeerTimes(double forward, double train, double forward_min, double forward_max, double train_min,
        double train_max);

    static readonly Config[] Configs =
    [
        // Deep Speech 2's first layer on a 161-bin spectrogram of 200 frames, batch 32
        new("conv2d speech B=32 1×161×200, 32 filters 41×11, stride 2×2, pad 20×5", "conv2d",
            [32, 1, 161, 200], [32, 1, 41, 11], [2, 2], [20, 5], [1, 1]),
        // a WaveNet layer: 64 residual channels → 128 gate channels, kernel 2, dilation 64, 4,000 samples, batch 4
        new("conv1d wavenet B=4 64×4000, 128 filters k=2, dilation 64", "conv1d", [4, 64, 4000], [128, 64, 2], [1],
            [64], [64]),
    ];

    /// <summary>
    /// Times every configuration in <paramref name="rounds"/> alternating rounds of PyTorch and Recur, so that a
    /// machine that speeds up or slows down over the minute the benchmark takes (a shared VM does both by a third)
    /// moves both sides alike; each figure is the median of its rounds' medians.
    /// </summary>
    public static int Run(int threads, double minSeconds, bool json, int repeat = 5, int rounds = 3)
    {
        var peerRounds = new List<PeerTimes[]>();
        var recurRounds = new List<(Timing Forward, Timing Train)[]>();
        string? problem = null;
        for (int round = 0; round < Math.Max(1, rounds); round++)
        {
            if (problem == null)
            {
                var peer = PythonPeer.Run<PeerTimes[]>("conv.py", new
                {
                    configs = Configs.Select(c => new
                    {
                        kind = c.Kind, input = c.Input, weight = c.Weight, stride = c.Stride, padding = c.Padding,
                        dilation = c.Dilation,
                    }),
                    min_seconds = minSeconds, threads, repeat,
                }, threads, out problem);
                if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
                else peerRounds.Add(peer!);
            }
            using var threadLimit = Parallelism.Limit(threads);
            recurRounds.Add([.. Configs.Select(c => Measure(c, minSeconds, repeat))]);
        }
        var rows = new List<(string Config, string Pass, double Ms, string Spread, double? TorchMs,
            string? TorchSpread)>();
        for (int i = 0; i < Configs.Length; i++)
        {
            var forward = Timing.Combine([.. recurRounds.Select(r => r[i].Forward)]);
            var train = Timing.Combine([.. recurRounds.Select(r => r[i].Train)]);
            Timing? peerForward = null, peerTrain = null;
            if (peerRounds.Count > 0)
            {
                peerForward = Timing.Combine([.. peerRounds.Select(p => new Timing(p[i].forward, p[i].forward_min,
                    p[i].forward_max, repeat))]);
                peerTrain = Timing.Combine([.. peerRounds.Select(p => new Timing(p[i].train, p[i].train_min,
                    p[i].train_max, repeat))]);
            }
            rows.Add((Configs[i].Label, "forward", forward.Median * 1e3, forward.Spread, peerForward?.Median * 1e3,
                peerForward?.Spread));
            rows.Add((Configs[i].Label, "forward+backward", train.Median * 1e3, train.Spread,
                peerTrain?.Median * 1e3, peerTrain?.Spread));
        }
        string cpu = RnnBench.CpuModel();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                cpu, isa = Gemm.BestIsa.ToString(), threads, repeat, rounds,
                rows = rows.Select(r => new
                {
                    r.Config, r.Pass, recur_ms = r.Ms, recur_spread = r.Spread, torch_ms = r.TorchMs,
                    torch_spread = r.TorchSpread,
                    ratio = r.TorchMs / r.Ms,
                }),
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Title($"median of {rounds} alternating rounds' medians of ≥ {repeat} runs after "
                + $"warm-up (spread: min/max); {Markup.Escape(cpu)}, {Gemm.BestIsa}, {threads} threads")
            .AddColumns("configuration", "pass", "Recur ms", "spread", "PyTorch ms", "spread", "ratio");
        foreach (var r in rows)
            table.AddRow(r.Config, r.Pass, $"{r.Ms:F1}", r.Spread, r.TorchMs?.ToString("F1") ?? "n/a", r.TorchSpread
                ?? "",
                r.TorchMs is double t ? $"{t / r.Ms:F2}" : "n/a");
        AnsiConsole.Write(table);
        return 0;
    }

    static (Timing Forward, Timing Train) Measure(Config c, double minSeconds, int repeat)
    {
        var random = new RandomGenerator(0);
        var x = Tensor.RandomNormal(random, c.Input);
        var w = Tensor.RandomNormal(random, c.Weight, 0f, 0.1f);
        var b = Tensor.Zeros(c.Weight[0]);
        Tensor Apply(Tensor input, Tensor weight, Tensor bias) => c.Kind == "conv1d"
            ? Functional.Conv1d(input, weight, bias, c.Stride[0], c.Padding[0], c.Dilation[0])
            : Functional.Conv2d(input, weight, bias, (c.Stride[0], c.Stride[1]), (c.Padding[0], c.Padding[1]),
                (c.Dilation[0], c.Dilation[1]));
        var forward = Timing.Measure(() => { using var _ = GradMode.NoGrad(); Apply(x, w, b); }, minSeconds, repeat);
        var xg = x.Clone();
        var wg = w.Clone();
        var bg = b.Clone();
        foreach (var t in new[] { xg, wg, bg }) t.RequiresGrad = true;
        var train = Timing.Measure(() =>
        {
            foreach (var t in new[] { xg, wg, bg }) t.Grad = null;
            Apply(xg, wg, bg).Sum().Backward();
        }, minSeconds, repeat);
        return (forward, train);
    }
}
