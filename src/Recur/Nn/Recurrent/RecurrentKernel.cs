using System.Numerics.Tensors;
using Recur.Autograd;
using Recur.Kernels;

namespace Recur.Nn.Recurrent;

/// <summary>
/// One direction of one recurrent layer over a whole sequence, as a single tape node (the cuDNN recipe on the CPU):
/// the input projections of all steps in one GEMM; per step one GEMM with the recurrent matrix and the cell's fused
/// gate maths; backward through time per step, then the weight gradients of the whole sequence in one GEMM per matrix.
/// Variable lengths follow PyTorch's packed sequences: past a row's length its output is 0 and its state is carried.
/// </summary>
internal static partial class RecurrentKernel
{
    static readonly AsyncLocal<int> chunkOverride = new();

    /// <summary>
    /// The result of a recurrent run: without a backward to come, <paramref name="release"/> returns the saved
    /// buffers at once; otherwise one tape node whose <paramref name="backward"/> runs once and then releases them (a
    /// second backward through the same graph is refused, the activations being gone).
    /// </summary>
    static Tensor Recorded(Tensor packed, Tensor[] inputs, bool needsBackward, Action release, Action<Tensor> backward)
    {
        if (!needsBackward)
        {
            release();
            return packed;
        }
        bool released = false;
        return Tensor.Result(packed, inputs, grad =>
        {
            if (released)
                throw new InvalidOperationException("Backward: a recurrent layer's saved activations were released "
                    + "by an earlier backward through the same graph; run the forward again.");
            released = true;
            backward(grad);
            release();
        });
    }

    /// <summary>Size of the reused input-projection buffer in inference (1 MiB): it stays in the core's L2.</summary>
    internal static int InferenceChunkFloats => chunkOverride.Value > 0 ? chunkOverride.Value : 1 << 18;

    /// <summary>Sets <see cref="InferenceChunkFloats"/> for the calling flow until disposed (tests force many
    /// chunks).</summary>
    internal static IDisposable WithInferenceChunk(int floats) => FlowOverride.Set(chunkOverride, floats);

