using Recur.Nn.Recurrent;

namespace Recur.Training;

/// <summary>
/// The vanishing-gradient regulariser of Pascanu, Mikolov &amp; Bengio (2013, eq. 9) for a one-layer tanh RNN:
/// Ω = Σ_t (‖∂E/∂h_t · ∂h_t/∂h_{t−1}‖ / ‖∂E/∂h_t‖ − 1)², averaged over the batch, which asks each step's Jacobian to
/// keep the norm of the error signal in the direction that matters. As in the paper, ∂E/∂h_t is treated as a constant:
/// a first forward and backward pass measures it (the parameters' gradients are left as they were), then the loss is
/// recomputed with λ·Ω added, so one backward of the returned loss gives ∂E/∂θ + λ·∂Ω/∂θ — including Ω's dependence on
/// the states through the tanh derivative, ∂h_t/∂h_{t−1} = diag(1 − h_t²)·W_hh.
/// </summary>
public sealed class GradientRegulariser
{
    /// <summary>The weight λ of Ω in the loss.</summary>
    public float Weight { get; }

    /// <summary>A regulariser of weight <paramref name="weight"/> (positive).</summary>
    public GradientRegulariser(float weight)
    {
        if (!(weight > 0f) || !float.IsFinite(weight))
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "GradientRegulariser: λ must be positive.");
        Weight = weight;
    }

    /// <summary>
    /// Ω for hidden states <paramref name="hidden"/> [T, B, H] of a tanh RNN (its outputs, on the tape), its recurrent
    /// matrix <paramref name="weightHh"/> [H, H] and the constants <paramref name="stateGradients"/> = ∂E/∂h_t
    /// [T, B, H]. Steps where ∂E/∂h_t is zero (past a sequence's end) do not count.
    /// </summary>
    public static Tensor Penalty(Tensor hidden, Tensor weightHh, ReadOnlySpan<float> stateGradients)
    {
        if (hidden.Rank != 3 || weightHh.Rank != 2 || weightHh.Size(0) != hidden.Size(2)
            || weightHh.Size(1) != hidden.Size(2) || stateGradients.Length != hidden.Length)
            throw new ArgumentException($"GradientRegulariser: states {Shapes.Format(hidden.Shape)}, W_hh "
                + $"{Shapes.Format(weightHh.Shape)} and {stateGradients.Length} gradient values do not fit a tanh "
                + "RNN.");
        int steps = hidden.Size(0), batch = hidden.Size(1), units = hidden.Size(2), rows = steps * batch;
        // the ratio does not change with the scale of ∂E/∂h_t, so each row is made a unit vector first: gradients that
        // vanished to 1e-30 after a hundred steps still give a ratio, without overflowing 1/‖g‖
        var unit = new float[rows * units];
        var mask = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = stateGradients.Slice(r * units, units);
            double norm = 0;
            foreach (float v in row) norm += (double)v * v;
            norm = Math.Sqrt(norm);
            if (!(norm > 0) || double.IsInfinity(norm)) continue;
            for (int j = 0; j < units; j++) unit[r * units + j] = (float)(row[j] / norm);
            mask[r] = 1f;
        }
        var g = Tensor.FromArray(unit, rows, units);
        var h = hidden.Reshape(rows, units);
        // ∂E/∂h_t · ∂h_t/∂h_{t−1} = (g_t ⊙ (1 − h_t²))ᵀ W_hh, one row per step and sequence
        var propagated = (g * (1f - h * h)).MatMul(weightHh);
        // (+1e-20 keeps the square root differentiable on the rows that do not count)
        var ratio = ((propagated * propagated).Sum(1) + 1e-20f).Sqrt();
        var deviation = (ratio - 1f) * Tensor.FromArray(mask, rows);
        return (deviation * deviation).Sum() * (1f / batch);
    }

    /// <summary>
    /// The regularised loss E + λ·Ω of one batch. <paramref name="forward"/> computes E and the RNN's hidden states
    /// [T, B, H] (it runs twice, so it must be deterministic: no dropout); <paramref name="weightHh"/> is the RNN's
    /// recurrent matrix and <paramref name="parameters"/> every trained parameter (their gradients are restored after
    /// the measuring pass).
    /// </summary>
    public Tensor Loss(Func<(Tensor Loss, Tensor Hidden)> forward, Tensor weightHh, IReadOnlyList<Tensor> parameters)
    {
        var saved = parameters.Select(p => p.Grad?.Clone()).ToArray();
        var probe = new StateGradientProbe();
        using (RecurrentProbes.Attach(probe))
        {
            var (measured, _) = forward();
            measured.Backward();
        }
        for (int i = 0; i < parameters.Count; i++) parameters[i].Grad = saved[i];
        if (probe.Record?.StateGradients is not { } gradients || probe.Passes != 1)
            throw new InvalidOperationException(
                $"GradientRegulariser: expected one recurrent pass, saw {probe.Passes}.");
        var (loss, hidden) = forward();
        return loss + Weight * Penalty(hidden, weightHh, gradients);
    }

    sealed class StateGradientProbe : IRecurrentProbe
    {
        public ProbeRecord? Record { get; private set; }
        public int Passes { get; private set; }

        public ProbeRecord Begin(string label, RecurrentMode mode, int steps, int batch, int hidden)
        {
            Passes++;
            return Record = new ProbeRecord(label, mode, steps, batch, hidden, gates: false, stateGradients: true);
        }
    }
}
