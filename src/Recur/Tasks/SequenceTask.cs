using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Training;

namespace Recur.Tasks;

/// <summary>
/// Trains a <see cref="SequenceModel"/> on a <see cref="SequenceDataset"/> with the <see cref="Trainer{TBatch}"/>:
/// the loss matches the target kind, and validation reports the loss, accuracy and (per-step tasks) the fraction of
/// sequences whose every scored step is right.
/// </summary>
public sealed class SequenceTask : ICurvatureTask<int[]>
{
    readonly SequenceDataset train;
    readonly SequenceDataset? valid;
    readonly int batchSize;
    readonly JsonObject extraConfig;

    /// <summary>The model being trained.</summary>
    public SequenceModel Network { get; }

    /// <summary>Creates the task.</summary>
    public SequenceTask(SequenceModel model, SequenceDataset train, SequenceDataset? valid, int batchSize,
        JsonObject? taskConfig = null)
    {
        if (batchSize < 1) throw new ArgumentException($"SequenceTask: batch size must be positive, got {batchSize}.");
        if (model.Config.InputSize != train.Features)
            throw new ArgumentException($"SequenceTask: the model takes {model.Config.InputSize} features per step, "
                + $"the data has {train.Features}.");
        if (model.Config.OutputSize != train.Outputs)
            throw new ArgumentException(
                $"SequenceTask: the model has {model.Config.OutputSize} outputs, the task needs {train.Outputs}.");
        (Network, this.train, this.valid, this.batchSize, extraConfig) = (model, train, valid, batchSize,
            taskConfig ?? []);
    }

    /// <inheritdoc/>
    public Module Model => Network;

    /// <inheritdoc/>
    public JsonObject Config
    {
        get
        {
            var config = Network.Config.ToJson();
            foreach (var (k, v) in extraConfig) config[k] = v?.DeepClone();
            return config;
        }
    }

    /// <inheritdoc/>
    public int BatchesPerEpoch => (train.Count + batchSize - 1) / batchSize;