    /// <summary>
    /// Runs the cell of <paramref name="mode"/>; <paramref name="label"/> names the pass for an open <see
    /// cref="IRecurrentProbe"/>. <paramref name="peepholes"/> ([w_ci, w_cf, w_co], each [H]) makes an LSTM a peephole
    /// LSTM; <paramref name="leak"/> ([H], the α of each unit) makes a tanh RNN leaky; <paramref name="norms"/> (γ_ih,
    /// β_ih, γ_hh, β_hh over all gate units, then γ_c, β_c for an LSTM) makes an LSTM or GRU layer-normalised, or with
    /// <paramref name="batchNorm"/> an LSTM batch-normalised (<see cref="RunBatchNorm"/>);
    /// <paramref name="resetAfter"/> false makes a GRU Cho et al.'s original form; <paramref name="projection"/> (and
    /// <paramref name="projectionBias"/>) projects a plain LSTM's or Elman RNN's output each step and feeds the
    /// projection back (projected LSTM; with a tanh RNN, the Jordan network). The result is flat: see <see
    /// cref="Unpack"/>. <paramref name="quantized"/>, W_ih and W_hh in int8 (<see cref="QuantizedWeights"/>), makes
    /// the run an int8 inference: every batch size then takes the small-batch path, and recording for a backward is
    /// refused. <paramref name="projectedInput"/> [T·B·G·H], the input projections as <c>ProjectInputs</c> makes
    /// them, replaces projecting <paramref name="input"/> (which then gives only the shape) in a small-batch inference
    /// of a plain LSTM, GRU or RNN.
    /// </summary>
    public static Tensor Run(RecurrentMode mode, string label, Tensor input, Tensor h0, Tensor? c0, Tensor weightIh,
        Tensor weightHh, Tensor? biasIh, Tensor? biasHh, int[]? lengths, bool reverse, Tensor[]? peepholes = null,
        Tensor? leak = null, Tensor[]? norms = null, bool resetAfter = true, Tensor? projection = null,
        Tensor? projectionBias = null, QuantizedWeights? quantized = null, BatchNormStatistics? batchNorm = null,
        ReadOnlyMemory<float>? projectedInput = null)
    {
        if (projectedInput is { } given && (peepholes != null || leak != null || norms != null || !resetAfter
            || projection != null || batchNorm != null
            || given.Length != input.Size(0) * input.Size(1) * weightIh.Size(0)))
            throw new ArgumentException($"{mode}: projected inputs belong to a plain cell and must hold "
                + $"{input.Size(0) * input.Size(1) * weightIh.Size(0)} values, got {given.Length}.");
        if (batchNorm != null && (mode != RecurrentMode.Lstm || norms is null || c0 is null || peepholes != null
            || projection != null || quantized != null || biasIh != null || biasHh != null))
            throw new ArgumentException($"{mode}: batch normalisation belongs to a float LSTM whose shifts are its "
                + "biases, without peepholes or a projection.");
        if (projection != null && (peepholes != null || leak != null || norms != null || mode == RecurrentMode.Gru))
            throw new ArgumentException($"{mode}: a projection belongs to a plain LSTM or Elman RNN.");
        if (!resetAfter && (mode != RecurrentMode.Gru || norms != null))
            throw new ArgumentException($"{mode}: the reset gate's placement belongs to a GRU without layer norm.");
        if (norms != null && mode is not (RecurrentMode.Lstm or RecurrentMode.Gru))
            throw new ArgumentException($"{mode}: layer normalisation belongs to an LSTM or GRU.");
        var record = RecurrentProbes.Begin(label, mode, input.Size(0), input.Size(1),
            weightHh.Size(0) / RecurrentConfig.GatesOf(mode));
        if (peepholes != null
            && mode != RecurrentMode.Lstm) throw new ArgumentException($"{mode}: peepholes belong to an LSTM.");
        if (leak != null && mode != RecurrentMode.RnnTanh) throw new ArgumentException(
            $"{mode}: a leak belongs to a tanh RNN.");
        return mode switch
        {
            RecurrentMode.Lstm when batchNorm != null =>
                RunBatchNorm(input, h0, c0!, weightIh, weightHh, norms!, batchNorm, lengths, reverse, record),
            RecurrentMode.RnnTanh when leak != null =>
                Run<LeakyTanhCell>(input, h0, null, weightIh, weightHh, biasIh, biasHh, lengths, reverse, record,
                    [leak], quantized: quantized),
            RecurrentMode.Lstm when norms != null =>
                Run<LayerNormLstmCell>(input, h0, c0, weightIh, weightHh, biasIh, biasHh, lengths, reverse, record,
                    norms, quantized: quantized),
            RecurrentMode.Gru when norms != null =>
                Run<LayerNormGruCell>(input, h0, null, weightIh, weightHh, biasIh, biasHh, lengths, reverse, record,
                    norms, quantized: quantized),
            RecurrentMode.Gru when !resetAfter =>
                Run<ChoGruCell>(input, h0, null, weightIh, weightHh, biasIh, biasHh, lengths, reverse, record,
                    quantized: quantized),
            RecurrentMode.Lstm when peepholes != null =>
                Run<PeepholeLstmCell>(input, h0, c0, weightIh, weightHh, biasIh, biasHh, lengths, reverse, record,
                    peepholes, quantized: quantized),
            RecurrentMode.Lstm => Run<LstmCell>(input, h0, c0, weightIh, weightHh, biasIh, biasHh, lengths, reverse,
                record, null, projection, projectionBias, quantized, projectedInput),
            RecurrentMode.Gru => Run<GruCell>(input, h0, null, weightIh, weightHh, biasIh, biasHh, lengths, reverse,
                record, quantized: quantized, projectedInput: projectedInput),
            RecurrentMode.RnnRelu => Run<ReluCell>(input, h0, null, weightIh, weightHh, biasIh, biasHh, lengths,
                reverse, record, null, projection, projectionBias, quantized, projectedInput),
            _ => Run<TanhCell>(input, h0, null, weightIh, weightHh, biasIh, biasHh, lengths, reverse, record, null,
                projection, projectionBias, quantized, projectedInput),
        };
    }

    /// <summary>The input projections of a plain cell of <paramref name="mode"/> (see <see
    /// cref="ProjectInputs{TCell}"/>).</summary>
    internal static float[] ProjectInputs(RecurrentMode mode, ReadOnlySpan<float> x, int rows, Tensor weightIh,
        Tensor? biasIh, Tensor? biasHh, QuantizedWeights? quantized) => mode switch
        {
            RecurrentMode.Lstm => ProjectInputs<LstmCell>(x, rows, weightIh, biasIh, biasHh, quantized),
            RecurrentMode.Gru => ProjectInputs<GruCell>(x, rows, weightIh, biasIh, biasHh, quantized),
            RecurrentMode.RnnRelu => ProjectInputs<ReluCell>(x, rows, weightIh, biasIh, biasHh, quantized),
            _ => ProjectInputs<TanhCell>(x, rows, weightIh, biasIh, biasHh, quantized),
        };

