using System.Numerics.Tensors;
using Recur.Autograd;
using Recur.Kernels;

namespace Recur.Nn.Recurrent;

/// <summary>
/// The statistics a batch-normalised LSTM direction runs with: <see cref="Running"/> holds the running mean and
/// variance of W_ih x, of W_hh h and of c, in that order, each [steps, units] with one row per time step (steps past
/// the last row share it); <see cref="Training"/> normalises by the batch's statistics and moves the running ones by
/// <see cref="Momentum"/>, evaluation normalises by the running ones.
/// </summary>
internal sealed record BatchNormStatistics(Tensor[] Running, bool Training, float Momentum)
{
    /// <summary>Time steps with statistics of their own.</summary>
    public int Steps => Running[0].Size(0);
}

internal static partial class RecurrentKernel
{
    /// <summary>
    /// The batch-normalised LSTM of Cooijmans et al. (2016), gate order i, f, g, o, as one tape node: gates =
    /// BN(W_ih x_t; γ_ih, β_ih) + BN(W_hh h_{t−1}; γ_hh, β_hh), c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),
    /// h_t = σ(o) ⊙ tanh(BN(c_t; γ_c, β_c)), each BN over the batch's rows at that step (rows past their length take
    /// no part). <paramref name="norms"/> is [γ_ih, β_ih, γ_hh, β_hh, γ_c, β_c]. The statistics of step s of the
    /// recurrence (s counts from the direction's first step) are row min(s, steps − 1) of the running ones; a step at
    /// which fewer than two sequences run uses that row as evaluation does. Unlike
    /// the per-row cells, each BN spans the batch, so the gate maths runs batch-wide between the step's GEMMs.
    /// </summary>
    static Tensor RunBatchNorm(Tensor input, Tensor h0, Tensor c0, Tensor weightIh, Tensor weightHh, Tensor[] norms,
        BatchNormStatistics statistics, int[]? lengths, bool reverse, ProbeRecord? record)
    {
        int steps = input.Size(0), batch = input.Size(1), inputSize = input.Size(2);
        int gateWidth = weightHh.Size(0), hidden = gateWidth / 4, rowsAll = steps * batch;
        if (norms.Length != 6 || norms[4].Length != hidden || norms.Take(4).Any(n => n.Length != gateWidth))
            throw new ArgumentException($"batch-normalised LSTM: expects γ_ih, β_ih, γ_hh, β_hh of {gateWidth} and "
                + $"γ_c, β_c of {hidden} entries.");
        bool training = statistics.Training;
        Tensor[] inputs = [input, h0, c0, weightIh, weightHh, .. norms];
        bool needsBackward = GradMode.IsEnabled && inputs.Any(x => x.RequiresGrad);
        // per-step buffers hold every step when training, one step in inference
        int kept = needsBackward ? rowsAll : batch;
        var inputPart = PinnedPool.Rent(rowsAll * gateWidth); // W_ih x, then x̂_ih (then, backward, its gradient)
        var recurrentPart = PinnedPool.Rent(kept * gateWidth); // W_hh h, then x̂_hh (then its gradient)
        var gates = PinnedPool.Rent(kept * gateWidth); // σ(i), σ(f), tanh(g), σ(o)
        var cellHat = PinnedPool.Rent(kept * hidden); // ĉ_t
        var hPrev = PinnedPool.Rent(kept * hidden);
        var cPrev = PinnedPool.Rent(kept * hidden);
        var inverseStd = new float[steps * (2 * gateWidth + hidden)]; // per step: ih, hh, c
        Gemm.Multiply(false, true, rowsAll, gateWidth, inputSize, input.Span, inputSize, weightIh.Span, inputSize,
            inputPart.AsSpan(rowsAll * gateWidth), gateWidth);
        var packed = Tensor.Zeros((steps + 2) * batch * hidden);
        var outputs = packed.Span;
        var hState = new float[batch * hidden];
        var cState = new float[batch * hidden];
        h0.Span.CopyTo(hState);
        c0.Span.CopyTo(cState);
        var hNext = new float[batch * hidden];
        var cNext = new float[batch * hidden];
        var active = new int[batch];
        var scratch = new float[3 * gateWidth];
        var running = statistics.Running;
        var (gainIh, shiftIh, gainHh, shiftHh, gainC, shiftC) = (norms[0], norms[1], norms[2], norms[3], norms[4],
            norms[5]);
        var gateRecord = record?.GateValues;
        using (var recurrent = Gemm.Pack(true, hidden, gateWidth, weightHh.Span, hidden))
        {
            for (int s = 0; s < steps; s++)
            {
                int t = reverse ? steps - 1 - s : s;
                int at = t * batch, slot = needsBackward ? at : 0, row = Math.Min(s, statistics.Steps - 1);
                int count = ActiveRows(lengths, t, active);
                var rows = active.AsSpan(0, count);
                hState.CopyTo(Slice(hPrev, slot * hidden, batch * hidden));
                cState.CopyTo(Slice(cPrev, slot * hidden, batch * hidden));
                var xi = Slice(inputPart, at * gateWidth, batch * gateWidth);
                var xh = Slice(recurrentPart, slot * gateWidth, batch * gateWidth);
                Gemm.Multiply(false, batch, hState, hidden, recurrent, xh, gateWidth);
                var stdAt = inverseStd.AsSpan(t * (2 * gateWidth + hidden), 2 * gateWidth + hidden);
                BatchNormalise(xi, xi, gateWidth, rows, running[0], running[1], row, statistics, stdAt[..gateWidth],
                    scratch);
                BatchNormalise(xh, xh, gateWidth, rows, running[2], running[3], row, statistics,
                    stdAt.Slice(gateWidth, gateWidth), scratch);
                var stepGates = Slice(gates, slot * gateWidth, batch * gateWidth);
                foreach (int b in rows)
                {
                    var a = stepGates.Slice(b * gateWidth, gateWidth);
                    TensorPrimitives.MultiplyAdd(xi.Slice(b * gateWidth, gateWidth), gainIh.Span, shiftIh.Span, a);
                    TensorPrimitives.MultiplyAdd(xh.Slice(b * gateWidth, gateWidth), gainHh.Span, a, a);
                    TensorPrimitives.Add(a, shiftHh.Span, a);
                    Kernels.Squashing.Sigmoid(a[..(2 * hidden)], a[..(2 * hidden)]);
                    Kernels.Squashing.Tanh(a.Slice(2 * hidden, hidden), a.Slice(2 * hidden, hidden));
                    Kernels.Squashing.Sigmoid(a.Slice(3 * hidden, hidden), a.Slice(3 * hidden, hidden));
                    var c = cNext.AsSpan(b * hidden, hidden);
                    TensorPrimitives.Multiply(a.Slice(hidden, hidden), cState.AsSpan(b * hidden, hidden), c);
                    TensorPrimitives.MultiplyAdd(a[..hidden], a.Slice(2 * hidden, hidden), c, c);
                    if (gateRecord != null) a.CopyTo(gateRecord.AsSpan((at + b) * gateWidth, gateWidth));
                }
                var stepCell = Slice(cellHat, slot * hidden, batch * hidden);
                BatchNormalise(cNext, stepCell, hidden, rows, running[4], running[5], row, statistics,
                    stdAt.Slice(2 * gateWidth, hidden), scratch);
                hState.CopyTo(hNext, 0); // rows past their length carry their state
                for (int b = 0; b < batch; b++)
                {
                    if (lengths != null && t >= lengths[b])
                    {
                        cState.AsSpan(b * hidden, hidden).CopyTo(cNext.AsSpan(b * hidden, hidden));
                        continue;
                    }
                    var h = hNext.AsSpan(b * hidden, hidden);
                    TensorPrimitives.MultiplyAdd(stepCell.Slice(b * hidden, hidden), gainC.Span, shiftC.Span, h);
                    Kernels.Squashing.Tanh(h, h);
                    TensorPrimitives.Multiply(h, stepGates.Slice(b * gateWidth + 3 * hidden, hidden), h);
                    h.CopyTo(outputs.Slice((at + b) * hidden, hidden));
                }
                (hState, hNext) = (hNext, hState);
                (cState, cNext) = (cNext, cState);
            }
        }
        hState.CopyTo(outputs.Slice(rowsAll * hidden, batch * hidden));
        int cellAt = (steps + 1) * batch * hidden;
        cState.CopyTo(outputs.Slice(cellAt, batch * hidden));

        void Release()
        {
            foreach (var buffer in new[] { inputPart, recurrentPart, gates, cellHat, hPrev, cPrev })
                PinnedPool.Return(buffer);
        }

        return Recorded(packed, inputs, needsBackward, Release, grad =>
        {
            var g = grad.Span;
            var dh = g.Slice(rowsAll * hidden, batch * hidden).ToArray();
            var dc = g.Slice(cellAt, batch * hidden).ToArray();
            var dhNext = new float[batch * hidden];
            var dState = new float[hidden];
            var dCell = new float[batch * hidden];
            var dNormalised = new float[batch * gateWidth];
            // gradients of γ_ih, β (β_ih and β_hh get the same), γ_hh, γ_c, β_c
            var dGainIh = new float[gateWidth];
            var dShift = new float[gateWidth];
            var dGainHh = new float[gateWidth];
            var dGainC = new float[hidden];
            var dShiftC = new float[hidden];
            var tanhCell = new float[hidden];
            var first = new float[hidden];
            var second = new float[hidden];
            using (var recurrent = Gemm.Pack(false, gateWidth, hidden, weightHh.Span, hidden))
            {
                for (int s = steps - 1; s >= 0; s--)
                {
                    int t = reverse ? steps - 1 - s : s, at = t * batch;
                    int count = ActiveRows(lengths, t, active);
                    var rows = active.AsSpan(0, count);
                    var stdAt = inverseStd.AsSpan(t * (2 * gateWidth + hidden), 2 * gateWidth + hidden);
                    var stepGates = Slice(gates, at * gateWidth, batch * gateWidth);
                    var xi = Slice(inputPart, at * gateWidth, batch * gateWidth);
                    var xh = Slice(recurrentPart, at * gateWidth, batch * gateWidth);
                    var stepCell = Slice(cellHat, at * hidden, batch * hidden);
                    dh.CopyTo(dhNext, 0); // rows past their length carry ∂L/∂h through this step
                    float norms = 0f;
                    foreach (int b in rows)
                    {
                        dhNext.AsSpan(b * hidden, hidden).Clear();
                        TensorPrimitives.Add(dh.AsSpan(b * hidden, hidden), g.Slice((at + b) * hidden, hidden),
                            dState);
                        if (record?.StateGradients is { } stateGradients)
                            dState.CopyTo(stateGradients.AsSpan((at + b) * hidden, hidden));
                        if (record != null) norms += TensorPrimitives.Norm(dState);
                        // through h = σ(o) ⊙ tanh(γ_c ĉ + β_c)
                        var a = stepGates.Slice(b * gateWidth, gateWidth);
                        var cHat = stepCell.Slice(b * hidden, hidden);
                        TensorPrimitives.MultiplyAdd(cHat, gainC.Span, shiftC.Span, tanhCell);
                        Kernels.Squashing.Tanh(tanhCell, tanhCell);
                        var o = a.Slice(3 * hidden, hidden);
                        // dy = ∂L/∂(γ_c ĉ + β_c) = dh ⊙ o ⊙ (1 − y²)
                        TensorPrimitives.Multiply(tanhCell, tanhCell, first);
                        TensorPrimitives.Subtract(1f, first, first);
                        TensorPrimitives.Multiply(first, o, first);
                        TensorPrimitives.Multiply(first, dState, first);
                        TensorPrimitives.MultiplyAdd(first, cHat, dGainC, dGainC);
                        TensorPrimitives.Add(dShiftC, first, dShiftC);
                        TensorPrimitives.Multiply(first, gainC.Span, dCell.AsSpan(b * hidden, hidden));
                        // the o block becomes ∂L/∂o_pre = dh ⊙ y ⊙ o ⊙ (1 − o)
                        TensorPrimitives.Subtract(1f, o, second);
                        TensorPrimitives.Multiply(second, o, second);
                        TensorPrimitives.Multiply(second, tanhCell, second);
                        TensorPrimitives.Multiply(second, dState, o);
                    }
                    if (record != null && count > 0) record.GradientNorms[t] = norms / count;
                    BatchNormaliseBackward(stepCell, dCell, dCell, hidden, rows, training,
                        stdAt.Slice(2 * gateWidth, hidden), scratch);
                    foreach (int b in rows)
                    {
                        var a = stepGates.Slice(b * gateWidth, gateWidth);
                        var cBefore = Slice(cPrev, (at + b) * hidden, hidden);
                        var dcRow = dc.AsSpan(b * hidden, hidden);
                        var i = a[..hidden];
                        var f = a.Slice(hidden, hidden);
                        var u = a.Slice(2 * hidden, hidden);
                        var total = tanhCell; // ∂L/∂c_t: carried from step t + 1 and through BN(c_t)
                        TensorPrimitives.Add(dcRow, dCell.AsSpan(b * hidden, hidden), total);
                        // ∂L/∂i_pre = total ⊙ u ⊙ i ⊙ (1 − i), kept aside until the u block no longer needs i
                        TensorPrimitives.Subtract(1f, i, first);
                        TensorPrimitives.Multiply(first, i, first);
                        TensorPrimitives.Multiply(first, u, first);
                        TensorPrimitives.Multiply(first, total, first);
                        // ∂L/∂g_pre = total ⊙ i ⊙ (1 − u²)
                        TensorPrimitives.Multiply(u, u, second);
                        TensorPrimitives.Subtract(1f, second, second);
                        TensorPrimitives.Multiply(second, i, second);
                        TensorPrimitives.Multiply(second, total, u);
                        first.CopyTo(i);
                        // ∂L/∂c_{t−1} = total ⊙ f, then ∂L/∂f_pre = total ⊙ c_{t−1} ⊙ f ⊙ (1 − f)
                        TensorPrimitives.Multiply(total, f, dcRow);
                        TensorPrimitives.Subtract(1f, f, second);
                        TensorPrimitives.Multiply(second, f, second);
                        TensorPrimitives.Multiply(second, cBefore, second);
                        TensorPrimitives.Multiply(second, total, f);
                        // the gates' pre-activation gradient reaches both normalised products and both shifts
                        TensorPrimitives.Add(dShift, a, dShift);
                        TensorPrimitives.MultiplyAdd(a, xi.Slice(b * gateWidth, gateWidth), dGainIh, dGainIh);
                        TensorPrimitives.MultiplyAdd(a, xh.Slice(b * gateWidth, gateWidth), dGainHh, dGainHh);
                    }
                    Through(xi, gainIh.Span, stdAt[..gateWidth], stepGates, rows, t);
                    Through(xh, gainHh.Span, stdAt.Slice(gateWidth, gateWidth), stepGates, rows, t);
                    // dh_{t−1} = (carried) + ∂L/∂(W_hh h)·W_hh
                    Gemm.Multiply(false, batch, xh, gateWidth, recurrent, dhNext, hidden, accumulate: true);
                    (dh, dhNext) = (dhNext, dh);
                }
            }
            // ∂L/∂(a normalised product) = ∂L/∂gates ⊙ γ; the raw product's gradient replaces x̂ in place, and rows
            // past their length get 0
            void Through(Span<float> part, ReadOnlySpan<float> gain, ReadOnlySpan<float> std,
                ReadOnlySpan<float> stepGates, ReadOnlySpan<int> rows, int t)
            {
                foreach (int b in rows)
                    TensorPrimitives.Multiply(stepGates.Slice(b * gateWidth, gateWidth), gain,
                        dNormalised.AsSpan(b * gateWidth, gateWidth));
                BatchNormaliseBackward(part, dNormalised, part, gateWidth, rows, training, std, scratch);
                for (int b = 0; b < batch; b++)
                    if (lengths != null && t >= lengths[b]) part.Slice(b * gateWidth, gateWidth).Clear();
            }

            if (h0.RequiresGrad) h0.AccumulateGrad(dh);
            if (c0.RequiresGrad) c0.AccumulateGrad(dc);
            var dInput = inputPart.AsSpan(rowsAll * gateWidth);
            if (input.RequiresGrad)
                Gemm.Multiply(false, false, rowsAll, inputSize, gateWidth, dInput, gateWidth, weightIh.Span,
                    inputSize, input.GradSpan(), inputSize, accumulate: true);
            if (weightIh.RequiresGrad)
                Gemm.Multiply(true, false, gateWidth, inputSize, rowsAll, dInput, gateWidth, input.Span, inputSize,
                    weightIh.GradSpan(), inputSize, accumulate: true);
            if (weightHh.RequiresGrad)
                Gemm.Multiply(true, false, gateWidth, hidden, rowsAll, recurrentPart.AsSpan(rowsAll * gateWidth),
                    gateWidth, hPrev.AsSpan(rowsAll * hidden), hidden, weightHh.GradSpan(), hidden,
                    accumulate: true);
            float[][] gradients = [dGainIh, dShift, dGainHh, dShift, dGainC, dShiftC];
            for (int k = 0; k < norms.Length; k++)
                if (norms[k].RequiresGrad) norms[k].AccumulateGrad(gradients[k]);
            if (record != null) record.HasGradients = true;
        });
    }

