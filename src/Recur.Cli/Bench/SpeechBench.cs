using System.Text.Json;
using Recur.Kernels;
using Recur.Optim;
using Recur.Speech;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary>
/// <c>recur bench speech</c>: training throughput of the default speech recogniser (the model <c>recur speech
/// train</c> builds) against the same network in PyTorch — forward, CTC, backward, clipping and an Adam step on a batch
/// of spoken-digit-sized utterances.
/// </summary>
static class SpeechBench
{
    sealed record PeerTimes(double step, double step_min, double step_max);

    public static int Run(int threads, double minSeconds, bool json, int repeat, int batch, int frames)
    {
        var config = new SpeechRecognizerConfig(new SpeechFeatureConfig());
        var random = new RandomGenerator(0);
        var transcripts = Enumerable.Range(0, batch).Select(_ => SpokenDigits.Words[random.NextInt(10)]).ToArray();
        var alphabet = new SpeechAlphabet(config.Characters);
        var peer = PythonPeer.Run<PeerTimes>("speech.py", new
        {
            batch, frames, mels = config.Features.NMels, conv_layers = config.ConvLayers,
            conv_channels = config.ConvChannels, hidden = config.HiddenSize, layers = config.NumLayers,
            classes = alphabet.Classes, targets = transcripts.Select(alphabet.Encode), min_seconds = minSeconds, repeat,
            threads,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");

        using var threadLimit = Parallelism.Limit(threads);
        var model = new SpeechRecognizer(config, new RandomGenerator(1));
        var optimizer = new Adam(model.Parameters(), 1e-3f);
        var features = Enumerable.Range(0, batch).Select(_ =>
        {
            var f = new float[frames, config.Features.NMels];
            for (int t = 0; t < frames; t++)
                for (int m = 0; m < config.Features.NMels; m++) f[t, m] = random.NextNormal();
            return f;
        }).ToArray();
        var timing = Timing.Measure(() =>
        {
            optimizer.ZeroGrad();
            model.Loss(features, transcripts).Backward();
            GradientClipping.ClipByNorm(model.Parameters(), 5f);
            optimizer.Step();
        }, minSeconds, repeat);

        string cpu = RnnBench.CpuModel();
        double recur = batch / timing.Median, torch = peer is null ? double.NaN : batch / peer.step;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                cpu, isa = Gemm.BestIsa.ToString(), threads, repeat, batch, frames,
                recur_utterances_per_second = recur, recur_spread = timing.Spread,
                torch_utterances_per_second = peer is null ? (double?)null : torch,
                ratio = peer is null ? (double?)null : recur / torch,
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Title(Markup.Escape($"speech recogniser training step, batch {batch} × {frames} frames "
            + $"× {config.Features.NMels} mels; {cpu}, {Gemm.BestIsa}, {threads} threads; median of ≥ {repeat} steps"))
            .AddColumns("", "utterances/s", "ms per step", "spread");
        table.AddRow("Recur", $"{recur:F0}", $"{timing.Median * 1e3:F1}", timing.Spread);
        if (peer != null)
        {
            table.AddRow("PyTorch", $"{torch:F0}", $"{peer.step * 1e3:F1}",
                new Timing(peer.step, peer.step_min, peer.step_max, repeat).Spread);
            table.AddRow("ratio", $"{recur / torch:F2}", "", "");
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
