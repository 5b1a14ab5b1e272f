using System.IO.Compression;
using System.Text.Json.Nodes;
using Recur.Data;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Tasks;
using Recur.Training;

namespace Recur.Tests.Tasks;

public class SyntheticTaskTests
{
    [Fact]
    public void AddingTargetsAreTheSumOfTheTwoMarkedValuesOneInEachHalf()
    {
        var data = SyntheticTasks.Adding(new RandomGenerator(1), 12, 50);
        for (int n = 0; n < data.Count; n++)
        {
            var marked = Enumerable.Range(0, 12).Where(t => data.Inputs[(n * 12 + t) * 2 + 1] == 1f).ToArray();
            Assert.Equal(2, marked.Length);
            Assert.True(marked[0] < 6 && marked[1] >= 6);
            Assert.Equal(data.Inputs[(n * 12 + marked[0]) * 2] + data.Inputs[(n * 12 + marked[1]) * 2],
                data.Values![n]);
        }
    }

    [Fact]
    public void MultiplicationTargetsAreTheProductAndTheBaselineIsTheProductsVariance()
    {
        var data = SyntheticTasks.Multiplication(new RandomGenerator(2), 12, 20000);
        for (int n = 0; n < 50; n++)
        {
            var marked = Enumerable.Range(0, 12).Where(t => data.Inputs[(n * 12 + t) * 2 + 1] == 1f).ToArray();
            Assert.Equal(2, marked.Length);
            Assert.True(marked[0] < 6 && marked[1] >= 6);
            float first = data.Inputs[(n * 12 + marked[0]) * 2], second = data.Inputs[(n * 12 + marked[1]) * 2];
            Assert.Equal(first * second, data.Values![n]);
        }
        // answering 1/4 scores the variance of a product of two uniforms, 7/144
        double mse = data.Values!.Average(v => (v - 0.25) * (v - 0.25));
        Assert.InRange(mse, SyntheticTasks.MultiplicationBaseline * 0.95, SyntheticTasks.MultiplicationBaseline * 1.05);
    }

    [Theory]
    [InlineData(2, 40)]
    [InlineData(3, 100)]
    public void TemporalOrderLabelsReadTheXYOrderInItsWindows(int bits, int length)
    {
        var data = SyntheticTasks.TemporalOrder(new RandomGenerator(3), length, 400, bits);
        double[] starts = bits == 2 ? [0.1, 0.5] : [0.1, 0.33, 0.66];
        int k = SyntheticTasks.TemporalOrderSymbols.Length;
        Assert.Equal(1 << bits, data.Outputs);
        var seen = new HashSet<int>();
        for (int n = 0; n < data.Count; n++)
        {
            var symbols = Enumerable.Range(0, length).Select(t => Enumerable.Range(0, k)
                .Single(c => data.Inputs[(n * length + t) * k + c] == 1f)).ToArray();
            var relevant = Enumerable.Range(0, length).Where(t => symbols[t] >= 4).ToArray();
            Assert.Equal(bits, relevant.Length);
            int label = 0;
            for (int i = 0; i < bits; i++)
            {
                Assert.InRange(relevant[i], (int)(starts[i] * length), (int)(starts[i] * length) + length / 10 - 1);
                label = 2 * label + symbols[relevant[i]] - 4;
            }
            Assert.Equal(label, data.Labels![n]);
            seen.Add(label);
        }
        Assert.Equal(1 << bits, seen.Count);
    }

    [Fact]
    public void CopyTargetsRepeatTheFirstSymbolsAfterTheDelimiter()
    {
        const int delay = 7;
        var data = SyntheticTasks.Copy(new RandomGenerator(2), delay, 20);
        Assert.Equal(delay + 20, data.Steps);
        for (int n = 0; n < data.Count; n++)
        {
            int Symbol(int t) => Enumerable.Range(0, 10).Single(c => data.Inputs[(n * data.Steps + t) * 10 + c] == 1f);
            Assert.Equal(9, Symbol(10 + delay - 1));
            for (int i = 0; i < 10; i++)
            {
                Assert.InRange(Symbol(i), 1, 8);
                Assert.Equal(Symbol(i), data.Labels![n * data.Steps + delay + 10 + i]);
            }
            Assert.All(Enumerable.Range(0, delay + 10), t => Assert.Equal(0, data.Labels![n * data.Steps + t]));
        }
        Assert.Equal(10 * Math.Log(8) / 27, SyntheticTasks.CopyBaseline(delay), 12);
    }