    /// <summary>Elements [start, start + length) of a pinned buffer.</summary>
    static Span<float> Slice(PinnedBuffer buffer, int start, int length) =>
        buffer.AsSpan(start + length).Slice(start, length);

    /// <summary>Writes the rows of the batch still running at time <paramref name="t"/>; returns how many.</summary>
    static int ActiveRows(int[]? lengths, int t, int[] rows)
    {
        int count = 0;
        for (int b = 0; b < rows.Length; b++)
            if (lengths is null || t < lengths[b]) rows[count++] = b;
        return count;
    }

    /// <summary>
    /// Normalises each of the <paramref name="width"/> columns of <paramref name="x"/> (rows of one step) over
    /// <paramref name="rows"/> into <paramref name="normalised"/> (which may be <paramref name="x"/>; the other rows
    /// become 0): by the batch's mean and biased variance when training, moving row <paramref name="row"/> of the
    /// running statistics towards them (the variance unbiased, as PyTorch), else by that row — in evaluation, and for a
    /// step at which fewer than two sequences run (a batch of one, the tail of the longest), which have no variance to
    /// normalise by. Writes 1/√(var + ε).
    /// </summary>
    static void BatchNormalise(ReadOnlySpan<float> x, Span<float> normalised, int width, ReadOnlySpan<int> rows,
        Tensor runningMean, Tensor runningVar, int row, BatchNormStatistics statistics, Span<float> inverseStd,
        Span<float> scratch)
    {
        var mean = scratch[..width];
        var variance = scratch.Slice(width, width);
        var meanRow = runningMean.Span.Slice(row * width, width);
        var varRow = runningVar.Span.Slice(row * width, width);
        int n = rows.Length;
        if (statistics.Training && n > 1)
        {
            mean.Clear();
            foreach (int b in rows) TensorPrimitives.Add(mean, x.Slice(b * width, width), mean);
            TensorPrimitives.Multiply(mean, 1f / n, mean);
            variance.Clear();
            foreach (int b in rows)
            {
                var centred = normalised.Slice(b * width, width);
                TensorPrimitives.Subtract(x.Slice(b * width, width), mean, centred);
                TensorPrimitives.MultiplyAdd(centred, centred, variance, variance);
            }
            TensorPrimitives.Multiply(variance, 1f / n, variance);
            float m = statistics.Momentum;
            for (int j = 0; j < width; j++)
            {
                meanRow[j] = (1f - m) * meanRow[j] + m * mean[j];
                varRow[j] = (1f - m) * varRow[j] + m * variance[j] * n / (n - 1);
            }
        }
        else
        {
            meanRow.CopyTo(mean);
            varRow.CopyTo(variance);
            foreach (int b in rows)
                TensorPrimitives.Subtract(x.Slice(b * width, width), mean, normalised.Slice(b * width, width));
        }
        for (int j = 0; j < width; j++) inverseStd[j] = 1f / MathF.Sqrt(variance[j] + Normalization.Epsilon);
        int next = 0;
        for (int b = 0; b < normalised.Length / width; b++)
        {
            var target = normalised.Slice(b * width, width);
            if (next < n && rows[next] == b)
            {
                TensorPrimitives.Multiply(target, inverseStd, target);
                next++;
            }
            else target.Clear();
        }
    }

