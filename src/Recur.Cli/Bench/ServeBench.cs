using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Explore;
using Recur.Kernels;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary>
/// <c>recur bench serve</c>: a bounded load test of the explorer's <c>POST /predict</c> on loopback. The run folder's
/// model is served in this process on a free 127.0.0.1 port; for each client count, that many clients send requests
/// back to back for the given seconds, with the server's batching on and then off (one request per model call), and
/// requests/s, p50 and p99 latency and the mean batch are reported.
/// </summary>
static class ServeBench
{
    sealed record Row(int Clients, bool Batching, int Requests, double PerSecond, double P50, double P99,
        double MeanBatch, int Errors);

    public static int Run(string folder, int[] clientCounts, double seconds, int threads, string? text, bool json)
    {
        if (clientCounts.Length == 0 || clientCounts.Any(c => c < 1 || c > 256))
            throw new UsageException("--clients must be 1–256.");
        if (!(seconds > 0) || seconds > 600) throw new UsageException("--seconds must be in (0, 600].");
        if (threads < 1) throw new UsageException("--threads must be positive.");
        using var threadLimit = Parallelism.Limit(threads);
        var subject = TrainedModels.Subject(CliOutput.ModelFolder(folder));
        object body = subject switch
        {
            LanguageModelSubject => new { prompt = text ?? "ROMEO:\nWhat say you", top = 5 },
            ForecasterSubject => throw new UsageException(
                "bench serve measures text models (language models, classifiers, taggers, translators)."),
            TranslatorSubject => new { texts = new[] { text ?? "i am very tired ." }, beam = 1 },
            _ => new { texts = new[] { text ?? "a gorgeous , witty , seductive movie ." } },
        };
        string cpu = RnnBench.CpuModel();
        // a round that is not reported: the process's first seconds of load run on code the JIT has not optimised
        // yet (tiered compilation), which would count against whichever figure came first
        Measure(subject, body, clientCounts.Max(), true, Math.Min(3, seconds)).GetAwaiter().GetResult();
        var rows = new List<Row>();
        foreach (bool batching in new[] { true, false })
            foreach (int clients in clientCounts)
                rows.Add(Measure(subject, body, clients, batching, seconds).GetAwaiter().GetResult());
        string title = $"recur bench serve: POST /predict of {subject.Kind} '{subject.Name}' on loopback";
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                title, cpu, threads, seconds, kind = subject.Kind,
                rows = rows.Select(r => new
                {
                    clients = r.Clients, batching = r.Batching, requests = r.Requests, per_second = r.PerSecond,
                    p50_ms = r.P50, p99_ms = r.P99, mean_batch = r.MeanBatch, errors = r.Errors,
                }),
            }));
            return 0;
        }
        var table = new Table().Title(Markup.Escape($"{title}; {cpu}, {threads} kernel threads, {seconds:G} s each"))
            .AddColumn("clients").AddColumn("batching").AddColumn(new TableColumn("requests/s").RightAligned())
            .AddColumn(new TableColumn("p50 ms").RightAligned()).AddColumn(new TableColumn("p99 ms").RightAligned())
            .AddColumn(new TableColumn("mean batch").RightAligned())
            .AddColumn(new TableColumn("× unbatched").RightAligned());
        foreach (var r in rows)
        {
            var single = rows.First(o => !o.Batching && o.Clients == r.Clients);
            table.AddRow(r.Clients.ToString(CultureInfo.InvariantCulture), r.Batching ? "on" : "off",
                F(r.PerSecond, "F0"), F(r.P50, "F1"), F(r.P99, "F1"), F(r.MeanBatch, "F1"),
                F(r.PerSecond / single.PerSecond, "F2"));
        }
        AnsiConsole.Write(table);
        if (rows.Sum(r => r.Errors) is int errors and > 0)
            Console.Error.WriteLine($"note: {errors} requests failed; their latencies are not counted.");
        return 0;
    }

    static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    static async Task<Row> Measure(ExploreSubject subject, object body, int clients, bool batching, double seconds)
    {
        var options = new ExploreOptions { Port = 0, MaxBatch = batching ? 64 : 1 };
        await using var app = ExploreServer.Build(subject, options);
        await app.StartAsync();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients })
        {
            BaseAddress = ExploreServer.Address(app), Timeout = TimeSpan.FromSeconds(120),
        };
        // warm-up under the same load (the JIT's optimised code, the connections), then the timed load
        await Load(http, body, clients, Math.Min(2, seconds));
        var before = await Batching(http);
        var clock = Stopwatch.StartNew();
        var (latencies, errors) = await Load(http, body, clients, seconds);
        double elapsed = clock.Elapsed.TotalSeconds;
        var after = await Batching(http);
        await app.StopAsync();
        var all = latencies.Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? double.NaN
            : all[Math.Min(all.Length - 1, (int)Math.Ceiling(p * all.Length) - 1)];
        double batches = after.Batches - before.Batches;
        return new Row(clients, batching, all.Length, all.Length / elapsed, Percentile(0.5), Percentile(0.99),
            batches > 0 ? (after.Requests - before.Requests) / batches : double.NaN, errors);
    }

    /// <summary><paramref name="clients"/> clients sending requests back to back for <paramref name="seconds"/>: the
    /// latencies of the answered ones (ms) and the number refused.</summary>
    static async Task<(List<double> Latencies, int Errors)> Load(HttpClient http, object body, int clients,
        double seconds)
    {
        var latencies = new List<double>[clients];
        int errors = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var mine = latencies[c] = [];
            while (clock.Elapsed < deadline)
            {
                long start = Stopwatch.GetTimestamp();
                using var response = await http.PostAsJsonAsync("/predict", body);
                await response.Content.ReadAsByteArrayAsync();
                if (response.IsSuccessStatusCode) mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                else Interlocked.Increment(ref errors);
            }
        }));
        return (latencies.SelectMany(l => l).ToList(), errors);
    }

    static async Task<(long Requests, long Batches)> Batching(HttpClient http)
    {
        var info = await http.GetFromJsonAsync<JsonObject>("/info");
        var predict = info!["batching"]!.AsArray().First(b => (string?)b!["endpoint"] == "/predict")!;
        return ((long)predict["requests"]!, (long)predict["batches"]!);
    }
}
