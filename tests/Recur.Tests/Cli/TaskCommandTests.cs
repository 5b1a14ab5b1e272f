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
    public void ATemporalOrderShorterThanTenStepsIsAUsageError()
    {
        var (code, error) = RunSafetyTests.RunCapturingErrors(["task", "temporal-order", "--length", "6", "--out",
            Path.Combine(folder, "short")]);
        Assert.Equal(2, code);
        Assert.Contains("10 for the temporal-order tasks", error);
    }
}
