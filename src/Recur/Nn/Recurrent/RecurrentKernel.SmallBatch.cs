using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.ExceptionServices;
using Recur.Kernels;

namespace Recur.Nn.Recurrent;

/// <summary>A recurrent layer's W_ih and W_hh in int8, for <see cref="RecurrentKernel"/>'s int8 inference.</summary>
internal sealed record QuantizedWeights(QuantizedMatrix Ih, QuantizedMatrix Hh);

internal static partial class RecurrentKernel
{
    /// <summary>Batches up to this size run inference on the small-batch path.</summary>
    internal const int SmallBatch = 4;

    /// <summary>Multiply-adds of a step's recurrent product per thread below which a second thread costs more in
    /// hand-offs than it saves.</summary>
    const long MinMacsPerThread = 1L << 16;

    /// <summary>Units are split across threads in multiples of this (a Vector512 of floats).</summary>
    const int UnitAlignment = 16;

    static readonly AsyncLocal<int> smallBatchThreads = new();

    /// <summary>Forces the small-batch path's thread count for the calling flow until disposed (tests compare
    /// splits; 0 restores the automatic choice).</summary>
    internal static IDisposable WithSmallBatchThreads(int threads) => FlowOverride.Set(smallBatchThreads, threads);

    /// <summary>
    /// Whether <see cref="RunSmallBatch{TCell}"/> can run this layer at all (and so whether it has an int8 path): no
    /// projection, and a cell whose units are independent given one recurrent product.
    /// </summary>
    static bool HasUnitWisePath<TCell>(Tensor? projection) where TCell : struct, IRecurrentCell
        => projection is null && TCell.EarlyBlocks == 0 && TCell.UnitWise;

    /// <summary>
    /// Whether a float run takes <see cref="RunSmallBatch{TCell}"/>: inference (nothing to keep for a backward) of at
    /// most <see cref="SmallBatch"/> sequences without probe recording, on a layer
    /// <see cref="HasUnitWisePath{TCell}"/>.
    /// </summary>
    static bool TakesSmallBatchPath<TCell>(bool needsBackward, int batch, ProbeRecord? record, Tensor? projection)
        where TCell : struct, IRecurrentCell
        => !needsBackward && batch <= SmallBatch && record is null && HasUnitWisePath<TCell>(projection);

