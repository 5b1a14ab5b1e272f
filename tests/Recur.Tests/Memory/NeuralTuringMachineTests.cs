using Recur.Autograd;
using Recur.Memory;
using Recur.Optim;

namespace Recur.Tests.Memory;

public sealed class NeuralTuringMachineTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheWholeMachinePassesAFiniteDifferenceCheck(bool lstmController)
    {
        var model = new NeuralTuringMachine(new NeuralTuringMachineConfig(3, 2, ControllerSize: 4, MemorySlots: 5,
            SlotSize: 3, LstmController: lstmController), new RandomGenerator(1));
        var random = new RandomGenerator(2);
        var inputs = Tensor.RandomNormal(random, [4, 2, 3]);
        var targets = Tensor.RandomUniform(random, [4, 2, 2]);
        // content addressing, interpolation, rotation, sharpening, erase and add all lie on the path to the loss
        var result = GradientCheck.Compare(() => Losses.BinaryCrossEntropyWithLogits(model.Forward(inputs).Output,
            targets), model.Parameters().ToList(), epsilon: 1e-3);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void WeightingsAreDistributionsOverTheSlotsAndTheHeadsStartAtSlotZero()
    {
        var model = new NeuralTuringMachine(new NeuralTuringMachineConfig(9, 8, ControllerSize: 16, MemorySlots: 12,
            SlotSize: 6), new RandomGenerator(3));
        using var _ = GradMode.NoGrad();
        var batch = CopyTask.Batch(new RandomGenerator(4), 5, 3);
        var output = model.Forward(batch.Inputs);
        Assert.Equal([11, 3, 8], output.Output.Shape.ToArray());
        Assert.Equal(11, output.ReadWeights.Count);
        foreach (var weights in output.ReadWeights.Concat(output.WriteWeights))
            for (int b = 0; b < 3; b++)
            {
                var row = weights.ToArray()[(b * 12)..((b + 1) * 12)];
                Assert.All(row, v => Assert.True(v >= 0));
                Assert.Equal(1f, row.Sum(), 4);
            }
        // the first write starts from slot 0 and can move at most one slot either way
        var first = output.WriteWeights[0].ToArray()[..12];
        Assert.True(first[0] + first[1] + first[11] > 0.5f, string.Join(", ", first));
        Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(4, 2, 3)));
    }

    [Fact]
    public void CopyBatchesHoldTheSequenceTheDelimiterAndTheAnswer()
    {
        var batch = CopyTask.Batch(new RandomGenerator(5), 3, 2, bits: 4);
        Assert.Equal([7, 2, 5], batch.Inputs.Shape.ToArray());
        Assert.Equal([3, 2, 4], batch.Targets.Shape.ToArray());
        Assert.Equal(4, batch.AnswerStart);
        var x = batch.Inputs.ToArray();
        var y = batch.Targets.ToArray();
        for (int t = 0; t < 3; t++)
            for (int b = 0; b < 2; b++)
                for (int k = 0; k < 4; k++) Assert.Equal(x[(t * 2 + b) * 5 + k], y[(t * 2 + b) * 4 + k]);
        Assert.Equal(1f, x[(3 * 2 + 1) * 5 + 4]); // the delimiter
        Assert.Equal(y.Count(v => v == 1f) + 2, x.Count(v => v == 1f)); // besides the bits, only the delimiters
        Assert.Equal(0.0, CopyTask.BitErrors(batch.Targets * 2f - 1f, batch.Targets));
        Assert.Equal(3 * 4, CopyTask.BitErrors(1f - batch.Targets * 2f, batch.Targets)); // every bit of both wrong
    }
}