    /// <summary>Rows of the batch a thread takes at least when inference splits the batch across threads.</summary>
    const int MinRowsPerPart = 16;

    static readonly AsyncLocal<int> batchParts = new();

    /// <summary>Forces how many parts inference splits a batch into for the calling flow until disposed (tests
    /// compare splits; 0 restores the automatic choice).</summary>
    internal static IDisposable WithBatchParts(int parts) => FlowOverride.Set(batchParts, parts);

    /// <summary>Parts an inference batch of <paramref name="batch"/> rows is split into, one thread each: as many as
    /// the threads allowed and the pool can run, with at least <see cref="MinRowsPerPart"/> rows each.</summary>
    static int BatchParts(int batch)
    {
        if (batchParts.Value > 0) return Math.Min(batchParts.Value, batch);
        int most = Math.Min(Parallelism.MaxThreads, WorkerPool.Shared.Workers + 1);
        return Math.Clamp(batch / MinRowsPerPart, 1, Math.Max(1, most));
    }

    /// <summary>
    /// Inference of a large batch, split by rows: the rows of a batch do not meet in a forward, so each thread runs
    /// the whole sequence for its own contiguous rows on one thread — its own products, cell and copies, with no
    /// hand-off between threads at any step — and the parts are gathered into the usual packed layout. The results
    /// agree with one part's to rounding (a part's products have fewer rows and may be blocked differently); a thread
    /// count always makes the same split, so it always gives the same bits.
    /// </summary>
    static Tensor RunByRows<TCell>(int parts, Tensor input, Tensor h0, Tensor? c0, Tensor weightIh, Tensor weightHh,
        Tensor? biasIh, Tensor? biasHh, int[]? lengths, bool reverse, Tensor[] extras, Tensor? projection,
        Tensor? projectionBias) where TCell : struct, IRecurrentCell
    {
        int steps = input.Size(0), batch = input.Size(1);
        int hidden = weightHh.Size(0) / TCell.Gates, width = projection?.Size(0) ?? hidden;
        var results = new Tensor[parts];
        var starts = Enumerable.Range(0, parts + 1).Select(p => (int)((long)p * batch / parts)).ToArray();
        WorkerPool.Shared.For(parts, p =>
        {
            int b0 = starts[p], rows = starts[p + 1] - b0;
            // one thread and one part inside a part, whichever thread runs it (a worker does not see the caller's
            // flow settings, a thread-pool fallback does); nothing here is recorded
            using var noGrad = GradMode.NoGrad();
            using var oneThread = Parallelism.Limit(1);
            using var onePart = WithBatchParts(1);
            results[p] = Run<TCell>(input.Slice(1, b0, rows), h0.Slice(0, b0, rows), c0?.Slice(0, b0, rows),
                weightIh, weightHh, biasIh, biasHh, lengths?[b0..(b0 + rows)], reverse, null, extras, projection,
                projectionBias);
        });
        // [T + 1, B, S] (outputs, then the final state) and the final cell state [B, H], gathered row range by range
        var packed = Tensor.Uninitialized([(steps + 1) * batch * width + batch * hidden]);
        var all = packed.Span;
        for (int p = 0; p < parts; p++)
        {
            int b0 = starts[p], rows = starts[p + 1] - b0;
            var part = results[p].Span;
            for (int t = 0; t <= steps; t++)
                part.Slice(t * rows * width, rows * width).CopyTo(all.Slice((t * batch + b0) * width, rows * width));
            part.Slice((steps + 1) * rows * width, rows * hidden)
                .CopyTo(all.Slice((steps + 1) * batch * width + b0 * hidden, rows * hidden));
        }
        return packed;
    }

