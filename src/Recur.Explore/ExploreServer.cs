using System.Net;
using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Recur.Training;

namespace Recur.Explore;

/// <summary>How <see cref="ExploreServer"/> listens and what it accepts.</summary>
public sealed record ExploreOptions
{
    /// <summary>The address to listen on: loopback (<c>127.0.0.1</c>) unless a wider one is asked for explicitly
    /// (<c>0.0.0.0</c> or a machine address exposes the model to the network).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The port; 0 takes a free one (see <see cref="ExploreServer.Address"/>).</summary>
    public int Port { get; init; } = 5080;

    /// <summary>Requests with a larger body are refused with 413.</summary>
    public long MaxRequestBytes { get; init; } = 1 << 20;

    /// <summary>A request still waiting or computing after this long is answered 504 (a stream simply ends).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The most requests one batched model call serves.</summary>
    public int MaxBatch { get; init; } = 64;

    /// <summary>The run folder whose <c>metrics.jsonl</c> the page draws as training curves (none: no
    /// curves).</summary>
    public string? RunFolder { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"explore: the port must be 0–65535, got {Port}.");
        if (MaxRequestBytes < 1024)
            throw new ArgumentException($"explore: the request limit must be ≥ 1024 bytes, got {MaxRequestBytes}.");
        if (Timeout <= TimeSpan.Zero) throw new ArgumentException($"explore: the timeout must be positive.");
        if (MaxBatch < 1) throw new ArgumentException($"explore: the batch limit must be ≥ 1, got {MaxBatch}.");
        if (string.IsNullOrWhiteSpace(Host)) throw new ArgumentException("explore: no host to listen on.");
    }
}

/// <summary>
/// Serves a trained model: the explorer page at <c>/</c> (its script and style served alongside, nothing from a
/// CDN), the JSON endpoints the page uses — <c>POST /predict</c> (batched across concurrent requests),
/// <c>/explain</c>, and for a language model <c>/generate</c> (server-sent events) and <c>/units</c> — plus
/// <c>GET /info</c>, <c>GET /metrics</c> (the run's training curves) and the OpenAPI document at
/// <c>/openapi/v1.json</c>. Bad input is answered 400 with a problem document that says what is wrong, an oversized
/// body 413, a request that runs out of time 504.
/// </summary>
/// <example><code>
/// var (model, tokenizer) = LanguageModel.Load("runs/shakespeare");
/// await using var app = ExploreServer.Build(new LanguageModelSubject(model, tokenizer),
///     new ExploreOptions { RunFolder = "runs/shakespeare" });
/// await app.RunAsync(); // http://127.0.0.1:5080
/// </code></example>
public static class ExploreServer
{
    /// <summary>The web application serving <paramref name="subject"/>, built but not started: start it with
    /// <c>RunAsync</c> or <c>StartAsync</c>, or add endpoints of your own first.</summary>
    public static WebApplication Build(ExploreSubject subject, ExploreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(subject);
        options ??= new ExploreOptions();
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [], ContentRootPath = AppContext.BaseDirectory, ApplicationName = "Recur.Explore",
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            kestrel.AddServerHeader = false;
            if (options.Host is "0.0.0.0" or "*") kestrel.ListenAnyIP(options.Port);
            else if (options.Host == "localhost") kestrel.Listen(IPAddress.Loopback, options.Port);
            else if (IPAddress.TryParse(options.Host, out var address)) kestrel.Listen(address, options.Port);
            else throw new ArgumentException($"explore: '{options.Host}' is not an IP address (or localhost).");
        });
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
            json.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
        });
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddRequestTimeouts(t => t.DefaultPolicy = new RequestTimeoutPolicy
        {
            Timeout = options.Timeout, TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
        });
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = $"Recur explore: {subject.Name}";
            document.Info.Description = "The JSON endpoints of `recur explore` for one trained model.";
            return Task.CompletedTask;
        }));
        var app = builder.Build();
        app.UseRequestTimeouts();
        app.Use(Problems.Middleware);
        var context = new ExploreContext(options);
        app.Lifetime.ApplicationStopped.Register(context.Gate.Dispose);
        MapPage(app);
        app.MapGet("/info", () => TypedResults.Ok(new ModelInfo(subject.Kind, subject.Name, subject.Describe(),
                MetricsPath(options) is not null, context.Batching())))
            .WithSummary("What is being served: the model's kind, name and facts, and the batching so far.");
        app.MapGet("/metrics", () => TypedResults.Ok(ReadMetrics(options)))
            .WithSummary("The training curves: every record of the run's metrics.jsonl (404 when there is none).");
        subject.Map(app, context);
        app.MapOpenApi();
        return app;
    }

    /// <summary>The address a started <paramref name="app"/> listens on, e.g. <c>http://127.0.0.1:5080</c> (the port
    /// taken when <see cref="ExploreOptions.Port"/> was 0).</summary>
    public static Uri Address(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        string first = addresses?.FirstOrDefault()
            ?? throw new InvalidOperationException("explore: the server has not started.");
        return new Uri(first.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)
            .Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    static string? MetricsPath(ExploreOptions options) => options.RunFolder is { } folder
        && File.Exists(Path.Combine(folder, "metrics.jsonl")) ? Path.Combine(folder, "metrics.jsonl") : null;

    static MetricsPoint[] ReadMetrics(ExploreOptions options)
    {
        string path = MetricsPath(options) ?? throw new RequestException(options.RunFolder is null
            ? "no run folder is served, so there are no training curves."
            : $"{options.RunFolder} has no metrics.jsonl.", StatusCodes.Status404NotFound);
        return MetricsLog.Read(path).Select(e => new MetricsPoint(e.Type, e.Epoch, e.Step,
            e.Values.ToDictionary(p => p.Key, p => p.Value))).ToArray();
    }

    /// <summary>The page, its script and its style, from the assembly's resources.</summary>
    static void MapPage(WebApplication app)
    {
        foreach (var (route, file, type) in new[]
        {
            ("/", "index.html", "text/html; charset=utf-8"),
            ("/explore.js", "explore.js", "text/javascript; charset=utf-8"),
            ("/explore.css", "explore.css", "text/css; charset=utf-8"),
        })
        {
            byte[] content = Resource(file);
            app.MapGet(route, (HttpContext http) =>
            {
                // everything the page loads comes from this server
                http.Response.Headers.ContentSecurityPolicy =
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'";
                http.Response.Headers.CacheControl = "no-cache";
                return Results.Bytes(content, type);
            }).ExcludeFromDescription();
        }
    }

    internal static byte[] Resource(string file)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("page/" + file)
            ?? throw new InvalidOperationException($"explore: the page resource {file} is missing from the build.");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}

/// <summary>What every subject's endpoints share: the options, the model's gate and the batchers (for /info).</summary>
sealed class ExploreContext(ExploreOptions options)
{
    readonly List<Func<BatchStatistics>> batchers = [];

    public ExploreOptions Options { get; } = options;

    public ModelGate Gate { get; } = new();

    public RequestBatcher<TIn, TOut> Batcher<TIn, TOut>(string endpoint,
        Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> run)
    {
        var batcher = new RequestBatcher<TIn, TOut>(Gate, run, Options.MaxBatch);
        batchers.Add(() => new BatchStatistics(endpoint, batcher.Requests, batcher.Batches, batcher.Largest));
        return batcher;
    }

    public BatchStatistics[] Batching() => batchers.Select(b => b()).ToArray();
}
