using Recur.Nn;
using Recur.Optim;
using Recur.Training;

namespace Recur.Tests.Training;

/// <summary>
/// A custom task is a few lines: the model, the batches and the loss (counting, configuration and validation have
/// defaults), and without a run folder the trainer keeps the best epoch's weights in memory.
/// </summary>
public sealed class MinimalTaskTests
{
    /// <summary>Learns y = 2x − 1 with one linear unit; the batches are the four quarters of the data.</summary>
    sealed class LineTask(bool validate) : ITrainingTask<int>
    {
        readonly Tensor x = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => i / 16f - 1f).ToArray(), 32, 1);

        public Linear Line { get; } = new(1, 1, new RandomGenerator(1));
        public List<double> Evaluations { get; } = [];
        public Module Model => Line;
        public int BatchesPerEpoch => 4;
        public IEnumerable<int> Batches(int epoch, RandomGenerator shuffle) => Enumerable.Range(0, 4);

        Tensor Target(Tensor input) => input * 2f - Tensor.Scalar(1f);

        public Tensor Loss(int batch, TrainingContext context)
        {
            var part = x.Slice(0, batch * 8, 8);
            return Losses.MeanSquaredError(Line.Forward(part), Target(part));
        }

        public IReadOnlyDictionary<string, double>? Evaluate()
        {
            if (!validate) return null;
            double loss = Losses.MeanSquaredError(Line.Forward(x), Target(x)).Item();
            Evaluations.Add(loss);
            return new Dictionary<string, double> { ["loss"] = loss };
        }
    }

    [Fact]
    public void AFourMemberTaskTrainsWithTheDefaultsOfTheRest()
    {
        var task = new LineTask(validate: false);
        var result = new Trainer<int>(task, new Adam(task.Line.Parameters(), 0.1f),
            new TrainerOptions { Epochs = 40 }).Fit();
        Assert.Equal(160, result.Steps);
        Assert.Null(result.BestWeights);
        Assert.Equal(2f, task.Line.Weight.Span[0], 1);
        Assert.Equal("Linear", (string?)((ITrainingTask<int>)task).Config["architecture"]);
    }

    [Fact]
    public void WithoutARunFolderTheBestEpochsWeightsAreKeptInMemory()
    {
        var task = new LineTask(validate: true);
        var result = new Trainer<int>(task, new Adam(task.Line.Parameters(), 0.3f),
            new TrainerOptions { Epochs = 12 }).Fit();
        Assert.NotNull(result.BestWeights);
        var bestEpoch = task.Evaluations.IndexOf(task.Evaluations.Min());
        Assert.Equal(task.Evaluations.Min(), result.BestMetric!.Value, 6);
        var returned = new Linear(1, 1, new RandomGenerator(9));
        returned.LoadStateDict(result.BestWeights!);
        var x = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => i / 16f - 1f).ToArray(), 32, 1);
        double loss = Losses.MeanSquaredError(returned.Forward(x), x * 2f - Tensor.Scalar(1f)).Item();
        Assert.Equal(task.Evaluations[bestEpoch], loss, 6);
        // a copy: training on does not change it
        Assert.NotSame(task.Line.Weight, result.BestWeights!["weight"]);
    }
}
