using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace Recur.Serialization;

/// <summary>
/// A model's settings as the <c>config.json</c> of its checkpoint: the settings record serialised by System.Text.Json
/// source generation (snake-case field names, enums by name), with an <c>architecture</c> field first that says which
/// model the file describes. Reading checks the architecture, and a missing field, a field of the wrong type or an
/// unknown name is an <see cref="InvalidDataException"/> that names the field. A field that is absent takes the
/// record's default (so files written before the field existed still load); fields the record does not know are
/// ignored.
/// </summary>
public static class ConfigJson
{
    /// <summary>The JSON object of <paramref name="config"/>, <c>architecture</c> first.</summary>
    public static JsonObject Write<T>(T config, JsonTypeInfo<T> info, string architecture)
    {
        var json = JsonSerializer.SerializeToNode(config, info)!.AsObject();
        json.Insert(0, "architecture", architecture);
        return json;
    }

    /// <summary>
    /// The settings in <paramref name="json"/>, which must say it describes <paramref name="architecture"/> (unless
    /// that is null: a part of a larger configuration, such as a task's settings beside the model's), checked by
    /// <paramref name="validate"/> when given (an <see cref="ArgumentException"/> it throws becomes the message).
    /// </summary>
    /// <exception cref="InvalidDataException">Another architecture, a field missing or invalid (named), or settings
    /// that <paramref name="validate"/> refuses.</exception>
    public static T Read<T>(JsonObject json, JsonTypeInfo<T> info, string? architecture, Action<T>? validate = null)
    {
        if (architecture != null)
        {
            string? found = json["architecture"] is JsonValue value && value.TryGetValue(out string? name) ? name
                : null;
            if (found != architecture)
                throw new InvalidDataException($"architecture is '{found}', not '{architecture}'.");
        }
        T settings;
        try
        {
            settings = json.Deserialize(info) ?? throw new InvalidDataException("the settings are null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(Describe(e, json, info), e);
        }
        try
        {
            validate?.Invoke(settings);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        return settings;
    }

    /// <summary>The JSON object in the file at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is missing, is not JSON or holds no object; the message names
    /// it.</exception>
    public static JsonObject ReadObject(string path)
    {
        try
        {
            // a key given twice is refused here, not left to throw later when the object is first read
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions
            {
                AllowDuplicateProperties = false,
            }) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed JSON ({e.Message}).", e);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"{path} is missing.", e);
        }
    }

    /// <summary>
    /// <see cref="Read{T}"/> of the file at <paramref name="path"/>; every error is an
    /// <see cref="InvalidDataException"/> whose message starts with the path.
    /// </summary>
    public static T ReadFile<T>(string path, JsonTypeInfo<T> info, string? architecture,
        Action<T>? validate = null)
    {
        var json = ReadObject(path);
        try
        {
            return Read(json, info, architecture, validate);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="value"/> to <paramref name="path"/> atomically, with the <c>architecture</c> field first
    /// (<see cref="Write{T}"/>) unless <paramref name="architecture"/> is null, laid out as the context's options say
    /// (indented or not).
    /// </summary>
    public static void WriteFile<T>(string path, T value, JsonTypeInfo<T> info, string? architecture) =>
        AtomicFile.WriteAllText(path, architecture is null ? JsonSerializer.Serialize(value, info)
            : Write(value, info, architecture).ToJsonString(info.Options));

    /// <summary>The field, the value found and what it should be — in the file's terms, not the serializer's.</summary>
    static string Describe(JsonException e, JsonObject json, JsonTypeInfo info)
    {
        var missing = Regex.Match(e.Message, "missing required properties including: (.+)\\.$");
        if (missing.Success)
            return missing.Groups[1].Value.Contains(',') ? $"fields {missing.Groups[1].Value} are missing."
                : $"field {missing.Groups[1].Value} is missing.";
        if (e.Path is not { Length: > 2 } path || !path.StartsWith("$.", StringComparison.Ordinal)) return e.Message;
        // follow the path through nested records ("$.features.normalize"); array indices end the walk
        var segments = path[2..].Split('[')[0].Split('.');
        JsonNode? node = json;
        JsonTypeInfo current = info;
        for (int i = 0; i < segments.Length; i++)
        {
            var property = current.Properties.FirstOrDefault(p => p.Name == segments[i]);
            if (property is null || node is not JsonObject parent) return e.Message;
            node = parent[segments[i]];
            var inner = current.Options.GetTypeInfo(property.PropertyType);
            if (i == segments.Length - 1 || inner.Kind != JsonTypeInfoKind.Object)
            {
                string field = string.Join('.', segments[..(i + 1)]);
                return $"field '{field}' is {node?.ToJsonString() ?? "null"}, not {Expected(property, info.Options)}.";
            }
            current = inner;
        }
        return e.Message;
    }

    /// <summary>What a field holds, in words: "an integer", "one of lstm, gru, …".</summary>
    static string Expected(JsonPropertyInfo property, JsonSerializerOptions options)
    {
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (property.CustomConverter is not null) return $"a valid {property.Name}";
        if (type.IsEnum)
            return "one of " + string.Join(", ", Enum.GetValues(type).Cast<object>()
                .Select(value => JsonSerializer.Serialize(value, type, options)));
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(string)) return "a string";
        if (type == typeof(float) || type == typeof(double)) return "a number";
        if (type.IsPrimitive) return "an integer";
        return $"a valid {property.Name}";
    }
}

/// <summary>An enum written and read as its member's name in lower case (<c>HeadAndTail</c> →
/// <c>headandtail</c>).</summary>
sealed class LowerCaseEnumConverter<T>() : JsonStringEnumConverter<T>(LowerCase.Instance, allowIntegerValues: false)
    where T : struct, Enum
{
    sealed class LowerCase : JsonNamingPolicy
    {
        public static readonly LowerCase Instance = new();

        public override string ConvertName(string name) => name.ToLowerInvariant();
    }
}

/// <summary>An enum written and read as its member's name in snake case (<c>BagOfWords</c> →
/// <c>bag_of_words</c>).</summary>
sealed class SnakeCaseEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.SnakeCaseLower,
    allowIntegerValues: false) where T : struct, Enum;

/// <summary>An enum written and read as its member's name in kebab case (<c>PeepholeLstm</c> →
/// <c>peephole-lstm</c>).</summary>
sealed class KebabCaseEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.KebabCaseLower,
    allowIntegerValues: false) where T : struct, Enum;
