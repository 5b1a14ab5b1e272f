using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.WaveNet;

/// <summary>
/// A model of audio as μ-law codes, each predicted from the codes before it (and a global label): what
/// <see cref="WaveNetTask"/> trains and scores.
/// </summary>
public interface IAudioCodeModel
{
    /// <summary>The module whose parameters are trained.</summary>
    Module Module { get; }

    /// <summary>μ-law codes.</summary>
    int Levels { get; }

    /// <summary>Labels of global conditioning (0: none).</summary>
    int GlobalConditions { get; }

    /// <summary>The architecture and settings as saved in <c>config.json</c>.</summary>
    JsonObject ToJson();

    /// <summary>Mean cross-entropy in nats of predicting each code from those before it.</summary>
    Tensor Loss(IReadOnlyList<int[]> codes, int[]? conditions = null);
}

/// <summary>Settings of a <see cref="SampleLstm"/>.</summary>
/// <param name="Levels">μ-law codes.</param>
/// <param name="EmbeddingSize">Width of the code embedding (and of the label embedding added to it).</param>
/// <param name="HiddenSize">LSTM units.</param>
/// <param name="GlobalConditions">Labels of global conditioning; 0: none.</param>
/// <param name="SampleRate">Samples per second of the audio it models.</param>
public sealed record SampleLstmConfig(int Levels = 256, int EmbeddingSize = 32, int HiddenSize = 160,
    int GlobalConditions = 0, int SampleRate = 8000)
{
    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, WaveNetJson.Default.SampleLstmConfig, "sample_lstm");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static SampleLstmConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, WaveNetJson.Default.SampleLstmConfig, "sample_lstm");
}

/// <summary>
/// The recurrent baseline of WaveNet: a sample-level LSTM reading μ-law codes (embedded, plus a label embedding when
/// conditioned) and predicting the next code with a softmax — one step per sample, so its context is whatever its
/// state carries rather than a fixed receptive field.
/// </summary>
public sealed class SampleLstm : Module, IAudioCodeModel
{
    readonly Embedding codes, labels;
    readonly RecurrentLayer lstm;
    readonly Linear head;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public SampleLstmConfig Config { get; }

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public SampleLstm(SampleLstmConfig config, RandomGenerator random)
    {
        if (config.Levels < 2 || config.EmbeddingSize < 1 || config.HiddenSize < 1 || config.GlobalConditions < 0)
            throw new ArgumentException($"SampleLstm: invalid settings {config}.");
        Config = config;
        codes = RegisterModule("embedding", new Embedding(config.Levels, config.EmbeddingSize, random));
        labels = RegisterModule("label_embedding", new Embedding(Math.Max(1, config.GlobalConditions),
            config.EmbeddingSize, random));
        lstm = RegisterModule("lstm", new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, config.EmbeddingSize,
            config.HiddenSize, ForgetGateBias: 1f), random));
        head = RegisterModule("head", new Linear(config.HiddenSize, config.Levels, random));
    }

    Module IAudioCodeModel.Module => this;
    int IAudioCodeModel.Levels => Config.Levels;
    int IAudioCodeModel.GlobalConditions => Config.GlobalConditions;
    JsonObject IAudioCodeModel.ToJson() => Config.ToJson();

    /// <inheritdoc/>
    public Tensor Loss(IReadOnlyList<int[]> sequences, int[]? conditions = null)
    {
        int batch = sequences.Count, steps = sequences[0].Length - 1;
        if (steps < 1) throw new ArgumentException("SampleLstm: a sequence needs at least two codes.");
        if ((Config.GlobalConditions > 0) != (conditions != null))
            throw new ArgumentException("SampleLstm: labels must be given exactly when the model is conditioned.");
        var ids = new int[steps * batch]; // time-major
        var targets = new int[steps * batch];
        for (int b = 0; b < batch; b++)
        {
            if (sequences[b].Length != steps + 1) throw new ArgumentException(
                $"SampleLstm: sequence {b} has {sequences[b].Length} codes, sequence 0 has {steps + 1}.");
            for (int t = 0; t < steps; t++)
            {
                ids[t * batch + b] = sequences[b][t];
                targets[t * batch + b] = sequences[b][t + 1];
            }
        }
        var x = codes.Forward(ids, steps, batch);
        if (conditions != null) x = x + labels.Forward(conditions, 1, batch);
        var output = lstm.Forward(x).Output.Reshape(steps * batch, Config.HiddenSize);
        return Losses.CrossEntropy(head.Forward(output), targets);
    }
}
