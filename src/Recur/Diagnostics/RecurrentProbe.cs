using Recur.Nn.Recurrent;

namespace Recur.Diagnostics;

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
public sealed class RecurrentProbe : IRecurrentProbe, IDisposable
{
    readonly List<ProbeRecord> records = [];
    readonly IDisposable attachment;

    RecurrentProbe(bool recordGates)
    {
        RecordsGates = recordGates;
        attachment = RecurrentProbes.Attach(this);
    }

    /// <summary>Opens a probe on the current thread (nested probes shadow outer ones until disposed).</summary>
    public static RecurrentProbe Start(bool recordGates = false) => new(recordGates);

    /// <summary>Whether gate values are kept.</summary>
    public bool RecordsGates { get; }

    /// <summary>One record per fused pass, in the order the passes ran (layer by layer, forward direction
    /// first).</summary>
    public IReadOnlyList<ProbeRecord> Records => records;

    /// <inheritdoc/>
    public ProbeRecord Begin(string label, RecurrentMode mode, int steps, int batch, int hidden)
    {
        var record = new ProbeRecord(label, mode, steps, batch, hidden, RecordsGates);
        records.Add(record);
        return record;
    }

    /// <summary>Stops recording on this thread.</summary>
    public void Dispose() => attachment.Dispose();
}
