using System.Globalization;
using System.Numerics.Tensors;
using Recur.Kernels;

namespace Recur.Energy;

/// <summary>The kind of an RBM's visible units.</summary>
public enum VisibleUnits
{
    /// <summary>Stochastic binary units: p(v_i = 1 | h) = σ(a_i + W_i·h).</summary>
    Binary,
    /// <summary>Real-valued units with unit variance: v_i | h ~ N(a_i + W_i·h, 1) (data should be
    /// standardised).</summary>
    Gaussian,
}

/// <summary>
/// A restricted Boltzmann machine: visible units v (binary or Gaussian), binary hidden units h, weights W [V, H],
/// visible biases a and hidden biases b. Energy E(v, h) = −a·v − b·h − vᵀWh for binary visible units
/// (½‖v − a‖² − b·h − vᵀWh for Gaussian ones); free energy F(v) = −log Σ_h e^{−E(v, h)}.
/// Batches are row-major [B, V] and [B, H]; products run on Recur's GEMM.
/// </summary>
public sealed class RestrictedBoltzmannMachine
{
    /// <summary>Visible units V.</summary>
    public int Visible { get; }

    /// <summary>Hidden units H.</summary>
    public int Hidden { get; }

    /// <summary>Binary or Gaussian visible units.</summary>
    public VisibleUnits VisibleType { get; }

    /// <summary>W, [V, H] row-major.</summary>
    public float[] Weights { get; }

    /// <summary>a, [V].</summary>
    public float[] VisibleBias { get; }

    /// <summary>b, [H].</summary>
    public float[] HiddenBias { get; }

    /// <summary>Creates the machine with W ~ N(0, 0.01²) and zero biases (Hinton 2010, "A practical guide to training
    /// RBMs").</summary>
    public RestrictedBoltzmannMachine(int visible, int hidden, RandomGenerator random,
        VisibleUnits visibleType = VisibleUnits.Binary)
    {
        if (visible < 1
            || hidden < 1) throw new ArgumentException(
            $"RBM: sizes must be positive, got visible {visible}, hidden {hidden}.");
        (Visible, Hidden, VisibleType) = (visible, hidden, visibleType);
        Weights = new float[visible * hidden];
        for (int i = 0; i < Weights.Length; i++) Weights[i] = 0.01f * random.NextNormal();
        VisibleBias = new float[visible];
        HiddenBias = new float[hidden];
    }

    /// <summary>Sets the visible biases to the log-odds of each unit being on in <paramref name="data"/> [N, V] (binary
    /// units).</summary>
    public void InitialiseVisibleBias(ReadOnlySpan<float> data)
    {
        int n = CheckBatch(data, Visible, "data");
        for (int i = 0; i < Visible; i++)
        {
            double on = 0;
            for (int r = 0; r < n; r++) on += data[r * Visible + i];
            double p = Math.Clamp(on / n, 1e-3, 1 - 1e-3);
            VisibleBias[i] = (float)Math.Log(p / (1 - p));
        }
    }

    /// <summary>p(h = 1 | v) = σ(b + vW) for a batch [B, V] → [B, H]; <paramref name="preActivation"/> keeps b + vW
    /// when given.</summary>
    public void HiddenProbabilities(ReadOnlySpan<float> visible, Span<float> probabilities,
        Span<float> preActivation = default)
    {
        int batch = CheckBatch(visible, Visible, "visible");
        Gemm.Multiply(false, false, batch, Hidden, Visible, visible, Visible, Weights, Hidden, probabilities, Hidden,
            bias: HiddenBias);
        if (!preActivation.IsEmpty) probabilities[..(batch * Hidden)].CopyTo(preActivation);
        Kernels.Squashing.Sigmoid(probabilities[..(batch * Hidden)], probabilities[..(batch * Hidden)]);
    }

    /// <summary>E[v | h] for a batch [B, H] → [B, V]: σ(a + Wh) for binary units, a + Wh for Gaussian ones.</summary>
    public void VisibleMeans(ReadOnlySpan<float> hidden, Span<float> means)
    {
        int batch = CheckBatch(hidden, Hidden, "hidden");
        Gemm.Multiply(false, true, batch, Visible, Hidden, hidden, Hidden, Weights, Hidden, means, Visible,
            bias: VisibleBias);
        if (VisibleType == VisibleUnits.Binary) Kernels.Squashing.Sigmoid(means[..(batch * Visible)],
            means[..(batch * Visible)]);
    }

