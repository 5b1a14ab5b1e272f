using System.Numerics.Tensors;

namespace Recur.Energy;

/// <summary>How a <see cref="HopfieldNetwork"/> turns patterns into weights.</summary>
public enum HopfieldRule
{
    /// <summary>Outer products: w_ij = (1/N) Σ_μ p_i p_j (Hopfield 1982); capacity about 0.138·N (Amit et al.
    /// 1985).</summary>
    Hebbian,
    /// <summary>Storkey (1997): incremental and local, w_ij += (1/N)(p_i p_j − p_i h_ji − h_ij p_j); stores more
    /// patterns.</summary>
    Storkey,
}

/// <summary>Which units change at once during recall.</summary>
public enum HopfieldUpdate
{
    /// <summary>One unit at a time, in a fresh random order each sweep: the energy never increases and recall always
    /// ends at a fixed point.</summary>
    Asynchronous,
    /// <summary>All units at once from the previous state: may end in a two-state limit cycle.</summary>
    Synchronous,
}

/// <summary>How a recall ended.</summary>
public enum RecallOutcome
{
    /// <summary>A fixed point: no unit wants to change.</summary>
    Converged,
    /// <summary>Synchronous updates returned to the state of two steps before (a period-2 cycle).</summary>
    LimitCycle,
    /// <summary>The sweep limit ran out first.</summary>
    SweepLimit,
}

/// <summary>The end of a recall.</summary>
/// <param name="State">The final state (±1).</param>
/// <param name="Outcome">Fixed point, limit cycle or sweep limit.</param>
/// <param name="Sweeps">Sweeps (asynchronous) or steps (synchronous) run.</param>
/// <param name="Energies">The energy before the first update and after every update (each unit visit, or each
/// synchronous step).</param>
/// <param name="Flips">Units that changed sign in all.</param>
public sealed record RecallResult(sbyte[] State, RecallOutcome Outcome, int Sweeps, IReadOnlyList<double> Energies,
    int Flips);

/// <summary>
/// A Hopfield network of N binary units s_i ∈ {−1, +1} with symmetric weights, zero diagonal and thresholds b_i:
/// energy E(s) = −Σ_i b_i s_i − Σ_{i&lt;j} w_ij s_i s_j, unit update s_i ← sign(Σ_j w_ij s_j + b_i) (a zero field keeps
/// s_i). Weights and fields are kept in double precision so the energy bookkeeping is exact to rounding.
/// </summary>
public sealed class HopfieldNetwork
{
    readonly double[] weights;
    readonly double[] biases;

    /// <summary>Number of units N.</summary>
    public int Size { get; }

    /// <summary>Patterns stored so far.</summary>
    public int StoredPatterns { get; private set; }

    /// <summary>Creates a network with zero weights and thresholds.</summary>
    public HopfieldNetwork(int size)
    {
        if (size < 2) throw new ArgumentException($"HopfieldNetwork: needs at least 2 units, got {size}.");
        Size = size;
        weights = new double[size * size];
        biases = new double[size];
    }

    /// <summary>w_ij.</summary>
    public double Weight(int i, int j) => weights[i * Size + j];

    /// <summary>The thresholds b_i (settable: a positive b_i pulls unit i towards +1).</summary>
    public Span<double> Biases => biases;

    /// <summary>Sets w_ij = w_ji (i ≠ j); for building networks by hand and for tests.</summary>
    public void SetWeight(int i, int j, double value)
    {
        if (i == j) throw new ArgumentException($"HopfieldNetwork: the diagonal stays zero (unit {i}).");
        weights[i * Size + j] = weights[j * Size + i] = value;
    }

    /// <summary>Adds <paramref name="patterns"/> (each N values of ±1) to the weights by
    /// <paramref name="rule"/>.</summary>
    public void Store(IEnumerable<sbyte[]> patterns, HopfieldRule rule = HopfieldRule.Hebbian)
    {
        int n = Size;
        var field = new double[n];
        var p = new double[n];
        foreach (var pattern in patterns)
        {
            CheckState(pattern, "pattern");
            for (int i = 0; i < n; i++) p[i] = pattern[i];
            if (rule == HopfieldRule.Hebbian)
            {
                for (int i = 0; i < n; i++)
                {
                    var row = weights.AsSpan(i * n, n);
                    TensorPrimitives.MultiplyAdd(p, p[i] / n, row, row);
                    row[i] = 0;
                }
            }
            else
            {
                // local fields of the pattern under the current weights: f_i = Σ_k w_ik p_k (w_ii = 0), so
                // h_ij = Σ_{k≠i,j} w_ik p_k = f_i − w_ij p_j
                for (int i = 0; i < n; i++) field[i] = TensorPrimitives.Dot<double>(weights.AsSpan(i * n, n), p);
                for (int i = 0; i < n; i++)
                    for (int j = i + 1; j < n; j++)
                    {
                        double w = weights[i * n + j];
                        double hij = field[i] - w * p[j], hji = field[j] - w * p[i];
                        double updated = w + (p[i] * p[j] - p[i] * hji - hij * p[j]) / n;
                        weights[i * n + j] = weights[j * n + i] = updated;
                    }
            }
            StoredPatterns++;
        }
    }

