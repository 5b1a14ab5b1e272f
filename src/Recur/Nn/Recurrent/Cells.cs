using System.Numerics.Tensors;

namespace Recur.Nn.Recurrent;

/// <summary>
/// The per-step maths of one recurrent cell for one batch row, forward and backward side by side. The shared time loop
/// (<see cref="RecurrentKernel"/>) does the GEMMs; a cell only turns gate pre-activations into states and back.
/// <c>gi</c> holds W_ih x_t + b_ih (+ W_hh h_{t−1} + b_hh when the recurrent part is not separate) on entry and the
/// activated gates on exit; <c>gh</c> holds W_hh h_{t−1} + b_hh for cells that keep it separate (GRU).
/// </summary>
internal interface IRecurrentCell
{
    static abstract int Gates { get; }
    static abstract bool SeparateRecurrent { get; }
    static abstract bool HasCellState { get; }
    static abstract void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra);
    /// <summary>
    /// From dh (and dc, replaced by dc_{t−1}) fills the pre-activation gradients and the direct part of dh_{t−1}.
    /// <c>dgi</c> may alias <c>gates</c> and <c>dgh</c> may alias <c>gh</c>: each element is read before it is written.
    /// <c>extra</c> holds the cell's own per-unit weights (peepholes), <c>dExtra</c> accumulates their gradient.
    /// </summary>
    static abstract void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dc,
        Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch, ReadOnlySpan<float> extra,
        Span<float> dExtra);

    /// <summary>Per-unit weights of the cell's own beyond W_ih, W_hh and the biases: that many blocks of H.</summary>
    static virtual int ExtraBlocks => 0;

    /// <summary>
    /// True when unit j's new state depends only on unit j's gate pre-activations, states and per-unit weights, so
    /// <c>Forward</c> may run on any contiguous range of units (each span then holds the range's part of every block):
    /// the small-batch inference path splits the units across threads that way. False for layer normalisation, whose
    /// statistics span every unit.
    /// </summary>
    static virtual bool UnitWise => true;

    /// <summary>Whether the cell has <see cref="ForwardAdding"/>, the small-batch path's fused form of
    /// <c>Forward</c>.</summary>
    static virtual bool FusesProjection => false;

    /// <summary>
    /// <c>Forward</c> for a range of <paramref name="units"/> units, with the pre-activations given as two parts added
    /// in the same pass: the recurrent product (gate blocks <paramref name="units"/> apart in
    /// <paramref name="product"/>, which receives the activated gates) and the input projection with both biases
    /// (blocks <paramref name="projectedStride"/> apart). Only cells whose recurrent part is not separate.
    /// </summary>
    static virtual unsafe void ForwardAdding(int units, float* product, float* projected, int projectedStride,
        float* cPrev, float* c, float* h) => throw new NotSupportedException();

    /// <summary>Blocks of H in the scratch row handed to <c>Forward</c> and <c>Backward</c>.</summary>
    static virtual int ScratchBlocks => 1;

    /// <summary>
    /// True when <c>Forward</c> leaves <c>gi</c> and <c>gh</c> as they came (the backward needs the raw products)
    /// and puts the activated gates in the first <c>Gates</c> blocks of the scratch row instead (probes read them).
    /// </summary>
    static virtual bool GatesInScratch => false;

    /// <summary>
    /// Gate blocks of the recurrent product computed first (0: all at once). When positive, the remaining blocks
    /// multiply a gated state instead of h_{t−1} — the Cho GRU's r ⊙ h_{t−1} — which <c>GateState</c> forms from the
    /// first blocks: gh[..E·H] = W_hh[..E·H] h + b, gated = GateState(…), gh[E·H..] = W_hh[E·H..] gated + b.
    /// </summary>
    static virtual int EarlyBlocks => 0;

    /// <summary>The gated state from the raw <c>gi</c>, the early blocks of <c>gh</c> and h_{t−1}.</summary>
    static virtual void GateState(ReadOnlySpan<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        Span<float> gated)
    {
    }

    /// <summary>
    /// After <c>Backward</c> and ∂L/∂gated = dgh[E·H..]·W_hh[E·H..]: fills the early blocks of <c>dgi</c> and
    /// <c>dgh</c> (<c>Backward</c> leaves them holding the gates) and adds the gated path to dh_{t−1}.
    /// </summary>
    static virtual void GateStateBackward(ReadOnlySpan<float> gates, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> dGated, Span<float> dgi, Span<float> dgh, Span<float> dhPrev)
    {
    }
}

