namespace Recur.Tasks;

/// <summary>What a <see cref="SequenceDataset"/>'s targets are.</summary>
public enum TargetKind
{
    /// <summary>One real value per sequence (mean squared error).</summary>
    Regression,
    /// <summary>One class per sequence (cross-entropy on the last step).</summary>
    ClassLast,
    /// <summary>One class per step; −100 marks steps that are not scored.</summary>
    ClassPerStep,
    /// <summary>A set of classes per step (binary cross-entropy per class), up to each sequence's length.</summary>
    MultiLabelPerStep,
}

/// <summary>
/// Fixed-length (padded) real-valued sequences with targets, stored sample-major: inputs [N, T, F]. Batches come out
/// time-major ([T, B, F]) as the recurrent layers take them.
/// </summary>
public sealed class SequenceDataset
{
    /// <summary>Number of sequences.</summary>
    public int Count { get; }
    /// <summary>Steps per sequence (padded).</summary>
    public int Steps { get; }
    /// <summary>Features per step.</summary>
    public int Features { get; }
    /// <summary>Inputs [N, T, F].</summary>
    public float[] Inputs { get; }
    /// <summary>What the targets are.</summary>
    public TargetKind Kind { get; }
    /// <summary>Output width: 1 for regression, else the number of classes.</summary>
    public int Outputs { get; }
    /// <summary>Regression targets [N].</summary>
    public float[]? Values { get; init; }
    /// <summary>Class targets [N] (last) or [N, T] (per step).</summary>
    public int[]? Labels { get; init; }
    /// <summary>Multi-label targets [N, T, classes] of 0/1.</summary>
    public float[]? LabelSets { get; init; }
    /// <summary>Real length of each sequence (multi-label targets); null when all are <see cref="Steps"/>
    /// long.</summary>
    public int[]? Lengths { get; init; }

    /// <summary>Wraps the arrays; targets go in the init properties.</summary>
    public SequenceDataset(float[] inputs, int count, int steps, int features, TargetKind kind, int outputs)
    {
        if ((long)count * steps * features != inputs.Length)
            throw new ArgumentException(
                $"SequenceDataset: {inputs.Length} input values do not make [{count}, {steps}, {features}].");
        (Inputs, Count, Steps, Features, Kind, Outputs) = (inputs, count, steps, features, kind, outputs);
    }

    /// <summary>The inputs of <paramref name="rows"/> as a time-major batch [T, B, F].</summary>
    public Tensor BatchInputs(ReadOnlySpan<int> rows)
    {
        int b = rows.Length;
        var x = new float[Steps * b * Features];
        for (int i = 0; i < b; i++)
            for (int t = 0; t < Steps; t++)
                Inputs.AsSpan((rows[i] * Steps + t) * Features, Features).CopyTo(x.AsSpan((t * b + i) * Features));
        return Tensor.FromArray(x, Steps, b, Features);
    }

    /// <summary>Per-step class targets of <paramref name="rows"/>, time-major [T·B].</summary>
    public int[] BatchStepLabels(ReadOnlySpan<int> rows)
    {
        var y = new int[Steps * rows.Length];
        for (int i = 0; i < rows.Length; i++)
            for (int t = 0; t < Steps; t++) y[t * rows.Length + i] = Labels![rows[i] * Steps + t];
        return y;
    }
}