    /// <inheritdoc/>
    public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) => Batching.Shuffled(train.Count, batchSize,
        shuffle);

    /// <inheritdoc/>
    public int Count(int[] batch) => batch.Length;

    /// <summary>
    /// The vanishing-gradient regulariser added to the training loss (one-layer tanh RNN without dropout), or null.
    /// </summary>
    public GradientRegulariser? Regulariser
    {
        get;
        init
        {
            if (value != null && RegulariserProblem(Network.Config) is { } problem)
                throw new ArgumentException("SequenceTask: " + problem);
            field = value;
        }
    }

    /// <summary>
    /// Why the vanishing-gradient regulariser cannot follow a model of <paramref name="config"/> (it needs a one-layer,
    /// one-direction tanh RNN without leak, projection or dropout), or null when it can.
    /// </summary>
    public static string? RegulariserProblem(SequenceModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var recurrent = config.Recurrent;
        return recurrent.Mode != RecurrentMode.RnnTanh || recurrent.NumLayers != 1 || recurrent.Bidirectional
            || recurrent.ProjSize > 0 || recurrent.Leak > 0f || config.Dropout > 0f
            ? "the gradient regulariser needs a one-layer, one-direction tanh RNN without leak, projection or "
                + $"dropout; the model has {config.Cell.Name()} ×{recurrent.NumLayers}"
                + $"{(recurrent.Bidirectional ? ", bidirectional" : "")}{(config.Dropout > 0f ? ", dropout" : "")}."
            : null;
    }

    /// <inheritdoc/>
    public Tensor Loss(int[] batch, TrainingContext context) => Regulariser is null ? Evaluate(train, batch, null)
        : Regulariser.Loss(() =>
        {
            var (output, states) = Network.ForwardWithStates(train.BatchInputs(batch));
            return (LossOf(output, train, batch, null), states);
        }, Network.Rnn.StateDict()["weight_hh_l0"], Network.Parameters());

    /// <summary>
    /// Gauss–Newton products on the first ⌈<paramref name="fraction"/>·n⌉ sequences of <paramref name="batch"/>
    /// (<see cref="SequenceCurvature"/>), for Hessian-free training.
    /// </summary>
    public Optim.ICurvature Curvature(int[] batch, double fraction)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (Regulariser != null)
            throw new InvalidOperationException("SequenceTask: Hessian-free does not take the gradient regulariser.");
        int count = Math.Clamp((int)Math.Ceiling(fraction * batch.Length), 1, batch.Length);
        return new SequenceCurvature(Network, train, batch[..count]);
    }

    /// <summary>The loss of <paramref name="rows"/> of <paramref name="data"/> (a tape scalar), for inspection and
    /// custom loops.</summary>
    public Tensor BatchLoss(SequenceDataset data, int[] rows) => Evaluate(data, rows, null);

    /// <summary>
    /// Gradient flow of <paramref name="model"/> on all of <paramref name="data"/> (one batch, evaluation mode):
    /// ‖∂L/∂h_t‖ for every step of each fused recurrent pass, and the global norm of the parameter gradient. The
    /// model's gradients are cleared before and after, so an optimizer that runs next does not see them.
    /// </summary>
    public static (IReadOnlyList<Nn.Recurrent.ProbeRecord> Records, double ParameterNorm) GradientFlow(
        SequenceModel model, SequenceDataset data)
    {
        using var _ = model.Evaluating(gradients: true);
        foreach (var p in model.Parameters()) p.Grad = null;
        var task = new SequenceTask(model, data, null, Math.Max(1, data.Count));
        var rows = Enumerable.Range(0, data.Count).ToArray();
        var records = Diagnostics.Inspection.GradientFlow(() => task.BatchLoss(data, rows));
        double norm = Optim.GradientClipping.GlobalNorm(model.Parameters());
        foreach (var p in model.Parameters()) p.Grad = null;
        return (records, norm);
    }

    /// <summary>The loss of <paramref name="rows"/>; with <paramref name="tally"/>, also counts right
    /// answers.</summary>
    Tensor Evaluate(SequenceDataset data, int[] rows, Tally? tally) =>
        LossOf(Network.Forward(data.BatchInputs(rows)), data, rows, tally);

    /// <summary>The training loss of <paramref name="output"/> (the model's, for <paramref name="rows"/>).</summary>
    internal static Tensor OutputLoss(Tensor output, SequenceDataset data, int[] rows) =>
        LossOf(output, data, rows, null);

    /// <summary>The loss of the model's <paramref name="output"/> for <paramref name="rows"/>.</summary>
    static Tensor LossOf(Tensor output, SequenceDataset data, int[] rows, Tally? tally)
    {
        int b = rows.Length;
        switch (data.Kind)
        {
            case TargetKind.Regression:
                return Losses.MeanSquaredError(output, Tensor.FromArray(rows.Select(r => data.Values![r]).ToArray(), b,
                    1));
            case TargetKind.ClassLast:
            {
                var labels = rows.Select(r => data.Labels![r]).ToArray();
                if (tally != null)
                    for (int i = 0; i < b; i++)
                    {
                        bool right = ArgMax(output.Span.Slice(i * data.Outputs, data.Outputs)) == labels[i];
                        tally.Add(right ? 1 : 0, 1, right);
                    }
                return Losses.CrossEntropy(output, labels);
            }
            case TargetKind.ClassPerStep:
            {
                var labels = data.BatchStepLabels(rows);
                if (tally != null)
                    for (int i = 0; i < b; i++)
                    {
                        int right = 0, scored = 0;
                        for (int t = 0; t < data.Steps; t++)
                        {
                            int label = labels[t * b + i];
                            if (label < 0) continue;
                            scored++;
                            if (ArgMax(output.Span.Slice((t * b + i) * data.Outputs, data.Outputs)) == label) right++;
                        }
                        tally.Add(right, scored, right == scored);
                    }
                return Losses.CrossEntropy(output.Reshape(data.Steps * b, data.Outputs), labels);
            }
            default:
            {
                int k = data.Outputs;
                var valid = new List<int>();
                var targets = new List<float>();
                for (int t = 0; t < data.Steps; t++)
                    for (int i = 0; i < b; i++)
                        if (t < (data.Lengths?[rows[i]] ?? data.Steps))
                        {
                            valid.Add(t * b + i);
                            targets.AddRange(data.LabelSets!.AsSpan((rows[i] * data.Steps + t) * k, k).ToArray());
                        }
                if (tally != null)
                    for (int i = 0; i < b; i++)
                    {
                        int length = data.Lengths?[rows[i]] ?? data.Steps, right = 0;
                        for (int t = 0; t < length; t++)
                        {
                            bool all = true;
                            for (int c = 0; c < k; c++)
                                all &= output.Span[(t * b + i) * k + c] > 0f == data.LabelSets![(rows[i] * data.Steps
                                    + t) * k + c] > 0.5f;
                            if (all) right++;
                        }
                        tally.Add(right, length, right == length);
                    }
                var scored = output.Reshape(data.Steps * b, k).IndexSelect(0, valid.ToArray());
                return Losses.BinaryCrossEntropyWithLogits(scored, Tensor.FromArray(targets.ToArray(), valid.Count, k));
            }
        }
    }

    sealed class Tally
    {
        public long Right, Scored, Sequences, SequencesRight;
        public void Add(int right, int scored,
            bool whole)
        { Right += right; Scored += scored; Sequences++; if (whole) SequencesRight++; }
    }

    static int ArgMax(ReadOnlySpan<float> values) => Kernels.Scores.ArgMax(values);

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate() => valid is null ? null : Metrics(valid);

    /// <summary>Loss and accuracies over a whole dataset (call in evaluation mode, without gradients).</summary>
    public Dictionary<string, double> Metrics(SequenceDataset data)
    {
        double loss = 0;
        var tally = new Tally();
        for (int start = 0; start < data.Count; start += batchSize)
        {
            var rows = Enumerable.Range(start, Math.Min(batchSize, data.Count - start)).ToArray();
            loss += Evaluate(data, rows, tally).Item() * rows.Length;
        }
        var metrics = new Dictionary<string, double> { ["loss"] = loss / data.Count };
        if (data.Kind != TargetKind.Regression) metrics["accuracy"] = (double)tally.Right / Math.Max(1, tally.Scored);
        if (data.Kind is TargetKind.ClassPerStep or TargetKind.MultiLabelPerStep) metrics["sequence_accuracy"]
            = (double)tally.SequencesRight / Math.Max(1, tally.Sequences);
        return metrics;
    }
}
