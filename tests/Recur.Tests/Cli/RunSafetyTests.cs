using System.Diagnostics;
using Recur.Cli;
using Recur.Serialization;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary>A run is never lost: an existing run folder is refused, signals save a checkpoint, resuming logs
/// once.</summary>
[Collection("cli")]
public sealed class RunSafetyTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-safety-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static string[] Adding(string run, int epochs, params string[] more) =>
    [
        "task", "adding", "--length", "6", "--epochs",
            epochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--train-size", "64", "--valid-size", "8", "--batch", "16", "--threads", "1", "--out", run, .. more,
    ];

    /// <summary>Runs a command line in process; returns its exit code and what it wrote to stderr.</summary>
    internal static (int Code, string Error) RunCapturingErrors(params string[] args)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try { return (RecurCommand.Run(args), error.ToString()); }
        finally { Console.SetError(saved); }
    }

    [Fact]
    public void ANewRunInAFolderThatHoldsARunIsRefusedUnlessOverwriting()
    {
        string run = Path.Combine(folder, "run");
        Assert.Equal(0, RecurCommand.Run(Adding(run, 2, "--hidden", "4")));
        var before = File.ReadAllBytes(Path.Combine(run, "best", Checkpoint.ModelFile));
        long lines = File.ReadLines(Path.Combine(run, RunFolder.MetricsFile)).Count();

        var (code, error) = RunCapturingErrors(Adding(run, 2, "--hidden", "5"));
        Assert.Equal(2, code);
        Assert.Contains("already holds a run", error);
        Assert.Contains("--overwrite", error);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(run, "best", Checkpoint.ModelFile)));
        Assert.Equal(lines, File.ReadLines(Path.Combine(run, RunFolder.MetricsFile)).Count());

        // --overwrite replaces it: the log holds the new run only
        Assert.Equal(0, RecurCommand.Run(Adding(run, 1, "--hidden", "5", "--overwrite")));
        Assert.Equal(1, MetricsLog.Read(Path.Combine(run, RunFolder.MetricsFile)).Max(e => e.Epoch));
    }

    [Theory]
    [InlineData("--no-such-option")]
    [InlineData("--hidden", "abc")]
    [InlineData("--hidden", "4", "--hidden", "5")]
    [InlineData("--hidden", "0")]
    [InlineData("--lr", "-1")]
    [InlineData("--dropout", "1")]
    public void CommandLineMistakesExitWithTwoAndAOneLineMessage(params string[] mistake)
    {
        var (code, error) = RunCapturingErrors(Adding(Path.Combine(folder, "mistake"), 1, mistake));
        Assert.Equal(2, code);
        Assert.StartsWith("recur: ", error);
        Assert.DoesNotContain("   at ", error); // no stack trace
        Assert.False(Directory.Exists(Path.Combine(folder, "mistake")));
    }

    [Fact]
    public void AnEditedConfigOrAMissingManifestIsRefusedBeforeAnyModelIsBuilt()
    {
        string run = Path.Combine(folder, "edited");
        Assert.Equal(0, RecurCommand.Run(Adding(run, 1, "--hidden", "4")));
        string config = Path.Combine(run, "best", Checkpoint.ConfigFile);
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"hidden_size\": 4",
            "\"hidden_size\": 2000000000"));
        var (code, error) = RunCapturingErrors("inspect", "gradients", "--model", run, "--count", "2", "--out",
            Path.Combine(folder, "g"));
        Assert.Equal(1, code);
        Assert.Contains("config.json", error);
        Assert.Contains("manifest", error);

        File.Delete(Path.Combine(run, "last", Checkpoint.ManifestFile));
        (code, error) = RunCapturingErrors("inspect", "gradients", "--model", Path.Combine(run, "last"), "--count", "2",
            "--out", Path.Combine(folder, "g"));
        Assert.Equal(1, code);
        Assert.Contains("manifest.json is missing", error);
    }

    [Fact]
    public void ResumingWithFewerEpochsThanTheCheckpointHasIsRefusedAndAnUnwritableOutIsNamed()
    {
        string run = Path.Combine(folder, "short");
        Assert.Equal(0, RecurCommand.Run(Adding(run, 3, "--hidden", "4")));
        var (code, error) = RunCapturingErrors(Adding(run, 2, "--hidden", "4", "--resume", Path.Combine(run, "last")));
        Assert.Equal(1, code);
        Assert.Contains("past this run's end (2 epochs)", error);

        (code, error) = RunCapturingErrors(Adding("/proc/recur-cannot-write-here", 1, "--hidden", "4"));
        Assert.Equal(2, code);
        Assert.Contains("--out /proc/recur-cannot-write-here: the run folder cannot be created", error);
    }

    [Fact]
    public void ATestPeriodLongerThanTheSeriesIsAUsageErrorThatSaysSo()
    {
        string csv = Path.Combine(folder, "short.csv");
        File.WriteAllText(csv, "t,v\n" + string.Concat(Enumerable.Range(0, 12).Select(i => $"{i},{i * 1.5}\n")));
        var (code, error) = RunCapturingErrors("forecast", "train", "--csv", csv, "--target", "v", "--test-size", "30",
            "--out", Path.Combine(folder, "f"));
        Assert.Equal(2, code);
        Assert.Contains("--test-size 30 is not less than the series' 12 values", error);
        Assert.DoesNotContain("-18", error);
    }

    [Fact]
    public void ADivergingRunWithSkipNonFiniteEndsCleanlyAndNeverCallsInfinityTheBest()
    {
        string run = Path.Combine(folder, "diverge");
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        int code;
        try
        {
            (code, string error) = RunCapturingErrors(Adding(run, 3, "--hidden", "4", "--lr", "1e30", "--clip-norm",
                "0",
                "--optimizer", "sgd", "--skip-non-finite"));
            Assert.DoesNotContain("JSON", error);
        }
        finally { Console.SetOut(saved); }
        Assert.Equal(0, code);
        Assert.Contains("validation: loss Infinity", output.ToString());
        Assert.DoesNotContain("(best)", output.ToString());
        Assert.False(Directory.Exists(Path.Combine(run, "best")));
        Assert.Contains("\"loss\":\"Infinity\"", File.ReadAllText(Path.Combine(run, RunFolder.MetricsFile)));
    }

    [Theory]
    [InlineData("lm", "train", "--text", "none.txt", "--hidden", "0")]
    [InlineData("classify", "train", "--data", "none.csv", "--hidden", "0")]
    [InlineData("tag", "train", "--train", "none.conll", "--hidden", "0")]
    [InlineData("forecast", "train", "--csv", "none.csv", "--target", "v", "--hidden", "0")]
    public void OutOfRangeNumbersGetTheSameUsageErrorInEveryVerb(params string[] args)
    {
        var (code, error) = RunCapturingErrors([.. args, "--out", Path.Combine(folder, "range")]);
        Assert.Equal(2, code);
        Assert.StartsWith("recur: --hidden must be a positive number, got 0.", error);
    }

    [Fact]
    public void LayerRunWarnsWhenNaNWeightsGiveNaNOutputs()
    {
        string fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "layer_run", "rnn_tanh_states");
        var weights = SafeTensors.Load(Path.Combine(fixture, "weights.safetensors"));
        weights.First().Value.Span[0] = float.NaN;
        string poisoned = Path.Combine(folder, "nan-weights.safetensors");
        SafeTensors.Save(poisoned, weights);
        var (code, error) = RunCapturingErrors("layer", "run", "--config", Path.Combine(fixture, "cfg.json"),
            "--weights", poisoned,
            "--input", Path.Combine(fixture, "input.safetensors"), "--out", Path.Combine(folder,
                "nan-out.safetensors"));
        Assert.Equal(0, code);
        Assert.Contains("warning: output holds NaN or infinite values", error);
    }

    [Fact]
    public void TheLibraryTrainerRefusesAFolderWithAnEarlierRunToo()
    {
        string run = Path.Combine(folder, "lib");
        Directory.CreateDirectory(Path.Combine(run, "last"));
        var task = new Recur.Tests.Training.TinyTask();
        var trainer = new Trainer<int[]>(task, new Recur.Optim.Adam(task.Model.Parameters(), 0.01f),
            new TrainerOptions { Epochs = 1, OutputDirectory = run });
        Assert.Throws<RunFolderInUseException>(() => trainer.Fit());
        Assert.Empty(Directory.GetFiles(run)); // nothing was written
    }

    [Fact]
    public void TruncatingTheLogKeepsRecordsUpToTheCheckpointStep()
    {
        string file = Path.Combine(folder, "metrics.jsonl");
        File.WriteAllText(file, string.Join("\n", Enumerable.Range(1, 10).Select(s
            => $"{{\"type\":\"train\",\"epoch\":1,\"step\":{s}}}"))
            + "\n{\"type\":\"ev");
        MetricsLog.TruncateAfter(file, 6);
        Assert.Equal([1L, 2, 3, 4, 5, 6], MetricsLog.Read(file).Select(e => e.Step));
    }

    static string Cli => Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "Recur.Cli.exe"
        : "Recur.Cli");

    const int LongEpochs = 150; // 600 steps of 4 batches an epoch: about a second of training

    static readonly string[] LongRunOptions = ["--hidden", "4", "--log-every", "5", "--validate-every", "20"];

    /// <summary>
    /// Starts the CLI on a run long enough to be stopped part way; with <paramref name="waitForStep"/>, returns once it
    /// has logged that step (so a checkpoint exists), else at once.
    /// </summary>
    static Process StartLongRun(string run, int? waitForStep, params string[] more)
    {
        var info = new ProcessStartInfo(Cli)
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
            UseShellExecute = false
        };
        foreach (var a in Adding(run, LongEpochs, [.. LongRunOptions, .. more])) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        if (waitForStep is int step)
            while (process.StandardOutput.ReadLine() is { } line)
                if (line.Contains($"step {step}/", StringComparison.Ordinal)) break;
        new Thread(() => process.StandardOutput.ReadToEnd()) { IsBackground = true }.Start();
        return process;
    }

    static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal,
            process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    static Dictionary<string, float[]> Weights(string checkpoint) => SafeTensors.Load(
        Path.Combine(Checkpoint.Resolve(checkpoint), Checkpoint.ModelFile)).ToDictionary(p => p.Key, p
            => p.Value.ToArray());

    [Fact]
    [Trait("Category", "slow")] // learns to a threshold
    public void SignalsAtRandomPointsLoseNothing()
    {
        // signals are a POSIX matter; the CLI is built beside the tests
        if (!OperatingSystem.IsLinux() || !File.Exists(Cli)) return;
        string straight = Path.Combine(folder, "straight"), run = Path.Combine(folder, "signals");
        Assert.Equal(0, RecurCommand.Run(Adding(straight, LongEpochs, LongRunOptions)));

        // SIGTERM is handled like Ctrl+C: the current step ends, last/ is saved, the exit code is 130
        using (var first = StartLongRun(run, waitForStep: 25))
        {
            Signal(first, "TERM");
            Assert.True(first.WaitForExit(30_000), "the run did not stop after SIGTERM");
            Assert.Equal(130, first.ExitCode);
        }
        Checkpoint.Verify(Path.Combine(run, "last"));
        Assert.True(MetricsLog.Read(Path.Combine(run, RunFolder.MetricsFile)).Max(e => e.Step) >= 25);

        // SIGKILL at random moments (inside steps, validations or checkpoint writes) gives no chance to save
        var random = new Random(20261202);
        for (int round = 0; round < 4; round++)
        {
            using var resumed = StartLongRun(run, waitForStep: null, "--resume", Path.Combine(run, "last"));
            Thread.Sleep(150 + random.Next(600));
            if (!resumed.HasExited) resumed.Kill();
            resumed.WaitForExit();
        }
        Assert.Equal(0, RecurCommand.Run(Adding(run, LongEpochs, [.. LongRunOptions, "--resume", Path.Combine(run,
            "last")])));

        // nothing lost: the weights are those of the uninterrupted run, and every step is logged once, in order
        var expected = Weights(Path.Combine(straight, "last"));
        var actual = Weights(Path.Combine(run, "last"));
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, values) in expected) Assert.Equal(values, actual[name]);
        var entries = MetricsLog.Read(Path.Combine(run, RunFolder.MetricsFile));
        foreach (var kind in new[] { "train", "eval" })
        {
            var steps = entries.Where(e => e.Type == kind).Select(e => e.Step).ToList();
            Assert.Equal(steps.Distinct().Count(), steps.Count);
            Assert.Equal(steps.Order(), steps);
        }
        Assert.Equal(MetricsLog.Read(Path.Combine(straight, RunFolder.MetricsFile)).Count(e => e.Type == "eval"),
            entries.Count(e => e.Type == "eval"));
    }
}
