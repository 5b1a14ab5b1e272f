using System.Text.Json.Serialization;
using Recur.Serialization;
using Recur.Translation;

namespace Recur.Cli.Training;

/// <summary>
/// <c>translation.json</c> of a <c>translate train</c> run: how the pairs were read and split, so that
/// <c>translate eval</c> and <c>run</c> read sentences the same way and find the same held-out pairs.
/// </summary>
sealed record TranslationSettings(bool Reverse, int MaxWords, bool StripAccents, bool LowerCase, double HeldOut,
    ulong SplitSeed, string? Pairs = null)
{
    /// <summary>How sentences are normalised and filtered.</summary>
    public PairOptions PairOptions => new(LowerCase, StripAccents, MaxWords, Reverse);
}

/// <summary>
/// <c>tagging.json</c> of a <c>tag train</c> run: <c>hmm</c> or <c>neural</c>, the scheme the model tags in and the
/// scheme of the training data, which predictions are converted back to.
/// </summary>
sealed record TaggingSettings(string Kind, string Scheme, string DataScheme = "bio")
{
    /// <summary>Whether the run holds an HMM (hmm.json) rather than a neural tagger.</summary>
    public bool IsHmm => Kind == "hmm";
}

/// <summary>The settings files of run folders, as JSON generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(TranslationSettings))]
[JsonSerializable(typeof(TaggingSettings))]
sealed partial class RunSettingsJson : JsonSerializerContext
{
    /// <summary>Writes <paramref name="settings"/> to <paramref name="path"/> atomically.</summary>
    public static void Save<T>(string path, T settings, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
        => ConfigJson.WriteFile(path, settings, info, architecture: null);

    /// <summary>The settings in <paramref name="path"/>; a missing file is a usage error that says which verb writes
    /// it, a malformed one an error naming the file and field.</summary>
    public static T Load<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info, string verb)
    {
        if (!File.Exists(path))
            throw new UsageException($"{Path.GetDirectoryName(path)}: no {Path.GetFileName(path)}; is it a run "
                + $"folder of `recur {verb}`?");
        return ConfigJson.ReadFile(path, info, architecture: null);
    }
}
