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
        var batch = AlgorithmicTasks.Copy(new RandomGenerator(4), 5, 3);
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
        var batch = AlgorithmicTasks.Copy(new RandomGenerator(5), 3, 2, bits: 4);
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
        Assert.Equal(0.0, batch.BitErrors(batch.Targets * 2f - 1f));
        Assert.Equal(3 * 4, batch.BitErrors(1f - batch.Targets * 2f)); // every bit of both wrong
    }

    [Fact]
    public void RecallBatchesAskForTheItemAfterTheQuery()
    {
        var batch = AlgorithmicTasks.AssociativeRecall(new RandomGenerator(6), 4, 5, bits: 3);
        const int L = AlgorithmicTasks.ItemLength;
        int steps = 4 * (L + 1) + L + 2 + L;
        Assert.Equal([steps, 5, 5], batch.Inputs.Shape.ToArray());
        Assert.Equal([L, 5, 3], batch.Targets.Shape.ToArray());
        Assert.Equal(steps - L, batch.AnswerStart);
        var x = batch.Inputs.ToArray();
        var y = batch.Targets.ToArray();
        for (int b = 0; b < 5; b++)
        {
            float[] Vector(int step) => x[((step * 5 + b) * 5)..((step * 5 + b) * 5 + 3)];
            Assert.Equal(1f, x[((4 * (L + 1)) * 5 + b) * 5 + 4]); // query delimiters
            Assert.Equal(1f, x[((4 * (L + 1) + L + 1) * 5 + b) * 5 + 4]);
            var query = Enumerable.Range(0, L).SelectMany(v => Vector(4 * (L + 1) + 1 + v)).ToArray();
            // the query is one of the first three items; the answer is the item after it
            int found = Enumerable.Range(0, 3).Single(i => Enumerable.Range(0, L).SelectMany(v =>
                Vector(i * (L + 1) + 1 + v)).SequenceEqual(query) && Enumerable.Range(0, L).SelectMany(v =>
                Vector((i + 1) * (L + 1) + 1 + v)).SequenceEqual(Enumerable.Range(0, L).SelectMany(v =>
                    y[((v * 5 + b) * 3)..((v * 5 + b) * 3 + 3)])));
            Assert.InRange(found, 0, 2);
        }
        Assert.Throws<ArgumentException>(() => AlgorithmicTasks.AssociativeRecall(new RandomGenerator(1), 1, 2));
    }
}
