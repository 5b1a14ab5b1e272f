using Recur.Autograd;
using Recur.Kernels;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Nn;

/// <summary>The small-batch inference path: its results against the general path's, and across thread splits.</summary>
public class RecurrentSmallBatchTests
{
    public static TheoryData<string> Cells() => [.. RecurrentCells.Names];

    // 40 units: two aligned blocks of 16 and a tail of 8, so a split leaves a part that is not a whole vector
    // in evaluation mode: bn-lstm's noise on h_0 (training only) would make every forward a different function
    static RecurrentLayer Layer(string cell, int hidden = 40)
    {
        var layer = new RecurrentLayer(RecurrentCells.Configure(RecurrentCells.Parse(cell),
            new RecurrentConfig(RecurrentMode.Lstm, 6,
            hidden, NumLayers: 2, Bidirectional: true)), new RandomGenerator(7));
        layer.Eval();
        return layer;
    }

    static RecurrentOutput Infer(RecurrentLayer layer, Tensor input, int[]? lengths, int threads)
    {
        using var split = RecurrentKernel.WithSmallBatchThreads(threads);
        using var _ = GradMode.NoGrad();
        return layer.Forward(input, lengths: lengths);
    }

    static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        var e = expected.ToArray();
        var a = actual.ToArray();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-5 + 1e-5 * Math.Abs(e[i]),
                $"{what}[{i}]: expected {e[i]:G9}, got {a[i]:G9}");
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void EveryBatchUpToFourAgreesWithTheGeneralPath(string cell)
    {
        var layer = Layer(cell);
        for (int batch = 1; batch <= RecurrentKernel.SmallBatch; batch++)
        {
            var input = Tensor.RandomNormal(new RandomGenerator((ulong)batch), [5, batch, 6]);
            int[]? lengths = batch == 1 ? null : [.. Enumerable.Range(0, batch).Select(b => 5 - b)];
            // a forward that records for a backward takes the general path
            var general = layer.Forward(input, lengths: lengths);
            Assert.True(general.Output.RequiresGrad);
            var small = Infer(layer, input, lengths, threads: 2);
            AssertClose(general.Output, small.Output, $"B={batch} output");
            AssertClose(general.HiddenState, small.HiddenState, $"B={batch} h_n");
            if (general.CellState != null) AssertClose(general.CellState, small.CellState!, $"B={batch} c_n");
        }
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void SplittingTheUnitsAcrossThreadsChangesNoBit(string cell)
    {
        var layer = Layer(cell);
        var input = Tensor.RandomNormal(new RandomGenerator(9), [7, 3, 6]);
        int[] lengths = [7, 2, 5];
        var one = Infer(layer, input, lengths, threads: 1);
        foreach (int threads in new[] { 2, 3 })
        {
            var split = Infer(layer, input, lengths, threads);
            Assert.Equal(one.Output.ToArray(), split.Output.ToArray());
            Assert.Equal(one.HiddenState.ToArray(), split.HiddenState.ToArray());
            if (one.CellState != null) Assert.Equal(one.CellState.ToArray(), split.CellState!.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void SplittingALargeBatchByRowsAcrossThreadsAgreesWithOnePart(string cell)
    {
        var layer = Layer(cell);
        var input = Tensor.RandomNormal(new RandomGenerator(10), [6, 37, 6]);
        int[] lengths = [.. Enumerable.Range(0, 37).Select(b => 1 + b % 6)];
        RecurrentOutput Run(int parts)
        {
            using var split = RecurrentKernel.WithBatchParts(parts);
            using var _ = GradMode.NoGrad();
            return layer.Forward(input, lengths: lengths);
        }
        // the products of a part have fewer rows and may take another blocking, so the sums agree to rounding; the
        // same split twice agrees to the bit
        var whole = Run(1);
        foreach (int parts in new[] { 2, 3 })
        {
            var split = Run(parts);
            AssertClose(whole.Output, split.Output, $"{parts} parts: output");
            AssertClose(whole.HiddenState, split.HiddenState, $"{parts} parts: h_n");
            if (whole.CellState != null) AssertClose(whole.CellState, split.CellState!, $"{parts} parts: c_n");
            Assert.Equal(split.Output.ToArray(), Run(parts).Output.ToArray());
        }
        // inside another parallel job the pool is taken and the parts run on the thread pool: the same bits
        var expected = Run(2).Output.ToArray();
        var inJob = new float[]?[2];
        WorkerPool.Shared.For(2, i => inJob[i] = Run(2).Output.ToArray());
        Assert.Equal(expected, inJob[0]);
        Assert.Equal(expected, inJob[1]);
    }

    [Fact]
    public void AProjectedLstmWithGivenStatesSplitByRowsAgreesWithOnePart()
    {
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 5, 24, ProjSize: 7, NumLayers: 2),
            new RandomGenerator(11));
        var input = Tensor.RandomNormal(new RandomGenerator(12), [4, 33, 5]);
        var h0 = Tensor.RandomNormal(new RandomGenerator(13), [2, 33, 7]);
        var c0 = Tensor.RandomNormal(new RandomGenerator(14), [2, 33, 24]);
        RecurrentOutput Run(int parts)
        {
            using var split = RecurrentKernel.WithBatchParts(parts);
            using var _ = GradMode.NoGrad();
            return layer.Forward(input, h0, c0);
        }
        var whole = Run(1);
        var split = Run(2);
        AssertClose(whole.Output, split.Output, "output");
        AssertClose(whole.HiddenState, split.HiddenState, "h_n");
        AssertClose(whole.CellState!, split.CellState!, "c_n");
    }

    [Fact]
    public void InsideAnotherParallelJobItRunsOnOneThreadWithTheSameBits()
    {
        // the pool is taken, so the threads cannot run together: the whole range runs on the caller's thread
        var layer = Layer("lstm", hidden: 64);
        // frozen, so no thread's gradient mode can send a run down the recording path
        foreach (var parameter in layer.Parameters()) parameter.RequiresGrad = false;
        var input = Tensor.RandomNormal(new RandomGenerator(11), [9, 1, 6]);
        var together = Infer(layer, input, null, threads: 2).Output.ToArray();
        var results = new float[]?[2];
        var threads = new int[2];
        WorkerPool.Shared.For(2, i =>
        {
            threads[i] = Environment.CurrentManagedThreadId;
            results[i] = Infer(layer, input, null, threads: 2).Output.ToArray();
        });
        for (int i = 0; i < 2; i++)
        {
            int first = -1;
            for (int k = 0; k < together.Length && first < 0; k++) if (together[k] != results[i]![k]) first = k;
            Assert.True(first < 0, $"part {i} (thread {threads[i]}, test thread {Environment.CurrentManagedThreadId}):"
                + $" [{first}] {(first < 0 ? 0 : together[first]):G9} vs {(first < 0 ? 0 : results[i]![first]):G9}");
        }
    }

    [Fact]
    public void ChunksOfStepsCarryTheStateAcross()
    {
        var layer = Layer("gru");
        var input = Tensor.RandomNormal(new RandomGenerator(13), [8, 2, 6]);
        var whole = Infer(layer, input, [8, 5], threads: 2);
        using var chunk = RecurrentKernel.WithInferenceChunk(1); // one step per chunk
        var chunked = Infer(layer, input, [8, 5], threads: 2);
        // a one-step chunk makes the input product thin, which the GEMM sums in another order: close, not equal
        AssertClose(whole.Output, chunked.Output, "output");
        AssertClose(whole.HiddenState, chunked.HiddenState, "h_n");
    }

    [Fact]
    public void TheThreadCountFollowsTheFasterTimingAndTriesTheOtherLessOftenWhileItLoses()
    {
        var choice = new RecurrentKernel.ThreadChoice(most: 2);
        var secondsPerStep = new Dictionary<int, double> { [1] = 2e-6, [2] = 3e-6 };
        var chosen = new List<int>();
        void Run(int n, int guess)
        {
            for (int i = 0; i < n; i++)
            {
                int threads = choice.Next(guess);
                chosen.Add(threads);
                choice.Record(threads, secondsPerStep[threads]);
            }
        }
        // untimed: the guess first, twice (the first run after a change of count is not timed), then the other
        Run(4, guess: 2);
        Assert.Equal([2, 2, 1, 1], chosen);
        // one thread is faster: two threads are tried again (twice each time) after 16 runs, then 32, 64, …
        chosen.Clear();
        Run(200, guess: 2);
        Assert.InRange(chosen.Count(c => c == 2), 6, 14);
        Assert.All(chosen.Skip(120).Take(60), c => Assert.Equal(1, c));
        // the machine changes: two threads become faster; once the last 8 one-thread runs show it, they take over
        (secondsPerStep[1], secondsPerStep[2]) = (6e-6, 3e-6);
        chosen.Clear();
        Run(300, guess: 1);
        Assert.True(chosen.Skip(250).All(c => c == 2) || chosen.Skip(250).Count(c => c == 1) <= 4,
            $"last 50 runs: {string.Join(",", chosen.Skip(250))}");
        Assert.True(chosen.Count(c => c == 2) > 250, $"two threads in {chosen.Count(c => c == 2)} of 300 runs");
    }
}
