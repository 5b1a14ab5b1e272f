using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Recur.Diagnostics;
using Recur.Kernels;
using Recur.Language;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Text;

namespace Recur.Explore;

/// <summary>
/// A language model in the explorer: <c>POST /predict</c> gives the most likely next tokens after a prompt (batched
/// across concurrent requests of the same length), <c>POST /generate</c> streams a continuation as server-sent
/// events (sampling with temperature, top-k and top-p, or beam search), <c>POST /explain</c> returns the top layer's
/// hidden state and every layer's gates at each token, and <c>POST /units</c> finds the units that are on over a
/// span of the text and the other spans where they are on together (LSTMVis, Strobelt et al. 2017).
/// </summary>
public sealed class LanguageModelSubject : ExploreSubject
{
    /// <summary>The longest prompt or text accepted, in characters.</summary>
    public const int MaxTextCharacters = 4000;

    /// <summary>The most tokens <c>/explain</c> and <c>/units</c> read (their answer grows with tokens × units).
    /// </summary>
    public const int MaxExplainTokens = 600;

    /// <summary>The most tokens one <c>/generate</c> produces.</summary>
    public const int MaxGenerateTokens = 2000;

    readonly LanguageModel model;
    readonly ITokenizer tokenizer;

    /// <summary>Serves <paramref name="model"/>, which reads and writes through <paramref name="tokenizer"/>.</summary>
    public LanguageModelSubject(LanguageModel model, ITokenizer tokenizer, string name = "language model")
        : base("language-model", name)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (model.Config.VocabularySize != tokenizer.VocabularySize)
            throw new ArgumentException($"explore: the tokenizer has {tokenizer.VocabularySize} ids, the model "
                + $"{model.Config.VocabularySize}.");
        (this.model, this.tokenizer) = (model, tokenizer);
    }

    /// <inheritdoc/>
    public override JsonObject Describe() => new()
    {
        ["tokenizer"] = tokenizer.Kind, ["vocabulary"] = model.Config.VocabularySize,
        ["cell"] = model.Config.Cell.Name(), ["layers"] = model.Config.NumLayers,
        ["hidden"] = model.Config.HiddenSize,
        ["maxExplainTokens"] = MaxExplainTokens, ["maxGenerateTokens"] = MaxGenerateTokens,
    };

    internal override void Map(IEndpointRouteBuilder endpoints, ExploreContext context)
    {
        var next = context.Batcher<(int[] Ids, int Top), NextTokenResponse>("/predict", NextTokens);
        endpoints.MapPost("/predict", async (NextTokenRequest request, CancellationToken cancellation) =>
        {
            int top = Range(request.Top, "top", 1, Math.Min(100, model.Config.VocabularySize));
            var ids = Encode(request.Prompt, "prompt", int.MaxValue);
            return TypedResults.Ok(await next.SubmitAsync((ids, top), cancellation).ConfigureAwait(false));
        }).WithSummary("The most likely next tokens after a prompt.");
        endpoints.MapPost("/generate", (GenerateRequest request, HttpContext http, CancellationToken cancellation)
                => Generate(request, http, context, cancellation))
            .WithSummary("A continuation of the prompt as server-sent events: `data: {\"text\": …}` per token, then "
                + "`event: done` with the whole text (`event: error` if it stops early).")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        endpoints.MapPost("/explain", async (ExplainTextRequest request, CancellationToken cancellation) =>
        {
            var ids = Encode(request.Text, "text", MaxExplainTokens);
            return TypedResults.Ok(await context.Gate.RunAsync(() => Activations(ids), cancellation)
                .ConfigureAwait(false));
        }).WithSummary("The top layer's hidden state and every layer's gates at each token of a text.");
        endpoints.MapPost("/units", async (UnitSearchRequest request, CancellationToken cancellation) =>
        {
            var ids = Encode(request.Text, "text", MaxExplainTokens);
            Range(request.Start, "start", 0, ids.Length - 1);
            Range(request.End, "end", request.Start + 1, ids.Length);
            if (!float.IsFinite(request.Threshold)) throw new RequestException("'threshold' must be finite.");
            var hidden = await context.Gate.RunAsync(() => Hidden(ids), cancellation)
                .ConfigureAwait(false);
            return TypedResults.Ok(UnitSearch.Find(hidden, request.Start, request.End, request.Threshold));
        }).WithSummary("The units on over a span of tokens, and the other spans where they are on together.");
    }

    int[] Encode(string? text, string field, int maxTokens)
    {
        var ids = tokenizer.Encode(Text(text, field, MaxTextCharacters));
        if (ids.Length == 0) throw new RequestException($"'{field}' has no tokens the model knows.");
        if (ids.Length > maxTokens)
            throw new RequestException($"'{field}' has {ids.Length} tokens; the limit here is {maxTokens}.");
        return ids;
    }

    /// <summary>Next-token distributions of prompts: those of one length run as one batch.</summary>
    IReadOnlyList<NextTokenResponse> NextTokens(IReadOnlyList<(int[] Ids, int Top)> prompts)
    {
        var answers = new NextTokenResponse[prompts.Count];
        using var _ = model.Evaluating();
        int vocabulary = model.Config.VocabularySize;
        foreach (var group in Enumerable.Range(0, prompts.Count).GroupBy(i => prompts[i].Ids.Length))
        {
            int[] rows = [.. group];
            int steps = group.Key, batch = rows.Length;
            var ids = new int[steps * batch];
            for (int t = 0; t < steps; t++)
                for (int b = 0; b < batch; b++) ids[t * batch + b] = prompts[rows[b]].Ids[t];
            var logits = model.Forward(ids, steps, batch).Logits.ToArray();
            for (int b = 0; b < batch; b++)
            {
                var row = logits.AsSpan(((steps - 1) * batch + b) * vocabulary, vocabulary);
                answers[rows[b]] = new NextTokenResponse(Top(row, prompts[rows[b]].Top));
            }
        }
        return answers;
    }

    TokenProbability[] Top(ReadOnlySpan<float> logits, int count)
    {
        double normaliser = LogSumExp(logits);
        var top = Scores.Top(logits, count);
        var answer = new TokenProbability[top.Length];
        for (int k = 0; k < top.Length; k++)
        {
            int id = top[k];
            answer[k] = new TokenProbability(tokenizer.TokenText(id), id, Math.Exp(logits[id] - normaliser));
        }
        return answer;
    }

    static double LogSumExp(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity, sum = 0;
        foreach (float v in logits) max = Math.Max(max, v);
        foreach (float v in logits) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    /// <summary>The top layer's hidden state at each token: [token][unit].</summary>
    static float[][] Rows(Tensor output)
    {
        int steps = output.Size(0), width = output.Size(2);
        var values = output.ToArray();
        return Enumerable.Range(0, steps).Select(t => values.AsSpan(t * width, width).ToArray()).ToArray();
    }

    /// <summary>The top layer's hidden state over a text (all <c>/units</c> needs).</summary>
    float[][] Hidden(int[] ids)
    {
        using var _ = model.Evaluating();
        return Rows(model.Encode(ids, ids.Length, 1).Output);
    }

    TextActivations Activations(int[] ids)
    {
        using var _ = model.Evaluating();
        int steps = ids.Length, vocabulary = model.Config.VocabularySize;
        // one pass through the recurrent stack: its gates recorded, its outputs both shown and decoded
        using var probe = RecurrentProbe.Start(recordGates: true);
        var encoded = model.Encode(ids, steps, 1);
        var logits = model.Decode(encoded).Logits.ToArray();
        var next = new double[steps];
        for (int t = 1; t < steps; t++)
        {
            var row = logits.AsSpan((t - 1) * vocabulary, vocabulary);
            next[t] = Math.Exp(row[ids[t]] - LogSumExp(row));
        }
        var hidden = Rows(encoded.Output);
        int width = encoded.Output.Size(2);
        var layers = probe.Records.Where(r => r.GateValues is not null).Select(r =>
        {
            int g = r.GateNames.Count, h = r.HiddenSize;
            var gates = Enumerable.Range(0, g).Select(k => Enumerable.Range(0, steps)
                .Select(t => r.GateValues!.AsSpan((t * r.Batch) * g * h + k * h, h).ToArray()).ToArray()).ToArray();
            return new LayerGates(r.Label, [.. r.GateNames], gates);
        }).ToArray();
        return new TextActivations(ids.Select(tokenizer.TokenText).ToArray(), width, hidden, layers, next);
    }

    async Task Generate(GenerateRequest request, HttpContext http, ExploreContext context,
        CancellationToken cancellation)
    {
        var prompt = Encode(request.Prompt, "prompt", int.MaxValue);
        int length = Range(request.Length, "length", 1, MaxGenerateTokens);
        int beam = Range(request.Beam, "beam", 0, 16);
        var options = new SamplingOptions(request.Temperature, request.TopK, request.TopP, request.Seed);
        options.Validate();
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        var generated = new List<int>();
        // the tokens are chosen on the model's thread and sent from here as they come
        var producer = context.Gate.RunAsync(() =>
        {
            try
            {
                string shown = "";
                void Emit(int token)
                {
                    cancellation.ThrowIfCancellationRequested();
                    lock (generated) generated.Add(token);
                    // decoded as a whole, so that a token that completes a multi-byte character shows it whole
                    string text = tokenizer.Decode([.. generated]);
                    if (text.Length >= shown.Length && text.StartsWith(shown, StringComparison.Ordinal))
                    {
                        if (text.Length > shown.Length) pieces.Writer.TryWrite(text[shown.Length..]);
                        shown = text;
                    }
                }
                if (beam == 0) model.Generate(prompt, length, options, Emit);
                else foreach (int token in model.BeamSearch(prompt, length, beam)[0].Tokens) Emit(token);
                pieces.Writer.Complete();
            }
            catch (Exception e) { pieces.Writer.Complete(e); }
            return 0;
        }, cancellation);
        string ending = "done", detail;
        int count = 0;
        try
        {
            await foreach (string piece in pieces.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                await Send(http, null, new { text = piece }).ConfigureAwait(false);
            lock (generated) (detail, count) = (tokenizer.Decode([.. generated]), generated.Count);
        }
        catch (Exception e)
        {
            ending = "error";
            detail = e is OperationCanceledException ? "generation stopped: the request ran out of time."
                : $"generation failed: {e.Message}";
        }
        try { await producer.ConfigureAwait(false); }
        catch (OperationCanceledException) { } // reported above; the model's thread finishes the token it was on
        if (!http.RequestAborted.IsCancellationRequested)
            await Send(http, ending, ending == "done" ? new { text = detail, tokens = count }
                : new { message = detail }).ConfigureAwait(false);
    }

    static async Task Send(HttpContext http, string? name, object data)
    {
        string head = name is null ? "" : $"event: {name}\n";
        await http.Response.WriteAsync($"{head}data: {JsonSerializer.Serialize(data, JsonSerializerOptions.Web)}\n\n",
            CancellationToken.None).ConfigureAwait(false);
        await http.Response.Body.FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }
}

/// <summary>
/// LSTMVis's selection (Strobelt et al. 2017): the units whose activation is at least a threshold at every token of a
/// span, and the maximal runs of tokens elsewhere where all those units are on together.
/// </summary>
static class UnitSearch
{
    /// <summary>The most units a search keeps (the most active over the span): more rarely fire together.</summary>
    public const int MaxUnits = 8;

    public static UnitSearchResponse Find(float[][] hidden, int start, int end, float threshold)
    {
        int width = hidden[0].Length;
        var units = Enumerable.Range(0, width)
            .Where(u => Enumerable.Range(start, end - start).All(t => hidden[t][u] >= threshold))
            .OrderByDescending(u => Enumerable.Range(start, end - start).Average(t => hidden[t][u])).ThenBy(u => u)
            .Take(MaxUnits).ToArray();
        var matches = new List<TokenSpan>();
        if (units.Length == 0) return new UnitSearchResponse(units, []);
        for (int t = 0; t < hidden.Length;)
        {
            if (!units.All(u => hidden[t][u] >= threshold)) { t++; continue; }
            int from = t;
            while (t < hidden.Length && units.All(u => hidden[t][u] >= threshold)) t++;
            matches.Add(new TokenSpan(from, t));
        }
        return new UnitSearchResponse(units, [.. matches]);
    }
}