    /// <summary>Draws binary states: 1 with the given probabilities.</summary>
    public static void SampleBernoulli(ReadOnlySpan<float> probabilities, Span<float> states, RandomGenerator random)
    {
        for (int i = 0; i < probabilities.Length; i++) states[i] = random.NextFloat() < probabilities[i] ? 1f : 0f;
    }

    /// <summary>Draws v given the visible means: Bernoulli for binary units, mean + N(0, 1) for Gaussian
    /// ones.</summary>
    public void SampleVisible(ReadOnlySpan<float> means, Span<float> states, RandomGenerator random)
    {
        if (VisibleType == VisibleUnits.Binary) SampleBernoulli(means, states, random);
        else for (int i = 0; i < means.Length; i++) states[i] = means[i] + random.NextNormal();
    }

    /// <summary>F(v) for each row of a batch [B, V]: −a·v − Σ_j softplus(b_j + v·W_j) (binary) or ½‖v − a‖² − Σ_j
    /// softplus(…) (Gaussian).</summary>
    public double[] FreeEnergy(ReadOnlySpan<float> visible)
    {
        int batch = CheckBatch(visible, Visible, "visible");
        var pre = new float[batch * Hidden];
        Gemm.Multiply(false, false, batch, Hidden, Visible, visible, Visible, Weights, Hidden, pre, Hidden,
            bias: HiddenBias);
        var result = new double[batch];
        for (int r = 0; r < batch; r++)
        {
            var v = visible.Slice(r * Visible, Visible);
            double energy = 0;
            if (VisibleType == VisibleUnits.Binary) energy = -Dot(VisibleBias, v);
            else for (int i = 0; i < Visible; i++) energy += 0.5 * (v[i] - VisibleBias[i]) * (v[i] - VisibleBias[i]);
            for (int j = 0; j < Hidden; j++) energy -= Softplus(pre[r * Hidden + j]);
            result[r] = energy;
        }
        return result;
    }

    /// <summary>
    /// Mean squared reconstruction error per example, Σ_i (v_i − E[v_i | h])² with h the hidden probabilities
    /// (deterministic, so comparable between runs).
    /// </summary>
    public double ReconstructionError(ReadOnlySpan<float> data)
    {
        int n = CheckBatch(data, Visible, "data");
        const int chunk = 500;
        var ph = new float[chunk * Hidden];
        var pv = new float[chunk * Visible];
        double total = 0;
        for (int start = 0; start < n; start += chunk)
        {
            int rows = Math.Min(chunk, n - start);
            var v = data.Slice(start * Visible, rows * Visible);
            HiddenProbabilities(v, ph);
            VisibleMeans(ph.AsSpan(0, rows * Hidden), pv);
            for (int i = 0; i < rows * Visible; i++) total += (v[i] - pv[i]) * (double)(v[i] - pv[i]);
        }
        return total / n;
    }

    /// <summary>
    /// Stochastic pseudo-log-likelihood per example (binary units): for each example one random unit i is flipped and
    /// V · log σ(F(ṽ) − F(v)) estimates Σ_i log p(v_i | v_¬i). A cheap progress measure; it is not the likelihood.
    /// </summary>
    public double PseudoLogLikelihood(ReadOnlySpan<float> data, RandomGenerator random)
    {
        if (VisibleType != VisibleUnits.Binary) throw new InvalidOperationException(
            "PseudoLogLikelihood: defined here for binary visible units.");
        int n = CheckBatch(data, Visible, "data");
        var flipped = data.ToArray();
        for (int r = 0; r < n; r++)
        {
            int i = random.NextInt(Visible);
            flipped[r * Visible + i] = 1f - flipped[r * Visible + i];
        }
        var f = FreeEnergy(data);
        var g = FreeEnergy(flipped);
        double total = 0;
        for (int r = 0; r < n; r++) total += Visible * -Softplus(-(g[r] - f[r]));
        return total / n;
    }