    /// <summary>E(s) = −Σ_i b_i s_i − ½ Σ_{i≠j} w_ij s_i s_j.</summary>
    public double Energy(ReadOnlySpan<sbyte> state)
    {
        CheckState(state, "state");
        var s = ToDouble(state);
        double energy = -TensorPrimitives.Dot<double>(biases, s);
        for (int i = 0; i < Size; i++) energy -= 0.5 * s[i] * TensorPrimitives.Dot<double>(weights.AsSpan(i * Size,
            Size), s);
        return energy;
    }

    /// <summary>The local field of unit i: Σ_j w_ij s_j + b_i.</summary>
    double Field(int i, ReadOnlySpan<double> s) => TensorPrimitives.Dot<double>(weights.AsSpan(i * Size, Size),
        s) + biases[i];

    /// <summary>
    /// Runs the dynamics from <paramref name="initial"/> until a fixed point (or, synchronously, a period-2 cycle) or
    /// <paramref name="maxSweeps"/>. Asynchronous updates visit the units in a random order from
    /// <paramref name="random"/> each sweep. <paramref name="onSweep"/>, when given, sees the state after each sweep or
    /// synchronous step.
    /// </summary>
    public RecallResult Recall(ReadOnlySpan<sbyte> initial, HopfieldUpdate update, RandomGenerator random,
        int maxSweeps = 100, Action<int, ReadOnlySpan<sbyte>>? onSweep = null)
    {
        CheckState(initial, "initial state");
        if (maxSweeps < 1) throw new ArgumentException($"Recall: maxSweeps must be positive, got {maxSweeps}.");
        int n = Size;
        var s = ToDouble(initial);
        double energy = Energy(initial);
        var energies = new List<double> { energy };
        int flips = 0;
        var order = Enumerable.Range(0, n).ToArray();
        var previous = new double[n];
        var beforePrevious = new double[n];
        var next = new double[n];
        for (int sweep = 1; sweep <= maxSweeps; sweep++)
        {
            bool changed = false;
            if (update == HopfieldUpdate.Asynchronous)
            {
                random.Shuffle(order);
                foreach (int i in order)
                {
                    double field = Field(i, s);
                    double target = field > 0 ? 1 : field < 0 ? -1 : s[i];
                    if (target != s[i])
                    {
                        // ΔE = −(s_i' − s_i)·(Σ_j w_ij s_j + b_i): the field already includes the threshold
                        energy -= (target - s[i]) * field;
                        s[i] = target;
                        flips++;
                        changed = true;
                    }
                    energies.Add(energy);
                }
            }
            else
            {
                s.CopyTo(beforePrevious.AsSpan());
                for (int i = 0; i < n; i++)
                {
                    double field = Field(i, s);
                    next[i] = field > 0 ? 1 : field < 0 ? -1 : s[i];
                    if (next[i] != s[i]) { flips++; changed = true; }
                }
                next.CopyTo(s.AsSpan());
                energy = Energy(ToSigned(s));
                energies.Add(energy);
            }
            onSweep?.Invoke(sweep, ToSigned(s));
            if (!changed) return new(ToSigned(s), RecallOutcome.Converged, sweep, energies, flips);
            if (update == HopfieldUpdate.Synchronous)
            {
                if (sweep > 1 && s.AsSpan().SequenceEqual(previous)) return new(ToSigned(s), RecallOutcome.LimitCycle,
                    sweep, energies, flips);
                beforePrevious.CopyTo(previous.AsSpan());
            }
        }
        return new(ToSigned(s), RecallOutcome.SweepLimit, maxSweeps, energies, flips);
    }

