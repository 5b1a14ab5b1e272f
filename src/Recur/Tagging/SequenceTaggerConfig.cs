using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Serialization;
using Recur.Text;

namespace Recur.Tagging;

/// <summary>Settings of a <see cref="SequenceTagger"/>.</summary>
/// <param name="WordCount">Word ids (padding 0 and unknown 1 included).</param>
/// <param name="CharCount">Character ids (the <see cref="CharTokenizer"/>'s vocabulary size).</param>
/// <param name="Tags">Tag names, in the training scheme.</param>
/// <param name="Scheme">The tag scheme the model predicts in.</param>
/// <param name="Crf">A linear-chain CRF output layer (else a per-token softmax).</param>
/// <param name="CharFeatures">A character-level BiLSTM feature per word (Lample et al. 2016).</param>
/// <param name="WordEmbeddingSize">Word embedding width.</param>
/// <param name="CharEmbeddingSize">Character embedding width.</param>
/// <param name="CharHiddenSize">Character BiLSTM units per direction.</param>
/// <param name="HiddenSize">Word BiLSTM units per direction.</param>
/// <param name="Dropout">Dropout on the word representations and on the encoder outputs.</param>
/// <param name="CasingEmbeddingSize">Width of an embedding of each word's <see cref="Casing"/> class (0: none); the
/// word lookup is lower-cased, so this gives the encoder the capitalisation directly (Reimers &amp; Gurevych
/// 2017).</param>
/// <param name="NumLayers">Stacked word BiLSTM layers (dropout between them).</param>
/// <param name="VariationalDropout">Draw the dropout masks on the word representations and encoder outputs once per
/// sentence and share them over its words (<see cref="Functional.VariationalDropout"/>) instead of per word.</param>
public sealed record SequenceTaggerConfig(int WordCount, int CharCount, string[] Tags,
    TagScheme Scheme = TagScheme.Bioes, bool Crf = true, bool CharFeatures = true,
    [property: JsonPropertyName("word_embedding")] int WordEmbeddingSize = 100,
    [property: JsonPropertyName("char_embedding")] int CharEmbeddingSize = 25,
    [property: JsonPropertyName("char_hidden")] int CharHiddenSize = 25,
    [property: JsonPropertyName("hidden")] int HiddenSize = 100, float Dropout = 0.5f,
    [property: JsonPropertyName("casing_embedding")] int CasingEmbeddingSize = 0, int NumLayers = 1,
    bool VariationalDropout = false)
{
    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, TaggingJson.Default.SequenceTaggerConfig, "sequence_tagger");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static SequenceTaggerConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, TaggingJson.Default.SequenceTaggerConfig, "sequence_tagger");
}

/// <summary>The settings records of <c>Recur.Tagging</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(SequenceTaggerConfig))]
[JsonSerializable(typeof(HmmFile))]
sealed partial class TaggingJson : JsonSerializerContext;
