using System.Numerics.Tensors;
using Recur.Kernels;

namespace Recur.Nn.Recurrent;

/// <summary>
/// Layer-normalised LSTM (Ba, Kiros &amp; Hinton 2016), gate order i, f, g, o: the raw products W_ih x_t (in
/// <c>gi</c>) and W_hh h_{t−1} (in <c>gh</c>) are normalised separately over all 4H units,
/// a = LN(W_ih x; γ_ih, β_ih) + LN(W_hh h; γ_hh, β_hh) (the shifts are the gate biases), c_t = f ⊙ c_{t−1} + i ⊙ g,
/// h_t = o ⊙ tanh(LN(c_t; γ_c, β_c)). Extra weights: [γ_ih, β_ih, γ_hh, β_hh] (4H each), then [γ_c, β_c] (H each).
/// The backward recomputes the normalisations from the raw products, which the forward leaves in place.
/// </summary>
internal readonly struct LayerNormLstmCell : IRecurrentCell
{
    public static int Gates => 4;
    public static bool SeparateRecurrent => true;
    public static bool HasCellState => true;
    public static int ExtraBlocks => 18;
    public static bool UnitWise => false;
    public static int ScratchBlocks => 18;
    public static bool GatesInScratch => true;

    /// <summary>
    /// Normalises both products into <paramref name="inputPart"/> and <paramref name="recurrentPart"/>, leaves the
    /// activated gates in <paramref name="gates"/> and returns both inverse deviations.
    /// </summary>
    static (float Input, float Recurrent) Activate(ReadOnlySpan<float> gi, ReadOnlySpan<float> gh,
        ReadOnlySpan<float> extra, Span<float> inputPart, Span<float> recurrentPart, Span<float> gates)
    {
        int w = gi.Length, n = w / 4;
        var deviations = NormalisedProducts.Normalise(gi, gh, extra, inputPart, recurrentPart, gates);
        TensorPrimitives.MultiplyAdd(recurrentPart, extra.Slice(2 * w, w), gates, gates);
        TensorPrimitives.Add(gates, extra.Slice(3 * w, w), gates);
        Kernels.Squashing.Sigmoid(gates[..(2 * n)], gates[..(2 * n)]);
        Kernels.Squashing.Tanh(gates.Slice(2 * n, n), gates.Slice(2 * n, n));
        Kernels.Squashing.Sigmoid(gates.Slice(3 * n, n), gates.Slice(3 * n, n));
        return deviations;
    }

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        int n = h.Length, w = 4 * n;
        var gates = scratch[..w];
        Activate(gi, gh, extra, scratch.Slice(w, w), scratch.Slice(2 * w, w), gates);
        var i = gates[..n]; var f = gates.Slice(n, n); var g = gates.Slice(2 * n, n); var o = gates.Slice(3 * n, n);
        TensorPrimitives.Multiply(f, cPrev, c);
        TensorPrimitives.MultiplyAdd(i, g, c, c);
        var cell = scratch.Slice(w, n);
        Normalization.Normalize(c, cell);
        TensorPrimitives.MultiplyAdd(cell, extra.Slice(4 * w, n), extra.Slice(4 * w + n, n), cell);
        Kernels.Squashing.Tanh(cell, cell);
        TensorPrimitives.Multiply(o, cell, h);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh,
        Span<float> dc, Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch,
        ReadOnlySpan<float> extra, Span<float> dExtra)
    {
        int n = dh.Length, w = 4 * n;
        var act = scratch[..w];
        var inputPart = scratch.Slice(w, w);
        var recurrentPart = scratch.Slice(2 * w, w);
        var dPre = scratch.Slice(3 * w, w);
        var cellHat = scratch.Slice(4 * w, n);
        var tanhCell = scratch.Slice(4 * w + n, n);
        var (inputStd, recurrentStd) = Activate(gates, gh, extra, inputPart, recurrentPart, act);
        float cellStd = Normalization.Normalize(c, cellHat);
        var gainC = extra.Slice(4 * w, n);
        TensorPrimitives.MultiplyAdd(cellHat, gainC, extra.Slice(4 * w + n, n), tanhCell);
        Kernels.Squashing.Tanh(tanhCell, tanhCell);
        // through h = o ⊙ tanh(γ_c ĉ + β_c): dPre's o block first, its first block holds ∂L/∂ĉ for a moment
        var dCellHat = dPre[..n];
        for (int j = 0; j < n; j++)
        {
            float o = act[3 * n + j], dy = dh[j] * o * (1f - tanhCell[j] * tanhCell[j]);
            dExtra[4 * w + j] += dy * cellHat[j];
            dExtra[4 * w + n + j] += dy;
            dCellHat[j] = dy * gainC[j];
            dPre[3 * n + j] = dh[j] * tanhCell[j] * o * (1f - o);
        }
        var dCell = tanhCell; // no longer needed
        Normalization.Backward(cellHat, cellStd, dCellHat, dCell);
        for (int j = 0; j < n; j++)
        {
            float i = act[j], f = act[n + j], g = act[2 * n + j];
            float dcTotal = dc[j] + dCell[j];
            dPre[j] = dcTotal * g * i * (1f - i);
            dPre[n + j] = dcTotal * cPrev[j] * f * (1f - f);
            dPre[2 * n + j] = dcTotal * i * (1f - g * g);
            dc[j] = dcTotal * f;
        }
        NormalisedProducts.Through(dPre, inputPart, inputStd, extra[..w], dExtra[..(2 * w)], dgi, act);
        NormalisedProducts.Through(dPre, recurrentPart, recurrentStd, extra.Slice(2 * w, w),
            dExtra.Slice(2 * w, 2 * w), dgh, act);
        dhPrev.Clear();
    }
}

