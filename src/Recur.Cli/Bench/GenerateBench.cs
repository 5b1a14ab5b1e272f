using System.Text.Json;
using Recur.Kernels;
using Recur.Language;
using Recur.Nn;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary>
/// <c>recur bench generate</c>: tokens per second of sampling one token at a time from a character language model
/// (embedding 128, stacked LSTM, linear head, vocabulary 69 as tiny-shakespeare's), in float and in int8, beside the
/// same network in PyTorch, float and after <c>quantize_dynamic</c>. The weights are random: the speed does not
/// depend on them.
/// </summary>
static class GenerateBench
{
    const int Vocabulary = 69, Embedding = 128;

    sealed record PeerAnswer(double[] @float, double[] int8);

    sealed record Row(string Runtime, double TokensPerSecond, string Spread, double? VsTorchFloat);

    public static int Run(int threads, double minSeconds, bool json, int repeat, int hidden, int layers, int tokens)
    {
        if (hidden < 1 || layers < 1 || tokens < 1)
        {
            Console.Error.WriteLine("recur: --hidden, --layers and --tokens must be positive.");
            return 2;
        }
        var peer = PythonPeer.Run<PeerAnswer>("lm_generate.py", new
        {
            vocab = Vocabulary, embed = Embedding, hidden, layers, tokens, min_seconds = minSeconds, repeat, threads,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        using var threadLimit = Parallelism.Limit(threads);
        var config = new LanguageModelConfig(Vocabulary, Embedding, hidden, layers);
        Timing Measure(bool int8)
        {
            var model = new LanguageModel(config, new RandomGenerator(1));
            if (int8) Quantization.QuantizeDynamic(model);
            var options = new SamplingOptions(1f, 0, 1f, 1, false);
            return Timing.Measure(() => model.Generate([1], tokens, options), minSeconds, repeat);
        }
        var recurFloat = Measure(int8: false);
        var recurInt8 = Measure(int8: true);
        double? torchRate = peer is null ? null : tokens / peer.@float[0];
        Row Make(string name, Timing t) => new(name, Math.Round(tokens / t.Median), t.Spread,
            torchRate is null ? null : Math.Round(tokens / t.Median / torchRate.Value, 2));
        var rows = new List<Row> { Make("Recur", recurFloat), Make("Recur int8", recurInt8) };
        if (peer != null)
        {
            rows.Add(Make("PyTorch", new Timing(peer.@float[0], peer.@float[1], peer.@float[2], repeat)));
            rows.Add(Make("PyTorch int8 (quantize_dynamic)", new Timing(peer.int8[0], peer.int8[1], peer.int8[2],
                repeat)));
        }
        string cpu = RnnBench.CpuModel();
        string title = $"sampling {tokens} tokens one at a time, {layers}×{hidden} LSTM, embedding {Embedding}, "
            + $"vocabulary {Vocabulary}";
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                title, cpu, isa = Gemm.BestIsa.ToString(), vnni = Quantization.UsesVnni,
                int8Kernel = Quantization.IntegerKernel, threads, repeat, rows,
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Title(Markup.Escape($"{title}; {cpu}, {Gemm.BestIsa}, int8 on "
            + $"{Quantization.IntegerKernel}, {threads} threads; median of ≥ {repeat} runs"))
            .AddColumns("", "tokens/s", "spread", "÷ PyTorch float");
        foreach (var r in rows)
            table.AddRow(Markup.Escape(r.Runtime), $"{r.TokensPerSecond:N0}", r.Spread,
                r.VsTorchFloat?.ToString("F2") ?? "n/a");
        AnsiConsole.Write(table);
        return 0;
    }
}
