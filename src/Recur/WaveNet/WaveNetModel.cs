using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Nn;
using Recur.Serialization;

namespace Recur.WaveNet;

/// <summary>Settings of a <see cref="WaveNetModel"/>.</summary>
/// <param name="Levels">μ-law codes (the softmax's classes).</param>
/// <param name="ResidualChannels">Channels of the residual stream.</param>
/// <param name="DilationChannels">Channels of each gated unit.</param>
/// <param name="SkipChannels">Channels of the skip connections and the output head.</param>
/// <param name="LayersPerStack">Dilated layers per stack; their dilations are 1, 2, 4, … 2^(layers − 1).</param>
/// <param name="Stacks">Stacks of dilated layers.</param>
/// <param name="GlobalConditions">Labels of global conditioning (e.g. 10 digits or 6 speakers); 0: none.</param>
/// <param name="LocalChannels">Channels of a local conditioning sequence (e.g. log-mel bands); 0: none.</param>
/// <param name="SampleRate">Samples per second of the audio it models.</param>
public sealed record WaveNetConfig(int Levels = 256, int ResidualChannels = 32, int DilationChannels = 32,
    int SkipChannels = 64, int LayersPerStack = 9, int Stacks = 2, int GlobalConditions = 0, int LocalChannels = 0,
    int SampleRate = 8000)
{
    /// <summary>Samples an output sees: 1 + stacks · (2^layers − 1) with kernel size 2.</summary>
    [JsonIgnore]
    public int ReceptiveField => 1 + Stacks * ((1 << LayersPerStack) - 1);

    /// <summary>The dilation of layer <paramref name="layer"/> (counted over all stacks).</summary>
    public int Dilation(int layer) => 1 << (layer % LayersPerStack);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Levels < 2) throw new ArgumentException($"WaveNet: levels must be at least 2, got {Levels}.");
        if (ResidualChannels < 1 || DilationChannels < 1 || SkipChannels < 1)
            throw new ArgumentException("WaveNet: channel counts must be positive.");
        if (LayersPerStack is < 1 or > 16 || Stacks < 1)
            throw new ArgumentException($"WaveNet: {LayersPerStack} layers per stack (1–16), {Stacks} stacks.");
        if (GlobalConditions < 0 || LocalChannels < 0 || SampleRate < 1)
            throw new ArgumentException("WaveNet: conditions, local channels and sample rate cannot be negative.");
    }

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, WaveNetJson.Default.WaveNetConfig, "wavenet");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static WaveNetConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, WaveNetJson.Default.WaveNetConfig, "wavenet", config => config.Validate());
}

/// <summary>
/// WaveNet (van den Oord et al. 2016): μ-law codes → embedding (a 1×1 convolution of the one-hot input) → stacks of
/// dilated causal convolutions (kernel 2, dilations 1, 2, 4, …) with gated units tanh(W_f ∗ x) ⊙ σ(W_g ∗ x), each
/// with a 1×1 residual and a 1×1 skip convolution → ReLU → 1×1 → ReLU → 1×1 → logits over the next sample's code.
/// Global conditioning adds a learned vector per label inside every gate; local conditioning adds a 1×1 convolution of
/// a sequence given at the sample rate. No recurrence: training sees every step at once (teacher forcing).
/// </summary>
public sealed class WaveNetModel : Module, IAudioCodeModel
{
    readonly Embedding input;
    readonly Conv1d[] gates, residuals, skips;
    readonly Embedding[]? globals;
    readonly Conv1d[]? locals;
    readonly Conv1d head1, head2;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public WaveNetConfig Config { get; }

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public WaveNetModel(WaveNetConfig config, RandomGenerator random)
    {
        config.Validate();
        Config = config;
        int layers = config.LayersPerStack * config.Stacks, r = config.ResidualChannels, d = config.DilationChannels;
        input = RegisterModule("input", new Embedding(config.Levels, r, random));
        gates = new Conv1d[layers];
        residuals = new Conv1d[layers];
        skips = new Conv1d[layers];
        if (config.GlobalConditions > 0) globals = new Embedding[layers];
        if (config.LocalChannels > 0) locals = new Conv1d[layers];
        for (int l = 0; l < layers; l++)
        {
            gates[l] = RegisterModule($"layers.{l}.gate", new Conv1d(r, 2 * d, 2, random,
                dilation: config.Dilation(l), causal: true));
            residuals[l] = RegisterModule($"layers.{l}.residual", new Conv1d(d, r, 1, random));
            skips[l] = RegisterModule($"layers.{l}.skip", new Conv1d(d, config.SkipChannels, 1, random));
            if (globals != null) globals[l] = RegisterModule($"layers.{l}.global", new Embedding(
                config.GlobalConditions, 2 * d, random));
            if (locals != null) locals[l] = RegisterModule($"layers.{l}.local", new Conv1d(config.LocalChannels,
                2 * d, 1, random, bias: false));
        }
        head1 = RegisterModule("head.0", new Conv1d(config.SkipChannels, config.SkipChannels, 1, random));
        head2 = RegisterModule("head.1", new Conv1d(config.SkipChannels, config.Levels, 1, random));
    }

    /// <summary>
    /// Logits [B, levels, T] of the code that follows each input code, for codes [B][T] (all of one length), with a
    /// global label per sequence and a local sequence [B, localChannels, T] when the model has them.
    /// </summary>
    public Tensor Forward(IReadOnlyList<int[]> codes, int[]? conditions = null, Tensor? local = null) =>
        head2.Forward(Features(codes, conditions, local));