/// <summary>
/// Layer-normalised GRU (PyTorch's form of the reset gate), gate order r, z, n: with A = LN(W_ih x; γ_ih, β_ih) and
/// R = LN(W_hh h_{t−1}; γ_hh, β_hh) over all 3H units, r = σ(A_r + R_r), z = σ(A_z + R_z), n = tanh(A_n + r ⊙ R_n),
/// h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}. Extra weights: [γ_ih, β_ih, γ_hh, β_hh], 3H each.
/// </summary>
internal readonly struct LayerNormGruCell : IRecurrentCell
{
    public static int Gates => 3;
    public static bool SeparateRecurrent => true;
    public static bool HasCellState => false;
    public static int ExtraBlocks => 12;
    public static bool UnitWise => false;
    public static int ScratchBlocks => 18;
    public static bool GatesInScratch => true;

    /// <summary>Leaves r, z, n in <paramref name="gates"/>, R in <paramref name="recurrent"/>.</summary>
    static (float Input, float Recurrent) Activate(ReadOnlySpan<float> gi, ReadOnlySpan<float> gh,
        ReadOnlySpan<float> extra, Span<float> inputPart, Span<float> recurrentPart, Span<float> gates,
        Span<float> recurrent)
    {
        int w = gi.Length, n = w / 3;
        var deviations = NormalisedProducts.Normalise(gi, gh, extra, inputPart, recurrentPart, gates);
        TensorPrimitives.MultiplyAdd(recurrentPart, extra.Slice(2 * w, w), extra.Slice(3 * w, w), recurrent);
        TensorPrimitives.Add(gates[..(2 * n)], recurrent[..(2 * n)], gates[..(2 * n)]);
        Kernels.Squashing.Sigmoid(gates[..(2 * n)], gates[..(2 * n)]);
        var candidate = gates.Slice(2 * n, n);
        TensorPrimitives.MultiplyAdd(gates[..n], recurrent.Slice(2 * n, n), candidate, candidate);
        Kernels.Squashing.Tanh(candidate, candidate);
        return deviations;
    }

    public static void Forward(Span<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c, Span<float> scratch, ReadOnlySpan<float> extra)
    {
        int n = h.Length, w = 3 * n;
        var gates = scratch[..w];
        Activate(gi, gh, extra, scratch.Slice(w, w), scratch.Slice(2 * w, w), gates, scratch.Slice(3 * w, w));
        for (int j = 0; j < n; j++) h[j] = gates[2 * n + j] + gates[n + j] * (hPrev[j] - gates[2 * n + j]);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> h, ReadOnlySpan<float> dh,
        Span<float> dc, Span<float> dgi, Span<float> dgh, Span<float> dhPrev, Span<float> scratch,
        ReadOnlySpan<float> extra, Span<float> dExtra)
    {
        int n = dh.Length, w = 3 * n;
        var act = scratch[..w];
        var inputPart = scratch.Slice(w, w);
        var recurrentPart = scratch.Slice(2 * w, w);
        var recurrent = scratch.Slice(3 * w, w);
        var dInput = scratch.Slice(4 * w, w);
        var dRecurrent = scratch.Slice(5 * w, w);
        var (inputStd, recurrentStd) = Activate(gates, gh, extra, inputPart, recurrentPart, act, recurrent);
        for (int j = 0; j < n; j++)
        {
            float r = act[j], z = act[n + j], candidate = act[2 * n + j];
            float dCandidate = dh[j] * (1f - z) * (1f - candidate * candidate);
            float dz = dh[j] * (hPrev[j] - candidate) * z * (1f - z);
            float dr = dCandidate * recurrent[2 * n + j] * r * (1f - r);
            dInput[j] = dRecurrent[j] = dr;
            dInput[n + j] = dRecurrent[n + j] = dz;
            dInput[2 * n + j] = dCandidate;
            dRecurrent[2 * n + j] = dCandidate * r;
            dhPrev[j] = dh[j] * z;
        }
        NormalisedProducts.Through(dInput, inputPart, inputStd, extra[..w], dExtra[..(2 * w)], dgi, act);
        NormalisedProducts.Through(dRecurrent, recurrentPart, recurrentStd, extra.Slice(2 * w, w),
            dExtra.Slice(2 * w, 2 * w), dgh, act);
    }
}

