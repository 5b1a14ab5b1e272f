using Recur.Captioning;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Optim;

namespace Recur.Cli.Bench;

/// <summary>
/// <c>recur bench caption</c>: training throughput (scenes per second) of the Show, Attend and Tell captioner —
/// the CNN, the attention LSTM and the doubly stochastic regulariser — against the same model in PyTorch, on the same
/// batches of real MNIST scenes (pixels rounded to 1/1000 for the trip to the peer, and Recur uses the rounded ones
/// too): forward, cross-entropy, backward, clipping and an Adam step.
/// </summary>
static class CaptionBench
{
    public static int Run(string mnist, int threads, double minSeconds, bool json, int repeat, int batch,
        int maxDigits)
    {
        if (!Directory.Exists(mnist))
            throw new UsageException($"--mnist {mnist}: no such folder (t10k-images-idx3-ubyte.gz and labels).");
        var digits = DigitScenes.Load(mnist);
        var settings = new SceneSettings(MaxDigits: maxDigits);
        var words = settings.Vocabulary();
        var config = new CaptionerConfig(CaptionDecoder.Attention, words.VocabularySize, DigitScenes.Height,
            settings.Width);
        var model = new Captioner(config, new RandomGenerator(1));
        const int Batches = 4;
        var batches = Enumerable.Range(0, Batches).Select(b =>
        {
            var scenes = Enumerable.Range(b * batch, batch).Select(i => digits.Scene(i, 1, false, maxDigits))
                .ToList();
            var pixels = CaptionTask.Images(scenes).ToArray().Select(p => MathF.Round(p * 1000) / 1000).ToArray();
            return (Pixels: pixels, Captions: scenes.Select(s => words.Encode(settings.Describe(s))).ToArray());
        }).ToArray();
        int size = config.Height * config.Width;
        var peer = PythonPeer.Run<PeerStep>("caption.py", new
        {
            channels = config.Channels, hidden = config.HiddenSize, embedding = config.EmbeddingSize,
            joint = config.JointSize, vocabulary = config.VocabularySize, height = config.Height,
            width = config.Width, lambda = config.DoublyStochastic,
            batches = batches.Select(b => new
            {
                images = Enumerable.Range(0, batch).Select(i => b.Pixels[(i * size)..((i + 1) * size)]).ToArray(),
                captions = b.Captions,
            }).ToArray(),
            min_seconds = minSeconds, repeat, threads,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        using var threadLimit = Parallelism.Limit(threads);
        var optimizer = new Adam(model.Parameters(), 2e-3f);
        var images = batches.Select(b => Tensor.FromArray(b.Pixels, batch, 1, config.Height, config.Width))
            .ToArray();
        var timing = Timing.Measure(() =>
        {
            for (int b = 0; b < Batches; b++) // one timed run is a pass over the batches, as in the peer
            {
                optimizer.ZeroGrad();
                model.Loss(images[b], batches[b].Captions).Backward();
                GradientClipping.ClipByNorm(model.Parameters(), 5f);
                optimizer.Step();
            }
        }, minSeconds, repeat);
        var perStep = new Timing(timing.Median / Batches, timing.Min / Batches, timing.Max / Batches, timing.Runs);
        return TrainingStepBench.Report($"Show, Attend and Tell training step, batch {batch}, {config.Height} × "
            + $"{config.Width} scenes of up to {maxDigits} digits, CNN {config.Channels}/{2 * config.Channels}/"
            + $"{config.FeatureSize}, LSTM {config.HiddenSize}", "scenes", batch, perStep, peer, threads, repeat,
            json);
    }
}
