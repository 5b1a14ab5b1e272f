using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Recur.Explore;
using Recur.Language;
using Recur.Tagging;
using Recur.Text;
using Recur.Translation;

namespace Recur.Tests.Explore;

/// <summary>A started explorer on a free loopback port and a client for it.</summary>
sealed class ExploreHost : IAsyncDisposable
{
    readonly WebApplication app;

    ExploreHost(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public static async Task<ExploreHost> Start(ExploreSubject subject, ExploreOptions? options = null)
    {
        var app = ExploreServer.Build(subject, (options ?? new ExploreOptions()) with { Port = 0 });
        await app.StartAsync();
        return new ExploreHost(app, ExploreServer.Address(app));
    }

    public async Task<JsonObject> Post(string path, object body, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await Client.PostAsJsonAsync(path, body, JsonSerializerOptions.Web);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<(HttpStatusCode Status, JsonObject Body)> PostRaw(string path, string json)
    {
        using var response = await Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject());
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>Small untrained models the endpoints are checked against: what a served model answers must be what the
/// library computes for the same input.</summary>
static class ExploreModels
{
    public const string Text = "to be or not to be, that is the question: whether 'tis nobler in the mind to suffer";

    public static (LanguageModel Model, CharTokenizer Tokenizer) Language()
    {
        var tokenizer = CharTokenizer.Build(Text);
        var model = new LanguageModel(new LanguageModelConfig(tokenizer.VocabularySize, 8, 12, 2),
            new RandomGenerator(5));
        return (model, tokenizer);
    }

    public static (SequenceTagger Model, TaggingVocabulary Vocabulary) Tagger(bool crf)
    {
        var sentences = new[]
        {
            new TaggedSentence(["John", "lives", "in", "New", "York", "."], ["S-PER", "O", "O", "B-LOC", "E-LOC", "O"]),
            new TaggedSentence(["Mary", "met", "John", "Smith"], ["S-PER", "O", "B-PER", "E-PER"]),
        };
        var vocabulary = TaggingVocabulary.Build(sentences);
        string[] tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"];
        var model = new SequenceTagger(new SequenceTaggerConfig(vocabulary.Words.Count, vocabulary.Chars.VocabularySize,
            tags, TagScheme.Bioes, crf, true, WordEmbeddingSize: 6, CharEmbeddingSize: 4, CharHiddenSize: 3,
                HiddenSize: 5,
            Dropout: 0f), new RandomGenerator(8));
        return (model, vocabulary);
    }
}

public sealed class ExploreServerTests
{
    [Fact]
    public async Task LanguageModelEndpointsAnswerWhatTheLibraryComputes()
    {
        var (model, tokenizer) = ExploreModels.Language();
        await using var host = await ExploreHost.Start(new LanguageModelSubject(model, tokenizer, "tiny"));

        var info = await host.Client.GetFromJsonAsync<JsonObject>("/info");
        Assert.Equal("language-model", (string?)info!["kind"]);
        Assert.Equal("tiny", (string?)info["name"]);
        Assert.False((bool)info["hasMetrics"]!);

        // next-token probabilities: the softmax of the model's last logits, most likely first
        var next = (await host.Post("/predict", new { prompt = "to be", top = 5 }))["next"]!.AsArray();
        Assert.Equal(5, next.Count);
        var ids = tokenizer.Encode("to be");
        float[] logits;
        using (model.Evaluating())
            logits = model.Forward(ids, ids.Length, 1).Logits.ToArray()[^tokenizer.VocabularySize..];
        double max = logits.Max(), z = logits.Sum(v => Math.Exp(v - max));
        int best = Array.IndexOf(logits, logits.Max());
        Assert.Equal(best, (int)next[0]!["id"]!);
        Assert.Equal(Math.Exp(logits[best] - max) / z, (double)next[0]!["probability"]!, 6);
        Assert.True((double)next[0]!["probability"]! >= (double)next[4]!["probability"]!);

        // generation streams the same tokens the library generates for the seed
        using var request = new HttpRequestMessage(HttpMethod.Post, "/generate")
        {
            Content = JsonContent.Create(new { prompt = "to be", length = 30, temperature = 1.0, seed = 7 }),
        };
        using var response = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        string stream = await response.Content.ReadAsStringAsync();
        var events = stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        var pieces = events.Where(e => e.StartsWith("data: ", StringComparison.Ordinal))
            .Select(e => (string)JsonNode.Parse(e[6..])!["text"]!).ToArray();
        var done = events.Single(e => e.StartsWith("event: done", StringComparison.Ordinal));
        string expected = tokenizer.Decode(model.Generate(ids, 30, new SamplingOptions(1f, Seed: 7)));
        Assert.Equal(expected, string.Concat(pieces));
        Assert.Equal(expected, (string)JsonNode.Parse(done.Split("data: ")[1])!["text"]!);
        Assert.True(pieces.Length > 1, "the text arrives token by token");

        // hidden states and gates at every token
        var explained = await host.Post("/explain", new { text = "to be or not" });
        var hidden = explained["hidden"]!.AsArray();
        Assert.Equal(12, hidden.Count);
        Assert.Equal(12, (int)explained["hiddenSize"]!);
        var encodeIds = tokenizer.Encode("to be or not");
        float[] direct;
        using (model.Evaluating()) direct = model.Encode(encodeIds, encodeIds.Length, 1).Output.ToArray();
        for (int t = 0; t < 12; t++)
            for (int u = 0; u < 12; u++) // the probing pass runs another kernel: equal to rounding, not bit for bit
                Assert.Equal(direct[t * 12 + u], (double)hidden[t]![u]!, 5e-7);
        var layers = explained["layers"]!.AsArray();
        Assert.Equal(2, layers.Count);
        Assert.Equal(["input", "forget", "cell", "output"], layers[0]!["gates"]!.AsArray().Select(g => (string)g!));
        Assert.All(layers[0]!["values"]![1]!.AsArray().SelectMany(row => row!.AsArray()),
            v => Assert.InRange((double)v!, 0, 1)); // the forget gate is a sigmoid
        Assert.Equal(0.0, (double)explained["next"]![0]!);
        // P(token t | before it), from the same pass that gave the hidden states, is Forward's softmax
        float[] full;
        using (model.Evaluating()) full = model.Forward(encodeIds, encodeIds.Length, 1).Logits.ToArray();
        int v = tokenizer.VocabularySize;
        for (int t = 1; t < encodeIds.Length; t++)
        {
            var row = full.AsSpan((t - 1) * v, v).ToArray();
            double top = row.Max(), sum = row.Sum(x => Math.Exp(x - top));
            Assert.Equal(Math.Exp(row[encodeIds[t]] - top) / sum, (double)explained["next"]![t]!, 6);
        }

        // units on over a span, and the spans where they are on together include that span
        var search = await host.Post("/units", new { text = "to be or not", start = 3, end = 5, threshold = 0.0 });
        var units = search["units"]!.AsArray().Select(u => (int)u!).ToArray();
        Assert.All(units, u => Assert.True(Enumerable.Range(3, 2).All(t => direct[t * 12 + u] >= 0)));
        if (units.Length > 0)
            Assert.Contains(search["matches"]!.AsArray(), m => (int)m!["start"]! <= 3 && (int)m["end"]! >= 5);
    }

    [Fact]
    public async Task BadRequestsAreAnsweredWithAProblemThatSaysWhatIsWrong()
    {
        var (model, tokenizer) = ExploreModels.Language();
        await using var host = await ExploreHost.Start(new LanguageModelSubject(model, tokenizer),
            new ExploreOptions { MaxRequestBytes = 4096 });
        async Task Refused(string path, string json, HttpStatusCode status, string words)
        {
            var (code, body) = await host.PostRaw(path, json);
            Assert.True(status == code, $"{path} {json}: {code} {body}");
            Assert.True(((string?)body["detail"] ?? "").Contains(words, StringComparison.Ordinal),
                $"{path} {json}: {body}");
        }
        await Refused("/predict", "{\"prompt\": \"\"}", HttpStatusCode.BadRequest, "'prompt' is empty");
        await Refused("/predict", "{\"prompt\": \"to\", \"top\": 0}", HttpStatusCode.BadRequest, "'top' must be");
        await Refused("/predict", "{\"prompt\": ", HttpStatusCode.BadRequest, "not the JSON this endpoint reads");
        await Refused("/predict", "{\"prompt\": 5}", HttpStatusCode.BadRequest, "not the JSON");
        await Refused("/generate", "{\"prompt\": \"to\", \"temperature\": -1}", HttpStatusCode.BadRequest,
            "temperature must be ≥ 0");
        await Refused("/generate", "{\"prompt\": \"to\", \"length\": 100000}", HttpStatusCode.BadRequest,
            "'length' must be 1–2000");
        await Refused("/units", "{\"text\": \"to be\", \"start\": 4, \"end\": 2}", HttpStatusCode.BadRequest,
            "'end' must be 5–5");
        await Refused("/explain", "{\"text\": \"" + new string('t', 700) + "\"}", HttpStatusCode.BadRequest,
            "has 700 tokens; the limit here is 600");
        await Refused("/predict", "{\"prompt\": \"" + new string('t', 5000) + "\"}",
            HttpStatusCode.RequestEntityTooLarge, "larger than the server accepts");
        await Refused("/metrics", "{}", HttpStatusCode.MethodNotAllowed, "");
        using var metrics = await host.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
        Assert.Contains("no run folder", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrentPredictionsShareBatchesAndEachGetsItsOwnAnswer()
    {
        string[] labels = ["short", "long"];
        int calls = 0;
        double[][] Probabilities(IReadOnlyList<string> texts)
        {
            Interlocked.Increment(ref calls);
            Thread.Sleep(30); // a model call long enough for requests to queue behind it
            return texts.Select(t => t.Length > 10 ? new[] { 0.2, 0.8 } : [0.9, 0.1]).ToArray();
        }
        IReadOnlyList<TextBlock> Explain(string text, int c) =>
            [new TextBlock(null, text.Split(' ').Select((w, i) => new WordWeight(w, c + i)).ToArray())];
        await using var host = await ExploreHost.Start(new ClassifierSubject(labels, Probabilities, Explain));
        var texts = Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? "tiny" : "a much longer text " + i).ToArray();
        var answers = await Task.WhenAll(texts.Select(t => host.Post("/predict", new { texts = new[] { t } })));
        for (int i = 0; i < texts.Length; i++)
        {
            var p = answers[i]["predictions"]![0]!;
            Assert.Equal(i % 2 == 0 ? "short" : "long", (string?)p["label"]);
            Assert.Equal(i % 2 == 0 ? 0.9 : 0.8, (double)p["probability"]!);
        }
        var batching = (await host.Client.GetFromJsonAsync<JsonObject>("/info"))!["batching"]![0]!;
        Assert.Equal(40, (long)batching["requests"]!);
        Assert.True((long)batching["largest"]! > 1, $"no batch served more than one request: {batching}");
        Assert.True(calls < 40, $"{calls} model calls for 40 requests");

        // several texts in one request, in order
        var many = await host.Post("/predict", new { texts = new[] { "a much longer text", "hi" } });
        Assert.Equal(["long", "short"], many["predictions"]!.AsArray().Select(p => (string)p!["label"]!));

        var why = await host.Post("/explain", new { text = "hi there", label = "long" });
        Assert.Equal("long", (string?)why["label"]);
        Assert.Equal("short", (string?)why["prediction"]!["label"]);
        Assert.Equal([1.0, 2.0], why["blocks"]![0]!["words"]!.AsArray().Select(w => (double)w!["weight"]!));
        var (status, problem) = await host.PostRaw("/explain", "{\"text\": \"hi\", \"label\": \"medium\"}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("medium is not one of short, long", (string)problem["detail"]!, StringComparison.Ordinal);
        (status, problem) = await host.PostRaw("/predict", "{\"texts\": [\"ok\", \" \"]}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'texts[1]' is empty", (string)problem["detail"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABadItemFailsOnlyItsOwnRequestInABatch()
    {
        double[][] Probabilities(IReadOnlyList<string> texts)
        {
            Thread.Sleep(20);
            if (texts.Contains("poison")) throw new ArgumentException("the text 'poison' cannot be read.");
            return texts.Select(_ => new[] { 0.5, 0.5 }).ToArray();
        }
        await using var host = await ExploreHost.Start(new ClassifierSubject(["a", "b"], Probabilities));
        var requests = Enumerable.Range(0, 12).Select(i => host.PostRaw("/predict",
            i == 5 ? "{\"texts\": [\"poison\"]}" : "{\"texts\": [\"fine\"]}")).ToArray();
        var results = await Task.WhenAll(requests);
        for (int i = 0; i < results.Length; i++)
            Assert.Equal(i == 5 ? HttpStatusCode.BadRequest : HttpStatusCode.OK, results[i].Status);
        Assert.Contains("poison", (string)results[5].Body["detail"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARequestThatRunsOutOfTimeIsAnswered504()
    {
        // the model's first call computes until the test lets it go, so nothing can be answered in time, however
        // slowly a loaded machine runs the timers
        using var release = new ManualResetEventSlim();
        double[][] Slow(IReadOnlyList<string> texts)
        {
            release.Wait(TimeSpan.FromSeconds(60));
            return texts.Select(_ => new[] { 0.5, 0.5 }).ToArray();
        }
        await using var host = await ExploreHost.Start(new ClassifierSubject(["a", "b"], Slow, (_, _) => []),
            new ExploreOptions { Timeout = TimeSpan.FromMilliseconds(200) });
        try
        {
            // the first outlives the timeout computing; the others time out waiting for the model
            var first = host.PostRaw("/predict", "{\"texts\": [\"one\"]}");
            var (status, _) = await host.PostRaw("/explain", "{\"text\": \"two\"}");
            Assert.Equal(HttpStatusCode.GatewayTimeout, status);
            var (late, body) = await host.PostRaw("/predict", "{\"texts\": [\"three\"]}");
            Assert.True(late == HttpStatusCode.GatewayTimeout, $"{late} {body}");
            Assert.Equal(HttpStatusCode.GatewayTimeout, (await first).Status);
        }
        finally { release.Set(); }
    }

    [Fact]
    public async Task TaggerServesTagsEntitiesAndMarginals()
    {
        var (model, vocabulary) = ExploreModels.Tagger(crf: true);
        await using var host = await ExploreHost.Start(TaggerSubject.FromModel(model, vocabulary, TagScheme.Bio));
        var answer = await host.Post("/predict", new { texts = new[] { "John lives in New York.", "Mary met John" } });
        var results = answer["results"]!.AsArray();
        Assert.Equal(["John", "lives", "in", "New", "York", "."],
            results[0]!["tokens"]!.AsArray().Select(t => (string)t!));
        var direct = model.Tag(vocabulary, [["John", "lives", "in", "New", "York", "."]])[0];
        Assert.Equal(TagSchemes.Convert(direct, TagScheme.Bio), results[0]!["tags"]!.AsArray().Select(t => (string)t!));
        var chunks = TagSchemes.Chunks(direct);
        Assert.Equal(chunks.Count, results[0]!["entities"]!.AsArray().Count);

        var explained = await host.Post("/explain", new { text = "Mary met John Smith" });
        var marginals = explained["marginals"]!.AsArray();
        Assert.Equal(4, marginals.Count);
        Assert.All(marginals, row => Assert.Equal(1.0, row!.AsArray().Sum(p => (double)p!), 9));
        Assert.Equal(9, explained["tagNames"]!.AsArray().Count);
    }

    [Fact]
    public async Task TranslatorServesTranslationsWithTheirAttention()
    {
        var pairs = new[] { new SentencePair("a b c", "c b a"), new SentencePair("b c", "c b") };
        var vocabulary = TranslationVocabulary.Build(pairs);
        var model = new Seq2Seq(new Seq2SeqConfig(vocabulary.Source.VocabularySize, vocabulary.Target.VocabularySize,
            6, 5, Attention: AttentionKind.General, Dropout: 0f), new RandomGenerator(3));
        await using var host = await ExploreHost.Start(new TranslatorSubject(model, vocabulary));
        var answer = await host.Post("/predict", new { texts = new[] { "a b c", "b c" }, beam = 3 });
        var direct = TranslationTask.Translate(model, vocabulary, ["a b c", "b c"], 3);
        var translations = answer["translations"]!.AsArray();
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(direct[i].LogProbability, (double)translations[i]!["logProbability"]!, 9);
            var attention = translations[i]!["attention"]!.AsArray();
            Assert.Equal(direct[i].Attention.Length, attention.Count);
            Assert.All(attention, row => Assert.Equal(1.0, row!.AsArray().Sum(w => (double)w!), 5));
            Assert.Equal(attention.Count, translations[i]!["target"]!.AsArray().Count);
        }
        Assert.Equal(["a", "b", "c"], translations[0]!["source"]!.AsArray().Select(t => (string)t!));
    }

    [Fact]
    public async Task ForecasterIntervalsComeFromTheModelsOwnErrors()
    {
        // a naive forecaster on a straight line errs by k·slope at step k, every time: the interval is that exactly
        var line = Enumerable.Range(0, 60).Select(t => 10 + 0.5 * t).ToArray();
        await using var host = await ExploreHost.Start(new ForecasterSubject(
            (history, steps) => Enumerable.Repeat(history[^1], steps).ToArray(), 1, "naive"));
        var answer = await host.Post("/predict", new { history = line, steps = 3 });
        Assert.Equal([39.5, 39.5, 39.5], answer["forecast"]!.AsArray().Select(v => (double)v!));
        Assert.Equal([40.0, 40.5, 41.0], answer["lower"]!.AsArray().Select(v => (double)v!));
        Assert.Equal([40.0, 40.5, 41.0], answer["upper"]!.AsArray().Select(v => (double)v!));
        Assert.Equal(ForecasterSubject.Coverage, (double)answer["coverage"]!);
        // too short a history for the interval: the forecast alone
        var brief = await host.Post("/predict", new { history = line[..6], steps = 3 });
        Assert.Null(brief["lower"]);
        var (status, problem) = await host.PostRaw("/predict", "{\"history\": [1, \"NaN\"], \"steps\": 2}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'history[1]' is NaN", (string)problem["detail"]!, StringComparison.Ordinal);
    }

    [Fact]
    public void IntervalQuantilesInterpolateAsNumPyDoes()
    {
        double[] sorted = [1, 2, 4, 8];
        Assert.Equal(1, ForecasterSubject.Quantile(sorted, 0));
        Assert.Equal(8, ForecasterSubject.Quantile(sorted, 1));
        Assert.Equal(3, ForecasterSubject.Quantile(sorted, 0.5)); // numpy.quantile([1, 2, 4, 8], 0.5) = 3
        Assert.Equal(1.3, ForecasterSubject.Quantile(sorted, 0.1), 12); // numpy: 1.3
    }

    [Fact]
    public async Task ThePageAndTheOpenApiDocumentAreServedByRecurItself()
    {
        var (model, tokenizer) = ExploreModels.Language();
        string run = Path.Combine(Path.GetTempPath(), "recur-explore-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(run);
        try
        {
            File.WriteAllLines(Path.Combine(run, "metrics.jsonl"),
            [
                "{\"type\":\"train\",\"epoch\":1,\"step\":10,\"loss\":2.5}",
                "{\"type\":\"eval\",\"epoch\":1,\"step\":10,\"loss\":2.7}",
            ]);
            await using var host = await ExploreHost.Start(new LanguageModelSubject(model, tokenizer),
                new ExploreOptions { RunFolder = run });
            using var page = await host.Client.GetAsync("/");
            string html = await page.Content.ReadAsStringAsync();
            Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
            Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(),
                StringComparison.Ordinal);
            // nothing from elsewhere: every script and style is a path on this server
            Assert.DoesNotContain("http", html.Replace("http-equiv", "", StringComparison.Ordinal),
                StringComparison.Ordinal);
            Assert.Contains("<script src=\"/explore.js\">", html, StringComparison.Ordinal);
            Assert.True((await host.Client.GetStringAsync("/explore.js")).Length > 1000);
            Assert.Contains("body", await host.Client.GetStringAsync("/explore.css"), StringComparison.Ordinal);

            var metrics = await host.Client.GetFromJsonAsync<JsonArray>("/metrics");
            Assert.Equal(2, metrics!.Count);
            Assert.Equal(2.7, (double)metrics[1]!["values"]!["loss"]!);
            Assert.True((bool)(await host.Client.GetFromJsonAsync<JsonObject>("/info"))!["hasMetrics"]!);

            var openApi = await host.Client.GetFromJsonAsync<JsonObject>("/openapi/v1.json");
            var paths = openApi!["paths"]!.AsObject().Select(p => p.Key).ToHashSet();
            Assert.Superset(new HashSet<string> { "/predict", "/generate", "/explain", "/units", "/info", "/metrics" },
                paths);
            Assert.NotNull(openApi["paths"]!["/generate"]!["post"]!["requestBody"]);
        }
        finally { Directory.Delete(run, true); }
    }

    [Fact]
    public void OptionsRefuseWhatCannotWork()
    {
        Assert.Contains("port", Assert.Throws<ArgumentException>(() => new ExploreOptions { Port = 70000 }.Validate())
            .Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ExploreOptions { MaxBatch = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new ExploreOptions { Timeout = TimeSpan.Zero }.Validate());
        var (model, tokenizer) = ExploreModels.Language();
        Assert.Throws<ArgumentException>(() => ExploreServer.Build(new LanguageModelSubject(model, tokenizer),
            new ExploreOptions { Host = "my-machine" }));
        Assert.Throws<ArgumentException>(() => new ClassifierSubject(["only"], _ => []));
    }
}