/// <summary>The two normalised products both layer-normalised cells start from, and the way back through
/// each.</summary>
static class NormalisedProducts
{
    /// <summary>
    /// x̂ = LN(<paramref name="gi"/>) and r̂ = LN(<paramref name="gh"/>) into <paramref name="inputPart"/> and
    /// <paramref name="recurrentPart"/>, γ_ih ⊙ x̂ + β_ih into <paramref name="gates"/> (<paramref name="extra"/>
    /// starts with [γ_ih, β_ih, γ_hh, β_hh]); returns both inverse deviations.
    /// </summary>
    public static (float Input, float Recurrent) Normalise(ReadOnlySpan<float> gi, ReadOnlySpan<float> gh,
        ReadOnlySpan<float> extra, Span<float> inputPart, Span<float> recurrentPart, Span<float> gates)
    {
        int w = gi.Length;
        float input = Normalization.Normalize(gi, inputPart);
        float recurrent = Normalization.Normalize(gh, recurrentPart);
        TensorPrimitives.MultiplyAdd(inputPart, extra[..w], extra.Slice(w, w), gates);
        return (input, recurrent);
    }

    /// <summary>
    /// From ∂L/∂y of y = γ ⊙ x̂ + β: accumulates ∂L/∂γ and ∂L/∂β into <paramref name="dAffine"/> ([γ, β]) and writes
    /// ∂L/∂x (the raw product) to <paramref name="dRaw"/>; <paramref name="work"/> is overwritten.
    /// </summary>
    public static void Through(ReadOnlySpan<float> dy, ReadOnlySpan<float> normalized, float inverseStd,
        ReadOnlySpan<float> gain, Span<float> dAffine, Span<float> dRaw, Span<float> work)
    {
        int w = dy.Length;
        var dGain = dAffine[..w];
        var dShift = dAffine.Slice(w, w);
        TensorPrimitives.MultiplyAdd(dy, normalized, dGain, dGain);
        TensorPrimitives.Add(dShift, dy, dShift);
        TensorPrimitives.Multiply(dy, gain, work[..w]);
        Normalization.Backward(normalized, inverseStd, work[..w], dRaw[..w]);
    }
}