/// <summary>Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh).</summary>
internal readonly struct TanhCell : IRecurrentCell
{
    public static int Gates => 1;
    public static bool SeparateRecurrent => false;
    public static bool HasCellState => false;

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        Kernels.Squashing.Tanh(gi, h);
        h.CopyTo(gi);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dc,
        Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch, ReadOnlySpan<float> extra,
        Span<float> dExtra)
    {
        // dgi = dh ⊙ (1 − h²), vectorised; the gates are read into scratch before dgi (which may alias them) is written
        int n = dh.Length;
        var derivative = scratch[..n];
        TensorPrimitives.Multiply(gates[..n], gates[..n], derivative);
        TensorPrimitives.Subtract(1f, derivative, derivative);
        TensorPrimitives.Multiply(dh, derivative, dgi[..n]);
        dhPrev.Clear();
    }
}

/// <summary>Elman RNN with ReLU: h_t = max(0, W_ih x_t + b_ih + W_hh h_{t−1} + b_hh).</summary>
internal readonly struct ReluCell : IRecurrentCell
{
    public static int Gates => 1;
    public static bool SeparateRecurrent => false;
    public static bool HasCellState => false;

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        TensorPrimitives.Max(gi, 0f, h);
        h.CopyTo(gi);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dc,
        Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch, ReadOnlySpan<float> extra,
        Span<float> dExtra)
    {
        for (int j = 0; j < dh.Length; j++) dgi[j] = gates[j] > 0f ? dh[j] : 0f;
        dhPrev.Clear();
    }
}

/// <summary>
/// LSTM, gate order as PyTorch: i, f, g, o = σ, σ, tanh, σ of (W_ih x_t + b_ih + W_hh h_{t−1} + b_hh);
/// c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t).
/// </summary>
internal readonly struct LstmCell : IRecurrentCell
{
    public static int Gates => 4;
    public static bool SeparateRecurrent => false;
    public static bool HasCellState => true;

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        Kernels.Squashing.LstmForward(gi, cPrev, c, h);
    }

    public static bool FusesProjection => true;

    public static unsafe void ForwardAdding(int units, float* product, float* projected, int projectedStride,
        float* cPrev, float* c, float* h)
        => Kernels.Squashing.LstmForward(units, product, units, projected, projectedStride, cPrev, c, h);

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dc,
        Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch, ReadOnlySpan<float> extra,
        Span<float> dExtra)
    {
        int n = dh.Length;
        var tanhC = scratch[..n];
        Kernels.Squashing.Tanh(c, tanhC);
        for (int j = 0; j < n; j++)
        {
            float i = gates[j], f = gates[n + j], g = gates[2 * n + j], o = gates[3 * n + j];
            float dcTotal = dc[j] + dh[j] * o * (1f - tanhC[j] * tanhC[j]);
            dgi[j] = dcTotal * g * i * (1f - i);
            dgi[n + j] = dcTotal * cPrev[j] * f * (1f - f);
            dgi[2 * n + j] = dcTotal * i * (1f - g * g);
            dgi[3 * n + j] = dh[j] * tanhC[j] * o * (1f - o);
            dc[j] = dcTotal * f;
        }
        dhPrev.Clear();
    }
}

