using System.Text.Json.Nodes;
using Recur.Autograd;
using Recur.Nn;
using Recur.Training;

namespace Recur.Memory;

/// <summary>
/// Trains a sequence model — a <see cref="NeuralTuringMachine"/> or a <see cref="SequenceModel"/> baseline with
/// per-step outputs — on the copy task with the shared trainer: every batch is new, its length drawn uniformly from
/// 1 … <c>maxLength</c> by the trainer's seeded generator (so a resumed run sees the same batches); the loss is binary
/// cross-entropy on the answer steps; validation reports loss and bit errors per sequence at the longest trained
/// length on a fixed set.
/// </summary>
public sealed class CopyTraining : ITrainingTask<SequenceBatch>
{
    readonly Module model;
    readonly Func<Tensor, Tensor> forward;
    readonly int maxLength, batchSize, batchesPerEpoch, bits;
    readonly SequenceBatch valid;
    readonly JsonObject config;

    /// <summary>A task for <paramref name="model"/>, whose <paramref name="forward"/> maps inputs [T, B, bits + 1]
    /// to logits [T, B, bits]; <paramref name="config"/> is written to checkpoints.</summary>
    public CopyTraining(Module model, Func<Tensor, Tensor> forward, JsonObject config, int maxLength = 20,
        int batchSize = 16, int batchesPerEpoch = 100, int bits = 8, ulong validationSeed = 12345)
    {
        if (maxLength < 1 || batchSize < 1 || batchesPerEpoch < 1 || bits < 1)
            throw new ArgumentException("CopyTraining: lengths, batch sizes and bits must be positive.");
        (this.model, this.forward, this.config, this.maxLength, this.batchSize, this.batchesPerEpoch, this.bits) =
            (model, forward, config, maxLength, batchSize, batchesPerEpoch, bits);
        valid = CopyTask.Batch(new RandomGenerator(validationSeed), maxLength, 64, bits);
    }

    /// <summary>A task for a Neural Turing Machine.</summary>
    public static CopyTraining For(NeuralTuringMachine machine, int maxLength = 20, int batchSize = 16,
        int batchesPerEpoch = 100) => new(machine, x => machine.Forward(x).Output, machine.Config.ToJson(), maxLength,
        batchSize, batchesPerEpoch, machine.Config.OutputSize);

    /// <summary>A task for a recurrent baseline with an output at every step.</summary>
    public static CopyTraining For(SequenceModel baseline, int maxLength = 20, int batchSize = 16,
        int batchesPerEpoch = 100)
    {
        if (!baseline.Config.PerStep)
            throw new ArgumentException("CopyTraining: the baseline must give an output at every step (perStep).");
        return new(baseline, baseline.Forward, baseline.Config.ToJson(), maxLength, batchSize, batchesPerEpoch,
            baseline.Config.OutputSize);
    }

    /// <summary>The task of a model saved in <paramref name="folder"/> (a checkpoint, or a run folder's best one),
    /// and the machine when it is one (null for the recurrent baseline).</summary>
    public static (CopyTraining Task, NeuralTuringMachine? Machine) Open(string folder)
    {
        CopyTraining? task = null;
        NeuralTuringMachine? machine = null;
        Checkpoint.Open(folder, config =>
        {
            if ((string?)config["architecture"] == "ntm")
            {
                machine = new NeuralTuringMachine(NeuralTuringMachineConfig.FromJson(config), new RandomGenerator(0));
                task = For(machine);
                return (Module)machine;
            }
            var baseline = new SequenceModel(SequenceModelConfig.FromJson(config), new RandomGenerator(0));
            task = For(baseline);
            return baseline;
        });
        return (task!, machine);
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <inheritdoc/>
    public JsonObject Config => config.DeepClone().AsObject().With(new JsonObject
    {
        ["task"] = "copy", ["max_length"] = maxLength, ["bits"] = bits,
    });

    /// <inheritdoc/>
    public int BatchesPerEpoch => batchesPerEpoch;

    /// <inheritdoc/>
    public IEnumerable<SequenceBatch> Batches(int epoch, RandomGenerator shuffle)
    {
        for (int i = 0; i < batchesPerEpoch; i++)
            yield return CopyTask.Batch(shuffle, 1 + shuffle.NextInt(maxLength), batchSize, bits);
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

    /// <summary>Loss and bit errors per sequence of the model on <paramref name="batch"/>, in evaluation
    /// mode.</summary>
    public (double Loss, double BitErrors) Score(SequenceBatch batch)
    {
        bool training = model.Training;
        model.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            var logits = Answer(batch);
            return (Losses.BinaryCrossEntropyWithLogits(logits, batch.Targets).Item(),
                CopyTask.BitErrors(logits, batch.Targets));
        }
        finally { model.Train(training); }
    }
}
