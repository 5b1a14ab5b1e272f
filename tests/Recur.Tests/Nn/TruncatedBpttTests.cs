using Recur.Nn.Recurrent;

namespace Recur.Tests.Nn;

public class TruncatedBpttTests
{
    static RecurrentLayer Layer(RecurrentMode mode) =>
        new(new RecurrentConfig(mode, 3, 4, NumLayers: 2), new RandomGenerator(21));

    static Tensor Sequence(int steps) => Tensor.RandomNormal(new RandomGenerator(22), [steps, 2, 3]);

    static float[] Gradients(RecurrentLayer layer) => layer.Parameters().SelectMany(p => p.Grad!.ToArray()).ToArray();

    static void ZeroGradients(RecurrentLayer layer) { foreach (var p in layer.Parameters()) p.Grad = null; }

    static void AssertClose(float[] expected, float[] actual) => Close.Values(expected, actual, "value", 1e-5, 1e-4);

    [Theory]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    public void ChunksOfTheWholeLengthAreFullBptt(RecurrentMode mode)
    {
        var layer = Layer(mode);
        var x = Sequence(6);
        new TruncatedBptt(layer, 6, 6).Run(x, (outputs, _) => outputs.Sum());
        var truncated = Gradients(layer);
        ZeroGradients(layer);
        layer.Forward(x).Output.Sum().Backward();
        AssertClose(Gradients(layer), truncated);
    }

    [Fact]
    public void EqualK1K2CarriesTheStateAndCutsTheGradient()
    {
        var layer = Layer(RecurrentMode.Lstm);
        var x = Sequence(7);
        var schedule = new TruncatedBptt(layer, 3, 3);
        schedule.Run(x, (outputs, _) => outputs.Sum());
        var truncated = Gradients(layer);

        // by hand: chunks [0,3), [3,6), [6,7) with the state detached between them
        ZeroGradients(layer);
        Tensor? h = null, c = null;
        foreach (var (start, length) in new[] { (0, 3), (3, 3), (6, 1) })
        {
            var output = layer.Forward(x.Slice(0, start, length), h, c);
            output.Output.Sum().Backward();
            (h, c) = (output.HiddenState.Detach(), output.CellState!.Detach());
        }
        AssertClose(Gradients(layer), truncated);
        AssertClose(h!.ToArray(), schedule.State.Hidden!.ToArray());
    }

    [Fact]
    public void LongerK2ReachesBackK2StepsAndNoFurther()
    {
        var layer = Layer(RecurrentMode.Gru);
        var x = Sequence(8);
        x.RequiresGrad = true;
        // only the last window's loss counts: its gradient must reach exactly the inputs of steps [8 − k2, 8)
        new TruncatedBptt(layer, 2, 5).Run(x, (outputs, first) => first == 6 ? outputs.Sum() : outputs.Sum() * 0f);
        var grad = x.Grad!.ToArray();
        for (int t = 0; t < 8; t++)
        {
            double size = grad.Skip(t * 6).Take(6).Sum(Math.Abs);
            if (t < 3) Assert.Equal(0.0, size);
            else Assert.True(size > 0, $"no gradient at step {t}");
        }
    }

    [Fact]
    public void WindowsSeeTheSameOutputsAsOneLongForward()
    {
        var layer = Layer(RecurrentMode.Lstm);
        var x = Sequence(9);
        var full = layer.Forward(x).Output.ToArray();
        var seen = new float[full.Length];
        new TruncatedBptt(layer, 2, 4).Run(x, (outputs, first) =>
        {
            outputs.ToArray().CopyTo(seen, first * 8);
            return outputs.Sum();
        });
        AssertClose(full, seen);
    }

    [Fact]
    public void ANonFiniteLossNamesTheWindow()
    {
        var layer = Layer(RecurrentMode.Gru);
        var ex = Assert.Throws<ArithmeticException>(() =>
            new TruncatedBptt(layer, 2, 2).Run(Sequence(4), (outputs,
                first) => first == 2 ? outputs.Sum() / 0f : outputs.Sum()));
        Assert.Contains("ending at step 4", ex.Message);
    }
}
