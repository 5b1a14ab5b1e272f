using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Translation;

/// <summary>How the decoder looks at the encoder's outputs.</summary>
[JsonConverter(typeof(LowerCaseEnumConverter<AttentionKind>))]
public enum AttentionKind
{
    /// <summary>No attention: the encoder's final state (through the bridge) is the only context (Sutskever et al.
    /// 2014; Cho et al. 2014).</summary>
    None,
    /// <summary>score = ⟨s_t, h_s⟩ (Luong et al. 2015, "dot").</summary>
    Dot,
    /// <summary>score = s_tᵀ W h_s (Luong et al. 2015, "general").</summary>
    General,
    /// <summary>score = vᵀ tanh(W₁ h_s + W₂ s_t) (Bahdanau et al. 2015, additive).</summary>
    Additive,
}

/// <summary>Settings of a <see cref="Seq2Seq"/> model.</summary>
/// <param name="SourceVocabulary">Source token ids (the special tokens included).</param>
/// <param name="TargetVocabulary">Target token ids.</param>
/// <param name="EmbeddingSize">Embedding width on both sides.</param>
/// <param name="HiddenSize">Encoder units per direction; the decoder has as many units as the encoder's output is
/// wide.</param>
/// <param name="NumLayers">Layers of the encoder and of the decoder.</param>
/// <param name="Cell"><c>lstm</c> or <c>gru</c>.</param>
/// <param name="Bidirectional">A bidirectional encoder.</param>
/// <param name="Attention">The attention score.</param>
/// <param name="Dropout">Dropout on embeddings, between layers and before the output layer.</param>
public sealed record Seq2SeqConfig(int SourceVocabulary, int TargetVocabulary,
    [property: JsonPropertyName("embedding")] int EmbeddingSize = 256,
    [property: JsonPropertyName("hidden")] int HiddenSize = 256, int NumLayers = 1, CellKind Cell = CellKind.Lstm,
    bool Bidirectional = true, AttentionKind Attention = AttentionKind.General, float Dropout = 0.2f)
{
    /// <summary>Width of the encoder outputs and of the decoder state.</summary>
    [JsonIgnore]
    public int Width => HiddenSize * (Bidirectional ? 2 : 1);

    /// <summary>The recurrent mode of both sides.</summary>
    [JsonIgnore]
    public RecurrentMode Mode => Cell switch
    {
        CellKind.Lstm => RecurrentMode.Lstm,
        CellKind.Gru => RecurrentMode.Gru,
        _ => throw new ArgumentException($"Seq2Seq: cell '{Cell.Name()}' is not lstm or gru."),
    };

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, TranslationJson.Default.Seq2SeqConfig, "seq2seq");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static Seq2SeqConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, TranslationJson.Default.Seq2SeqConfig, "seq2seq");
}

/// <summary>A decoded translation.</summary>
/// <param name="Tokens">Target token ids, without <c>&lt;bos&gt;</c> and <c>&lt;eos&gt;</c>.</param>
/// <param name="LogProbability">Sum of the chosen tokens' log-probabilities (the end token included when
/// produced).</param>
/// <param name="Attention">Attention weights [target step][source token] (empty without attention).</param>
public sealed record Translated(int[] Tokens, double LogProbability, double[][] Attention);

/// <summary>The settings records of <c>Recur.Translation</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(Seq2SeqConfig))]
sealed partial class TranslationJson : JsonSerializerContext;