    /// <summary>
    /// The gradient back through <see cref="BatchNormalise"/> of one step: from ∂L/∂x̂ (<paramref name="dNormalised"/>)
    /// and x̂, ∂L/∂x = rstd ⊙ (d − mean(d) − x̂ ⊙ mean(d ⊙ x̂)) over <paramref name="rows"/> when training (the
    /// statistics depend on x), rstd ⊙ d where the running statistics were used. <paramref name="dx"/> may be either
    /// input; only the rows of <paramref name="rows"/> are written.
    /// </summary>
    static void BatchNormaliseBackward(ReadOnlySpan<float> normalised, ReadOnlySpan<float> dNormalised, Span<float> dx,
        int width, ReadOnlySpan<int> rows, bool training, ReadOnlySpan<float> inverseStd, Span<float> scratch)
    {
        var meanD = scratch[..width];
        var meanDx = scratch.Slice(width, width);
        meanD.Clear();
        meanDx.Clear();
        if (training && rows.Length > 1)
        {
            foreach (int b in rows)
            {
                var d = dNormalised.Slice(b * width, width);
                TensorPrimitives.Add(meanD, d, meanD);
                TensorPrimitives.MultiplyAdd(d, normalised.Slice(b * width, width), meanDx, meanDx);
            }
            TensorPrimitives.Multiply(meanD, 1f / rows.Length, meanD);
            TensorPrimitives.Multiply(meanDx, 1f / rows.Length, meanDx);
        }
        TensorPrimitives.Negate(meanDx, meanDx);
        var row = scratch.Slice(2 * width, width);
        foreach (int b in rows)
        {
            // the row is built aside first: dx may be x̂ or d, which it reads
            TensorPrimitives.MultiplyAdd(normalised.Slice(b * width, width), meanDx, dNormalised.Slice(b * width,
                width), row);
            TensorPrimitives.Subtract(row, meanD, row);
            TensorPrimitives.Multiply(row, inverseStd, dx.Slice(b * width, width));
        }
    }
}
