using Recur.Nn.Recurrent;

namespace Recur.Diagnostics;

/// <summary>
/// What a <see cref="RecurrentProbe"/> saw of one fused recurrent pass (one layer and direction over one sequence).
/// </summary>
public sealed class ProbeRecord
{
    internal ProbeRecord(string label, RecurrentMode mode, int steps, int batch, int hidden, bool gates)
    {
        (Label, Mode, Steps, Batch, HiddenSize) = (label, mode, steps, batch, hidden);
        int gateCount = mode switch { RecurrentMode.Lstm => 4, RecurrentMode.Gru => 3, _ => 1 };
        if (gates) GateValues = new float[steps * batch * gateCount * hidden];
        GradientNorms = new double[steps];
    }

    /// <summary>The parameter suffix of the pass, e.g. <c>l0</c> or <c>l1_reverse</c> (<c>cell</c> for a single-step cell).</summary>
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

    /// <summary>Whether a backward pass has filled <see cref="GradientNorms"/>.</summary>
    public bool HasGradients { get; internal set; }

    /// <summary>The value of gate <paramref name="gate"/>, unit <paramref name="unit"/> at time t for batch row b.</summary>
    public float Gate(int t, int b, int gate, int unit) =>
        (GateValues ?? throw new InvalidOperationException("ProbeRecord: gates were not recorded; start the probe with recordGates: true."))
            [((t * Batch + b) * GateNames.Count + gate) * HiddenSize + unit];
}

/// <summary>
/// Records, while it is open on the current thread, what every fused recurrent pass computes: the activated gates of
/// each step (optional, they cost T·B·G·H floats) and, once a backward pass runs, the gradient norm reaching the
/// hidden state at each step — the vanishing and exploding gradients of backpropagation through time, measured
/// without changing the computation. Passes run outside the scope are not recorded; closing the probe stops recording
/// (records already made still fill their gradients when their backward runs).
/// </summary>
/// <example><code>
/// using var probe = RecurrentProbe.Start();
/// var loss = Losses.MeanSquaredError(model.Forward(x), y);
/// loss.Backward();
/// double[] flow = probe.Records[0].GradientNorms;
/// </code></example>
public sealed class RecurrentProbe : IDisposable
{
    [ThreadStatic] static RecurrentProbe? current;
    readonly RecurrentProbe? outer;
    readonly List<ProbeRecord> records = [];

    RecurrentProbe(bool recordGates)
    {
        RecordsGates = recordGates;
        outer = current;
        current = this;
    }

    /// <summary>Opens a probe on the current thread (nested probes shadow outer ones until disposed).</summary>
    public static RecurrentProbe Start(bool recordGates = false) => new(recordGates);

    /// <summary>Whether gate values are kept.</summary>
    public bool RecordsGates { get; }

    /// <summary>One record per fused pass, in the order the passes ran (layer by layer, forward direction first).</summary>
    public IReadOnlyList<ProbeRecord> Records => records;

    internal static ProbeRecord? Begin(string label, RecurrentMode mode, int steps, int batch, int hidden)
    {
        var probe = current;
        if (probe is null) return null;
        var record = new ProbeRecord(label, mode, steps, batch, hidden, probe.RecordsGates);
        probe.records.Add(record);
        return record;
    }

    /// <summary>Stops recording on this thread.</summary>
    public void Dispose()
    {
        if (current == this) current = outer;
    }
}
