using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Nn;

/// <summary>Dynamic int8 quantisation of recurrent stacks.</summary>
public class QuantizationTests
{
    public static TheoryData<string> Cells() => [.. RecurrentCells.Names];

    static RecurrentLayer Layer(string cell, int seed = 3) => new(RecurrentCells.Configure(RecurrentCells.Parse(cell),
        new RecurrentConfig(RecurrentMode.Lstm, 8, 48, NumLayers: 2, Bidirectional: true)),
        new RandomGenerator((ulong)seed));

    [Theory]
    [MemberData(nameof(Cells))]
    public void AQuantisedStackStaysCloseToTheFloatOne(string cell)
    {
        var layer = Layer(cell);
        if (!layer.CanQuantize)
        {
            Assert.Throws<NotSupportedException>(layer.QuantizeDynamic);
            return;
        }
        var input = Tensor.RandomNormal(new RandomGenerator(4), [12, 3, 8]);
        int[] lengths = [12, 7, 3];
        Tensor reference;
        using (GradMode.NoGrad()) reference = layer.Forward(input, lengths: lengths).Output;
        layer.QuantizeDynamic();
        Assert.True(layer.IsQuantized);
        var quantised = layer.Forward(input, lengths: lengths).Output; // frozen: no NoGrad scope needed
        Assert.False(quantised.RequiresGrad);
        float worst = reference.MaxAbsDifference(quantised);
        // int8 weights and states keep about two decimal digits; through 12 steps and 2 layers the drift stays small
        Assert.True(worst < 0.05f, $"{cell}: largest difference {worst}");
        Assert.True(worst > 0f, $"{cell}: the quantised stack gave the float results, so int8 was not used");
        // past a sequence's length the outputs stay zero, as in float
        Assert.Equal(0f, quantised.Select(0, 11).Select(0, 1).Abs().Sum().Item());
    }

    [Fact]
    public void LargeBatchesRunInInt8Too()
    {
        var layer = Layer("lstm");
        var input = Tensor.RandomNormal(new RandomGenerator(5), [6, 9, 8]); // 9 rows: past the small-batch limit
        Tensor floatOutput;
        using (GradMode.NoGrad()) floatOutput = layer.Forward(input).Output;
        layer.QuantizeDynamic();
        var all = layer.Forward(input);
        for (int b = 0; b < 9; b += 4)
        {
            // alone, a row takes the small-batch path; in the batch of 9 it must get the same int8 maths (the float
            // input projection's summation order may differ with the batch: that is all)
            var alone = layer.Forward(input.Slice(1, b, 1)).Output;
            var inBatch = all.Output.Slice(1, b, 1);
            Assert.True(alone.MaxAbsDifference(inBatch) < 1e-5f);
            Assert.True(floatOutput.Slice(1, b, 1).MaxAbsDifference(inBatch) > 1e-4f, "the batch of 9 ran in float");
        }
    }

    [Fact]
    public void ThreadSplitsGiveTheSameBits()
    {
        var layer = Layer("gru");
        layer.QuantizeDynamic();
        var input = Tensor.RandomNormal(new RandomGenerator(6), [7, 2, 8]);
        Tensor Run(int threads)
        {
            using var _ = RecurrentKernel.WithSmallBatchThreads(threads);
            return layer.Forward(input).Output;
        }
        Assert.Equal(Run(1).ToArray(), Run(2).ToArray());
    }

    [Fact]
    public void TrainingAQuantisedStackIsRefusedWithTheWayOut()
    {
        var layer = Layer("lstm");
        layer.QuantizeDynamic();
        Assert.All(layer.Parameters(), p => Assert.False(p.RequiresGrad));
        layer.Parameters()[0].RequiresGrad = true;
        var ex = Assert.Throws<InvalidOperationException>(() => layer.Forward(Tensor.Zeros(3, 1, 8)));
        Assert.Contains("inference only", ex.Message);
        Assert.Contains("NoGrad", ex.Message);
    }

    [Fact]
    public void LoadingWeightsQuantisesThemAgain()
    {
        var layer = Layer("lstm", seed: 1);
        var other = Layer("lstm", seed: 2);
        layer.QuantizeDynamic();
        other.QuantizeDynamic();
        var input = Tensor.RandomNormal(new RandomGenerator(7), [4, 1, 8]);
        var expected = other.Forward(input).Output;
        layer.LoadStateDict(other.StateDict());
        Assert.Equal(expected.ToArray(), layer.Forward(input).Output.ToArray());
    }

    [Theory]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    [InlineData(RecurrentMode.RnnTanh)]
    public void ADecoderCellStepsInInt8AsAOneLayerStackDoes(RecurrentMode mode)
    {
        var cell = new RecurrentCell(mode, 8, 40, new RandomGenerator(9));
        var layer = new RecurrentLayer(new RecurrentConfig(mode, 8, 40), new RandomGenerator(10));
        layer.LoadStateDict(cell.StateDict().ToDictionary(p => p.Key + "_l0", p => p.Value));
        var x = Tensor.RandomNormal(new RandomGenerator(11), [2, 8]);
        Tensor reference;
        using (GradMode.NoGrad()) reference = cell.Forward(x).Hidden;
        cell.QuantizeDynamic();
        layer.QuantizeDynamic();
        Assert.True(cell.IsQuantized);
        var (hidden, _) = cell.Forward(x);
        Assert.True(reference.MaxAbsDifference(hidden) is > 0f and < 0.02f);
        Assert.Equal(layer.Forward(x.Reshape(1, 2, 8)).HiddenState.ToArray(), hidden.ToArray());
    }

    [Fact]
    public void AQuantisedLinearLayerStaysCloseAndEachRowStandsAlone()
    {
        var linear = new Linear(70, 9, new RandomGenerator(12));
        var x = Tensor.RandomNormal(new RandomGenerator(13), [3, 5, 70]);
        Tensor reference;
        using (GradMode.NoGrad()) reference = linear.Forward(x);
        linear.QuantizeDynamic();
        Assert.True(linear.IsQuantized);
        var y = linear.Forward(x);
        Assert.Equal([3, 5, 9], y.ShapeArray());
        Assert.True(reference.MaxAbsDifference(y) is > 0f and < 0.05f);
        // a row alone gives the bits it gets among the others (and whatever the thread split)
        var alone = linear.Forward(x.Select(0, 2).Slice(0, 3, 1));
        Assert.Equal(y.Select(0, 2).Slice(0, 3, 1).ToArray(), alone.ToArray());
        var wide = Tensor.RandomNormal(new RandomGenerator(14), [4000, 70]); // large enough for several threads
        var all = linear.Forward(wide);
        Assert.Equal(all.Slice(0, 3999, 1).ToArray(), linear.Forward(wide.Slice(0, 3999, 1)).ToArray());
        Assert.Throws<ArgumentException>(() => linear.Forward(Tensor.Zeros(2, 69)));
        linear.Weight.RequiresGrad = true;
        Assert.Throws<InvalidOperationException>(() => linear.Forward(x));
    }

    [Fact]
    public void QuantizeDynamicFindsTheStacksOfAModel()
    {
        var model = new SequenceModel(new SequenceModelConfig(CellKind.Gru, 5, 16, 4), new RandomGenerator(8));
        var names = Quantization.QuantizeDynamic(model);
        Assert.Contains("rnn", names);
        foreach (var (name, module) in model.NamedModules())
            Assert.Equal(names.Contains(name), module switch
            {
                RecurrentLayer layer => layer.IsQuantized,
                Linear linear => linear.IsQuantized,
                _ => false,
            });
    }
}
