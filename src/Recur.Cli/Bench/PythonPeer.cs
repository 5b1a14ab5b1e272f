using System.Diagnostics;
using System.Text.Json;

namespace Recur.Cli.Bench;

/// <summary>
/// Runs a peer benchmark script (embedded from <c>bench/peers</c>) with Debian's own <c>/usr/bin/python3</c>, whose
/// numpy and torch use OpenBLAS; the pyenv python first on PATH has neither.
/// </summary>
static class PythonPeer
{
    public const string Interpreter = "/usr/bin/python3";

    /// <summary>
    /// Runs <paramref name="script"/> with <paramref name="request"/> as JSON on its standard input (a request may
    /// carry whole batches of data, longer than a command line may be); null (and a reason) when the peer is
    /// unavailable.
    /// </summary>
    public static T? Run<T>(string script, object request, int threads, out string? problem) where T : class
    {
        problem = null;
        if (!File.Exists(Interpreter))
        {
            problem = $"{Interpreter} not found; install the peer with bench/install-peer.sh";
            return null;
        }
        var assembly = typeof(PythonPeer).Assembly;
        if (!assembly.GetManifestResourceNames().Contains("peers/" + script))
            throw new InvalidOperationException($"peer script {script} is not embedded");
        // every embedded peer file goes into a fresh folder, so that a script can import the shared peer_timing.py
        string folder = Directory.CreateTempSubdirectory("recur-peer-").FullName;
        string path = Path.Combine(folder, script);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("peers/",
            StringComparison.Ordinal)))
        {
            using var resource = assembly.GetManifestResourceStream(name)!;
            using var file = File.Create(Path.Combine(folder, name["peers/".Length..]));
            resource.CopyTo(file);
        }
        try
        {
            var start = new ProcessStartInfo(Interpreter, [path]);
            foreach (var name in new[] { "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS" })
                start.Environment[name] = threads.ToString();
            start.Environment.Remove("PYTHONPATH");
            start.Environment.Remove("PYTHONHOME");
            string? stdout = RunProcess(start, request, out problem);
            if (problem != null)
            {
                problem = $"peer {script} {problem} — install it with bench/install-peer.sh";
                return null;
            }
            return JsonSerializer.Deserialize<T>(stdout!);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Runs a peer process with <paramref name="request"/> as JSON on its standard input and returns its standard
    /// output; null, with "failed (exit N): the last line of its errors" as the problem, when it exits with an error.
    /// </summary>
    internal static string? RunProcess(ProcessStartInfo start, object request, out string? problem)
    {
        start.RedirectStandardInput = start.RedirectStandardOutput = start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        process.StandardInput.Write(JsonSerializer.Serialize(request));
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        problem = null;
        if (process.ExitCode == 0) return stdout;
        // its errors' last line, or its output's when it wrote no errors (dotnet run reports a failed build there)
        string errors = stderr.Result.Trim() is { Length: > 0 } written ? written : stdout.Trim();
        string last = errors.Split('\n').LastOrDefault() ?? "";
        problem = $"failed (exit {process.ExitCode}): {last}";
        return null;
    }
}
