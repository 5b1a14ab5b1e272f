using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Memory;
using Recur.Optim;

namespace Recur.Cli.Bench;

/// <summary>
/// <c>recur bench memnet</c>: training throughput (questions per second) of the joint bAbI memory network — 3 hops,
/// position and temporal encoding, d = 50 — against the same network in PyTorch, on the same padded batches of real
/// bAbI questions (all 20 tasks mixed, as joint training sees them): forward, cross-entropy, backward, clipping and an
/// Adam step.
/// </summary>
static class MemnetBench
{
    public static int Run(string data, int threads, double minSeconds, bool json, int repeat, int batch,
        int embedding)
    {
        if (!Directory.Exists(data))
            throw new UsageException($"--data {data}: no such folder (the bAbI tasks, tasks_1-20_v1-2/en).");
        var questions = BabiReader.Load(data, Enumerable.Range(1, 20).ToArray(), validationFraction: 0).Train;
        var vocabulary = StoryEncoding.Vocabulary(questions);
        var encoded = questions.Select(q => StoryEncoding.Encode(q, vocabulary)).ToArray();
        var model = new MemoryNetwork(new MemoryNetworkConfig(vocabulary.Count,
            StoryEncoding.SentenceLength(questions), embedding), new RandomGenerator(1));
        var shuffle = new RandomGenerator(2);
        var order = Enumerable.Range(0, encoded.Length).ToArray();
        shuffle.Shuffle(order);
        const int Batches = 16;
        var batches = Enumerable.Range(0, Batches).Select(i => order.Skip(i * batch).Take(batch)
            .Select(j => encoded[j]).ToArray()).ToArray();
        var padded = batches.Select(b => model.Pad(b)).ToArray();
        var config = model.Config;
        var peer = PythonPeer.Run<PeerStep>("memn2n.py", new
        {
            vocabulary = config.VocabularySize, sentence_length = config.SentenceLength, embedding, hops = config.Hops,
            memory_size = config.MemorySize,
            batches = padded.Select((p, i) => new
            {
                story = Nest(p.Story, p.Batch, p.Slots, config.SentenceLength), ages = Nest(p.Ages, p.Batch, p.Slots),
                // JSON has no infinity: the peer reads a large negative number, which its softmax turns into zero
                mask = Nest(p.Mask.Select(m => float.IsNegativeInfinity(m) ? -1e30f : m).ToArray(), p.Batch, p.Slots),
                question = Nest(p.Question, p.Batch, config.SentenceLength),
                answers = batches[i].Select(q => q.Answer).ToArray(),
            }).ToArray(),
            min_seconds = minSeconds, repeat, threads,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        using var threadLimit = Parallelism.Limit(threads);
        var optimizer = new Adam(model.Parameters(), 0.005f);
        var noise = new RandomGenerator(3);
        var timing = Timing.Measure(() =>
        {
            foreach (var b in batches) // one timed run is a pass over the batches, as in the peer
            {
                optimizer.ZeroGrad();
                model.Loss(b, noise).Backward();
                GradientClipping.ClipByNorm(model.Parameters(), 40f);
                optimizer.Step();
            }
        }, minSeconds, repeat);
        var perStep = new Timing(timing.Median / Batches, timing.Min / Batches, timing.Max / Batches, timing.Runs);
        return TrainingStepBench.Report($"MemN2N training step (bAbI, 20 tasks joint), batch {batch}, 3 hops, "
            + $"d = {embedding}, {vocabulary.Count} words", "questions", batch, perStep, peer, threads, repeat, json);
    }

    static int[][] Nest(int[] flat, int rows, int columns) =>
        Enumerable.Range(0, rows).Select(r => flat[(r * columns)..((r + 1) * columns)]).ToArray();

    static float[][] Nest(float[] flat, int rows, int columns) =>
        Enumerable.Range(0, rows).Select(r => flat[(r * columns)..((r + 1) * columns)]).ToArray();

    static int[][][] Nest(int[] flat, int rows, int columns, int depth) =>
        Enumerable.Range(0, rows).Select(r => Nest(flat[(r * columns * depth)..((r + 1) * columns * depth)], columns,
            depth)).ToArray();
}