    /// <summary>
    /// Runs cell <typeparamref name="TCell"/> over <paramref name="input"/> [T, B, I]. Returns one flat tensor: the
    /// outputs [T, B, S], the final recurrent state [B, S] and the final cell state [B, H] (zeros for cells without
    /// one), where S is the projection's width (or H without one); <see cref="Unpack"/> views the three parts, and
    /// gradients of all of them flow back through this one node. With <paramref name="projection"/> [S, H] (and
    /// <paramref name="projectionBias"/> [S]) the cell's output is projected each step, y_t = W_hr h_t + b_hr, and y
    /// is both the output and the state the next step multiplies by W_hh [G·H, S] (projected LSTM, Jordan network).
    /// </summary>
    static Tensor Run<TCell>(Tensor input, Tensor h0, Tensor? c0, Tensor weightIh, Tensor weightHh,
        Tensor? biasIh, Tensor? biasHh, int[]? lengths, bool reverse, ProbeRecord? record, Tensor[]? extras = null,
        Tensor? projection = null, Tensor? projectionBias = null, QuantizedWeights? quantized = null,
        ReadOnlyMemory<float>? projectedInput = null)
        where TCell : struct, IRecurrentCell
    {
        int steps = input.Size(0), batch = input.Size(1), inputSize = input.Size(2);
        int gateWidth = weightHh.Size(0), hidden = gateWidth / TCell.Gates;
        int width = projection?.Size(0) ?? hidden; // of the outputs and of the state fed back
        int rowsAll = steps * batch;
        extras ??= [];
        if (extras.Sum(e => e.Length) != TCell.ExtraBlocks * hidden || extras.Any(e => e.Length % hidden != 0))
            throw new ArgumentException(
                $"{typeof(TCell).Name}: expects extra weight vectors of {TCell.ExtraBlocks} blocks of {hidden} in "
                + "all.");
        // the cell's own per-unit weights, side by side: read by every step, their gradient summed over all of them
        var extra = new float[TCell.ExtraBlocks * hidden];
        var extraOffsets = new int[extras.Length];
        for (int k = 0, offset = 0; k < extras.Length; offset += extras[k].Length, k++)
        {
            extraOffsets[k] = offset;
            extras[k].Span.CopyTo(extra.AsSpan(offset));
        }

        Tensor[] inputs = [input, h0, .. c0 is null ? Array.Empty<Tensor>() : [c0], weightIh, weightHh,
            .. biasIh is null ? Array.Empty<Tensor>() : [biasIh], .. biasHh is null ? Array.Empty<Tensor>() : [biasHh],
                .. extras, .. projection is null ? Array.Empty<Tensor>() : [projection],
                .. projectionBias is null ? Array.Empty<Tensor>() : [projectionBias]];
        bool needsBackward = GradMode.IsEnabled && inputs.Any(x => x.RequiresGrad);
        if (quantized != null)
        {
            if (needsBackward)
                throw new InvalidOperationException(
                    "A recurrent layer quantised to int8 runs inference only: its forward cannot record for a "
                    + "backward. Run it under GradMode.NoGrad(), or train the float model and quantise it again.");
            if (!HasUnitWisePath<TCell>(projection))
                throw new NotSupportedException($"{typeof(TCell).Name}: this cell has no int8 path.");
            if (record != null)
                throw new NotSupportedException("Probes look inside the float model, not one quantised to int8.");
            return RunSmallBatch<TCell>(input, h0, c0, weightIh, weightHh, biasIh, biasHh, lengths, reverse, extra,
                quantized, projectedInput);
        }
        if (TakesSmallBatchPath<TCell>(needsBackward, batch, record, projection))
            return RunSmallBatch<TCell>(input, h0, c0, weightIh, weightHh, biasIh, biasHh, lengths, reverse, extra,
                projected: projectedInput);
        if (projectedInput != null)
            throw new InvalidOperationException($"{typeof(TCell).Name}: projected inputs serve small-batch inference "
                + $"(at most {SmallBatch} sequences, no gradient, no probe), not this run.");
        if (!needsBackward && record is null && BatchParts(batch) is > 1 and int parts)
            return RunByRows<TCell>(parts, input, h0, c0, weightIh, weightHh, biasIh, biasHh, lengths, reverse,
                extras, projection, projectionBias);

        // Training keeps the gates and the states fed into each step for the backward; inference keeps nothing and
        // computes the input projections a cache-sized chunk of steps at a time into one reused buffer.
        int chunk = needsBackward ? steps : Math.Clamp(InferenceChunkFloats / Math.Max(1, batch * gateWidth), 1,
            Math.Max(steps, 1));
        var giBuffer = PinnedPool.Rent(chunk * batch * gateWidth);
        var ghBuffer = TCell.SeparateRecurrent ? PinnedPool.Rent(chunk * batch * gateWidth) : giBuffer;
        var hPrevBuffer = needsBackward ? PinnedPool.Rent(rowsAll * width) : null;
        var cPrevBuffer = needsBackward && TCell.HasCellState ? PinnedPool.Rent(rowsAll * hidden) : null;
        // the gate blocks of the first recurrent product; the rest (if any) multiply the cell's gated state
        int first = TCell.EarlyBlocks > 0 ? TCell.EarlyBlocks * hidden : gateWidth;
        var gatedBuffer = first < gateWidth ? PinnedPool.Rent((needsBackward ? rowsAll : batch) * hidden) : null;
        // with a projection: the cell's own outputs h_t, which W_hr maps to the step's output and state
        var cellBuffer = projection is null ? null : PinnedPool.Rent((needsBackward ? rowsAll : batch) * hidden);

        var packed = Tensor.Zeros((steps + 1) * batch * width + batch * hidden);
        var outputs = packed.Span;
        var hState = new float[batch * width];
        var cState = new float[batch * hidden];
        h0.Span.CopyTo(hState);
        if (c0 != null) c0.Span.CopyTo(cState);
        var hNext = new float[batch * width];
        var cNext = new float[batch * hidden];
        var scratch = new float[TCell.ScratchBlocks * hidden];
        var biasHhSpan = biasHh is null ? default : biasHh.Span;
        var gateRecord = record?.GateValues;

        // W_hhᵀ is the right operand of every step: pack it once for the whole sequence (a single step of one or two
        // sequences, as in generation, reads it directly instead).
        bool direct = steps == 1 && batch <= 2;
        using (var recurrent = direct ? null : Gemm.Pack(true, width, first, weightHh.Span[..(first * width)], width))
        using (var recurrentLate = direct || first == gateWidth ? null
            : Gemm.Pack(true, hidden, gateWidth - first, weightHh.Span[(first * hidden)..], hidden))
        using (var projected = direct || projection is null ? null
            : Gemm.Pack(true, hidden, width, projection.Span, hidden))
        {
            for (int s0 = 0; s0 < steps; s0 += chunk)
            {
                int count = Math.Min(chunk, steps - s0);
                // the times this chunk covers form one contiguous range in either direction
                int firstTime = reverse ? steps - s0 - count : s0;
                int bufferTime0 = needsBackward ? 0 : firstTime; // time whose rows start the buffer
                var gi = giBuffer.AsSpan(chunk * batch * gateWidth);
                var gh = ghBuffer.AsSpan(chunk * batch * gateWidth);
                // input projections for every step of the chunk at once: gi = X·W_ihᵀ + b_ih
                Gemm.Multiply(false, true, count * batch, gateWidth, inputSize,
                    input.Span.Slice(firstTime * batch * inputSize, count * batch * inputSize), inputSize,
                        weightIh.Span, inputSize,
                    gi.Slice((firstTime - bufferTime0) * batch * gateWidth, count * batch * gateWidth), gateWidth,
                    bias: biasIh is null ? default : biasIh.Span);
                for (int s = s0; s < s0 + count; s++)
                {
                    int t = reverse ? steps - 1 - s : s;
                    int at = (t - bufferTime0) * batch;
                    if (needsBackward)
                    {
                        // the state fed into the step that processes time t
                        hState.CopyTo(hPrevBuffer!.AsSpan(rowsAll * width).Slice(t * batch * width, batch * width));
                        if (TCell.HasCellState) cState.CopyTo(cPrevBuffer!.AsSpan(rowsAll * hidden).Slice(t * batch
                            * hidden, batch * hidden));
                    }
                    // recurrent part for the whole batch: (gh or gi)[t] += h_{t−1}·W_hhᵀ + b_hh
                    var ghStep = gh.Slice(at * gateWidth, batch * gateWidth);
                    RecurrentProduct(batch, width, gateWidth, 0, first, hState, recurrent, weightHh.Span, biasHhSpan,
                        ghStep, !TCell.SeparateRecurrent);
                    if (gatedBuffer != null)
                    {
                        // the rest multiplies the gated state the first blocks give (rows past their length: 0)
                        var gated = gatedBuffer.AsSpan((needsBackward ? rowsAll : batch) * hidden)
                            .Slice(needsBackward ? t * batch * hidden : 0, batch * hidden);
                        for (int b = 0; b < batch; b++)
                            if (lengths != null && t >= lengths[b]) gated.Slice(b * hidden, hidden).Clear();
                            else TCell.GateState(gi.Slice((at + b) * gateWidth, gateWidth),
                                ghStep.Slice(b * gateWidth, gateWidth), hState.AsSpan(b * hidden, hidden),
                                gated.Slice(b * hidden, hidden));
                        RecurrentProduct(batch, hidden, gateWidth, first, gateWidth - first, gated, recurrentLate,
                            weightHh.Span, biasHhSpan, ghStep, !TCell.SeparateRecurrent);
                    }
                    // the cell writes h_t straight into the next state, or (projecting) into the saved cell outputs
                    var cellOut = cellBuffer is null ? hNext.AsSpan()
                        : cellBuffer.AsSpan((needsBackward ? rowsAll : batch) * hidden)
                            .Slice(needsBackward ? t * batch * hidden : 0, batch * hidden);
                    int outputRow = t * batch;
                    for (int b = 0; b < batch; b++)
                    {
                        var h = cellOut.Slice(b * hidden, hidden);
                        var c = cNext.AsSpan(b * hidden, hidden);
                        if (lengths != null && t >= lengths[b])
                        {
                            if (cellBuffer != null) h.Clear(); // no output, so no share in W_hr's gradient
                            cState.AsSpan(b * hidden, hidden).CopyTo(c);
                            continue; // output stays 0; the state is carried below
                        }
                        TCell.Forward(gi.Slice((at + b) * gateWidth, gateWidth), gh.Slice((at + b) * gateWidth,
                            gateWidth),
                            hState.AsSpan(b * width, width), cState.AsSpan(b * hidden, hidden), h, c, scratch, extra);
                        if (gateRecord != null)
                            (TCell.GatesInScratch ? scratch.AsSpan(0, gateWidth) : gi.Slice((at + b) * gateWidth,
                                gateWidth)).CopyTo(gateRecord.AsSpan((outputRow + b) * gateWidth, gateWidth));
                    }
                    if (projection != null)
                    {
                        // y_t = W_hr h_t + b_hr for the whole batch
                        var bias = projectionBias is null ? default : projectionBias.Span;
                        if (projected is null)
                            Gemm.Multiply(false, true, batch, width, hidden, cellOut, hidden, projection.Span, hidden,
                                hNext, width, bias: bias);
                        else
                            Gemm.Multiply(false, batch, cellOut, hidden, projected, hNext, width, bias: bias);
                    }
                    for (int b = 0; b < batch; b++)
                        if (lengths != null && t >= lengths[b])
                            hState.AsSpan(b * width, width).CopyTo(hNext.AsSpan(b * width, width));
                        else
                            hNext.AsSpan(b * width, width).CopyTo(outputs.Slice((outputRow + b) * width, width));
                    (hState, hNext) = (hNext, hState);
                    (cState, cNext) = (cNext, cState);
                }
            }
        }
        hState.CopyTo(outputs.Slice(steps * batch * width, batch * width));
        int cellAt = (steps + 1) * batch * width; // where the final cell state starts
        if (TCell.HasCellState) cState.CopyTo(outputs.Slice(cellAt, batch * hidden));

        void Release()
        {
            PinnedPool.Return(giBuffer);
            if (TCell.SeparateRecurrent) PinnedPool.Return(ghBuffer);
            if (hPrevBuffer != null) PinnedPool.Return(hPrevBuffer);
            if (cPrevBuffer != null) PinnedPool.Return(cPrevBuffer);
            if (gatedBuffer != null) PinnedPool.Return(gatedBuffer);
            if (cellBuffer != null) PinnedPool.Return(cellBuffer);
        }

        return Recorded(packed, inputs, needsBackward, Release, grad =>
        {
            var gi = giBuffer.AsSpan(rowsAll * gateWidth);
            var gh = ghBuffer.AsSpan(rowsAll * gateWidth);
            var hPrev = hPrevBuffer!.AsSpan(rowsAll * width);
            var cPrev = cPrevBuffer is null ? default : cPrevBuffer.AsSpan(rowsAll * hidden);
            var cellOutputs = cellBuffer is null ? default : cellBuffer.AsSpan(rowsAll * hidden);
            var g = grad.Span;
            // Gate gradients overwrite the saved gates in place: a step's gates are read once, by that step's backward,
            // element by element before the gradient of the same element is written.
            var dgi = gi;
            var dgh = gh;
            var dh = g.Slice(steps * batch * width, batch * width).ToArray();
            var dc = TCell.HasCellState ? g.Slice(cellAt, batch * hidden).ToArray() : new float[batch * hidden];
            var dhNext = new float[batch * width];
            // ∂L/∂(the step's output and state) for every row; projecting, kept for W_hr's gradient
            var dStates = new float[(projection is null ? batch : rowsAll) * width];
            var dCell = projection is null ? null : new float[batch * hidden];
            var dExtra = new float[extra.Length];
            var dGated = gatedBuffer is null ? null : new float[batch * hidden];
            using (var recurrent = Gemm.Pack(false, first, width, weightHh.Span[..(first * width)], width))
            using (var recurrentLate = gatedBuffer is null ? null
                : Gemm.Pack(false, gateWidth - first, hidden, weightHh.Span[(first * hidden)..], hidden))
            using (var projected = projection is null ? null : Gemm.Pack(false, width, hidden, projection.Span, hidden))
            {
                for (int s = steps - 1; s >= 0; s--)
                {
                    int t = reverse ? steps - 1 - s : s;
                    int at = t * batch;
                    var dState = dStates.AsSpan(projection is null ? 0 : at * width, batch * width);
                    int active = 0;
                    for (int b = 0; b < batch; b++)
                    {
                        var dhRow = dh.AsSpan(b * width, width);
                        var dStateRow = dState.Slice(b * width, width);
                        if (lengths != null && t >= lengths[b])
                        {
                            dhRow.CopyTo(dhNext.AsSpan(b * width, width)); // carried through this step
                            dStateRow.Clear();
                            dgi.Slice((at + b) * gateWidth, gateWidth).Clear(); // gate gradients stay 0
                            if (TCell.SeparateRecurrent) dgh.Slice((at + b) * gateWidth, gateWidth).Clear();
                            continue;
                        }
                        TensorPrimitives.Add(dhRow, g.Slice((at + b) * width, width), dStateRow);
                        if (record?.StateGradients is { } stateGradients && width == hidden)
                            dStateRow.CopyTo(stateGradients.AsSpan((at + b) * width, width));
                        if (record != null)
                        {
                            record.GradientNorms[t] += TensorPrimitives.Norm(dStateRow);
                            active++;
                        }
                    }
                    if (record != null && active > 0) record.GradientNorms[t] /= active;
                    // projecting, the cell's outputs get ∂L/∂h = ∂L/∂y·W_hr
                    if (projected != null) Gemm.Multiply(false, batch, dState, width, projected, dCell, hidden);
                    for (int b = 0; b < batch; b++)
                    {
                        if (lengths != null && t >= lengths[b]) continue;
                        var row = (at + b) * width;
                        // the cell state after this step is the next step's cPrev, or the final state
                        int after = s + 1 < steps ? ((reverse ? t - 1 : t + 1) * batch + b) * hidden : -1;
                        ReadOnlySpan<float> cAfter = !TCell.HasCellState ? default
                            : after >= 0 ? cPrev.Slice(after, hidden) : packed.Span.Slice(cellAt + b * hidden, hidden);
                        TCell.Backward(gi.Slice((at + b) * gateWidth, gateWidth), gh.Slice((at + b) * gateWidth,
                            gateWidth),
                            hPrev.Slice(row, width),
                            TCell.HasCellState ? cPrev.Slice((at + b) * hidden, hidden) : default,
                            cAfter, default,
                            dCell is null ? dState.Slice(b * width, width) : dCell.AsSpan(b * hidden, hidden),
                            dc.AsSpan(b * hidden, hidden), dgi.Slice((at + b) * gateWidth, gateWidth),
                            dgh.Slice((at + b) * gateWidth, gateWidth), dhNext.AsSpan(b * width, width), scratch, extra,
                            dExtra);
                    }
                    if (recurrentLate != null)
                    {
                        // through the gated state: its gradient, then the early gates' and h_{t−1}'s share of it
                        Gemm.Multiply(false, batch, dgh.Slice(at * gateWidth + first, batch * gateWidth - first),
                            gateWidth, recurrentLate, dGated, hidden);
                        for (int b = 0; b < batch; b++)
                            if (lengths == null || t < lengths[b])
                                TCell.GateStateBackward(gi.Slice((at + b) * gateWidth, gateWidth),
                                    hPrev.Slice((at + b) * hidden, hidden), dGated.AsSpan(b * hidden, hidden),
                                    dgi.Slice((at + b) * gateWidth, gateWidth), dgh.Slice((at + b) * gateWidth,
                                        gateWidth), dhNext.AsSpan(b * hidden, hidden));
                    }
                    // dh_{t−1} = direct part + dgh_t·W_hh (rows past their length have dgh = 0)
                    Gemm.Multiply(false, batch, dgh.Slice(at * gateWidth, batch * gateWidth), gateWidth, recurrent,
                        dhNext, width, accumulate: true);
                    (dh, dhNext) = (dhNext, dh);
                }
            }
            if (h0.RequiresGrad) h0.AccumulateGrad(dh);
            if (c0 is { RequiresGrad: true }) c0.AccumulateGrad(dc);
            // whole-sequence weight gradients: one GEMM per matrix
            if (input.RequiresGrad)
                Gemm.Multiply(false, false, rowsAll, inputSize, gateWidth, dgi, gateWidth, weightIh.Span, inputSize,
                    input.GradSpan(), inputSize, accumulate: true);
            if (weightIh.RequiresGrad)
                Gemm.Multiply(true, false, gateWidth, inputSize, rowsAll, dgi, gateWidth, input.Span, inputSize,
                    weightIh.GradSpan(), inputSize, accumulate: true);
            if (weightHh.RequiresGrad)
            {
                Gemm.Multiply(true, false, first, width, rowsAll, dgh, gateWidth, hPrev, width,
                    weightHh.GradSpan(), width, accumulate: true);
                if (gatedBuffer != null)
                    Gemm.Multiply(true, false, gateWidth - first, hidden, rowsAll, dgh[first..], gateWidth,
                        gatedBuffer.AsSpan(rowsAll * hidden), hidden, weightHh.GradSpan()[(first * hidden)..], hidden,
                        accumulate: true);
            }
            if (projection is { RequiresGrad: true })
                Gemm.Multiply(true, false, width, hidden, rowsAll, dStates, width, cellOutputs, hidden,
                    projection.GradSpan(), hidden, accumulate: true);
            if (projectionBias is { RequiresGrad: true }) AddColumnSums(dStates, width, projectionBias.GradSpan());
            if (biasIh is { RequiresGrad: true }) AddColumnSums(dgi, gateWidth, biasIh.GradSpan());
            if (biasHh is { RequiresGrad: true }) AddColumnSums(dgh, gateWidth, biasHh.GradSpan());
            for (int k = 0; k < extras.Length; k++)
                if (extras[k].RequiresGrad) extras[k].AccumulateGrad(dExtra.AsSpan(extraOffsets[k], extras[k].Length));
            if (record != null) record.HasGradients = true;
        });
    }

