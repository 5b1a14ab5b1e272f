using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Recur.Explore;

/// <summary>
/// A text classifier in the explorer: <c>POST /predict</c> gives each text's class and probabilities (concurrent
/// requests share one batched model call), <c>POST /explain</c> what the classifier read closely in a text for a
/// class — attention-pooling weights per word (and per sentence for a hierarchical model), or a linear model's
/// per-word contributions. The classifier is given as functions, so a network, an ensemble or a linear baseline is
/// served alike.
/// </summary>
public sealed class ClassifierSubject : ExploreSubject
{
    /// <summary>The longest text accepted, in characters.</summary>
    public const int MaxTextCharacters = 20_000;

    /// <summary>The most texts one request may carry.</summary>
    public const int MaxTexts = 64;

    readonly string[] labels;
    readonly Func<IReadOnlyList<string>, double[][]> probabilities;
    readonly Func<string, int, IReadOnlyList<TextBlock>>? explain;
    readonly string explainsBy;

    /// <summary>
    /// Serves a classifier with classes <paramref name="labels"/>: <paramref name="probabilities"/> maps texts to one
    /// probability per class each; <paramref name="explain"/> (optional) maps a text and a class to the text's blocks
    /// with a weight per word, the weights being what <paramref name="explainsBy"/> says.
    /// </summary>
    public ClassifierSubject(IReadOnlyList<string> labels, Func<IReadOnlyList<string>, double[][]> probabilities,
        Func<string, int, IReadOnlyList<TextBlock>>? explain = null, string explainsBy = "attention",
        string name = "classifier") : base("classifier", name)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(probabilities);
        if (labels.Count < 2) throw new ArgumentException("explore: a classifier has at least two labels.");
        (this.labels, this.probabilities, this.explain, this.explainsBy) = ([.. labels], probabilities, explain,
            explainsBy);
    }

    /// <inheritdoc/>
    public override JsonObject Describe() => new()
    {
        ["labels"] = new JsonArray([.. labels.Select(l => JsonValue.Create(l))]),
        ["explainsBy"] = explain is null ? null : explainsBy, ["maxTexts"] = MaxTexts,
    };

    internal override void Map(IEndpointRouteBuilder endpoints, ExploreContext context)
    {
        var batcher = context.Batcher<string, ClassPrediction>("/predict", Predict);
        endpoints.MapPost("/predict", async (TextsRequest request, CancellationToken cancellation) =>
        {
            var texts = Texts(request.Texts, "texts", MaxTexts, MaxTextCharacters);
            var answers = await Task.WhenAll(texts.Select(t => batcher.SubmitAsync(t, cancellation)))
                .ConfigureAwait(false);
            return TypedResults.Ok(new ClassifyResponse(answers));
        }).WithSummary("Each text's class and the probability of every class.");
        endpoints.MapPost("/explain", async (ExplainClassRequest request, CancellationToken cancellation) =>
        {
            string text = Text(request.Text, "text", MaxTextCharacters);
            if (explain is null) throw new RequestException(
                "this classifier cannot say what it read closely (it pools without attention).");
            int? asked = request.Label is null ? null : Array.IndexOf(labels, request.Label) is int i and >= 0 ? i
                : throw new RequestException($"'label' {request.Label} is not one of {string.Join(", ", labels)}.");
            var (prediction, blocks, label) = await context.Gate.RunAsync(() =>
            {
                var p = Predict([text])[0];
                int c = asked ?? Array.IndexOf(labels, p.Label);
                return (p, explain(text, c), labels[c]);
            }, cancellation).ConfigureAwait(false);
            return TypedResults.Ok(new ClassExplanation(label, prediction, explainsBy, [.. blocks]));
        }).WithSummary("What the classifier read closely in a text for a class (default: the predicted one).");
    }

    IReadOnlyList<ClassPrediction> Predict(IReadOnlyList<string> texts)
    {
        var rows = probabilities(texts);
        if (rows.Length != texts.Count) throw new InvalidOperationException(
            $"explore: the classifier answered {rows.Length} texts of {texts.Count}.");
        return rows.Select(p =>
        {
            if (p.Length != labels.Length) throw new InvalidOperationException(
                $"explore: the classifier gave {p.Length} probabilities for {labels.Length} labels.");
            int best = 0;
            for (int c = 1; c < p.Length; c++) if (p[c] > p[best]) best = c;
            return new ClassPrediction(labels[best], p[best],
                labels.Select((l, c) => (l, c)).ToDictionary(x => x.l, x => p[x.c]));
        }).ToArray();
    }
}
