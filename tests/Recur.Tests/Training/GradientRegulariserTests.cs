using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Tasks;
using Recur.Training;

namespace Recur.Tests.Training;

/// <summary>The vanishing-gradient regulariser of Pascanu et al. (2013): its value, its gradient, and the state
/// gradients it is built on.</summary>
public class GradientRegulariserTests
{
    static (Tensor Hidden, Tensor WeightHh, float[] Gradients) Example(ulong seed, int steps = 3, int batch = 2,
        int units = 3)
    {
        var random = new RandomGenerator(seed);
        var hidden = Tensor.RandomUniform(random, [steps, batch, units], -0.9f, 0.9f);
        var weightHh = Tensor.RandomNormal(random, [units, units], 0f, 0.7f);
        var gradients = Tensor.RandomNormal(random, [steps, batch, units]).ToArray();
        return (hidden, weightHh, gradients);
    }

    [Fact]
    public void PenaltyIsTheSquaredDeviationOfEachStepsNormRatio()
    {
        var (hidden, weightHh, g) = Example(1);
        ClearRow(g, 1 * 2 + 1, 3); // a step past its sequence's end: it does not count
        double expected = 0;
        var h = hidden.ToArray();
        var w = weightHh.ToArray();
        for (int row = 0; row < 6; row++)
        {
            double gNorm = Math.Sqrt(Enumerable.Range(0, 3).Sum(j => (double)g[row * 3 + j] * g[row * 3 + j]));
            if (gNorm == 0) continue;
            double vNorm2 = 0;
            for (int j = 0; j < 3; j++)
            {
                double v = 0;
                for (int i = 0; i < 3; i++) v += g[row * 3 + i] * (1 - h[row * 3 + i] * h[row * 3 + i]) * w[i * 3 + j];
                vNorm2 += v * v;
            }
            expected += Math.Pow(Math.Sqrt(vNorm2) / gNorm - 1, 2);
        }
        Assert.Equal(expected / 2, GradientRegulariser.Penalty(hidden, weightHh, g).Item(), 4);
    }

    static void ClearRow(float[] g, int row, int units) => Array.Clear(g, row * units, units);

    [Fact]
    public void VanishedGradientsGiveTheSameFiniteRatios()
    {
        // ∂E/∂h_t a hundred steps back can be 1e-30 and below: only its direction matters
        var (hidden, weightHh, g) = Example(5);
        float expected = GradientRegulariser.Penalty(hidden, weightHh, g).Item();
        var tiny = g.Select(v => v * 1e-36f).ToArray();
        hidden.RequiresGrad = weightHh.RequiresGrad = true;
        var penalty = GradientRegulariser.Penalty(hidden, weightHh, tiny);
        Assert.Equal(expected, penalty.Item(), 4);
        penalty.Backward();
        Assert.All(weightHh.Grad!.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void PenaltyGradientMatchesFiniteDifferences()
    {
        var (hidden, weightHh, g) = Example(2, steps: 4);
        ClearRow(g, 5, 3);
        var result = GradientCheck.Compare(() => GradientRegulariser.Penalty(hidden, weightHh, g), [hidden, weightHh]);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    sealed class Probe : IRecurrentProbe
    {
        public ProbeRecord? Record;

        public ProbeRecord Begin(string label, RecurrentMode mode, int steps, int batch, int hidden) =>
            Record = new ProbeRecord(label, mode, steps, batch, hidden, gates: false, stateGradients: true);
    }

    [Fact]
    public void StateGradientsAreTheTotalGradientThroughTime()
    {
        // g_t = ∂E/∂o_t (direct) + g_{t+1}·diag(1 − o_{t+1}²)·W_hh, and g_{T−1} is the direct part alone
        var random = new RandomGenerator(3);
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 2, 4), random);
        var input = Tensor.RandomNormal(random, [5, 3, 2]);
        var direct = Tensor.RandomUniform(random, [5, 3, 4], -1f, 1f);
        var probe = new Probe();
        Tensor output;
        using (RecurrentProbes.Attach(probe))
        {
            output = layer.Forward(input).Output;
            (output * direct).Sum().Backward();
        }
        var g = probe.Record!.StateGradients!;
        var o = output.ToArray();
        var d = direct.ToArray();
        var w = layer.StateDict()["weight_hh_l0"].ToArray();
        for (int t = 0; t < 5; t++)
            for (int b = 0; b < 3; b++)
                for (int j = 0; j < 4; j++)
                {
                    double expected = d[(t * 3 + b) * 4 + j];
                    if (t < 4)
                        for (int i = 0; i < 4; i++)
                        {
                            int next = ((t + 1) * 3 + b) * 4 + i;
                            expected += g[next] * (1 - o[next] * o[next]) * w[i * 4 + j];
                        }
                    Assert.Equal(expected, g[(t * 3 + b) * 4 + j], 5);
                }
    }

    [Fact]
    public void TheLossAddsLambdaTimesOmegaAndLeavesEarlierGradientsAlone()
    {
        var random = new RandomGenerator(4);
        var model = new SequenceModel(new SequenceModelConfig(CellKind.Rnn, 2, 5, 1), random);
        var data = SyntheticTasks.Adding(new RandomGenerator(5), 6, 8);
        var task = new SequenceTask(model, data, null, 8) { Regulariser = new GradientRegulariser(0.5f) };
        var parameters = model.Parameters();
        foreach (var p in parameters) p.Grad = Tensor.Full(0.25f, p.ShapeArray());
        var rows = Enumerable.Range(0, 8).ToArray();
        var loss = task.Loss(rows, new TrainingContext());
        Assert.All(parameters, p => Assert.All(p.Grad!.ToArray(), v => Assert.Equal(0.25f, v)));
        float plain = task.BatchLoss(data, rows).Item();
        Assert.True(loss.Item() > plain, $"E + λΩ = {loss.Item()} should exceed E = {plain}");
        loss.Backward();
        Assert.All(parameters, p => Assert.Contains(p.Grad!.ToArray(), v => v != 0.25f));
    }

    [Fact]
    public void OnlyAOneLayerTanhRnnCanBeRegularised()
    {
        var model = new SequenceModel(new SequenceModelConfig(CellKind.Lstm, 2, 4, 1), new RandomGenerator(1));
        var data = SyntheticTasks.Adding(new RandomGenerator(2), 4, 4);
        var error = Assert.Throws<ArgumentException>(() => new SequenceTask(model, data, null, 4)
        {
            Regulariser = new GradientRegulariser(1f),
        });
        Assert.Contains("tanh RNN", error.Message);
    }
}