/// <summary>
/// GRU in PyTorch's (cuDNN) form, gate order r, z, n: r = σ(W_ir x + b_ir + W_hr h + b_hr),
/// z = σ(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h_t = (1 − z) ⊙ n + z ⊙
/// h_{t−1}.
/// </summary>
internal readonly struct GruCell : IRecurrentCell
{
    public static int Gates => 3;
    public static bool SeparateRecurrent => true;
    public static bool HasCellState => false;

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        int n = h.Length;
        var rz = gi[..(2 * n)];
        TensorPrimitives.Add(rz, gh[..(2 * n)], rz);
        Kernels.Squashing.Sigmoid(rz, rz);
        var r = gi[..n]; var z = gi.Slice(n, n); var candidate = gi.Slice(2 * n, n);
        TensorPrimitives.MultiplyAdd(r, gh.Slice(2 * n, n), candidate, candidate);
        Kernels.Squashing.Tanh(candidate, candidate);
        for (int j = 0; j < n; j++) h[j] = candidate[j] + z[j] * (hPrev[j] - candidate[j]);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dc,
        Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch, ReadOnlySpan<float> extra,
        Span<float> dExtra)
    {
        int n = dh.Length;
        for (int j = 0; j < n; j++)
        {
            float r = gates[j], z = gates[n + j], candidate = gates[2 * n + j];
            float dCandidate = dh[j] * (1f - z) * (1f - candidate * candidate);
            float dz = dh[j] * (hPrev[j] - candidate) * z * (1f - z);
            float dr = dCandidate * gh[2 * n + j] * r * (1f - r);
            dgi[j] = dr; dgi[n + j] = dz; dgi[2 * n + j] = dCandidate;
            dgh[j] = dr; dgh[n + j] = dz; dgh[2 * n + j] = dCandidate * r;
            dhPrev[j] = dh[j] * z;
        }
    }
}

/// <summary>
/// LSTM with diagonal peephole connections (Gers &amp; Schmidhuber 2000), gate order i, f, g, o:
/// i = σ(a_i + w_ci ⊙ c_{t−1}), f = σ(a_f + w_cf ⊙ c_{t−1}), g = tanh(a_g), c_t = f ⊙ c_{t−1} + i ⊙ g,
/// o = σ(a_o + w_co ⊙ c_t), h_t = o ⊙ tanh(c_t), where a = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh. The extra weights are
/// [w_ci, w_cf, w_co], three blocks of H.
/// </summary>
internal readonly struct PeepholeLstmCell : IRecurrentCell
{
    public static int Gates => 4;
    public static bool SeparateRecurrent => false;
    public static bool HasCellState => true;
    public static int ExtraBlocks => 3;

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        int n = h.Length;
        var i = gi[..n]; var f = gi.Slice(n, n); var g = gi.Slice(2 * n, n); var o = gi.Slice(3 * n, n);
        TensorPrimitives.MultiplyAdd(extra[..n], cPrev, i, i);
        TensorPrimitives.MultiplyAdd(extra.Slice(n, n), cPrev, f, f);
        Kernels.Squashing.Sigmoid(gi[..(2 * n)], gi[..(2 * n)]);
        Kernels.Squashing.Tanh(g, g);
        TensorPrimitives.Multiply(f, cPrev, c);
        TensorPrimitives.MultiplyAdd(i, g, c, c);
        TensorPrimitives.MultiplyAdd(extra.Slice(2 * n, n), c, o, o);
        Kernels.Squashing.Sigmoid(o, o);
        var tanhC = scratch[..n];
        Kernels.Squashing.Tanh(c, tanhC);
        TensorPrimitives.Multiply(o, tanhC, h);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dc,
        Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch, ReadOnlySpan<float> extra,
        Span<float> dExtra)
    {
        int n = dh.Length;
        var tanhC = scratch[..n];
        Kernels.Squashing.Tanh(c, tanhC);
        for (int j = 0; j < n; j++)
        {
            float i = gates[j], f = gates[n + j], g = gates[2 * n + j], o = gates[3 * n + j];
            float dPreO = dh[j] * tanhC[j] * o * (1f - o);
            float dcTotal = dc[j] + dh[j] * o * (1f - tanhC[j] * tanhC[j]) + dPreO * extra[2 * n + j];
            float dPreI = dcTotal * g * i * (1f - i);
            float dPreF = dcTotal * cPrev[j] * f * (1f - f);
            dgi[j] = dPreI;
            dgi[n + j] = dPreF;
            dgi[2 * n + j] = dcTotal * i * (1f - g * g);
            dgi[3 * n + j] = dPreO;
            dc[j] = dcTotal * f + dPreI * extra[j] + dPreF * extra[n + j];
            dExtra[j] += dPreI * cPrev[j];
            dExtra[n + j] += dPreF * cPrev[j];
            dExtra[2 * n + j] += dPreO * c[j];
        }
        dhPrev.Clear();
    }
}