    /// <summary>
    /// Saves the weights (<c>weight</c> [N, N]) and thresholds (<c>bias</c> [N]) as float32 safetensors, with the
    /// stored <paramref name="patterns"/> (<c>patterns</c> [P, N]) when given and string <paramref name="metadata"/>.
    /// The file is written to a temporary name and renamed.
    /// </summary>
    public void Save(string path, IReadOnlyList<sbyte[]>? patterns = null, IReadOnlyDictionary<string,
        string>? metadata = null)
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["weight"] = Tensor.FromArray(weights.Select(w => (float)w).ToArray(), Size, Size),
            ["bias"] = Tensor.FromArray(biases.Select(b => (float)b).ToArray(), Size),
        };
        if (patterns is { Count: > 0 })
        {
            foreach (var p in patterns) CheckState(p, "pattern");
            tensors["patterns"] = Tensor.FromArray(patterns.SelectMany(p => p.Select(v => (float)v)).ToArray(),
                patterns.Count, Size);
        }
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string,
            string>())
        {
            ["format"] = "recur.hopfield",
            ["stored_patterns"] = StoredPatterns.ToString(System.Globalization.CultureInfo.InvariantCulture)
        };
        Serialization.SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>Loads a network written by <see cref="Save"/>; errors name the file and what is wrong.</summary>
    public static (HopfieldNetwork Network, List<sbyte[]> Patterns, Dictionary<string,
        string> Metadata) Load(string path)
    {
        var tensors = Serialization.SafeTensors.Load(path, out var metadata);
        if (metadata.GetValueOrDefault("format") != "recur.hopfield" || !tensors.TryGetValue("weight",
            out var weight) || !tensors.TryGetValue("bias", out var bias))
            throw new InvalidDataException($"{path}: not a Hopfield network saved by Recur (expected format "
                + $"recur.hopfield with weight and bias).");
        int n = bias.Length;
        if (weight.Rank != 2 || weight.Size(0) != n || weight.Size(1) != n)
            throw new InvalidDataException(
                $"{path}: weight has shape {Shapes.Format(weight.Shape)}, bias has {n} units.");
        var network = new HopfieldNetwork(n);
        var w = weight.Span;
        for (int i = 0; i < n; i++)
        {
            if (w[i * n
                + i] != 0) throw new InvalidDataException(
                $"{path}: weight[{i}, {i}] is {w[i * n + i]}; the diagonal must be zero.");
            for (int j = 0; j < n; j++)
            {
                if (w[i * n + j] != w[j * n
                    + i]) throw new InvalidDataException(
                    $"{path}: weight[{i}, {j}] ≠ weight[{j}, {i}]; Hopfield weights are symmetric.");
                network.weights[i * n + j] = w[i * n + j];
            }
            network.biases[i] = bias.Span[i];
        }
        network.StoredPatterns = int.TryParse(metadata.GetValueOrDefault("stored_patterns"),
            out int stored) ? stored : 0;
        var patterns = new List<sbyte[]>();
        if (tensors.TryGetValue("patterns", out var saved))
        {
            if (saved.Rank != 2
                || saved.Size(1) != n) throw new InvalidDataException(
                $"{path}: patterns has shape {Shapes.Format(saved.Shape)}, not [P, {n}].");
            for (int k = 0; k < saved.Size(0); k++)
                patterns.Add(saved.Span.Slice(k * n, n).ToArray().Select(v => v > 0 ? (sbyte)1 : (sbyte)-1).ToArray());
        }
        return (network, patterns, metadata);
    }

    /// <summary>Overlap m = (1/N) Σ_i a_i b_i of two states: 1 identical, −1 inverted, about 0 unrelated.</summary>
    public static double Overlap(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Overlap: states of {a.Length} and {b.Length} units.");
        long sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return (double)sum / a.Length;
    }

    /// <summary>
    /// Names a recalled state: the index of the stored pattern it equals, the index of the pattern whose inverse it
    /// equals (inverses are attractors too), or neither (a spurious state, e.g. a mixture).
    /// </summary>
    public static (int Pattern, bool Inverted, bool Spurious) Classify(ReadOnlySpan<sbyte> state,
        IReadOnlyList<sbyte[]> patterns)
    {
        for (int k = 0; k < patterns.Count; k++)
        {
            double m = Overlap(state, patterns[k]);
            if (m == 1) return (k, false, false);
            if (m == -1) return (k, true, false);
        }
        return (-1, false, true);
    }

    /// <summary>A copy of <paramref name="pattern"/> with each unit flipped with probability
    /// <paramref name="noise"/>.</summary>
    public static sbyte[] Corrupt(ReadOnlySpan<sbyte> pattern, double noise, RandomGenerator random)
    {
        if (noise < 0 || noise > 1) throw new ArgumentException($"Corrupt: noise must be in [0, 1], got {noise}.");
        var result = pattern.ToArray();
        for (int i = 0; i < result.Length; i++) if (random.NextDouble() < noise) result[i] = (sbyte)-result[i];
        return result;
    }

    /// <summary>A random ±1 pattern with independent, equally likely units.</summary>
    public static sbyte[] RandomPattern(int size, RandomGenerator random)
    {
        var p = new sbyte[size];
        for (int i = 0; i < size; i++) p[i] = random.NextDouble() < 0.5 ? (sbyte)-1 : (sbyte)1;
        return p;
    }

    void CheckState(ReadOnlySpan<sbyte> state, string what)
    {
        if (state.Length != Size) throw new ArgumentException(
            $"HopfieldNetwork: the {what} has {state.Length} units, the network {Size}.");
        foreach (var v in state)
            if (v is not (1
                or -1)) throw new ArgumentException($"HopfieldNetwork: the {what} holds {v}; units are −1 or +1.");
    }

    static double[] ToDouble(ReadOnlySpan<sbyte> state)
    {
        var s = new double[state.Length];
        for (int i = 0; i < s.Length; i++) s[i] = state[i];
        return s;
    }

    static sbyte[] ToSigned(ReadOnlySpan<double> s)
    {
        var r = new sbyte[s.Length];
        for (int i = 0; i < s.Length; i++) r[i] = (sbyte)s[i];
        return r;
    }
}