    /// <summary>
    /// The exact log partition function log Z, by enumerating the smaller layer (at most 24 units; binary visible
    /// units, or Gaussian ones with the hidden layer enumerated). For tests and tiny models.
    /// </summary>
    public double ExactLogPartition()
    {
        if (VisibleType == VisibleUnits.Gaussian || Hidden <= Visible)
        {
            if (Hidden > 24) throw new InvalidOperationException(
                $"ExactLogPartition: 2^{Hidden} hidden states are too many to enumerate.");
            // log Z = log Σ_h e^{b·h} Π_i Σ_{v_i} e^{v_i (a_i + W_i·h)}; Gaussian: ∫ e^{−½(v−a)² + v·x} dv = √(2π) e^{a
            // x + x²/2}
            var terms = new double[1 << Hidden];
            for (int mask = 0; mask < terms.Length; mask++)
            {
                double value = 0;
                for (int j = 0; j < Hidden; j++) if ((mask >> j & 1) != 0) value += HiddenBias[j];
                for (int i = 0; i < Visible; i++)
                {
                    double x = 0;
                    for (int j = 0; j < Hidden; j++) if ((mask >> j & 1) != 0) x += Weights[i * Hidden + j];
                    value += VisibleType == VisibleUnits.Binary ? Softplus(VisibleBias[i] + x)
                        : VisibleBias[i] * x + 0.5 * x * x + 0.5 * Math.Log(2 * Math.PI);
                }
                terms[mask] = value;
            }
            return LogSumExp(terms);
        }
        if (Visible > 24) throw new InvalidOperationException(
            $"ExactLogPartition: 2^{Visible} visible states are too many to enumerate.");
        var v = new float[Visible];
        var negativeFree = new double[1 << Visible];
        for (int mask = 0; mask < negativeFree.Length; mask++)
        {
            for (int i = 0; i < Visible; i++) v[i] = mask >> i & 1;
            negativeFree[mask] = -FreeEnergy(v)[0];
        }
        return LogSumExp(negativeFree);
    }

    /// <summary>
    /// Annealed importance sampling estimate of log Z (Salakhutdinov &amp; Murray 2008) for binary visible units:
    /// <paramref name="runs"/> chains move from a base model with the data's visible biases
    /// (<paramref name="baseVisibleBias"/>, or zeros) and no hidden units to this machine through
    /// <paramref name="steps"/> inverse temperatures spaced evenly in β, one Gibbs transition each. Returns the
    /// estimate and the standard deviation of the log importance weights.
    /// </summary>
    public (double LogZ, double LogWeightStd) AnnealedImportanceSampling(int runs, int steps, RandomGenerator random,
        ReadOnlySpan<float> baseVisibleBias = default)
    {
        if (VisibleType != VisibleUnits.Binary) throw new InvalidOperationException(
            "AIS: implemented for binary visible units.");
        if (runs < 1
            || steps < 1) throw new ArgumentException($"AIS: runs and steps must be positive, got {runs} and {steps}.");
        var baseBias = baseVisibleBias.IsEmpty ? new float[Visible] : baseVisibleBias.ToArray();
        if (baseBias.Length != Visible) throw new ArgumentException(
            $"AIS: {baseBias.Length} base biases for {Visible} visible units.");
        // at β = 0 every hidden unit contributes softplus(0) = log 2 whatever v is
        double logZBase = baseBias.Sum(a => Softplus(a)) + Hidden * Math.Log(2);
        var v = new float[runs * Visible];
        var p = new float[runs * Visible];
        for (int r = 0; r < runs; r++)
            for (int i = 0; i < Visible; i++) p[r * Visible + i] = (float)Sigmoid(baseBias[i]);
        SampleBernoulli(p, v, random);
        var pre = new float[runs * Hidden];
        var h = new float[runs * Hidden];
        var logWeights = new double[runs];
        var mixedBias = new float[Visible];

        // log p*_β(v) = ((1−β) a_A + β a_B)·v + Σ_j softplus(β (b_j + v·W_j)), with pre = b + vW
        double LogUnnormalised(int r, double beta)
        {
            double value = 0;
            var row = v.AsSpan(r * Visible, Visible);
            for (int i = 0; i < Visible; i++) value += ((1 - beta) * baseBias[i] + beta * VisibleBias[i]) * row[i];
            for (int j = 0; j < Hidden; j++) value += Softplus(beta * pre[r * Hidden + j]);
            return value;
        }

        for (int k = 1; k <= steps; k++)
        {
            double previous = (double)(k - 1) / steps, beta = (double)k / steps;
            Gemm.Multiply(false, false, runs, Hidden, Visible, v, Visible, Weights, Hidden, pre, Hidden,
                bias: HiddenBias);
            for (int r = 0; r < runs; r++) logWeights[r] += LogUnnormalised(r, beta) - LogUnnormalised(r, previous);
            if (k == steps) break;
            // one Gibbs transition that leaves p_β invariant
            for (int i = 0; i < runs * Hidden; i++) h[i] = random.NextFloat() < Sigmoid(beta * pre[i]) ? 1f : 0f;
            for (int i = 0; i < Visible; i++) mixedBias[i] = (float)((1 - beta) * baseBias[i] + beta * VisibleBias[i]);
            Gemm.Multiply(false, true, runs, Visible, Hidden, h, Hidden, Weights, Hidden, p, Visible);
            for (int r = 0; r < runs; r++)
                for (int i = 0; i < Visible; i++)
                {
                    int at = r * Visible + i;
                    v[at] = random.NextFloat() < Sigmoid(mixedBias[i] + beta * p[at]) ? 1f : 0f;
                }
        }
        double mean = logWeights.Average();
        double std = Math.Sqrt(logWeights.Sum(w => (w - mean) * (w - mean)) / runs);
        return (logZBase + LogSumExp(logWeights) - Math.Log(runs), std);
    }

