using System.Diagnostics;
using System.Text.Json;

namespace Recur.Cli.Bench;

/// <summary>
/// Runs the ONNX Runtime peer (<c>bench/OnnxRuntimePeer</c>, a program of its own so that the recur tool does not
/// carry ONNX Runtime's native libraries) from the repository the tool was built in or is run from.
/// </summary>
static class OnnxRuntimePeer
{
    const string Project = "bench/OnnxRuntimePeer/OnnxRuntimePeer.csproj";

    /// <summary>The peer's project file, looked for above the tool's folder and the current folder.</summary>
    static string? Find()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            for (var folder = new DirectoryInfo(start); folder != null; folder = folder.Parent)
                if (File.Exists(Path.Combine(folder.FullName, Project))) return Path.Combine(folder.FullName, Project);
        return null;
    }

    /// <summary>
    /// Times each exported model's forward pass: <paramref name="models"/> are (path, inputs) with inputs as (name,
    /// shape, type "float" or "int32", int fill). Null, with a reason, when the peer cannot run.
    /// </summary>
    public static Timing[]? Run(IEnumerable<object> models, int threads, double minSeconds, int repeat,
        out string? problem)
    {
        problem = null;
        string? project = Find();
        if (project is null)
        {
            problem = $"{Project} not found: run recur bench from a clone of the repository";
            return null;
        }
        var start = new ProcessStartInfo("dotnet", ["run", "-c", "Release", "--project", project]);
        string? stdout = PythonPeer.RunProcess(start, new { threads, min_seconds = minSeconds, repeat, models },
            out problem);
        if (problem != null)
        {
            problem = "ONNX Runtime peer " + problem;
            return null;
        }
        var times = JsonSerializer.Deserialize<Dictionary<string, double>[]>(stdout!.Trim().Split('\n')[^1])!;
        return times.Select(t => new Timing(t["forward"], t["forward_min"], t["forward_max"], repeat)).ToArray();
    }
}
