using System.Text.Json;
using Recur.Kernels;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary>The times a peer script reports for one optimizer step (median, min and max seconds).</summary>
sealed record PeerStep(double step, double step_min, double step_max);

/// <summary>
/// The report of a training-step benchmark (<c>bench speech</c>, <c>bench wavenet</c>): items per second of Recur and
/// of the PyTorch peer, as a table with the CPU model, or as JSON.
/// </summary>
static class TrainingStepBench
{
    public static int Report(string title, string unit, double itemsPerStep, Timing recur, PeerStep? peer, int threads,
        int repeat, bool json)
    {
        string cpu = RnnBench.CpuModel();
        double recurRate = itemsPerStep / recur.Median;
        double torchRate = peer is null ? double.NaN : itemsPerStep / peer.step;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                title, unit, cpu, isa = Gemm.BestIsa.ToString(), threads, repeat,
                recur_per_second = recurRate, recur_spread = recur.Spread,
                torch_per_second = peer is null ? (double?)null : torchRate,
                ratio = peer is null ? (double?)null : recurRate / torchRate,
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Title(Markup.Escape($"{title}; {cpu}, {Gemm.BestIsa}, {threads} threads; median of ≥ "
            + $"{repeat} steps")).AddColumns("", $"{unit}/s", "ms per step", "spread");
        table.AddRow("Recur", $"{recurRate:F0}", $"{recur.Median * 1e3:F1}", recur.Spread);
        if (peer != null)
        {
            table.AddRow("PyTorch", $"{torchRate:F0}", $"{peer.step * 1e3:F1}",
                new Timing(peer.step, peer.step_min, peer.step_max, repeat).Spread);
            table.AddRow("ratio", $"{recurRate / torchRate:F2}", "", "");
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
