using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Recur.Tagging;

namespace Recur.Explore;

/// <summary>
/// A sequence tagger (named entities) in the explorer: <c>POST /predict</c> tags texts (split into words and
/// punctuation, as CoNLL tokens are) and returns the entities the tags make; <c>POST /explain</c> adds each token's
/// marginal probability of every tag, which shows where the tagger hesitated.
/// </summary>
public sealed partial class TaggerSubject : ExploreSubject
{
    /// <summary>The longest text accepted, in characters.</summary>
    public const int MaxTextCharacters = 5000;

    /// <summary>The most texts one request may carry.</summary>
    public const int MaxTexts = 64;

    readonly Func<IReadOnlyList<IReadOnlyList<string>>, IReadOnlyList<string[]>> tag;
    readonly string[] tagNames;
    readonly Func<IReadOnlyList<string>, double[][]>? marginals;

    /// <summary>
    /// Serves a tagger: <paramref name="tag"/> maps tokenised sentences to one tag per token (BIO, BIOES or IO);
    /// <paramref name="marginals"/> (optional) maps one sentence to [token][tag] probabilities over
    /// <paramref name="tagNames"/>.
    /// </summary>
    public TaggerSubject(Func<IReadOnlyList<IReadOnlyList<string>>, IReadOnlyList<string[]>> tag,
        IReadOnlyList<string> tagNames, Func<IReadOnlyList<string>, double[][]>? marginals = null,
        string name = "tagger") : base("tagger", name)
    {
        ArgumentNullException.ThrowIfNull(tag);
        ArgumentNullException.ThrowIfNull(tagNames);
        (this.tag, this.tagNames, this.marginals) = (tag, [.. tagNames], marginals);
    }

    /// <summary>
    /// Serves a trained <see cref="SequenceTagger"/>: tags in the model's own scheme unless <paramref name="output"/>
    /// names another, marginals from its CRF (or softmax).
    /// </summary>
    public static TaggerSubject FromModel(SequenceTagger model, TaggingVocabulary vocabulary, TagScheme? output = null,
        string name = "tagger")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocabulary);
        return new TaggerSubject(sentences => model.Tag(vocabulary, sentences)
                .Select(t => output is { } scheme ? TagSchemes.Convert(t, scheme) : t).ToList(),
            model.Config.Tags, tokens => model.Marginals([vocabulary.Encode(tokens)])[0], name);
    }

    /// <inheritdoc/>
    public override JsonObject Describe() => new()
    {
        ["tags"] = new JsonArray([.. tagNames.Select(t => JsonValue.Create(t))]),
        ["marginals"] = marginals is not null, ["maxTexts"] = MaxTexts,
    };

    [GeneratedRegex(@"\w+(?:[-'’.]\w+)*|[^\w\s]")]
    private static partial Regex TokenPattern();

    /// <summary>A text's tokens: words (with inner hyphens, apostrophes and dots) and single punctuation marks.
    /// </summary>
    public static string[] Tokenize(string text) =>
        TokenPattern().Matches(text).Select(m => m.Value).ToArray();

    internal override void Map(IEndpointRouteBuilder endpoints, ExploreContext context)
    {
        var batcher = context.Batcher<string[], TaggedText>("/predict", sentences =>
            tag(sentences).Select((tags, i) => Tagged(sentences[i], tags)).ToList());
        endpoints.MapPost("/predict", async (TextsRequest request, CancellationToken cancellation) =>
        {
            var texts = Texts(request.Texts, "texts", MaxTexts, MaxTextCharacters);
            var answers = await Task.WhenAll(texts.Select((t, i) => batcher.SubmitAsync(Tokens(t, $"texts[{i}]"),
                cancellation))).ConfigureAwait(false);
            return TypedResults.Ok(new TagResponse(answers));
        }).WithSummary("Each text's tokens, tags and entities.");
        endpoints.MapPost("/explain", async (ExplainRequest request, CancellationToken cancellation) =>
        {
            var tokens = Tokens(Text(request.Text, "text", MaxTextCharacters), "text");
            if (marginals is null) throw new RequestException("this tagger gives no per-token probabilities.");
            return TypedResults.Ok(await context.Gate.RunAsync(() => new TagExplanation(
                Tagged(tokens, tag([tokens])[0]), tagNames, marginals(tokens)), cancellation).ConfigureAwait(false));
        }).WithSummary("A text's tags with each token's marginal probability of every tag.");
    }

    static string[] Tokens(string text, string field) => Tokenize(text) is { Length: > 0 } tokens ? tokens
        : throw new RequestException($"'{field}' has no words.");

    static TaggedText Tagged(string[] tokens, string[] tags)
    {
        if (tags.Length != tokens.Length) throw new InvalidOperationException(
            $"explore: the tagger gave {tags.Length} tags for {tokens.Length} tokens.");
        var entities = TagSchemes.Chunks(tags).Select(c => new TaggedEntity(c.Type, c.Start, c.End,
            string.Join(' ', tokens[c.Start..c.End]))).ToArray();
        return new TaggedText(tokens, tags, entities);
    }
}
