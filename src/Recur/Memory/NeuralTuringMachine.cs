using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Memory;

/// <summary>Settings of a <see cref="NeuralTuringMachine"/>.</summary>
/// <param name="InputSize">Features of each input step.</param>
/// <param name="OutputSize">Features of each output step.</param>
/// <param name="ControllerSize">Units of the controller.</param>
/// <param name="MemorySlots">N, the rows of the memory matrix.</param>
/// <param name="SlotSize">W, the width of each row.</param>
/// <param name="LstmController">An LSTM controller (true) or a feed-forward one (one tanh layer).</param>
public sealed record NeuralTuringMachineConfig(int InputSize, int OutputSize, int ControllerSize = 100,
    int MemorySlots = 128, int SlotSize = 20,
    [property: JsonPropertyName("controller"), JsonConverter(typeof(ControllerConverter))] bool LstmController = true)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (InputSize < 1 || OutputSize < 1 || ControllerSize < 1 || SlotSize < 1)
            throw new ArgumentException($"NeuralTuringMachine: sizes must be positive, got {this}.");
        if (MemorySlots < 3)
            throw new ArgumentException($"NeuralTuringMachine: the memory needs at least 3 slots, got {MemorySlots}.");
    }

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, MemoryJson.Default.NeuralTuringMachineConfig, "ntm");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static NeuralTuringMachineConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, MemoryJson.Default.NeuralTuringMachineConfig, "ntm", config => config.Validate());
}

/// <summary>What a Neural Turing Machine computes over a sequence.</summary>
/// <param name="Output">Output logits [T, B, outputs].</param>
/// <param name="ReadWeights">Per step, the read head's weighting over the memory slots [B, N].</param>
/// <param name="WriteWeights">Per step, the write head's weighting [B, N].</param>
public sealed record NeuralTuringMachineOutput(Tensor Output, IReadOnlyList<Tensor> ReadWeights,
    IReadOnlyList<Tensor> WriteWeights);

/// <summary>
/// Neural Turing Machine (Graves, Wayne &amp; Danihelka 2014): a controller (LSTM or feed-forward) reads the input and
/// the previous read vector and drives one write head and one read head over a memory matrix M [N, W]. Each head
/// addresses the memory as the paper does: content weights softmax(β · cosine(k, Mᵢ)) with key k and key strength
/// β ≥ 0, interpolation with the previous weighting by a gate g, a rotation by a softmax over the shifts −1, 0, +1, and
/// sharpening to the power γ ≥ 1. The write head erases (Mᵢ ⊙ (1 − wᵢ e)) and adds (wᵢ a); the read head returns
/// Σ wᵢ Mᵢ. Every step is ordinary tape operations, so the whole machine is differentiable end to end.
/// </summary>
public sealed class NeuralTuringMachine : Module
{
    const float Epsilon = 1e-8f;
    readonly RecurrentCell? lstm;
    readonly Linear? feedForward;
    readonly Linear readHead, writeHead, output;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public NeuralTuringMachineConfig Config { get; }

    /// <summary>Builds the machine with weights drawn from <paramref name="random"/>.</summary>
    public NeuralTuringMachine(NeuralTuringMachineConfig config, RandomGenerator random)
    {
        config.Validate();
        Config = config;
        int w = config.SlotSize, input = config.InputSize + w, h = config.ControllerSize;
        if (config.LstmController)
            lstm = RegisterModule("controller", new RecurrentCell(RecurrentMode.Lstm, input, h, random));
        else feedForward = RegisterModule("controller", new Linear(input, h, random));
        // key W, strength, gate, 3 shift logits, sharpening; the write head also erase W and add W
        readHead = RegisterModule("read_head", new Linear(h, w + 6, random));
        writeHead = RegisterModule("write_head", new Linear(h, 3 * w + 6, random));
        output = RegisterModule("output", new Linear(h + w, config.OutputSize, random));
    }