    /// <summary>
    /// Inference for one to four sequences — generation, streaming, online forecasting — where a step is a
    /// matrix–vector product with W_hh and its cost is reading W_hh. The hidden units are split across threads that
    /// run the whole chunk of steps together and meet at a spinning barrier after each step (no hand-off through the
    /// pool per step): each thread multiplies its units' rows of every gate block, straight from W_hh's row-major
    /// storage (its share stays in its core's L2), applies the cell to its units and writes their new state. The
    /// input projections of a cache-sized chunk of steps are one GEMM, as on the general path, except for a single
    /// step (generation) and in int8, where each thread projects the inputs onto its own units' rows of W_ih before
    /// the steps. Each unit's result is computed the same way whatever the split, so results do not depend on the
    /// thread count. Returns the same packed layout as the general path.
    /// </summary>
    static unsafe Tensor RunSmallBatch<TCell>(Tensor input, Tensor h0, Tensor? c0, Tensor weightIh, Tensor weightHh,
        Tensor? biasIh, Tensor? biasHh, int[]? lengths, bool reverse, float[] extra, QuantizedWeights? quantized = null,
        ReadOnlyMemory<float>? projected = null)
        where TCell : struct, IRecurrentCell
    {
        int steps = input.Size(0), batch = input.Size(1), inputSize = input.Size(2);
        int gateWidth = weightHh.Size(0), hidden = gateWidth / TCell.Gates;
        int chunk = Math.Clamp(InferenceChunkFloats / Math.Max(1, batch * gateWidth), 1, Math.Max(steps, 1));
        var giBuffer = PinnedPool.Rent(chunk * batch * gateWidth);
        // the states before and after a step, in two slots that swap roles every step
        var hSlots = PinnedPool.Rent(2 * batch * hidden);
        var cSlots = PinnedPool.Rent(2 * batch * hidden);
        var packed = Tensor.Zeros((steps + 1) * batch * hidden + batch * hidden);
        PinnedBuffer? inputBias = null;
        try
        {
            h0.Span.CopyTo(hSlots.AsSpan(batch * hidden));
            if (c0 != null) c0.Span.CopyTo(cSlots.AsSpan(batch * hidden));
            else cSlots.AsSpan(batch * hidden).Clear();

            inputBias = InputBias<TCell>(biasIh, biasHh, gateWidth);
            var stepBias = !TCell.SeparateRecurrent ? null : biasHh;
            var (threads, choice) = SmallBatchThreads<TCell>(gateWidth, hidden, batch, quantized != null,
                timed: steps * batch > SmallBatch);
            long timedTicks = 0, timedSteps = 0;
            var bounds = new int[threads + 1];
            for (int s = 0; s < threads; s++)
                bounds[s] = (int)((long)(hidden / UnitAlignment) * s / threads) * UnitAlignment;
            bounds[threads] = hidden;
            for (int s0 = 0; s0 < steps; s0 += chunk)
            {
                int count = Math.Min(chunk, steps - s0);
                int firstTime = reverse ? steps - s0 - count : s0;
                var x = input.Span.Slice(firstTime * batch * inputSize, count * batch * inputSize);
                // input projections for every step of the chunk at once, gi = X·W_ihᵀ + b_ih: one GEMM when there
                // are enough rows for it, otherwise each thread's own rows in the team
                bool projectInTeam = projected is null && (quantized != null || count * batch <= SmallBatch);
                if (projected is { } rows)
                    rows.Span.Slice(firstTime * batch * gateWidth, count * batch * gateWidth)
                        .CopyTo(giBuffer.AsSpan(count * batch * gateWidth));
                else if (!projectInTeam)
                    Gemm.Multiply(false, true, count * batch, gateWidth, inputSize, x, inputSize, weightIh.Span,
                        inputSize, giBuffer.AsSpan(count * batch * gateWidth), gateWidth,
                        bias: inputBias is null ? default : inputBias.AsSpan(gateWidth));
                var work = new SmallBatchChunk(s0, count, steps, batch, hidden, gateWidth, firstTime, reverse, lengths,
                    giBuffer, hSlots, cSlots, weightHh, stepBias, extra, packed, quantized,
                    projectInTeam ? new InputProjection(input, firstTime, weightIh, inputBias) : null);
                RunTogether(threads, (part, barrier) => work.Run<TCell>(part < 0 ? 0 : bounds[part],
                    part < 0 ? hidden : bounds[part + 1], barrier, timed: part <= 0));
                timedTicks += work.TimedTicks;
                timedSteps += count - 1;
            }
            // the time a step takes once the team is running (a worker woken from sleep, the first step's caches and
            // the projections are left out: they would count against whichever count had not run for a while)
            if (timedSteps > 0) choice?.Record(threads, (double)timedTicks / Stopwatch.Frequency / timedSteps);
            // the final states sit in the slot the last step wrote
            int last = steps % 2;
            var outputs = packed.Span;
            hSlots.AsSpan(2 * batch * hidden).Slice(last * batch * hidden, batch * hidden)
                .CopyTo(outputs.Slice(steps * batch * hidden, batch * hidden));
            if (TCell.HasCellState)
                cSlots.AsSpan(2 * batch * hidden).Slice(last * batch * hidden, batch * hidden)
                    .CopyTo(outputs.Slice((steps + 1) * batch * hidden, batch * hidden));
            return packed;
        }
        finally
        {
            PinnedPool.Return(giBuffer);
            PinnedPool.Return(hSlots);
            PinnedPool.Return(cSlots);
            if (inputBias != null) PinnedPool.Return(inputBias);
        }
    }

    /// <summary>
    /// The bias the input projection adds: b_ih, and b_hh with it where the cell adds its recurrent part to the
    /// projection (not kept separate, as a GRU's is) — once for a whole chunk instead of at every step.
    /// </summary>
    static PinnedBuffer? InputBias<TCell>(Tensor? biasIh, Tensor? biasHh, int gateWidth)
        where TCell : struct, IRecurrentCell
    {
        bool addsHh = !TCell.SeparateRecurrent && biasHh != null;
        if (biasIh is null && !addsHh) return null;
        // from the pool (the caller returns it): a token of generation runs this once a layer
        var inputBias = PinnedPool.Rent(gateWidth);
        var span = inputBias.AsSpan(gateWidth);
        if (biasIh != null) biasIh.Span.CopyTo(span);
        else span.Clear();
        if (addsHh) TensorPrimitives.Add(span, biasHh!.Span, span);
        return inputBias;
    }