    [Fact]
    public void EmbeddedReberStringsFollowTheGrammar()
    {
        var random = new RandomGenerator(3);
        for (int i = 0; i < 200; i++)
        {
            var (text, next) = SyntheticTasks.EmbeddedReber(random);
            Assert.Matches("^B(T|P)B(T(S)*X(X(T)*V(P(X(T)*V)*|V)?)*|P(T)*V(P(X(T)*V)*)?)", text);
            Assert.Equal(text[1], text[^2]);
            Assert.EndsWith("E" + text[1] + "E", text);
            Assert.Equal(text.Length - 1, next.Length);
            for (int t = 0; t < next.Length; t++) Assert.Contains(text[t + 1],
                next[t]); // the actual successor is allowed
            Assert.Equal(text[1].ToString(), next[^2]); // the long-range dependency
        }
    }

    [Fact]
    public void IdxFilesAreReadAndTruncationIsReported()
    {
        string path = Path.Combine(Path.GetTempPath(), $"recur-idx-{Guid.NewGuid():N}.gz");
        try
        {
            byte[] file = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8];
            void Write(byte[] bytes)
            {
                using var stream = new GZipStream(File.Create(path), CompressionLevel.Fastest);
                stream.Write(bytes);
            }
            Write(file);
            var (shape, data) = Idx.Read(path);
            Assert.Equal([2, 2, 2], shape);
            Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], data);
            Write(file[..^3]);
            Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Idx.Read(path)).Message);
        }
        finally { File.Delete(path); }
    }

    [SharedDataFact("mnist")]
    public void SequentialMnistReadsTheSharedDigitsWhenPresent()
    {
        string folder = SharedData.Folder("mnist");
        string images = Path.Combine(folder, "t10k-images-idx3-ubyte.gz");
        var data = SyntheticTasks.SequentialMnist(images, Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"), 8000, 100);
        Assert.Equal(784, data.Steps);
        Assert.All(data.Labels!, l => Assert.InRange(l, 0, 9));
        Assert.InRange(data.Inputs.Average(), 0.05, 0.25); // MNIST's mean intensity is about 0.13
        var permuted = SyntheticTasks.SequentialMnist(images, Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"), 8000,
            100, permutationSeed: 5);
        Assert.Equal(data.Inputs.Order(), permuted.Inputs.Order());
        Assert.NotEqual(data.Inputs, permuted.Inputs);
    }
}

public class SequenceTaskTests
{
    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [Trait("Category", "slow")] // learns to a threshold
    public void AShortAddingProblemIsLearnedWellBelowTheBaseline(string cell)
    {
        var data = new RandomGenerator(4);
        var model = new SequenceModel(new SequenceModelConfig(RecurrentCells.Parse(cell), 2, 24, 1),
            new RandomGenerator(5));
        var task = new SequenceTask(model, SyntheticTasks.Adding(data, 8, 1024), SyntheticTasks.Adding(data, 8, 256),
            32);
        var result = new Trainer<int[]>(task, new Adam(model.Parameters(), 1e-2f), new TrainerOptions
        {
            Epochs = 10,
            ClipNorm = 1f
        }).Fit();
        Assert.True(result.LastEvaluation!["loss"] < SyntheticTasks.AddingBaseline / 5,
            $"{cell}: validation MSE {result.LastEvaluation!["loss"]}");
    }

    [Fact]
    public void PaddingNeverChangesAMultiLabelLossOrItsMetrics()
    {
        // the same Reber strings padded to two different lengths give the same loss and accuracies
        var strings = SyntheticTasks.EmbeddedReber(new RandomGenerator(6), 16, maxLength: 20);
        var padded = new SequenceDataset(Pad(strings.Inputs, strings.Count, strings.Steps, 7, 30), strings.Count, 30,
            7, TargetKind.MultiLabelPerStep, 7)
        {
            LabelSets = Pad(strings.LabelSets!, strings.Count, strings.Steps, 7, 30), Lengths = strings.Lengths,
        };
        var model = new SequenceModel(new SequenceModelConfig(CellKind.Gru, 7, 8, 7, PerStep: true),
            new RandomGenerator(7));
        var task = new SequenceTask(model, strings, null, 5);
        var a = task.Metrics(strings);
        var b = task.Metrics(padded);
        Assert.Equal(a["loss"], b["loss"], 5);
        Assert.Equal(a["accuracy"], b["accuracy"]);
        Assert.Equal(a["sequence_accuracy"], b["sequence_accuracy"]);
    }

