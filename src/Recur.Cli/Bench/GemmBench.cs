using System.Diagnostics;
using System.Text.Json;
using Recur.Kernels;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary><c>recur bench gemm</c>: GFLOP/s of Recur's GEMM beside OpenBLAS (through numpy) measured in the same
/// run.</summary>
static class GemmBench
{
    sealed record Shape(string Name, int M, int N, int K);

    sealed record Row(string Shape, int M, int N, int K, int Threads, string Isa, double Recur, double? OpenBlas,
        double? Ratio);

    static readonly Shape[] Shapes =
    [
        new("256³", 256, 256, 256),
        new("1024³", 1024, 1024, 1024),
        new("2048³", 2048, 2048, 2048),
        // The LSTM step product: batch 64 × [x_t, h_{t-1}] (128 + 256) → 4 gates × 256.
        new("RNN M=64 K=384 N=1024", 64, 1024, 384),
    ];

    public static int Run(int[] threadCounts, double minSeconds, bool json, GemmIsa isa)
    {
        var rows = new List<Row>();
        foreach (int threads in threadCounts)
        {
            var peer = PythonPeer.Run<double[]>("gemm.py",
                new { shapes = Shapes.Select(s => new { m = s.M, n = s.N, k = s.K }), min_seconds = minSeconds },
                threads, out string? problem);
            if (problem != null) Console.Error.WriteLine($"OpenBLAS peer unavailable: {problem}");
            for (int i = 0; i < Shapes.Length; i++)
            {
                var s = Shapes[i];
                double recur = Measure(s, threads, minSeconds, isa);
                double? openBlas = peer?[i];
                rows.Add(new Row(s.Name, s.M, s.N, s.K, threads, (isa == GemmIsa.Auto ? Gemm.BestIsa : isa).ToString(),
                    Math.Round(recur, 1), openBlas is null ? null : Math.Round(openBlas.Value, 1),
                    openBlas is null ? null : Math.Round(recur / openBlas.Value, 2)));
            }
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().AddColumns("shape", "threads", "Recur GFLOP/s", "OpenBLAS GFLOP/s", "ratio");
        foreach (var r in rows)
            table.AddRow(r.Shape, r.Threads.ToString(), $"{r.Recur:F1} ({r.Isa})",
                r.OpenBlas?.ToString("F1") ?? "n/a", r.Ratio?.ToString("F2") ?? "n/a");
        AnsiConsole.Write(table);
        return 0;
    }

    static double Measure(Shape s, int threads, double minSeconds, GemmIsa isa)
    {
        var random = new Random(0);
        var a = new float[s.M * s.K];
        var b = new float[s.K * s.N];
        var c = new float[s.M * s.N];
        for (int i = 0; i < a.Length; i++) a[i] = (float)random.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)random.NextDouble() - 0.5f;
        for (int i = 0; i < 3; i++) Gemm.Multiply(false, false, s.M, s.N, s.K, a, s.K, b, s.N, c, s.N,
            threads: threads, isa: isa);
        double best = double.MaxValue, total = 0;
        for (int reps = 0; total < minSeconds || reps < 5; reps++)
        {
            long start = Stopwatch.GetTimestamp();
            Gemm.Multiply(false, false, s.M, s.N, s.K, a, s.K, b, s.N, c, s.N, threads: threads, isa: isa);
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Min(best, elapsed);
            total += elapsed;
        }
        return 2.0 * s.M * s.N * s.K / best / 1e9;
    }
}
