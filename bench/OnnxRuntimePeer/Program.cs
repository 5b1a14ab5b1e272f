using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Recur.Cli.Bench;

// Reads a request from standard input: {"threads": n, "min_seconds": s, "repeat": r, "models": [{"path": "m.onnx",
// "inputs": [{"name": "input", "shape": [100, 64, 128], "type": "float"}]}]}; prints, per model, the forward time in
// seconds: [{"forward": median, "forward_min": …, "forward_max": …}]. Inputs are filled with a fixed pattern (the
// values do not change the work a recurrent operator does).
var request = JsonDocument.Parse(Console.In.ReadToEnd()).RootElement;
int threads = request.GetProperty("threads").GetInt32(), repeat = request.GetProperty("repeat").GetInt32();
double minSeconds = request.GetProperty("min_seconds").GetDouble();
var results = new List<Dictionary<string, double>>();
foreach (var model in request.GetProperty("models").EnumerateArray())
{
    using var options = new SessionOptions
    {
        IntraOpNumThreads = threads, InterOpNumThreads = 1,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    };
    using var session = new InferenceSession(model.GetProperty("path").GetString()!, options);
    var names = new List<string>();
    var values = new List<OrtValue>();
    foreach (var input in model.GetProperty("inputs").EnumerateArray())
    {
        long[] shape = input.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        names.Add(input.GetProperty("name").GetString()!);
        values.Add(input.GetProperty("type").GetString() switch
        {
            "float" => OrtValue.CreateTensorValueFromMemory(
                Enumerable.Range(0, (int)count).Select(i => (i % 17 - 8) / 8f).ToArray(), shape),
            "int32" => OrtValue.CreateTensorValueFromMemory(
                Enumerable.Repeat(input.GetProperty("fill").GetInt32(), (int)count).ToArray(), shape),
            var type => throw new ArgumentException($"input type {type} is not float or int32"),
        });
    }
    var outputs = session.OutputNames.ToArray();
    using var runOptions = new RunOptions();
    var timing = Timing.Measure(() =>
    {
        using var result = session.Run(runOptions, names, values, outputs);
    }, minSeconds, repeat);
    foreach (var value in values) value.Dispose();
    results.Add(new() { ["forward"] = timing.Median, ["forward_min"] = timing.Min, ["forward_max"] = timing.Max });
}
Console.WriteLine(JsonSerializer.Serialize(results));
return 0;
