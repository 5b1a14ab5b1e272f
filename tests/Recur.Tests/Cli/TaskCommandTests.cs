using System.Text.Json;
using Recur.Cli;

namespace Recur.Tests.Cli;

/// <summary><c>recur task</c> for the pathological problems: each trains, reports its metric, and refuses bad
/// lengths.</summary>
[Collection("cli")]
public sealed class TaskCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-task-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData("multiplication", "loss")]
    [InlineData("temporal-order", "accuracy")]
    [InlineData("temporal-order-3", "accuracy")]
    public void APathologicalProblemTrainsAndReportsItsMetric(string task, string metric)
    {
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, RecurCommand.Run("task", task, "--length", "20", "--epochs", "1", "--train-size", "64",
                "--valid-size", "16", "--hidden", "4", "--batch", "16", "--threads", "1", "--json", "--out",
                Path.Combine(folder, task)));
        }
        finally { Console.SetOut(previous); }
        string text = output.ToString();
        var metrics = JsonDocument.Parse(text[text.LastIndexOf('{')..]).RootElement;
        Assert.True(metrics.TryGetProperty(metric, out _), text);
    }

    [Fact]
    public void TheGradientRegulariserTrainsATanhRnnAndRefusesOtherCells()
    {
        string run = Path.Combine(folder, "regularised");
        Assert.Equal(0, RecurCommand.Run("task", "temporal-order", "--cell", "rnn", "--gradient-regulariser", "1",
            "--length", "20", "--epochs", "1", "--train-size", "64", "--valid-size", "16", "--hidden", "4",
            "--threads", "1", "--out", run));
        Assert.Contains("\"gradient_regulariser\": 1",
            File.ReadAllText(Path.Combine(run, "best", "config.json")));
        var (code, error) = RunSafetyTests.RunCapturingErrors(["task", "adding", "--cell", "lstm",
            "--gradient-regulariser", "1", "--out", Path.Combine(folder, "lstm")]);
        Assert.Equal(2, code);
        Assert.Contains("needs --cell rnn", error);
    }

    [Fact]
    public void HessianFreeTrainsATanhRnnLogsItsStepsAndRefusesWhatItCannotTrain()
    {
        string run = Path.Combine(folder, "hf");
        Assert.Equal(0, RecurCommand.Run("task", "adding", "--cell", "rnn", "--optimizer", "hf", "--length", "8",
            "--epochs", "2", "--batch", "64", "--train-size", "128", "--valid-size", "16", "--hidden", "6",
            "--cg-iterations", "20", "--structural-damping", "0.1", "--threads", "1", "--out", run));
        var steps = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Where(l => l.Contains("\"hessian_free\""))
            .ToArray();
        Assert.Equal(4, steps.Length);
        Assert.All(steps, l => Assert.Contains("\"cg_iterations\"", l));
        Assert.Contains("\"lr\":1", File.ReadAllText(Path.Combine(run, "metrics.jsonl")));
        foreach (var (args, message) in new (string[], string)[]
        {
            (["task", "adding", "--cell", "ln-lstm", "--optimizer", "hf"], "cell 'ln-lstm'"),
            (["task", "adding", "--cell", "rnn", "--optimizer", "hf", "--gradient-regulariser", "1"], "regulariser"),
            (["task", "adding", "--damping", "2"], "--damping applies to --optimizer hf"),
            (["task", "adding", "--optimizer", "hf", "--accumulate", "2"], "one batch per step"),
            (["task", "adding", "--optimizer", "hf", "--curvature-fraction", "0"], "--curvature-fraction must be in"),
            (["task", "adding", "--optimizer", "hf", "--cg-iterations", "0"], "--cg-iterations must be a positive"),
        })
        {
            var (code, error) = RunSafetyTests.RunCapturingErrors([.. args, "--out", Path.Combine(folder, "refused")]);
            Assert.Equal(2, code);
            Assert.Contains(message, error);
        }
        Assert.False(Directory.Exists(Path.Combine(folder, "refused")));
    }

    [Fact]
    public void ATemporalOrderShorterThanTenStepsIsAUsageError()
    {
        var (code, error) = RunSafetyTests.RunCapturingErrors(["task", "temporal-order", "--length", "6", "--out",
            Path.Combine(folder, "short")]);
        Assert.Equal(2, code);
        Assert.Contains("10 for the temporal-order tasks", error);
    }
}