    static float[] Pad(float[] values, int count, int steps, int width, int newSteps)
    {
        var result = new float[count * newSteps * width];
        for (int n = 0; n < count; n++) values.AsSpan(n * steps * width,
            steps * width).CopyTo(result.AsSpan(n * newSteps * width));
        return result;
    }

    [Fact]
    public void ConfigRoundTripsAndMismatchedShapesAreNamed()
    {
        var config = new SequenceModelConfig(CellKind.Irnn, 3, 5, 2, NumLayers: 2, Bidirectional: true, Dropout: 0.1f,
            PerStep: true);
        Assert.Equal(config, SequenceModelConfig.FromJson(JsonNode.Parse(config.ToJson().ToJsonString())!.AsObject()));
        var model = new SequenceModel(config with { PerStep = false }, new RandomGenerator(1));
        var ex = Assert.Throws<ArgumentException>(() => new SequenceTask(model,
            SyntheticTasks.Adding(new RandomGenerator(1), 4, 4), null, 2));
        Assert.Contains("takes 3 features per step, the data has 2", ex.Message);
    }

    [Fact]
    public void DropoutBeforeTheHeadActsOnlyWhileTraining()
    {
        var x = Tensor.RandomNormal(new RandomGenerator(3), [6, 4, 2]);
        var plain = new SequenceModel(new SequenceModelConfig(CellKind.Lstm, 2, 8, 3), new RandomGenerator(2));
        var dropped = new SequenceModel(new SequenceModelConfig(CellKind.Lstm, 2, 8, 3, Dropout: 0.5f),
            new RandomGenerator(2));
        Assert.Equal(["rnn.dropout"], plain.NamedRandomGenerators().Select(g => g.Name));
        Assert.Equal(["dropout", "rnn.dropout"], dropped.NamedRandomGenerators().Select(g => g.Name));
        // the same initial weights; in evaluation mode the outputs agree, while training the head sees a masked state
        Assert.Equal(plain.StateDict().Keys, dropped.StateDict().Keys);
        plain.Eval();
        dropped.Eval();
        Assert.Equal(plain.Forward(x).ToArray(), dropped.Forward(x).ToArray());
        dropped.Train();
        Assert.NotEqual(plain.Forward(x).ToArray(), dropped.Forward(x).ToArray());
    }

    [Fact]
    public void BidirectionalLastStepUsesBothDirectionsSummaries()
    {
        var model = new SequenceModel(new SequenceModelConfig(CellKind.Gru, 2, 4, 3, Bidirectional: true),
            new RandomGenerator(2));
        var x = Tensor.RandomNormal(new RandomGenerator(3), [5, 2, 2]);
        var y = model.Forward(x);
        Assert.Equal([2, 3], y.ShapeArray());
        // changing only the last step still changes the output through the backward direction's summary at step 0
        var x2 = x.Clone();
        x2.Span[0] += 1f;
        Assert.NotEqual(y.ToArray(), model.Forward(x2).ToArray());
    }
}

public class BatchingTests
{
    [Fact]
    public void BucketingCoversEveryExampleOnceAndGroupsSimilarLengths()
    {
        var random = new RandomGenerator(8);
        var lengths = Enumerable.Range(0, 1000).Select(_ => 1 + random.NextInt(100)).ToArray();
        var batches = Batching.BucketedByLength(lengths, 20, new RandomGenerator(9), poolBatches: 10).ToArray();
        Assert.Equal(Enumerable.Range(0, 1000), batches.SelectMany(b => b).Order());
        double bucketed = batches.Average(b => b.Max(i => lengths[i]) - b.Min(i => lengths[i]));
        double shuffled = Batching.Shuffled(1000, 20,
            new RandomGenerator(9)).Average(b => b.Max(i => lengths[i]) - b.Min(i => lengths[i]));
        Assert.True(bucketed < shuffled / 5, $"length spread per batch: bucketed {bucketed}, shuffled {shuffled}");
        // the same generator state gives the same batches; a different one does not
        Assert.Equal(batches, Batching.BucketedByLength(lengths, 20, new RandomGenerator(9),
            poolBatches: 10).ToArray());
        Assert.NotEqual(batches, Batching.BucketedByLength(lengths, 20, new RandomGenerator(10),
            poolBatches: 10).ToArray());
    }
}
