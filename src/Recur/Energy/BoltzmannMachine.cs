namespace Recur.Energy;

/// <summary>
/// A general Boltzmann machine (Ackley, Hinton &amp; Sejnowski 1985): stochastic binary units s ∈ {0, 1}, the first
/// <see cref="Visible"/> visible and the rest hidden, all symmetrically connected (zero diagonal) with biases;
/// E(s) = −Σ_i b_i s_i − Σ_{i&lt;j} w_ij s_i s_j and p(s) ∝ e^{−E(s)/T}. Sampling is Gibbs sampling with simulated
/// annealing; learning follows the difference of the co-occurrence statistics with the visible units clamped to the
/// data (positive phase) and free-running (negative phase). Meant for small networks such as the encoder problems.
/// </summary>
public sealed class BoltzmannMachine
{
    readonly double[] weights;
    readonly double[] biases;

    /// <summary>Visible units (the first of the state vector).</summary>
    public int Visible { get; }

    /// <summary>Hidden units.</summary>
    public int Hidden { get; }

    /// <summary>All units.</summary>
    public int Size => Visible + Hidden;

    /// <summary>Creates the machine with small random weights N(0, 0.1²) and zero biases.</summary>
    public BoltzmannMachine(int visible, int hidden, RandomGenerator random)
    {
        if (visible < 1
            || hidden < 0) throw new ArgumentException(
            $"BoltzmannMachine: needs visible ≥ 1 and hidden ≥ 0, got {visible} and {hidden}.");
        (Visible, Hidden) = (visible, hidden);
        weights = new double[Size * Size];
        biases = new double[Size];
        for (int i = 0; i < Size; i++)
            for (int j = i + 1; j < Size; j++) weights[i * Size + j] = weights[j * Size + i]
                = 0.1 * random.NextNormal();
    }

    /// <summary>w_ij.</summary>
    public double Weight(int i, int j) => weights[i * Size + j];

    /// <summary>b_i.</summary>
    public double Bias(int i) => biases[i];

    /// <summary>The annealing schedule of Ackley et al.'s encoder experiments, shortened: temperatures 20 →
    /// 1.</summary>
    public static readonly double[] DefaultSchedule = [20, 15, 12, 10, 8, 6, 5, 4, 3, 2, 1.5, 1.2, 1, 1];

    /// <summary>E(s) for a 0/1 state.</summary>
    public double Energy(ReadOnlySpan<byte> state)
    {
        if (state.Length != Size) throw new ArgumentException(
            $"BoltzmannMachine: a state has {Size} units, got {state.Length}.");
        double energy = 0;
        for (int i = 0; i < Size; i++)
        {
            if (state[i] == 0) continue;
            energy -= biases[i];
            for (int j = i + 1; j < Size; j++) if (state[j] != 0) energy -= weights[i * Size + j];
        }
        return energy;
    }

    /// <summary>
    /// Anneals <paramref name="state"/> in place: one sweep over the free units (in a random order) per temperature of
    /// <paramref name="schedule"/>; the first <paramref name="clamped"/> units stay as they are.
    /// </summary>
    public void Anneal(Span<byte> state, int clamped, IReadOnlyList<double> schedule, RandomGenerator random)
    {
        if (state.Length != Size) throw new ArgumentException(
            $"BoltzmannMachine: a state has {Size} units, got {state.Length}.");
        var order = Enumerable.Range(clamped, Size - clamped).ToArray();
        foreach (double temperature in schedule)
        {
            random.Shuffle<int>(order);
            foreach (int i in order)
            {
                double net = biases[i];
                for (int j = 0; j < Size; j++) if (state[j] != 0) net += weights[i * Size + j];
                state[i] = random.NextDouble() < 1 / (1 + Math.Exp(-net / temperature)) ? (byte)1 : (byte)0;
            }
        }
    }

