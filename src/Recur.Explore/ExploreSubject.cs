using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;

namespace Recur.Explore;

/// <summary>
/// A trained model as the explorer serves it. Each kind of model Recur trains has its subject — a
/// <see cref="LanguageModelSubject"/>, <see cref="ClassifierSubject"/>, <see cref="TaggerSubject"/>,
/// <see cref="TranslatorSubject"/> or <see cref="ForecasterSubject"/> — which maps its own typed <c>/predict</c>
/// and <c>/explain</c> endpoints and tells the page which view to show; any other run is a
/// <see cref="TrainingRunSubject"/>, shown by its training curves.
/// </summary>
public abstract class ExploreSubject
{
    private protected ExploreSubject(string kind, string name)
    {
        Kind = kind;
        Name = string.IsNullOrWhiteSpace(name) ? kind : name;
    }

    /// <summary>The view the page shows: <c>language-model</c>, <c>classifier</c>, <c>tagger</c>,
    /// <c>translator</c>, <c>forecaster</c> or <c>run</c> (training curves only).</summary>
    public string Kind { get; }

    /// <summary>The name the page shows (usually the run folder's).</summary>
    public string Name { get; }

    /// <summary>The facts the page shows beside the name (labels, sizes, what an explanation is made of).</summary>
    public abstract JsonObject Describe();

    /// <summary>Maps this subject's endpoints.</summary>
    internal abstract void Map(IEndpointRouteBuilder endpoints, ExploreContext context);

    /// <summary>Refuses a text longer than <paramref name="limit"/> characters or empty, naming the field.</summary>
    internal static string Text(string? text, string field, int limit)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new RequestException($"'{field}' is empty.");
        if (text.Length > limit)
            throw new RequestException($"'{field}' has {text.Length:N0} characters; the limit is {limit:N0}.");
        return text;
    }

    /// <summary>Refuses a number outside [<paramref name="min"/>, <paramref name="max"/>], naming the field.</summary>
    internal static int Range(int value, string field, int min, int max) => value >= min && value <= max ? value
        : throw new RequestException($"'{field}' must be {min}–{max}, got {value}.");

    /// <summary>Refuses a missing, empty or too long list of texts, naming the field and the bad item.</summary>
    internal static IReadOnlyList<string> Texts(string[]? texts, string field, int count, int limit)
    {
        if (texts is null || texts.Length == 0) throw new RequestException($"'{field}' has no texts.");
        if (texts.Length > count)
            throw new RequestException($"'{field}' has {texts.Length} texts; at most {count} per request.");
        for (int i = 0; i < texts.Length; i++) Text(texts[i], $"{field}[{i}]", limit);
        return texts;
    }
}
