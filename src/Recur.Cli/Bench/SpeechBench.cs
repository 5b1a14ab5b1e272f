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
    public static int Run(int threads, double minSeconds, bool json, int repeat, int batch, int frames)
    {
        var config = new SpeechRecognizerConfig(new SpeechFeatureConfig());
        var random = new RandomGenerator(0);
        var transcripts = Enumerable.Range(0, batch).Select(_ => SpokenDigits.Words[random.NextInt(10)]).ToArray();
        var alphabet = new SpeechAlphabet(config.Characters);
        var peer = PythonPeer.Run<PeerStep>("speech.py", new
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

        return TrainingStepBench.Report($"speech recogniser training step, batch {batch} × {frames} frames × "
            + $"{config.Features.NMels} mels", "utterances", batch, timing, peer, threads, repeat, json);
    }
}