    /// <summary>The input of the last 1×1 convolution, [B, skipChannels, T]: everything but the logits.</summary>
    Tensor Features(IReadOnlyList<int[]> codes, int[]? conditions, Tensor? local)
    {
        int batch = codes.Count;
        if (batch == 0) throw new ArgumentException("WaveNet: an empty batch.");
        int steps = codes[0].Length;
        var ids = new int[batch * steps];
        for (int b = 0; b < batch; b++)
        {
            if (codes[b].Length != steps) throw new ArgumentException(
                $"WaveNet: sequence {b} has {codes[b].Length} codes, sequence 0 has {steps}; crop them to one length.");
            for (int t = 0; t < steps; t++)
            {
                int c = codes[b][t];
                if ((uint)c >= (uint)Config.Levels) throw new ArgumentException(
                    $"WaveNet: code {c} at step {t} of sequence {b} is outside 0..{Config.Levels - 1}.");
                ids[b * steps + t] = c;
            }
        }
        CheckConditions(batch, steps, conditions, local);
        var x = input.Forward(ids, batch, steps).Permute(0, 2, 1); // [B, R, T]
        Tensor? skip = null;
        for (int l = 0; l < gates.Length; l++)
        {
            // the sums (the label's vector, the local conditioning, skip and residual paths) are added where each
            // product writes its output, not in passes of their own over megabytes
            var a = gates[l].Forward(x, globals?[l].Forward(conditions!, batch));
            if (locals != null) a = locals[l].Forward(local!, null, a);
            var z = Functional.GatedTanh(a);
            skip = skips[l].Forward(z, null, skip);
            if (l < gates.Length - 1) x = residuals[l].Forward(z, null, x);
        }
        return head1.Forward(skip!.Relu()).Relu();
    }

    void CheckConditions(int batch, int steps, int[]? conditions, Tensor? local)
    {
        if ((Config.GlobalConditions > 0) != (conditions != null))
            throw new ArgumentException(Config.GlobalConditions > 0
                ? "WaveNet: the model is conditioned on a label; give one per sequence."
                : "WaveNet: the model has no global conditioning, but labels were given.");
        if (conditions != null)
        {
            if (conditions.Length != batch) throw new ArgumentException(
                $"WaveNet: {conditions.Length} labels for {batch} sequences.");
            foreach (int c in conditions)
                if ((uint)c >= (uint)Config.GlobalConditions) throw new ArgumentException(
                    $"WaveNet: label {c} is outside 0..{Config.GlobalConditions - 1}.");
        }
        if ((Config.LocalChannels > 0) != (local != null))
            throw new ArgumentException(Config.LocalChannels > 0
                ? "WaveNet: the model is conditioned on a local sequence; give one."
                : "WaveNet: the model has no local conditioning, but a sequence was given.");
        if (local != null && (local.Rank != 3 || local.Size(0) != batch || local.Size(1) != Config.LocalChannels
            || local.Size(2) != steps))
            throw new ArgumentException($"WaveNet: the local sequence is {Shapes.Format(local.Shape)}, not "
                + $"[{batch}, {Config.LocalChannels}, {steps}].");
    }

    /// <summary>
    /// Mean cross-entropy in nats of predicting each code from those before it: logits at step t are scored against
    /// the code at t + 1.
    /// </summary>
    public Tensor Loss(IReadOnlyList<int[]> codes, int[]? conditions = null, Tensor? local = null)
    {
        int batch = codes.Count, steps = codes[0].Length;
        if (steps < 2) throw new ArgumentException("WaveNet: a sequence needs at least two codes to predict one.");
        var inputs = codes.Select(c => c[..^1]).ToArray();
        var features = Features(inputs, conditions, local?.Slice(2, 0, steps - 1)); // [B, S, T−1]
        var targets = new int[batch * (steps - 1)];
        for (int b = 0; b < batch; b++) codes[b].AsSpan(1).CopyTo(targets.AsSpan(b * (steps - 1)));
        // the last 1×1 convolution and the cross-entropy in chunks of steps, without the [B, levels, T−1] logits, their
        // permutation to rows, or their gradient (256 values a step, four times the features)
        var rows = features.Permute(0, 2, 1).Reshape(batch * (steps - 1), Config.SkipChannels);
        return Losses.LinearCrossEntropy(rows, head2.Weight.Reshape(Config.Levels, Config.SkipChannels), head2.Bias,
            targets);
    }

    Module IAudioCodeModel.Module => this;
    int IAudioCodeModel.Levels => Config.Levels;
    int IAudioCodeModel.GlobalConditions => Config.GlobalConditions;
    JsonObject IAudioCodeModel.ToJson() => Config.ToJson();
    Tensor IAudioCodeModel.Loss(IReadOnlyList<int[]> codes, int[]? conditions) => Loss(codes, conditions);

    internal Embedding Input => input;
    internal Conv1d[] Gates => gates;
    internal Conv1d[] Residuals => residuals;
    internal Conv1d[] Skips => skips;
    internal Embedding[]? Globals => globals;
    internal Conv1d[]? Locals => locals;
    internal (Conv1d First, Conv1d Second) Head => (head1, head2);
}

/// <summary>The settings records of <c>Recur.WaveNet</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(WaveNetConfig))]
[JsonSerializable(typeof(SampleLstmConfig))]
sealed partial class WaveNetJson : JsonSerializerContext;
