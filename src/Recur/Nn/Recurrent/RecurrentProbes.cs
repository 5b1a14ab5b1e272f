namespace Recur.Nn.Recurrent;

/// <summary>
/// What a probe saw of one fused recurrent pass (one layer and direction over one sequence).
/// </summary>
public sealed class ProbeRecord
{
    /// <summary>A record with room for the gradient norms and, when <paramref name="gates"/>, the gate values; with
    /// <paramref name="stateGradients"/>, the gradient vectors themselves.</summary>
    public ProbeRecord(string label, RecurrentMode mode, int steps, int batch, int hidden, bool gates,
        bool stateGradients = false)
    {
        (Label, Mode, Steps, Batch, HiddenSize) = (label, mode, steps, batch, hidden);
        if (gates) GateValues = new float[steps * batch * RecurrentConfig.GatesOf(mode) * hidden];
        if (stateGradients) StateGradients = new float[steps * batch * hidden];
        GradientNorms = new double[steps];
    }

    /// <summary>The parameter suffix of the pass, e.g. <c>l0</c> or <c>l1_reverse</c> (<c>cell</c> for a single-step
    /// cell).</summary>
    public string Label { get; }

    /// <summary>The cell type.</summary>
    public RecurrentMode Mode { get; }

    /// <summary>Sequence length T.</summary>
    public int Steps { get; }

    /// <summary>Batch size B.</summary>
    public int Batch { get; }

    /// <summary>Hidden units H.</summary>
    public int HiddenSize { get; }

    /// <summary>Gate names in the order they are stored: i, f, g, o (LSTM), r, z, n (GRU) or h (Elman).</summary>
    public IReadOnlyList<string> GateNames => Mode switch
    {
        RecurrentMode.Lstm => ["input", "forget", "cell", "output"],
        RecurrentMode.Gru => ["reset", "update", "new"],
        _ => ["hidden"],
    };

    /// <summary>
    /// Activated gate values [T, B, G·H] (time in forward order, zero past a sequence's length), or null when the
    /// probe did not record gates.
    /// </summary>
    public float[]? GateValues { get; }

    /// <summary>
    /// ‖∂L/∂h_t‖ for each time t, the Euclidean norm over the hidden units averaged over the batch rows still running
    /// at t: the total gradient reaching the state at t from the loss, through the outputs and through time. All zero
    /// until a backward pass runs through this record's node.
    /// </summary>
    public double[] GradientNorms { get; }

    /// <summary>
    /// ∂L/∂h_t [T, B, H] (time in forward order; zero past a sequence's length) — the total gradient each output state
    /// receives, through the outputs and through time — or null when the record was not asked for it. Filled by the
    /// backward pass, for layers whose state is their output (no projection).
    /// </summary>
    public float[]? StateGradients { get; }

    /// <summary>Whether a backward pass has filled <see cref="GradientNorms"/>.</summary>
    public bool HasGradients { get; internal set; }

    /// <summary>The value of gate <paramref name="gate"/>, unit <paramref name="unit"/> at time t for batch row
    /// b.</summary>
    public float Gate(int t, int b, int gate, int unit) =>
        (GateValues ?? throw new InvalidOperationException(
            "ProbeRecord: gates were not recorded; start the probe with recordGates: true."))
            [((t * Batch + b) * GateNames.Count + gate) * HiddenSize + unit];
}

/// <summary>
/// The hook through which the fused recurrent kernels report what they compute: an observer (the diagnostics'
/// <c>RecurrentProbe</c>, or a user's own) is attached to the current thread, and every fused pass run there asks it
/// for a <see cref="ProbeRecord"/> to fill — gate values during the forward pass, ‖∂L/∂h_t‖ during the backward. Nn
/// owns the hook, so the layers never name the code that observes them.
/// </summary>
public interface IRecurrentProbe
{
    /// <summary>A pass starts: the record it should fill (gate values only if the record has room for them).</summary>
    ProbeRecord Begin(string label, RecurrentMode mode, int steps, int batch, int hidden);
}

/// <summary>Attaches <see cref="IRecurrentProbe"/> observers to the current thread.</summary>
public static class RecurrentProbes
{
    [ThreadStatic] static IRecurrentProbe? current;

    /// <summary>The observer of the current thread, if any (the innermost attached).</summary>
    public static IRecurrentProbe? Current => current;

    /// <summary>Attaches <paramref name="probe"/> until the returned scope is disposed; the outer one then applies
    /// again.</summary>
    public static IDisposable Attach(IRecurrentProbe probe)
    {
        var scope = new Scope(current, probe);
        current = probe;
        return scope;
    }

    /// <summary>The record for a pass starting now, or null when nothing observes this thread (zero cost).</summary>
    internal static ProbeRecord? Begin(string label, RecurrentMode mode, int steps, int batch, int hidden) =>
        current?.Begin(label, mode, steps, batch, hidden);

    sealed class Scope(IRecurrentProbe? outer, IRecurrentProbe probe) : IDisposable
    {
        public void Dispose()
        {
            if (current == probe) current = outer;
        }
    }
}