/// <summary>
/// Leaky-integrator tanh units: h_t = α ⊙ h_{t−1} + (1 − α) ⊙ tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), with a leak
/// α
/// per unit (the extra weights, one block of H; α = 0 is the Elman RNN). The saved gate is the tanh candidate.
/// </summary>
internal readonly struct LeakyTanhCell : IRecurrentCell
{
    public static int Gates => 1;
    public static bool SeparateRecurrent => false;
    public static bool HasCellState => false;
    public static int ExtraBlocks => 1;

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        Kernels.Squashing.Tanh(gi, gi);
        for (int j = 0; j < h.Length; j++) h[j] = gi[j] + extra[j] * (hPrev[j] - gi[j]);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dc,
        Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch, ReadOnlySpan<float> extra,
        Span<float> dExtra)
    {
        for (int j = 0; j < dh.Length; j++)
        {
            float candidate = gates[j], alpha = extra[j];
            dExtra[j] += dh[j] * (hPrev[j] - candidate);
            dhPrev[j] = dh[j] * alpha;
            dgi[j] = dh[j] * (1f - alpha) * (1f - candidate * candidate);
        }
    }
}

/// <summary>
/// GRU in the original form of Cho et al. (2014), gate order r, z, n: the reset gate scales h_{t−1} before the
/// recurrent product, n = tanh(W_in x + b_in + W_hn (r ⊙ h_{t−1}) + b_hn), h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}; r and z as
/// in <see cref="GruCell"/>. The kernel forms r ⊙ h_{t−1} between the two parts of the recurrent product.
/// </summary>
internal readonly struct ChoGruCell : IRecurrentCell
{
    public static int Gates => 3;
    public static bool SeparateRecurrent => true;
    public static bool HasCellState => false;
    public static int EarlyBlocks => 2;

    public static void GateState(ReadOnlySpan<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        Span<float> gated)
    {
        int n = hPrev.Length;
        TensorPrimitives.Add(gi[..n], gh[..n], gated);
        Kernels.Squashing.Sigmoid(gated, gated);
        TensorPrimitives.Multiply(gated, hPrev, gated);
    }

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        int n = h.Length, w = 3 * n;
        TensorPrimitives.Add(gi[..w], gh[..w], gi[..w]);
        Kernels.Squashing.Sigmoid(gi[..(2 * n)], gi[..(2 * n)]);
        var z = gi.Slice(n, n); var candidate = gi.Slice(2 * n, n);
        Kernels.Squashing.Tanh(candidate, candidate);
        for (int j = 0; j < n; j++) h[j] = candidate[j] + z[j] * (hPrev[j] - candidate[j]);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh,
        Span<float> dc, Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch,
        ReadOnlySpan<float> extra, Span<float> dExtra)
    {
        int n = dh.Length;
        for (int j = 0; j < n; j++)
        {
            float z = gates[n + j], candidate = gates[2 * n + j];
            float dCandidate = dh[j] * (1f - z) * (1f - candidate * candidate);
            float dz = dh[j] * (hPrev[j] - candidate) * z * (1f - z);
            dgi[n + j] = dgh[n + j] = dz;
            dgi[2 * n + j] = dgh[2 * n + j] = dCandidate;
            dhPrev[j] = dh[j] * z;
        }
    }

    public static void GateStateBackward(ReadOnlySpan<float> gates, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> dGated, Span<float> dgi, Span<float> dgh, Span<float> dhPrev)
    {
        for (int j = 0; j < hPrev.Length; j++)
        {
            float r = gates[j];
            dgi[j] = dgh[j] = dGated[j] * hPrev[j] * r * (1f - r);
            dhPrev[j] += dGated[j] * r;
        }
    }
}
