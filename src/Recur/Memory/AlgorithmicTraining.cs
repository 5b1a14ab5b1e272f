using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Nn;
using Recur.Serialization;
using Recur.Training;

namespace Recur.Memory;

/// <summary>
/// Trains a sequence model — a <see cref="NeuralTuringMachine"/> or a <see cref="SequenceModel"/> baseline with
/// per-step outputs — on an <see cref="AlgorithmicTask"/> with the shared trainer: every batch is new, its length drawn
/// uniformly from the task's shortest to <c>maxLength</c> by the trainer's seeded generator (so a resumed run sees the
/// same batches); the loss is binary cross-entropy on the answer steps; validation reports loss and bit errors per
/// sequence at the longest trained length on a fixed set.
/// </summary>
public sealed class AlgorithmicTraining : ITrainingTask<SequenceBatch>
{
    readonly Module model;
    readonly Func<Tensor, Tensor> forward;
    readonly int maxLength, batchSize, batchesPerEpoch, bits;
    readonly SequenceBatch valid;
    readonly JsonObject config;

    /// <summary>The task.</summary>
    public AlgorithmicTask Task { get; }

    /// <summary>Bits per vector.</summary>
    public int Bits => bits;

    /// <summary>A task for <paramref name="model"/>, whose <paramref name="forward"/> maps inputs [T, B, inputs] to
    /// logits [T, B, bits]; <paramref name="config"/> is written to checkpoints.</summary>
    public AlgorithmicTraining(AlgorithmicTask task, Module model, Func<Tensor, Tensor> forward, JsonObject config,
        int bits, int maxLength, int batchSize = 16, int batchesPerEpoch = 100, ulong validationSeed = 12345)
    {
        if (maxLength < AlgorithmicTasks.MinLength(task) || batchSize < 1 || batchesPerEpoch < 1 || bits < 1)
            throw new ArgumentException($"AlgorithmicTraining: the longest length must be at least "
                + $"{AlgorithmicTasks.MinLength(task)}, batch sizes and bits positive.");
        (Task, this.model, this.forward, this.config, this.maxLength, this.batchSize, this.batchesPerEpoch,
            this.bits) = (task, model, forward, config, maxLength, batchSize, batchesPerEpoch, bits);
        valid = AlgorithmicTasks.Batch(task, new RandomGenerator(validationSeed), maxLength, 64, bits);
    }

    /// <summary>A task for a Neural Turing Machine (its outputs are the bits; its inputs must match the
    /// task).</summary>
    public static AlgorithmicTraining For(AlgorithmicTask task, NeuralTuringMachine machine, int maxLength,
        int batchSize = 16, int batchesPerEpoch = 100)
    {
        CheckInputs(task, machine.Config.InputSize, machine.Config.OutputSize);
        return new(task, machine, x => machine.Forward(x).Output, machine.Config.ToJson(), machine.Config.OutputSize,
            maxLength, batchSize, batchesPerEpoch);
    }

    /// <summary>A task for a recurrent baseline with an output at every step.</summary>
    public static AlgorithmicTraining For(AlgorithmicTask task, SequenceModel baseline, int maxLength,
        int batchSize = 16, int batchesPerEpoch = 100)
    {
        if (!baseline.Config.PerStep)
            throw new ArgumentException("AlgorithmicTraining: the baseline must give an output at every step "
                + "(perStep).");
        CheckInputs(task, baseline.Config.InputSize, baseline.Config.OutputSize);
        return new(task, baseline, baseline.Forward, baseline.Config.ToJson(), baseline.Config.OutputSize, maxLength,
            batchSize, batchesPerEpoch);
    }

    static void CheckInputs(AlgorithmicTask task, int inputs, int outputs)
    {
        if (inputs != AlgorithmicTasks.Inputs(task, outputs))
            throw new ArgumentException($"AlgorithmicTraining: {task} of {outputs}-bit vectors has "
                + $"{AlgorithmicTasks.Inputs(task, outputs)} input channels, the model {inputs}.");
    }

    /// <summary>
    /// The task of a model saved in <paramref name="folder"/> (a checkpoint, or a run folder's best one) as training
    /// wrote it, and the machine when it is one (null for the recurrent baseline).
    /// </summary>
    public static (AlgorithmicTraining Task, NeuralTuringMachine? Machine) Open(string folder)
    {
        AlgorithmicTraining? training = null;
        NeuralTuringMachine? machine = null;
        Checkpoint.Open(folder, config =>
        {
            var (task, maxLength) = ConfigJson.Read(config, MemoryJson.Default.AlgorithmicTaskFile, null);
            if ((string?)config["architecture"] == "ntm")
            {
                machine = new NeuralTuringMachine(NeuralTuringMachineConfig.FromJson(config), new RandomGenerator(0));
                training = For(task, machine, maxLength);
                return (Module)machine;
            }
            var baseline = new SequenceModel(SequenceModelConfig.FromJson(config), new RandomGenerator(0));
            training = For(task, baseline, maxLength);
            return baseline;
        });
        return (training!, machine);
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <inheritdoc/>
    public JsonObject Config => config.DeepClone().AsObject().With(new JsonObject
    {
        ["task"] = Task.ToString(), ["max_length"] = maxLength, ["bits"] = bits,
    });

    /// <inheritdoc/>
    public int BatchesPerEpoch => batchesPerEpoch;

    /// <inheritdoc/>
    public IEnumerable<SequenceBatch> Batches(int epoch, RandomGenerator shuffle)
    {
        int shortest = AlgorithmicTasks.MinLength(Task);
        for (int i = 0; i < batchesPerEpoch; i++)
            yield return AlgorithmicTasks.Batch(Task, shuffle, shortest + shuffle.NextInt(maxLength - shortest + 1),
                batchSize, bits);
    }

    /// <inheritdoc/>
    public int Count(SequenceBatch batch) => batch.Inputs.Size(1);

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, TrainingContext context) =>
        Losses.BinaryCrossEntropyWithLogits(Answer(batch), batch.Targets);

    Tensor Answer(SequenceBatch batch)
    {
        var logits = forward(batch.Inputs);
        return logits.Slice(0, batch.AnswerStart, logits.Size(0) - batch.AnswerStart);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        var report = Score(valid);
        return new Dictionary<string, double> { ["loss"] = report.Loss, ["bit_errors"] = report.BitErrors };
    }

    /// <summary>A fresh test batch of <paramref name="count"/> sequences at <paramref name="length"/>, the same for
    /// every model (seeded by the length).</summary>
    public SequenceBatch TestBatch(int length, int count) =>
        AlgorithmicTasks.Batch(Task, new RandomGenerator(1000 + (ulong)length), length, count, bits);

    /// <summary>Loss and bit errors per sequence of the model on <paramref name="batch"/>, in evaluation
    /// mode.</summary>
    public (double Loss, double BitErrors) Score(SequenceBatch batch)
    {
        using var _ = model.Evaluating();
        var logits = Answer(batch);
        return (Losses.BinaryCrossEntropyWithLogits(logits, batch.Targets).Item(), batch.BitErrors(logits));
    }
}

/// <summary>The task an algorithmic run trained on, as its <c>config.json</c> records it beside the model.</summary>
sealed record AlgorithmicTaskFile(
    [property: JsonConverter(typeof(JsonStringEnumConverter<AlgorithmicTask>))] AlgorithmicTask Task, int MaxLength);