    /// <summary>
    /// One learning epoch: for each data vector (0/1 over the visible units) the hidden units are annealed with the
    /// visible ones clamped and the co-occurrences s_i s_j collected over <paramref name="statisticsSweeps"/> sweeps at
    /// T = 1; the same number of free-running chains give the negative statistics. Then w_ij += lr (⟨s_i s_j⟩⁺ − ⟨s_i
    /// s_j⟩⁻) and b_i += lr (⟨s_i⟩⁺ − ⟨s_i⟩⁻).
    /// </summary>
    public void TrainEpoch(IReadOnlyList<byte[]> data, double learningRate, RandomGenerator random,
        int statisticsSweeps = 10, IReadOnlyList<double>? schedule = null)
    {
        if (data.Count == 0) throw new ArgumentException("BoltzmannMachine: no data.");
        schedule ??= DefaultSchedule;
        var positive = new double[Size * Size];
        var negative = new double[Size * Size];
        var state = new byte[Size];
        foreach (var vector in data)
        {
            if (vector.Length != Visible) throw new ArgumentException(
                $"BoltzmannMachine: a data vector has {vector.Length} values, the machine {Visible} visible units.");
            vector.CopyTo(state, 0);
            for (int i = Visible; i < Size; i++) state[i] = (byte)random.NextInt(2);
            Anneal(state, Visible, schedule, random);
            Collect(state, Visible, positive, statisticsSweeps, random);

            for (int i = 0; i < Size; i++) state[i] = (byte)random.NextInt(2);
            Anneal(state, 0, schedule, random);
            Collect(state, 0, negative, statisticsSweeps, random);
        }
        double scale = learningRate / (data.Count * statisticsSweeps);
        for (int i = 0; i < Size; i++)
        {
            biases[i] += scale * (positive[i * Size + i] - negative[i * Size + i]);
            for (int j = i + 1; j < Size; j++)
            {
                double delta = scale * (positive[i * Size + j] - negative[i * Size + j]);
                weights[i * Size + j] += delta;
                weights[j * Size + i] += delta;
            }
        }
    }

    void Collect(Span<byte> state, int clamped, double[] statistics, int sweeps, RandomGenerator random)
    {
        double[] unit = [1.0];
        for (int s = 0; s < sweeps; s++)
        {
            Anneal(state, clamped, unit, random);
            for (int i = 0; i < Size; i++)
                if (state[i] != 0)
                    for (int j = i; j < Size; j++) if (state[j] != 0) statistics[i * Size + j]++;
        }
    }

    /// <summary>The exact distribution over visible vectors (index = bits, unit 0 lowest) at T = 1, by enumerating all
    /// 2^N states (N ≤ 22).</summary>
    public double[] ExactVisibleDistribution()
    {
        if (Size > 22) throw new InvalidOperationException(
            $"ExactVisibleDistribution: 2^{Size} states are too many to enumerate.");
        var state = new byte[Size];
        var logs = new double[1 << Size];
        for (int mask = 0; mask < logs.Length; mask++)
        {
            for (int i = 0; i < Size; i++) state[i] = (byte)(mask >> i & 1);
            logs[mask] = -Energy(state);
        }
        double logZ = RestrictedBoltzmannMachine.LogSumExp(logs);
        var result = new double[1 << Visible];
        for (int mask
            = 0; mask < logs.Length; mask++) result[mask & ((1 << Visible) - 1)] += Math.Exp(logs[mask] - logZ);
        return result;
    }

    /// <summary>KL(data ‖ model) over the visible vectors, in nats, from <see cref="ExactVisibleDistribution"/>: the
    /// quantity learning lowers.</summary>
    public double KullbackLeibler(IReadOnlyList<byte[]> data)
    {
        var model = ExactVisibleDistribution();
        var counts = new Dictionary<int, int>();
        foreach (var v in data)
        {
            int index = 0;
            for (int i = 0; i < Visible; i++) index |= v[i] << i;
            counts[index] = counts.GetValueOrDefault(index) + 1;
        }
        return counts.Sum(c => (double)c.Value / data.Count * Math.Log((double)c.Value / data.Count / model[c.Key]));
    }
}
