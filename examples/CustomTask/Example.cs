// guide:begin
using Recur;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Training;

namespace CustomTask;

/// <summary>A model of your own: a GRU reading a series, and a linear read-out of its state at every step.</summary>
public sealed class Predictor : Module
{
    readonly RecurrentLayer rnn;
    readonly Linear head;

    public Predictor(RandomGenerator random)
    {
        rnn = RegisterModule("rnn", new RecurrentLayer(new RecurrentConfig(RecurrentMode.Gru, 1, 24), random));
        head = RegisterModule("head", new Linear(24, 1, random));
    }

    /// <summary>[T, B, 1] values → [T, B, 1] predictions of each next value.</summary>
    public Tensor Forward(Tensor series) => head.Forward(rnn.Forward(series).Output);
}

/// <summary>A task of your own: predict the next value of sine waves of random frequency and phase.</summary>
public sealed class NextValueTask(Predictor model, Tensor train, Tensor valid) : ITrainingTask<int[]>
{
    const int BatchSize = 32;

    public Module Model => model;
    public int BatchesPerEpoch => train.Size(1) / BatchSize;

    public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) =>
        Batching.Shuffled(train.Size(1), BatchSize, shuffle);

    public Tensor Loss(int[] batch, TrainingContext context) => NextValueLoss(train.IndexSelect(1, batch));

    public IReadOnlyDictionary<string, double> Evaluate() =>
        new Dictionary<string, double> { ["loss"] = NextValueLoss(valid).Item() };

    /// <summary>Mean squared error of predicting steps 1..T from steps 0..T−1.</summary>
    Tensor NextValueLoss(Tensor waves)
    {
        int steps = waves.Size(0);
        return Losses.MeanSquaredError(model.Forward(waves.Slice(0, 0, steps - 1)), waves.Slice(0, 1, steps - 1));
    }
}

public static class Example
{
    /// <summary>Trains the predictor on the task; returns the best validation MSE.</summary>
    public static double Run(TextWriter output)
    {
        var random = new RandomGenerator(seed: 1);
        Tensor Waves(int count)
        {
            var values = new float[40 * count];
            for (int b = 0; b < count; b++)
            {
                float frequency = 0.1f + 0.3f * random.NextFloat(), phase = 6.28f * random.NextFloat();
                for (int t = 0; t < 40; t++) values[t * count + b] = MathF.Sin(frequency * t + phase);
            }
            return Tensor.FromArray(values, 40, count, 1); // time-major [T, B, 1]
        }
        var model = new Predictor(random);
        var task = new NextValueTask(model, Waves(512), Waves(128));
        var result = new Trainer<int[]>(task, new Adam(model.Parameters(), 1e-2f),
            new TrainerOptions { Epochs = 10, ClipNorm = 1f }).Fit();
        model.LoadStateDict(result.BestWeights!); // no run folder: the best epoch's weights come back in memory
        output.WriteLine($"best validation MSE {result.BestMetric:F5} (predicting 0 scores about 0.5)");
        return result.BestMetric!.Value;
    }
}
// guide:end