    /// <summary>
    /// Input projections <c>x·W_ihᵀ + bias</c> of <paramref name="rows"/> inputs (row-major in <paramref name="x"/>),
    /// computed exactly as a small-batch run projects a step — the same products and the same bias — so that a run
    /// given them (<see cref="Run"/>'s <c>projectedInput</c>) gives the bits it would have given projecting them
    /// itself. A table of them for every token of a vocabulary lets generation skip reading W_ih at every token.
    /// </summary>
    internal static unsafe float[] ProjectInputs<TCell>(ReadOnlySpan<float> x, int rows, Tensor weightIh,
        Tensor? biasIh, Tensor? biasHh, QuantizedWeights? quantized) where TCell : struct, IRecurrentCell
    {
        int gateWidth = weightIh.Size(0), hidden = gateWidth / TCell.Gates;
        var projected = new float[rows * gateWidth];
        var bias = InputBias<TCell>(biasIh, biasHh, gateWidth);
        try
        {
            fixed (float* gi = projected)
                ProjectRows(x, rows, weightIh, bias, quantized, hidden, 0, hidden, gi);
        }
        finally
        {
            if (bias != null) PinnedPool.Return(bias);
        }
        return projected;
    }

    /// <summary>
    /// Columns g·H + [u0, u0 + units) of every gate block of <paramref name="rows"/> rows of <paramref name="gi"/>
    /// (each gateWidth wide) with x·W_ihᵀ + bias: those rows of W_ih only, so threads write disjoint columns.
    /// </summary>
    static unsafe void ProjectRows(ReadOnlySpan<float> x, int rows, Tensor weightIh, PinnedBuffer? bias,
        QuantizedWeights? quantized, int hidden, int u0, int units, float* gi)
    {
        int inputSize = weightIh.Size(1), gateWidth = weightIh.Size(0), gates = gateWidth / hidden;
        fixed (float* px = x, w = weightIh.Span)
        {
            if (quantized is null)
                for (int g = 0; g < gates; g++)
                    MatrixVector.RowDots(w + (nint)(g * hidden + u0) * inputSize, inputSize, units, inputSize, px,
                        inputSize, rows, gi + g * hidden + u0, gateWidth);
            else
            {
                // every thread quantises all the rows itself (the same bytes in each)
                var ih = quantized.Ih;
                var buffers = threadBuffers ??= new ThreadBuffers();
                var bytes = ThreadBuffers.Reuse(ref buffers.InputBytes, rows * ih.Stride);
                var scales = ThreadBuffers.Reuse(ref buffers.InputScales, rows);
                for (int r = 0; r < rows; r++)
                    scales[r] = ih.QuantizeVector(x.Slice(r * inputSize, inputSize),
                        bytes.AsSpan(r * ih.Stride, ih.Stride));
                fixed (byte* xq = bytes)
                fixed (float* ps = scales)
                    for (int g = 0; g < gates; g++)
                        ih.RowDots(g * hidden + u0, units, xq, ih.Stride, ps, rows, gi + g * hidden + u0, gateWidth);
            }
        }
        if (bias is null) return;
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < gates; g++)
            {
                var block = new Span<float>(gi + r * gateWidth + g * hidden + u0, units);
                TensorPrimitives.Add(block, bias.AsSpan(gateWidth).Slice(g * hidden + u0, units), block);
            }
    }

    /// <summary>
    /// Threads for a small-batch run: at least <see cref="UnitAlignment"/> units each and no more than the pool can
    /// run at once; between one thread and all of them, whichever has been faster for this shape of layer (see
    /// <see cref="ThreadChoice"/>; a forced count from <see cref="WithSmallBatchThreads"/> is taken as it is). The
    /// choice is returned to be told how the run went. Runs that are not <paramref name="timed"/> — a step or two, as
    /// generation makes, too short to time apart from waking the team — keep the first guess.
    /// </summary>
    static (int Threads, ThreadChoice? Choice) SmallBatchThreads<TCell>(int gateWidth, int hidden, int batch,
        bool int8, bool timed) where TCell : struct, IRecurrentCell
    {
        int most = Math.Min(Math.Min(Parallelism.MaxThreads, WorkerPool.Shared.Workers + 1),
            Math.Max(1, hidden / UnitAlignment));
        if (smallBatchThreads.Value > 0)
            return (Math.Min(smallBatchThreads.Value, Math.Max(1, hidden / UnitAlignment)), null);
        // the first guess: enough multiply-adds a thread to pay for meeting the others after every step
        long macs = (long)gateWidth * hidden * batch / (int8 ? 4 : 1);
        int guess = (int)Math.Clamp(macs / MinMacsPerThread, 1, most);
        if (most == 1 || !timed) return (guess, null);
        var choice = ThreadChoices.GetOrAdd((typeof(TCell), gateWidth, hidden, batch, int8, most),
            _ => new ThreadChoice(most));
        return (choice.Next(guess), choice);
    }

    static readonly ConcurrentDictionary<(Type, int, int, int, bool, int), ThreadChoice> ThreadChoices = new();

    /// <summary>
    /// One thread or all of them for one shape of small-batch run, by the time a step took with each. A step meets the
    /// other threads once; what that costs depends on the machine and, on a virtual machine, on the minute (two threads
    /// exchanging a state took 0.67 µs a step in one minute and 1.7 µs the next on the development VM), so a fixed rule
    /// picks wrongly for steps of a few microseconds. Each count keeps the times of its last <see cref="Window"/> runs
    /// and is judged by the best of them — the machine's current speed for it, not its worst moments (a thread the
    /// system parks for a while delays a team of two far more than one thread). The slower count is tried again after
    /// <see cref="ExploreEvery"/> runs, then half as often each time it loses (down to one run in
    /// <see cref="MostRarely"/>), so its times stay current without costing much when the two differ by far (a float
    /// LSTM step at batch 1: 8 µs on two threads, 18 on one). Every unit is computed the same way whatever the split,
    /// so the choice changes speed only, never a value.
    /// </summary>
    internal sealed class ThreadChoice(int most)
    {
        const int ExploreEvery = 16, MostRarely = 512, Window = 8;
        int preferred = -1, interval = ExploreEvery, nextTry;
        readonly double[][] recent = [new double[Window], new double[Window]]; // one thread, all of them
        readonly int[] recorded = new int[2];
        int runs, last = -1, again = -1;
        bool warmUp;

        /// <summary>
        /// The count for the next run: <paramref name="guess"/> until both have been timed. A count runs twice when it
        /// takes over from the other, and the first of the two is not timed: it pays for waking a worker that had gone
        /// to sleep and for filling its caches, which would count against whichever count had not run for a while.
        /// </summary>
        public int Next(int guess)
        {
            lock (recent)
            {
                runs++;
                int slot = Choose(guess);
                if (again >= 0) (slot, again) = (again, -1);
                else if (slot != last) (warmUp, again) = (true, slot);
                last = slot;
                return Count(slot);
            }
        }

        int Choose(int guess)
        {
            int guessed = guess == 1 ? 0 : 1;
            if (recorded[guessed] == 0) return guessed;
            if (recorded[1 - guessed] == 0) return 1 - guessed;
            int faster = Best(0) <= Best(1) ? 0 : 1;
            if (faster != preferred) (preferred, interval) = (faster, ExploreEvery);
            if (runs < nextTry) return faster;
            // try the other count, and less often while it keeps losing
            nextTry = runs + interval;
            interval = Math.Min(2 * interval, MostRarely);
            return 1 - faster;
        }

        /// <summary>How long a step took in a run with <paramref name="threads"/> threads (the first run after a
        /// change of count is left out).</summary>
        public void Record(int threads, double seconds)
        {
            int slot = threads == 1 ? 0 : 1;
            lock (recent)
            {
                if (warmUp) { warmUp = false; return; }
                recent[slot][recorded[slot]++ % Window] = seconds;
            }
        }

        double Best(int slot)
        {
            double best = double.PositiveInfinity;
            foreach (double t in recent[slot].AsSpan(0, Math.Min(recorded[slot], Window))) best = Math.Min(best, t);
            return best;
        }

        int Count(int slot) => slot == 0 ? 1 : most;
    }

    /// <summary>
    /// Runs <paramref name="body"/>(part, barrier) for every part on <paramref name="threads"/> threads at once,
    /// meeting at the barrier after each step; when the pool cannot promise that, runs body(−1, null) — every unit on
    /// this thread, with the same results. The first real failure is rethrown, not the cancellations it caused.
    /// </summary>
    static void RunTogether(int threads, Action<int, StepBarrier?> body)
    {
        if (threads == 1) { body(0, null); return; }
        var barrier = new StepBarrier(threads);
        ExceptionDispatchInfo? failure = null;
        bool together = WorkerPool.Shared.TryRunTogether(threads, part =>
        {
            try { body(part, barrier); }
            catch (OperationCanceledException) when (barrier.Failed) { }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                barrier.Fail();
            }
        });
        failure?.Throw();
        if (!together) body(-1, null);
    }

    /// <summary>The inputs of a chunk (its rows from time <paramref name="FirstTime"/>) to project in the
    /// team.</summary>
    sealed record InputProjection(Tensor Input, int FirstTime, Tensor WeightIh, PinnedBuffer? Bias);

    /// <summary>A thread's working rows for <see cref="SmallBatchChunk"/> and <see cref="ProjectRows"/>, reused by
    /// its next call: every element a step reads was written first in that step (products, projections, scratch,
    /// the int8 vectors with their padding), so nothing stale is read.</summary>
    sealed class ThreadBuffers
    {
        public float[]? Local, Recurrent, Scratch, Extra, Scales, InputScales;
        public byte[]? Bytes, InputBytes;

        public static T[] Reuse<T>(ref T[]? slot, int length) =>
            slot is not null && slot.Length >= length ? slot : slot = new T[length];
    }

    [ThreadStatic] static ThreadBuffers? threadBuffers;

    /// <summary>One chunk of steps of a small-batch run, for one range of units.</summary>
    sealed class SmallBatchChunk(int s0, int count, int steps, int batch, int hidden, int gateWidth, int firstTime,
        bool reverse, int[]? lengths, PinnedBuffer gi, PinnedBuffer hSlots, PinnedBuffer cSlots, Tensor weightHh,
        Tensor? biasHh, float[] extra, Tensor packed, QuantizedWeights? quantized, InputProjection? projection)
    {
        /// <summary>Fills this range's columns of the chunk's gi rows with their input projections (<see
        /// cref="ProjectRows"/>).</summary>
        unsafe void Project(int u0, int units, InputProjection p)
        {
            int inputSize = p.WeightIh.Size(1), rows = count * batch;
            ProjectRows(p.Input.Span.Slice(p.FirstTime * batch * inputSize, rows * inputSize), rows, p.WeightIh,
                p.Bias, quantized, hidden, u0, units, gi.Pointer);
        }

        /// <summary>Ticks from the end of the chunk's first step to the end of its last, as the thread that was asked
        /// to time them saw them.</summary>
        public long TimedTicks { get; private set; }

        /// <summary>Steps units [u0, u1) through the chunk, waiting at <paramref name="barrier"/> (the threads
        /// that run the other units) after each step; <paramref name="timed"/>: this thread sets
        /// <see cref="TimedTicks"/>.</summary>
        public unsafe void Run<TCell>(int u0, int u1, StepBarrier? barrier, bool timed)
            where TCell : struct, IRecurrentCell
        {
            long firstDone = 0;
            int units = u1 - u0, gates = TCell.Gates, rowWidth = gates * units;
            if (projection != null) Project(u0, units, projection);
            // this thread's working rows, kept from call to call (one token of generation is a call per layer)
            var buffers = threadBuffers ??= new ThreadBuffers();
            var local = ThreadBuffers.Reuse(ref buffers.Local, batch * rowWidth);
            var localRecurrent = TCell.SeparateRecurrent
                ? ThreadBuffers.Reuse(ref buffers.Recurrent, batch * rowWidth) : local;
            var scratch = ThreadBuffers.Reuse(ref buffers.Scratch, TCell.ScratchBlocks * units)
                .AsSpan(0, TCell.ScratchBlocks * units);
            var localExtra = ThreadBuffers.Reuse(ref buffers.Extra, TCell.ExtraBlocks * units)
                .AsSpan(0, TCell.ExtraBlocks * units);
            for (int e = 0; e < TCell.ExtraBlocks; e++)
                extra.AsSpan(e * hidden + u0, units).CopyTo(localExtra.Slice(e * units));
            // int8: each thread quantises the whole of h_{t−1} itself (the same bytes in every thread)
            var quantizedHh = quantized?.Hh;
            var hQuantized = quantizedHh is null ? null
                : ThreadBuffers.Reuse(ref buffers.Bytes, batch * quantizedHh.Stride);
            var hScales = ThreadBuffers.Reuse(ref buffers.Scales, batch);
            var bias = biasHh is null ? default : biasHh.Span;
            var outputs = packed.Span;
            fixed (float* w = weightHh.Span, product = localRecurrent, scales = hScales)
            fixed (byte* xq = hQuantized)
            {
                for (int s = s0; s < s0 + count; s++)
                {
                    int t = reverse ? steps - 1 - s : s;
                    int at = (t - firstTime) * batch;
                    int before = s % 2 * batch * hidden, after = (1 - s % 2) * batch * hidden;
                    float* hBefore = hSlots.Pointer + before;
                    // this range's rows of every gate block: product[b, g·units + j] = W_hh[g·H + u0 + j]·h_{t−1}[b]
                    if (quantizedHh is null)
                        for (int g = 0; g < gates; g++)
                            MatrixVector.RowDots(w + (nint)(g * hidden + u0) * hidden, hidden, units, hidden, hBefore,
                                hidden, batch, product + g * units, rowWidth);
                    else
                    {
                        int stride = quantizedHh.Stride;
                        for (int b = 0; b < batch; b++)
                            scales[b] = quantizedHh.QuantizeVector(
                                new ReadOnlySpan<float>(hBefore + b * hidden, hidden),
                                new Span<byte>(xq + b * stride, stride));
                        for (int g = 0; g < gates; g++)
                            quantizedHh.RowDots(g * hidden + u0, units, xq, stride, scales, batch, product + g * units,
                                rowWidth);
                    }
                    for (int b = 0; b < batch; b++)
                    {
                        var h = new Span<float>(hSlots.Pointer + after + b * hidden + u0, units);
                        var c = new Span<float>(cSlots.Pointer + after + b * hidden + u0, units);
                        var hPrev = new ReadOnlySpan<float>(hBefore + b * hidden + u0, units);
                        var cPrev = new ReadOnlySpan<float>(cSlots.Pointer + before + b * hidden + u0, units);
                        if (lengths != null && t >= lengths[b])
                        {
                            hPrev.CopyTo(h); // past its length a row's state is carried and its output stays 0
                            cPrev.CopyTo(c);
                            continue;
                        }
                        if (TCell.FusesProjection && bias.IsEmpty)
                        {
                            // the recurrent product and the projection added in the cell's own pass
                            fixed (float* hOut = h, cOut = c, cIn = cPrev)
                                TCell.ForwardAdding(units, product + b * rowWidth,
                                    gi.Pointer + (at + b) * gateWidth + u0, hidden, cIn, cOut, hOut);
                            h.CopyTo(outputs.Slice((t * batch + b) * hidden + u0, units));
                            continue;
                        }
                        var row = local.AsSpan(b * rowWidth, rowWidth);
                        var recurrentRow = localRecurrent.AsSpan(b * rowWidth, rowWidth);
                        for (int g = 0; g < gates; g++)
                        {
                            var block = recurrentRow.Slice(g * units, units);
                            if (!bias.IsEmpty) TensorPrimitives.Add(block, bias.Slice(g * hidden + u0, units), block);
                            var projected = gi.AsSpan((at + b + 1) * gateWidth)
                                .Slice((at + b) * gateWidth + g * hidden + u0, units);
                            if (TCell.SeparateRecurrent) projected.CopyTo(row.Slice(g * units, units));
                            else TensorPrimitives.Add(block, projected, block);
                        }
                        TCell.Forward(row, recurrentRow, hPrev, cPrev, h, c, scratch, localExtra);
                        h.CopyTo(outputs.Slice((t * batch + b) * hidden + u0, units));
                    }
                    barrier?.SignalAndWait();
                    if (timed && s == s0) firstDone = Stopwatch.GetTimestamp();
                }
            }
            if (timed) TimedTicks = Stopwatch.GetTimestamp() - firstDone;
        }
    }
}