    /// <summary>
    /// Views a <see cref="Run"/> result as the outputs [T, B, S], the final state [B, S] and the final cell state
    /// [B, H] (zeros for cells without one).
    /// </summary>
    public static (Tensor Outputs, Tensor Hidden, Tensor Cell) Unpack(Tensor packed, int steps, int batch, int width,
        int hidden)
    {
        int outputs = steps * batch * width;
        return (packed.Slice(0, 0, outputs).Reshape(steps, batch, width),
            packed.Slice(0, outputs, batch * width).Reshape(batch, width),
            packed.Slice(0, outputs + batch * width, batch * hidden).Reshape(batch, hidden));
    }

    /// <summary>
    /// Gate columns [offset, offset + width) of a step's batch rows (stride <paramref name="gateWidth"/>) get
    /// state·W_hh[offset..]ᵀ + b_hh[offset..], from the packed block or, without one, from W_hh directly.
    /// </summary>
    static void RecurrentProduct(int batch, int stateWidth, int gateWidth, int offset, int width,
        ReadOnlySpan<float> state, PackedMatrix? packed, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> biasHh,
        Span<float> destination, bool accumulate)
    {
        var bias = biasHh.IsEmpty ? default : biasHh.Slice(offset, width);
        var c = destination.Slice(offset, (batch - 1) * gateWidth + width);
        if (packed is null)
            Gemm.Multiply(false, true, batch, width, stateWidth, state, stateWidth, weightHh.Slice(offset * stateWidth,
                width * stateWidth), stateWidth, c, gateWidth, accumulate: accumulate, bias: bias);
        else
            Gemm.Multiply(false, batch, state, stateWidth, packed, c, gateWidth, accumulate: accumulate, bias: bias);
    }

    static void AddColumnSums(ReadOnlySpan<float> matrix, int width, Span<float> destination)
    {
        for (int r = 0; r < matrix.Length / width; r++)
            TensorPrimitives.Add(destination, matrix.Slice(r * width, width), destination);
    }
}
