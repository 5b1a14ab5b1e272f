using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Nn;

/// <summary>
/// Settings of a <see cref="SequenceModel"/>. <see cref="Cell"/> is any cell of <see cref="RecurrentCells"/>; the
/// LSTMs start with forget-gate bias 1 (Jozefowicz et al. 2015), and <see cref="ChronoMaxSteps"/> &gt; 0 gives an LSTM
/// or GRU chrono-initialised gate biases instead
/// (<see cref="RecurrentConfig.ChronoMaxSteps"/>). <see cref="Dropout"/> applies between stacked layers and to the
/// recurrent output the head reads. <see cref="BatchNormSteps"/> is how many time steps keep statistics of their own in
/// a <c>bn-lstm</c> (<see cref="RecurrentConfig.BatchNormSteps"/>; the length of the sequences is the natural choice).
/// </summary>
public sealed record SequenceModelConfig(CellKind Cell, int InputSize, int HiddenSize, int OutputSize,
    int NumLayers = 1, bool Bidirectional = false, float Dropout = 0f, bool PerStep = false, int ChronoMaxSteps = 0,
    int BatchNormSteps = 100)
{
    /// <summary>
    /// The recurrent stack's configuration: an LSTM starts with forget-gate bias 1 unless chrono-initialised; chrono
    /// initialisation applies to the LSTMs and the GRU.
    /// </summary>
    [JsonIgnore]
    public RecurrentConfig Recurrent
    {
        get
        {
            var mode = RecurrentCells.Mode(Cell);
            int chrono = mode is RecurrentMode.Lstm or RecurrentMode.Gru ? ChronoMaxSteps : 0;
            var config = new RecurrentConfig(mode, InputSize, HiddenSize, NumLayers, Dropout: Dropout,
                Bidirectional: Bidirectional,
                ForgetGateBias: mode == RecurrentMode.Lstm && chrono == 0 ? 1f : null, ChronoMaxSteps: chrono,
                BatchNormSteps: BatchNormSteps);
            return RecurrentCells.Configure(Cell, config);
        }
    }

    /// <summary>The configuration as written to <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, NnJson.Default.SequenceModelConfig, "sequence_model");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Not a sequence model's, or a field missing or invalid.</exception>
    public static SequenceModelConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, NnJson.Default.SequenceModelConfig, "sequence_model");
}

/// <summary>The settings records of <c>Recur.Nn</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(SequenceModelConfig))]
sealed partial class NnJson : JsonSerializerContext;

/// <summary>
/// A recurrent stack with a linear head: on the last step's output (many-to-one: classification, regression) or on
/// every step's (synchronous many-to-many: tagging, next-symbol prediction). Parameters <c>rnn.*</c> and <c>head.*</c>.
/// </summary>
public sealed class SequenceModel : Module
{
    /// <summary>The settings it was built from.</summary>
    public SequenceModelConfig Config { get; }

    /// <summary>The recurrent stack.</summary>
    public RecurrentLayer Rnn { get; }

    /// <summary>The output layer.</summary>
    public Linear Head { get; }

    readonly RandomGenerator? dropoutRandom;

    /// <summary>Builds the model, drawing initial weights from <paramref name="random"/>.</summary>
    public SequenceModel(SequenceModelConfig config, RandomGenerator random)
    {
        Config = config;
        Rnn = RegisterModule("rnn", new RecurrentLayer(config.Recurrent, random));
        int width = config.Recurrent.OutputWidth * (config.Bidirectional ? 2 : 1);
        Head = RegisterModule("head", new Linear(width, config.OutputSize, random));
        if (config.Dropout > 0) dropoutRandom = RegisterRandom("dropout", random.Fork());
    }

    Tensor HeadDropout(Tensor x) => dropoutRandom is null ? x : Functional.Dropout(x, Config.Dropout, Training,
        dropoutRandom);

    /// <summary>Input [T, B, in] → [B, out] (last step) or [T, B, out] (per step); dropout before the head while
    /// training.</summary>
    public Tensor Forward(Tensor input) => ForwardWithStates(input).Output;

    /// <summary>
    /// <see cref="Forward"/>, also returning the top recurrent layer's outputs [T, B, D·H] (the hidden states a
    /// regulariser looks at).
    /// </summary>
    public (Tensor Output, Tensor States) ForwardWithStates(Tensor input)
    {
        var states = Rnn.Forward(input).Output;
        return (ApplyHead(states), states);
    }

    Tensor ApplyHead(Tensor output)
    {
        if (Config.PerStep) return Head.Forward(HeadDropout(output));
        int steps = output.Size(0), batch = output.Size(1);
        Tensor last = output.Select(0, steps - 1);
        if (Config.Bidirectional)
        {
            // the backward direction's summary of the whole sequence is its output at step 0
            int h = Config.HiddenSize;
            last = Tensor.Concat([last.Slice(1, 0, h), output.Select(0, 0).Slice(1, h, h)], 1);
        }
        return Head.Forward(HeadDropout(last.Reshape(batch, last.Size(-1))));
    }
}