    /// <summary>Mean log-likelihood per example, −F(v) − log Z, given log Z (exact or estimated).</summary>
    public double LogLikelihood(ReadOnlySpan<float> data, double logZ) => FreeEnergy(data).Average(f => -f - logZ);

    /// <summary>Saves W (<c>weight</c> [V, H]), a (<c>visible_bias</c>) and b (<c>hidden_bias</c>) as safetensors,
    /// atomically.</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string,
            string>())
        { ["format"] = "recur.rbm", ["visible_units"] = VisibleType.ToString().ToLowerInvariant() };
        Serialization.SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["weight"] = Tensor.FromArray(Weights.ToArray(), Visible, Hidden),
            ["visible_bias"] = Tensor.FromArray(VisibleBias.ToArray(), Visible),
            ["hidden_bias"] = Tensor.FromArray(HiddenBias.ToArray(), Hidden),
        }, meta);
    }

    /// <summary>Loads a machine written by <see cref="Save"/>; errors name the file.</summary>
    public static (RestrictedBoltzmannMachine Machine, Dictionary<string, string> Metadata) Load(string path)
    {
        var tensors = Serialization.SafeTensors.Load(path, out var metadata);
        if (metadata.GetValueOrDefault("format") != "recur.rbm" || !tensors.TryGetValue("weight",
            out var w) || w.Rank != 2
            || !tensors.TryGetValue("visible_bias", out var a) || !tensors.TryGetValue("hidden_bias", out var b))
            throw new InvalidDataException(
                $"{path}: not an RBM saved by Recur (format recur.rbm with weight, visible_bias, hidden_bias).");
        if (a.Length != w.Size(0) || b.Length != w.Size(1))
            throw new InvalidDataException($"{path}: weight {Shapes.Format(w.Shape)} does not match visible_bias "
                + $"[{a.Length}] and hidden_bias [{b.Length}].");
        var type = metadata.GetValueOrDefault("visible_units") == "gaussian" ? VisibleUnits.Gaussian
            : VisibleUnits.Binary;
        var machine = new RestrictedBoltzmannMachine(w.Size(0), w.Size(1), new RandomGenerator(0), type);
        w.Span.CopyTo(machine.Weights);
        a.Span.CopyTo(machine.VisibleBias);
        b.Span.CopyTo(machine.HiddenBias);
        return (machine, metadata);
    }

    /// <summary>Runs <paramref name="steps"/> Gibbs steps from <paramref name="start"/> [B, V] and returns the final
    /// visible means.</summary>
    public float[] Gibbs(ReadOnlySpan<float> start, int steps, RandomGenerator random)
    {
        int batch = CheckBatch(start, Visible, "start");
        var v = start.ToArray();
        var ph = new float[batch * Hidden];
        var h = new float[batch * Hidden];
        var pv = new float[batch * Visible];
        for (int s = 0; s < steps; s++)
        {
            HiddenProbabilities(v, ph);
            SampleBernoulli(ph, h, random);
            VisibleMeans(h, pv);
            if (s < steps - 1) SampleVisible(pv, v, random);
        }
        return steps > 0 ? pv : v;
    }

    internal int CheckBatch(ReadOnlySpan<float> values, int width, string what)
    {
        if (values.Length == 0 || values.Length % width != 0)
            throw new ArgumentException(
                $"RBM: {what} has {values.Length} values, not a whole number of rows of {width}.");
        return values.Length / width;
    }

    internal static double Softplus(double x) => x > 30 ? x : x < -30 ? Math.Exp(x) : Math.Log(1 + Math.Exp(x));

    internal static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * (double)b[i];
        return sum;
    }

    internal static double LogSumExp(IReadOnlyList<double> values) =>
        Kernels.Scores.LogSumExp(values as double[] ?? [.. values]);

    /// <summary>A one-line description, e.g. for logs.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"RBM({Visible} {VisibleType.ToString().ToLowerInvariant()} visible, {Hidden} hidden)");
}
