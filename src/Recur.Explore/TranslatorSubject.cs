using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Recur.Nn.Recurrent;
using Recur.Translation;

namespace Recur.Explore;

/// <summary>
/// A sequence-to-sequence translator in the explorer: <c>POST /predict</c> translates sentences (greedy or beam
/// search; concurrent requests with the same beam share one batched search) and returns, with each translation, the
/// attention matrix the page draws as an interactive heatmap.
/// </summary>
public sealed class TranslatorSubject : ExploreSubject
{
    /// <summary>The longest sentence accepted, in characters.</summary>
    public const int MaxTextCharacters = 2000;

    /// <summary>The most sentences one request may carry.</summary>
    public const int MaxTexts = 64;

    readonly Seq2Seq model;
    readonly TranslationVocabulary vocabulary;
    readonly PairOptions options;

    /// <summary>Serves <paramref name="model"/> with its <paramref name="vocabulary"/>; sentences are normalised as
    /// the training pairs were (<paramref name="options"/>).</summary>
    public TranslatorSubject(Seq2Seq model, TranslationVocabulary vocabulary, PairOptions? options = null,
        string name = "translator") : base("translator", name)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocabulary);
        (this.model, this.vocabulary, this.options) = (model, vocabulary, options ?? new PairOptions());
    }

    /// <inheritdoc/>
    public override JsonObject Describe() => new()
    {
        ["cell"] = model.Config.Cell.Name(), ["hidden"] = model.Config.HiddenSize,
        ["attention"] = model.Config.Attention.ToString().ToLowerInvariant(), ["maxTexts"] = MaxTexts,
    };

    internal override void Map(IEndpointRouteBuilder endpoints, ExploreContext context)
    {
        var batcher = context.Batcher<(string Text, int Beam), Translation>("/predict", Translate);
        endpoints.MapPost("/predict", async (TranslateRequest request, CancellationToken cancellation) =>
        {
            var texts = Texts(request.Texts, "texts", MaxTexts, MaxTextCharacters);
            int beam = Range(request.Beam, "beam", 1, 16);
            var answers = await Task.WhenAll(texts.Select(t => batcher.SubmitAsync((t, beam), cancellation)))
                .ConfigureAwait(false);
            return TypedResults.Ok(new TranslateResponse(answers));
        }).WithSummary("Translations with their attention matrices ([target token][source token]).");
        endpoints.MapPost("/explain", async (ExplainRequest request, CancellationToken cancellation) =>
        {
            string text = Text(request.Text, "text", MaxTextCharacters);
            return TypedResults.Ok(await batcher.SubmitAsync((text, 5), cancellation).ConfigureAwait(false));
        }).WithSummary("One sentence's translation by a beam of 5 with its attention matrix.");
    }

    IReadOnlyList<Translation> Translate(IReadOnlyList<(string Text, int Beam)> requests)
    {
        var answers = new Translation[requests.Count];
        foreach (var group in Enumerable.Range(0, requests.Count).GroupBy(i => requests[i].Beam))
        {
            int[] rows = [.. group];
            var inputs = rows.Select(i => SentencePairs.Normalise(requests[i].Text, options)).ToList();
            var translated = TranslationTask.Translate(model, vocabulary, inputs, group.Key);
            for (int k = 0; k < rows.Length; k++)
            {
                var t = translated[k];
                var source = vocabulary.EncodeSource(inputs[k]).Select(vocabulary.Source.TokenText).ToArray();
                // one row of attention per target token, and a last one for the end token when the translation
                // ended itself (a model without attention: the tokens alone)
                var tokens = t.Tokens.Select(vocabulary.Target.TokenText);
                var target = (t.Attention.Length == 0 ? tokens : tokens.Append("<eos>").Take(t.Attention.Length))
                    .ToArray();
                answers[rows[k]] = new Translation(source, target,
                    TranslationTask.Detokenize(vocabulary.Target.Decode(t.Tokens)), t.LogProbability, t.Attention);
            }
        }
        return answers;
    }
}
