using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Hosting;
using Recur.Cli.Training;
using Recur.Explore;

namespace Recur.Cli;

/// <summary>
/// <c>recur explore</c>: serves a run folder's model on a local web page (hidden units and gates, attention, tags,
/// forecasts, training curves) with its JSON endpoints, until Ctrl+C.
/// </summary>
static class ExploreCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur lm|classify|tag|translate|forecast train`.", Required = true,
        };
        var host = new Option<string>("--host")
        {
            Description = "Address to listen on; 0.0.0.0 exposes the model to the network.",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var port = new Option<int>("--port") { Description = "Port (0: a free one).", DefaultValueFactory = _ => 5080 };
        var maxBytes = new Option<long>("--max-request-bytes")
        {
            Description = "Larger request bodies are refused (413).", DefaultValueFactory = _ => 1 << 20,
        };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds a request may wait and compute before it is answered 504.",
            DefaultValueFactory = _ => 60,
        };
        var maxBatch = new Option<int>("--max-batch")
        {
            Description = "Most concurrent requests one batched model call serves.", DefaultValueFactory = _ => 64,
        };
        var int8 = Int8Inference.Option();
        var command = new Command("explore", "Serve a trained model on a web page that looks inside it (and its JSON "
            + "endpoints: /predict, /generate, /explain, OpenAPI at /openapi/v1.json), until Ctrl+C.")
        {
            model, host, port, maxBytes, timeout, maxBatch, int8,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string folder = CliOutput.ModelFolder(r.GetValue(model)!);
            double seconds = r.GetValue(timeout);
            if (!(seconds > 0) || double.IsInfinity(seconds)) throw new UsageException("--timeout must be positive.");
            var options = new ExploreOptions
            {
                Host = r.GetValue(host)!, Port = r.GetValue(port), MaxRequestBytes = r.GetValue(maxBytes),
                Timeout = TimeSpan.FromSeconds(seconds), MaxBatch = r.GetValue(maxBatch), RunFolder = folder,
            };
            try { options.Validate(); }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message.Replace("explore: ", "", StringComparison.Ordinal));
            }
            var subject = TrainedModels.Subject(folder, r.GetValue(int8));
            var app = ExploreServer.Build(subject, options);
            try { app.StartAsync().GetAwaiter().GetResult(); }
            catch (IOException e)
            {
                throw new UsageException($"cannot listen on {options.Host}:{options.Port}: {e.Message}");
            }
            Console.WriteLine(
                $"explore: {subject.Kind} '{subject.Name}' at {ExploreServer.Address(app)} (Ctrl+C stops)");
            if (!IPAddress.TryParse(options.Host, out var address) || !IPAddress.IsLoopback(address))
                Console.Error.WriteLine($"note: listening on {options.Host}: anyone who can reach this machine can use "
                    + "the model (there is no authentication).");
            app.WaitForShutdownAsync().GetAwaiter().GetResult();
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 0;
        }));
        return command;
    }
}