    /// <summary>Runs the machine over <paramref name="inputs"/> [T, B, inputs] from an empty memory (every entry
    /// 10⁻⁶), both heads on slot 0 and a zero read vector.</summary>
    public NeuralTuringMachineOutput Forward(Tensor inputs)
    {
        if (inputs.Rank != 3 || inputs.Size(2) != Config.InputSize)
            throw new ArgumentException($"NeuralTuringMachine: inputs {Shapes.Format(inputs.Shape)} are not "
                + $"[T, B, {Config.InputSize}].");
        int steps = inputs.Size(0), batch = inputs.Size(1), n = Config.MemorySlots, w = Config.SlotSize;
        var memory = Tensor.Full(1e-6f, batch, n, w);
        var start = new float[batch * n];
        for (int b = 0; b < batch; b++) start[b * n] = 1;
        Tensor readWeights = Tensor.FromArray(start, batch, n), writeWeights = readWeights;
        var read = Tensor.Zeros(batch, w);
        Tensor? hidden = null, cell = null;
        var outputs = new List<Tensor>();
        var reads = new List<Tensor>();
        var writes = new List<Tensor>();
        for (int t = 0; t < steps; t++)
        {
            var x = Tensor.Concat([inputs.Select(0, t), read], 1);
            if (lstm != null) (hidden, cell) = lstm.Forward(x, hidden, cell);
            else hidden = feedForward!.Forward(x).Tanh();
            var writeParameters = writeHead.Forward(hidden);
            writeWeights = Address(writeParameters, memory, writeWeights);
            var erase = writeParameters.Slice(1, w + 6, w).Sigmoid();
            var add = writeParameters.Slice(1, 2 * w + 6, w).Tanh();
            var column = writeWeights.Reshape(batch, n, 1);
            memory = memory * (1f - column.MatMul(erase.Reshape(batch, 1, w)))
                + column.MatMul(add.Reshape(batch, 1, w));
            readWeights = Address(readHead.Forward(hidden), memory, readWeights);
            read = readWeights.Reshape(batch, 1, n).MatMul(memory).Reshape(batch, w);
            outputs.Add(output.Forward(Tensor.Concat([hidden, read], 1)));
            reads.Add(readWeights);
            writes.Add(writeWeights);
        }
        return new(Tensor.Stack(outputs, 0), reads, writes);
    }

    /// <summary>A head's new weighting [B, N] from its parameters [B, W + 6 (+ …)]: key, strength, gate, three shift
    /// logits and sharpening, in that order.</summary>
    Tensor Address(Tensor parameters, Tensor memory, Tensor previous)
    {
        int batch = memory.Size(0), n = memory.Size(1), w = memory.Size(2);
        var key = parameters.Slice(1, 0, w);
        var strength = parameters.Slice(1, w, 1).Softplus();
        var gate = parameters.Slice(1, w + 1, 1).Sigmoid();
        var shift = parameters.Slice(1, w + 2, 3).Softmax(1);
        var sharpen = parameters.Slice(1, w + 5, 1).Softplus() + 1f;
        // content: cosine similarity of the key with every row
        var dot = memory.MatMul(key.Reshape(batch, w, 1)).Reshape(batch, n);
        var rowNorms = ((memory * memory).Sum(2) + Epsilon).Sqrt();
        var keyNorm = ((key * key).Sum(1, keepDim: true) + Epsilon).Sqrt();
        var content = (strength * (dot / (rowNorms * keyNorm + Epsilon))).Softmax(1);
        var gated = gate * content + (1f - gate) * previous;
        // rotation: slot i takes gated[i − s] with weight shift[s + 1] for s = −1, 0, +1
        Tensor? shifted = null;
        for (int s = -1; s <= 1; s++)
        {
            var source = Enumerable.Range(0, n).Select(i => ((i - s) % n + n) % n).ToArray();
            var term = gated.IndexSelect(1, source) * shift.Slice(1, s + 1, 1);
            shifted = shifted is null ? term : shifted + term;
        }
        var sharpened = (sharpen * (shifted! + Epsilon).Log()).Exp();
        return sharpened / sharpened.Sum(1, keepDim: true);
    }
}

/// <summary>The controller in <c>config.json</c>: <c>lstm</c> or <c>feedforward</c>.</summary>
sealed class ControllerConverter : JsonConverter<bool>
{
    public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        (reader.TokenType == JsonTokenType.String ? reader.GetString() : null) switch
        {
            "lstm" => true,
            "feedforward" => false,
            _ => throw new JsonException("the controller is lstm or feedforward."),
        };

    public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value ? "lstm" : "feedforward");
}
